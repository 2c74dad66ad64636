import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import { findTraceEventBySourceKey } from '../../model/trace/find-trace-event-by-source-key';
import { createProvisionalMaterial } from '../../model/materials/create-provisional-material';
import { readHl7DateTime, readHl7Number, type Hl7Message, type Hl7Segment } from '../../parsers/hl7';
import type { PhiProtector } from '../../security/phi';
import { resolveStockItem, subjectItemOf, type StockRecord } from '../wms/wms-stock-item';
import type { WmsWriter } from '../wms/wms-writer';
import { devicesOfFt1, type Hl7Device, type ZSegmentRule } from './hl7-devices';

/** Counts a DFT^P03 adds to the message summary. */
export interface UsageSummary {
  usages: number;
  alreadyApplied: number;
  unlotted: number;
  udiMismatches: number;
}

/** The hospital's location code: `<facility>/<point of care>` from FT1-16, else PV1-3 (PL). */
function locationCodeOf(ft1: Hl7Segment, pv1: Hl7Segment | undefined, hospital: string): string {
  const pl = ft1.get(16) ? { seg: ft1, field: 16 } : pv1?.get(3) ? { seg: pv1, field: 3 } : undefined;
  if (!pl) {
    return hospital;
  }
  const pointOfCare = pl.seg.get(pl.field, 1) ?? '';
  const facility = pl.seg.get(pl.field, 4) || hospital;
  return pointOfCare ? `${facility}/${pointOfCare}` : facility;
}

/** The item code of FT1-7 (CWE): a GTIN when its coding system says so or it is one. */
function gtinOfFt1(ft1: Hl7Segment): string | undefined {
  const code = ft1.get(7, 1);
  const system = (ft1.get(7, 3) ?? '').toUpperCase();
  if (code && /^\d{14}$|^\d{13}$|^\d{12}$|^\d{8}$/.test(code) && (system === '' || system === 'GTIN' || system === 'GS1' || system === 'UDI-DI')) {
    return code.padStart(14, '0');
  }
  return undefined;
}

/**
 * DFT^P03 → device and supply usage at the hospital. Per FT1 (and the PRT / OBX / Z-segments that
 * follow it): the devices it names (UDI decoded, contradictions flagged), one `consuming`
 * ObjectEvent per device at the hospital location (FT1-16 or PV1-3), stock decremented there
 * (FT1-6 `CD` credits it back), a `device_usages` row with patient (PID-3) and encounter (PV1-19)
 * encrypted plus their keyed HMACs, and a `demand_history` row. Field positions: docs/connectors/hl7.md.
 */
export async function applyDftP03(w: WmsWriter, msg: Hl7Message, opts: { phi: PhiProtector; zRules: readonly ZSegmentRule[] }): Promise<UsageSummary> {
  const { ctx } = w;
  const zone = ctx.timezone;
  const summary: UsageSummary = { usages: 0, alreadyApplied: 0, unlotted: 0, udiMismatches: 0 };
  const msh = msg.msh;
  const hospitalRef = (msh.get(4, 3) ?? '').toUpperCase() === 'GLN' && msh.get(4, 2) ? (msh.get(4, 2) as string) : msh.get(4, 1) || msh.get(3, 1) || 'UNKNOWN-FACILITY';
  const hospitalCode = msh.get(4, 1) || hospitalRef;
  const party = await findOrCreateParty(ctx.trx, hospitalRef, 'customer', w.lineage);
  if (party.created) {
    w.summary.created.parties++;
    await ctx.audit({ action: 'party.create_provisional', entityType: 'party', entityId: party.row.id, after: { gln: party.row.gln, code: party.row.code, role: 'customer' } });
  }
  const pid = msg.segment('PID');
  const pv1 = msg.segment('PV1');
  // PHI: patient (PID-3, first identifier with its assigning authority) and encounter (PV1-19)
  const patientRef = pid?.get(3, 1) ? [pid.get(3, 1), pid.get(3, 4) ?? '', pid.get(3, 5) ?? ''].join('^') : undefined;
  const encounterRef = pv1?.get(19, 1) ? [pv1.get(19, 1), pv1.get(19, 4) ?? ''].join('^') : undefined;
  const phi = {
    patient_hmac: patientRef ? opts.phi.hmac(patientRef, `PID-3:${hospitalCode}`) : null,
    patient_enc: patientRef ? opts.phi.encrypt(patientRef) : null,
    encounter_hmac: encounterRef ? opts.phi.hmac(encounterRef, `PV1-19:${hospitalCode}`) : null,
    encounter_enc: encounterRef ? opts.phi.encrypt(encounterRef) : null,
  };
  const mshTime = readHl7DateTime(msh, 7, { zone });
  const groups = msg.segmentGroups('FT1', { until: ['FT1', 'DG1', 'DRG', 'GT1', 'IN1', 'ACC'] });
  if (groups.length === 0) {
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'DFT^P03 has no FT1 segment: nothing was used', { location: { segment: 'FT1' } });
  }
  for (const [gi, group] of groups.entries()) {
    const ft1 = group.leader;
    const setId = ft1.get(1) || String(gi + 1);
    const when = readHl7DateTime(ft1, 4, { zone }) ?? readHl7DateTime(ft1, 5, { zone }) ?? mshTime;
    if (!when) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', `FT1 ${setId}: no transaction date (FT1-4), posting date (FT1-5) or MSH-7`, { location: ft1.location(4) });
    }
    const quantity = readHl7Number(ft1, 10) ?? 1;
    const credit = (ft1.get(6) ?? '').toUpperCase() === 'CD';
    const procedure = ft1.get(25, 1) ?? msg.get('PR1', 1, 3, 1);
    const devices: Hl7Device[] = devicesOfFt1(group, zone, opts.zRules);
    if (devices.length === 0) {
      const gtin = gtinOfFt1(ft1);
      if (!gtin) {
        throw new LotBridgeError('LB_ERR_HL7_ITEM_UNIDENTIFIED', `FT1 ${setId}: the item is not identified: no UDI/device (PRT, OBX, Z-segment) and FT1-7 "${ft1.get(7) ?? ''}" is not a GTIN`, { location: ft1.location(7) });
      }
      devices.push({ gtin, source: ft1.location(7), contradictions: [] });
    }
    for (const [di, dev] of devices.entries()) {
      const sourceKey = `hl7:${ctx.message.id}:FT1-${setId}:${di + 1}`;
      if ((await findTraceEventBySourceKey(ctx.trx, sourceKey)) !== undefined || (await ctx.trx('device_usages').where({ source_key: sourceKey }).first('id'))) {
        summary.alreadyApplied++;
        continue;
      }
      const gtin = dev.gtin ?? gtinOfFt1(ft1);
      if (!gtin) {
        throw new LotBridgeError('LB_ERR_HL7_ITEM_UNIDENTIFIED', `FT1 ${setId}: device ${di + 1} has no GTIN (HIBCC device ${dev.hibccDi ?? '?'} is not linked to a material)`, { location: dev.source });
      }
      const units = devices.length > 1 ? (dev.quantity ?? 1) : (dev.quantity ?? quantity);
      const signed = credit ? -Math.abs(units) : units;
      const location = await w.location(locationCodeOf(ft1, pv1, hospitalCode));
      for (const c of dev.contradictions) {
        summary.udiMismatches++;
        await w.alert({
          type: 'udi_mismatch', severity: 'warning', subjectType: 'message', subjectId: ctx.message.id,
          message: `HL7 ${ctx.message.controlId ?? ''} FT1 ${setId}: ${c.message}`,
          details: { field: c.field, udiValue: c.udiValue, givenValue: c.givenValue, udi: dev.udi ?? null, source: dev.source, sourceKey },
          dedupKey: `udi_mismatch:${sourceKey}:${c.field}`,
        });
      }
      let eventId: string | null = null;
      let materialId: string;
      let lotId: string | null = null;
      let serialId: string | null = null;
      let uom = 'EA';
      if (dev.lot) {
        const rec: StockRecord = {
          kind: 'movement', type: 'consume', id: `${ctx.message.controlId ?? ctx.message.id}/FT1-${setId}/${di + 1}`, at: dev.source, pathPrefix: '',
          item: { gtin, lot: dev.lot, ...(dev.expiry ? { expiry: dev.expiry } : {}), ...(dev.serial ? { serial: dev.serial } : {}) },
          quantity: Math.abs(signed),
        };
        const item = await resolveStockItem(w, rec, sourceKey);
        const base = Math.abs(signed) * item.factor;
        materialId = item.material.id;
        lotId = item.lot.id;
        serialId = item.serialId;
        uom = item.material.baseUom;
        const id = await w.recordEvent(
          {
            eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'consuming', disposition: credit ? 'active' : 'dispensed',
            eventTime: when.utc, eventTimeZoneOffset: when.offset, location: location.code,
            bizTransactions: [{ type: 'hl7', value: `${ctx.message.controlId ?? ''}/FT1-${setId}` }],
            sensorElementList: null, sourceKey,
            items: [subjectItemOf(rec, item, base)],
            details: {
              hl7Type: 'DFT^P03', ft1: setId, transactionType: ft1.get(6) ?? null, hospital: hospitalCode,
              ...(procedure ? { procedureCode: procedure } : {}), ...(dev.udi ? { udi: dev.udi } : {}), credit,
            },
          },
          location.id,
          null,
        );
        if (id === undefined) {
          summary.alreadyApplied++;
          continue;
        }
        eventId = id;
        await w.book({
          eventId: id, lotId: item.lot.id, gtin, lotNumber: item.lot.lot_number, location, stockState: 'finished',
          delta: credit ? base : -base, eventTime: new Date(when.utc), reason: 'movement', uom, recordId: rec.id,
        });
      } else {
        // no lot: the usage and the demand are recorded, stock per lot cannot be booked
        summary.unlotted++;
        const found = await w.materialByGtin(gtin);
        if (found) {
          materialId = found.material.id;
          uom = found.material.baseUom;
        } else {
          const made = await createProvisionalMaterial(ctx.trx, { gtin, baseUom: 'EA' }, w.lineage);
          materialId = made.row.id;
          if (made.created) {
            w.summary.created.materials++;
            await ctx.audit({ action: 'material.create_provisional', entityType: 'material', entityId: made.row.id, after: { code: made.row.code, gtin } });
          }
        }
      }
      const usageId = uuidv7();
      await ctx.trx('device_usages').insert({
        id: usageId, trace_event_id: eventId, source_key: sourceKey, material_id: materialId, lot_id: lotId, serial_id: serialId,
        location_id: location.id, party_id: party.row.id, quantity: signed, uom, used_at: new Date(when.utc), used_at_offset: when.offset,
        transaction_type: ft1.get(6) ?? null, procedure_code: procedure ?? null,
        procedure_ref_hmac: encounterRef || procedure ? opts.phi.hmac(`${encounterRef ?? ''}|${procedure ?? ''}|${when.utc}`, `procedure:${hospitalCode}`) : null,
        ...phi, udi: dev.udi ?? null,
        details: JSON.stringify({ ft1: setId, device: di + 1, source: dev.source, ...(dev.manufactureDate ? { manufactureDate: dev.manufactureDate } : {}) }),
        source_message_id: ctx.message.id, ordinal: ctx.nextOrdinal(),
      });
      await ctx.trx('demand_history').insert({
        kind: 'consumption', material_id: materialId, location_id: location.id, party_id: party.row.id, quantity: signed, uom,
        occurred_at: new Date(when.utc), source_key: sourceKey, source_message_id: ctx.message.id, ordinal: ctx.nextOrdinal(),
      });
      await ctx.emit('device.used', {
        usageId, eventId, materialId, lotId, serialId, gtin, lotNumber: dev.lot ?? null, serial: dev.serial ?? null, quantity: signed, uom,
        location: location.code, hospitalPartyId: party.row.id, usedAt: when.utc, procedureCode: procedure ?? null,
        patientRef: phi.patient_hmac, encounterRef: phi.encounter_hmac,
      });
      await ctx.audit({ action: 'hl7.device_used', entityType: 'device_usage', entityId: usageId, after: { sourceKey, lotId, serialId, quantity: signed, location: location.code } });
      summary.usages++;
    }
  }
  return summary;
}
