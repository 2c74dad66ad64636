import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';
import type { DbLotRow } from '../../db/tables';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import { findOrCreateLot } from '../../model/lots/find-or-create-lot';
import { findOrCreateSerial } from '../../model/serials/find-or-create-serial';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import { findTraceEventBySourceKey } from '../../model/trace/find-trace-event-by-source-key';
import { readHl7Component as val, readHl7DateTime, readHl7Number, type Hl7DateTime, type Hl7Message, type Hl7Segment } from '../../parsers/hl7';
import type { PhiProtector } from '../../security/phi';
import { afterLotResolved, resolveStockMaterial, subjectItemOf, type StockItem, type StockRecord } from '../wms/wms-stock-item';
import type { CanonicalTraceEvent, WmsWriter } from '../wms/wms-writer';
import { devicesOfFt1, type Hl7Device, type ZSegmentRule } from './hl7-devices';

/** Counts a DFT^P03 adds to the message summary. */
export interface UsageSummary {
  usages: number;
  alreadyApplied: number;
  unlotted: number;
  udiMismatches: number;
  recalledLots: number;
}

export interface DftOptions {
  phi: PhiProtector;
  zRules: readonly ZSegmentRule[];
}

/** One device usage of a DFT^P03, resolved as far as it can be without writing lots, events or stock. */
export interface PlannedUsage {
  w: WmsWriter;
  sourceKey: string;
  setId: string;
  deviceNo: number;
  dev: Hl7Device;
  gtin: string;
  /** The movement-shaped record (lot '' when the device has no lot: nothing is booked then). */
  rec: StockRecord;
  material: StockItem['material'];
  factor: number;
  /** Signed units as sent (CD credits are negative usage). */
  signed: number;
  credit: boolean;
  when: Hl7DateTime;
  location: DbLocationRow;
  partyId: string;
  hospitalCode: string;
  transactionType: string | null;
  procedure?: string;
  phi: { patient_hmac: string | null; patient_enc: Buffer | null; encounter_hmac: string | null; encounter_enc: Buffer | null };
  procedureRefHmac: string | null;
}

/** A DFT^P03 planned: its usages and the counts so far. */
export interface PlannedDft {
  w: WmsWriter;
  usages: PlannedUsage[];
  summary: UsageSummary;
}

/** The hospital's location code: `<facility>/<point of care>` from FT1-16, else PV1-3 (PL). */
function locationCodeOf(ft1: Hl7Segment, pv1: Hl7Segment | undefined, hospital: string): string {
  // the HL7 null "" is no location: FT1-16 "" falls back to PV1-3, as an empty FT1-16 does
  const pl = val(ft1, 16, 1) ? { seg: ft1, field: 16 } : pv1 && val(pv1, 3, 1) ? { seg: pv1, field: 3 } : undefined;
  if (!pl) {
    return hospital;
  }
  const pointOfCare = val(pl.seg, pl.field, 1) ?? '';
  const facility = val(pl.seg, pl.field, 4) || hospital;
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
 * The GTIN of the material master data knows a HIBCC device by (identifier scheme `hibcc`, the
 * LIC + product + unit of measure, with or without the `+` flag): the GTIN of the same packaging
 * level, else the each-level one. `material` without `gtin` when the material has no GTIN.
 */
async function gtinOfHibccDevice(w: WmsWriter, hibccDi: string): Promise<{ material?: string; gtin?: string }> {
  const di = hibccDi.toUpperCase().replace(/^\+/, '');
  const row = await w.ctx
    .trx('material_identifiers as h')
    .join('materials as m', 'm.id', 'h.material_id')
    .leftJoin('material_identifiers as g', (j) => j.on('g.material_id', '=', 'h.material_id').andOnIn('g.scheme', ['gtin', 'udi_di']))
    .where('h.scheme', 'hibcc')
    .whereRaw("upper(regexp_replace(h.value, '^\\+', '')) = ?", [di])
    .orderByRaw("(g.packaging_level = h.packaging_level) DESC NULLS LAST, (g.packaging_level = 'each') DESC NULLS LAST, g.quantity_per_level, g.value")
    .first<{ code: string; gtin: string | null } | undefined>('m.code', 'g.value as gtin');
  if (!row) {
    return {};
  }
  return { material: row.code, ...(row.gtin && /^\d{14}$/.test(row.gtin) ? { gtin: row.gtin } : {}) };
}

/**
 * The item FT1-7 names when it is not a GTIN: the hospital's own item code, known to master data
 * as the `customer` identifier `<facility>:<code>` (as MFN^M16 records it), with that material's
 * each-level GTIN. `material` without `gtin` when the material has no GTIN; empty when unknown.
 */
async function gtinOfHospitalItem(w: WmsWriter, ft1: Hl7Segment, hospitalCode: string): Promise<{ material?: string; gtin?: string }> {
  const code = ft1.get(7, 1);
  if (!code) {
    return {};
  }
  const row = await w.ctx
    .trx('material_identifiers as c')
    .join('materials as m', 'm.id', 'c.material_id')
    .leftJoin('material_identifiers as g', (j) => j.on('g.material_id', '=', 'c.material_id').andOnIn('g.scheme', ['gtin', 'udi_di']))
    .where({ 'c.scheme': 'customer', 'c.value': `${hospitalCode}:${code}` })
    .orderByRaw("(g.packaging_level = 'each') DESC NULLS LAST, g.quantity_per_level, g.value")
    .first<{ code: string; gtin: string | null } | undefined>('m.code', 'g.value as gtin');
  if (!row) {
    return {};
  }
  return { material: row.code, ...(row.gtin && /^\d{14}$/.test(row.gtin) ? { gtin: row.gtin } : {}) };
}

/** The hospital party of a message (MSH-4: GLN when MSH-4.3 says so), memoized per transaction. */
async function hospitalOf(w: WmsWriter, msg: Hl7Message): Promise<{ id: string; code: string }> {
  const msh = msg.msh;
  const ref = (msh.get(4, 3) ?? '').toUpperCase() === 'GLN' && msh.get(4, 2) ? (msh.get(4, 2) as string) : msh.get(4, 1) || msh.get(3, 1) || 'UNKNOWN-FACILITY';
  const code = msh.get(4, 1) || ref;
  const memo = (w.ctx.cache.get('hl7:parties') as Map<string, string> | undefined) ?? new Map<string, string>();
  w.ctx.cache.set('hl7:parties', memo);
  let id = memo.get(ref) ?? w.ctx.shared?.get<string>(`party:${ref}`);
  if (!id) {
    const party = await findOrCreateParty(w.ctx.trx, ref, 'customer', w.lineage);
    if (!party.created) {
      w.ctx.shared?.set(`party:${ref}`, party.row.id);
    }
    if (party.created) {
      w.summary.created.parties++;
      await w.ctx.audit({ action: 'party.create_provisional', entityType: 'party', entityId: party.row.id, after: { gln: party.row.gln, code: party.row.code, role: 'customer' } });
    }
    id = party.row.id;
  }
  memo.set(ref, id);
  return { id, code };
}

/**
 * Plans a DFT^P03: per FT1 (and the PRT / OBX / Z-segments after it) the devices it names, with
 * UDI contradictions alerted, the material (provisional when unknown), the hospital location
 * (FT1-16, else PV1-3), time (FT1-4, else FT1-5, else MSH-7), quantity (FT1-10; 1 per device when
 * several are listed), and patient (PID-3) / encounter (PV1-19) encrypted with their keyed HMACs.
 * Input errors (dates, numbers, barcodes, unidentified items) are thrown here, before any usage is written.
 * @param checkExisting - skip usages already recorded (a re-run of the message); false for a first attempt
 */
export async function planDftP03(w: WmsWriter, msg: Hl7Message, opts: DftOptions, checkExisting: boolean): Promise<PlannedDft> {
  const { ctx } = w;
  const zone = ctx.timezone;
  const summary: UsageSummary = { usages: 0, alreadyApplied: 0, unlotted: 0, udiMismatches: 0, recalledLots: 0 };
  const hospital = await hospitalOf(w, msg);
  const pid = msg.segment('PID');
  const pv1 = msg.segment('PV1');
  // PHI: patient (PID-3, first identifier with its assigning authority and type) and encounter (PV1-19);
  // the HL7 null "" is none (hashed, every such message would share one pseudonym)
  const patientId = pid && val(pid, 3, 1);
  const patientRef = pid && patientId ? [patientId, val(pid, 3, 4) ?? '', val(pid, 3, 5) ?? ''].join('^') : undefined;
  const encounterId = pv1 && val(pv1, 19, 1);
  const encounterRef = pv1 && encounterId ? [encounterId, val(pv1, 19, 4) ?? ''].join('^') : undefined;
  const phi = {
    patient_hmac: patientRef ? opts.phi.hmac(patientRef, `PID-3:${hospital.code}`) : null,
    patient_enc: patientRef ? opts.phi.encrypt(patientRef) : null,
    encounter_hmac: encounterRef ? opts.phi.hmac(encounterRef, `PV1-19:${hospital.code}`) : null,
    encounter_enc: encounterRef ? opts.phi.encrypt(encounterRef) : null,
  };
  const mshTime = readHl7DateTime(msg.msh, 7, { zone });
  const groups = msg.segmentGroups('FT1', { until: ['DG1', 'DRG', 'GT1', 'IN1', 'IN2', 'IN3', 'ACC'] });
  if (groups.length === 0) {
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'DFT^P03 has no FT1 segment: nothing was used', { location: { segment: 'FT1' } });
  }
  const usages: PlannedUsage[] = [];
  for (const [gi, group] of groups.entries()) {
    const ft1 = group.leader;
    const setId = val(ft1, 1) || String(gi + 1);
    // FT1-4 transaction date (TS up to v2.4, DR from v2.5: its first component is the start), else FT1-5 posting date, else MSH-7
    const when = readHl7DateTime(ft1, 4, { zone }) ?? readHl7DateTime(ft1, 5, { zone }) ?? mshTime;
    if (!when) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', `FT1 ${setId}: no transaction date (FT1-4), posting date (FT1-5) or MSH-7`, { location: ft1.location(4) });
    }
    const quantity = readHl7Number(ft1, 10) ?? 1;
    const transactionType = val(ft1, 6);
    const credit = (transactionType ?? '').toUpperCase() === 'CD';
    const pr1 = msg.segment('PR1');
    const procedure = val(ft1, 25, 1) ?? (pr1 && val(pr1, 3, 1));
    const devices: Hl7Device[] = devicesOfFt1(group, zone, opts.zRules);
    // FT1-7 transaction code: a GTIN, else the hospital's item code master data knows (from MFN^M16)
    let ft1Item: { material?: string; gtin?: string } | undefined;
    const itemOfFt1 = async (): Promise<{ material?: string; gtin?: string }> => {
      const g = gtinOfFt1(ft1);
      ft1Item ??= g ? { gtin: g } : await gtinOfHospitalItem(w, ft1, hospital.code);
      return ft1Item;
    };
    const ft1Unidentified = (item: { material?: string }): string =>
      item.material
        ? `FT1-7 "${ft1.get(7) ?? ''}" is the hospital's item number of material ${item.material}, which has no GTIN to book stock by`
        : `FT1-7 "${ft1.get(7) ?? ''}" is neither a GTIN nor a hospital item number master data knows (customer identifier ${hospital.code}:${ft1.get(7) ?? ''})`;
    if (devices.length === 0) {
      const item = await itemOfFt1();
      if (!item.gtin) {
        throw new LotBridgeError('LB_ERR_HL7_ITEM_UNIDENTIFIED', `FT1 ${setId}: the item is not identified: no UDI/device (PRT, OBX, Z-segment) and ${ft1Unidentified(item)}`, { location: ft1.location(7) });
      }
      devices.push({ gtin: item.gtin, source: ft1.location(7), contradictions: [] });
    }
    for (const [di, dev] of devices.entries()) {
      const sourceKey = `hl7:${ctx.message.id}:FT1-${setId}:${di + 1}`;
      if (checkExisting && ((await findTraceEventBySourceKey(ctx.trx, sourceKey)) !== undefined || (await ctx.trx('device_usages').where({ source_key: sourceKey }).first('id')))) {
        summary.alreadyApplied++;
        continue;
      }
      // a HIBCC-labelled device is found by its HIBCC identifier in master data; FT1-7 stands in when it is a GTIN
      const hibcc = dev.gtin === undefined && dev.hibccDi ? await gtinOfHibccDevice(w, dev.hibccDi) : undefined;
      const gtin = dev.gtin ?? hibcc?.gtin ?? (await itemOfFt1()).gtin;
      if (!gtin) {
        const why = !dev.hibccDi
          ? `it has no device identifier (GTIN or UDI) and ${ft1Unidentified(await itemOfFt1())}`
          : hibcc?.material
            ? `HIBCC device ${dev.hibccDi} is material ${hibcc.material}, which has no GTIN to book stock by`
            : `HIBCC device ${dev.hibccDi} is not in master data (no material has the hibcc identifier ${dev.hibccDi})`;
        throw new LotBridgeError('LB_ERR_HL7_ITEM_UNIDENTIFIED', `FT1 ${setId}: device ${di + 1} is not identified: ${why}`, { location: dev.udiSource ?? dev.source, details: { hibccDi: dev.hibccDi ?? null } });
      }
      const units = devices.length > 1 ? (dev.quantity ?? 1) : (dev.quantity ?? quantity);
      if (dev.serial && Math.abs(units) !== 1) {
        // a serial number is one unit: two implants of one serial would put one device into two patients' records
        const where = dev.quantity !== undefined || devices.length > 1 ? dev.source : ft1.location(10);
        throw new LotBridgeError('LB_ERR_HL7_SERIAL_QUANTITY', `FT1 ${setId}: device ${di + 1} is serial ${dev.serial}, one unit, but its quantity is ${units}`, {
          location: where, details: { serial: dev.serial, quantity: units },
        });
      }
      const signed = credit ? -Math.abs(units) : units;
      const rec: StockRecord = {
        kind: 'movement', type: 'consume', id: `${ctx.message.controlId ?? ctx.message.id}/FT1-${setId}/${di + 1}`, at: dev.source, pathPrefix: '',
        item: { gtin, lot: dev.lot ?? '', ...(dev.expiry ? { expiry: dev.expiry } : {}), ...(dev.serial ? { serial: dev.serial } : {}) },
        quantity: Math.abs(signed),
      };
      const { material, factor } = await resolveStockMaterial(w, rec, sourceKey);
      const location = await w.location(locationCodeOf(ft1, pv1, hospital.code));
      for (const c of dev.contradictions) {
        summary.udiMismatches++;
        await w.alert({
          type: 'udi_mismatch', severity: 'warning', subjectType: 'message', subjectId: ctx.message.id,
          message: `HL7 ${ctx.message.controlId ?? ''} FT1 ${setId}: ${c.message}`,
          details: { field: c.field, udiValue: c.udiValue, givenValue: c.givenValue, udi: dev.udi ?? null, source: dev.source, sourceKey },
          dedupKey: `udi_mismatch:${sourceKey}:${c.field}`,
        });
      }
      usages.push({
        w, sourceKey, setId, deviceNo: di + 1, dev, gtin, rec, material, factor, signed, credit, when, location, partyId: hospital.id, hospitalCode: hospital.code,
        transactionType: transactionType ?? null, procedure,
        phi,
        procedureRefHmac: encounterRef || procedure ? opts.phi.hmac(`${encounterRef ?? ''}|${procedure ?? ''}|${when.utc}`, `procedure:${hospital.code}`) : null,
      });
    }
  }
  return { w, usages, summary };
}

/** The `consuming` ObjectEvent of a usage (validated by the writer or the batch). */
export function usageEvent(u: PlannedUsage, item: StockItem): CanonicalTraceEvent {
  const base = Math.abs(u.signed) * u.factor;
  return {
    eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'consuming', disposition: u.credit ? 'active' : 'dispensed',
    eventTime: u.when.utc, eventTimeZoneOffset: u.when.offset, location: u.location.code,
    bizTransactions: [{ type: 'hl7', value: `${u.w.ctx.message.controlId ?? ''}/FT1-${u.setId}` }],
    sensorElementList: null, sourceKey: u.sourceKey,
    items: [subjectItemOf(u.rec, item, base)],
    details: {
      hl7Type: 'DFT^P03', ft1: u.setId, transactionType: u.transactionType, hospital: u.hospitalCode,
      ...(u.procedure ? { procedureCode: u.procedure } : {}), ...(u.dev.udi ? { udi: u.dev.udi } : {}), credit: u.credit,
    },
  };
}

/** A recalled lot used on a patient: a critical alert (the recall trace will find the usage too). */
export async function alertRecalledLotUse(u: PlannedUsage, lot: DbLotRow): Promise<boolean> {
  if (lot.status !== 'recalled') {
    return false;
  }
  await u.w.alert({
    type: 'recalled_lot_movement', severity: 'critical', subjectType: 'lot', subjectId: lot.id,
    message: `recalled lot ${lot.lot_number} (GTIN ${u.gtin}) was used at ${u.location.code} (HL7 ${u.w.ctx.message.controlId ?? ''} FT1 ${u.setId})`,
    details: { lotId: lot.id, gtin: u.gtin, lotNumber: lot.lot_number, location: u.location.code, sourceKey: u.sourceKey },
    dedupKey: `recalled_lot_movement:${u.sourceKey}`,
  });
  return true;
}

/** The device_usages and demand_history rows of a usage. */
export function usageRows(u: PlannedUsage, ids: { usageId: string; eventId: string | null; lotId: string | null; serialId: string | null }): { usage: Record<string, unknown>; demand: Record<string, unknown> } {
  const { ctx } = u.w;
  const uom = u.material.baseUom;
  const quantity = u.signed * u.factor;
  return {
    usage: {
      id: ids.usageId, trace_event_id: ids.eventId, source_key: u.sourceKey, material_id: u.material.id, lot_id: ids.lotId, serial_id: ids.serialId,
      location_id: u.location.id, party_id: u.partyId, quantity, uom, used_at: new Date(u.when.utc), used_at_offset: u.when.offset,
      transaction_type: u.transactionType, procedure_code: u.procedure ?? null, procedure_ref_hmac: u.procedureRefHmac,
      ...u.phi, udi: u.dev.udi ?? null,
      details: JSON.stringify({ ft1: u.setId, device: u.deviceNo, source: u.dev.source, ...(u.dev.manufactureDate ? { manufactureDate: u.dev.manufactureDate } : {}) }),
      source_message_id: ctx.message.id, ordinal: ctx.nextOrdinal(),
    },
    demand: {
      kind: 'consumption', material_id: u.material.id, location_id: u.location.id, party_id: u.partyId, quantity, uom,
      occurred_at: new Date(u.when.utc), source_key: u.sourceKey, source_message_id: ctx.message.id, ordinal: ctx.nextOrdinal(),
    },
  };
}

/** Outbox event and audit row of a recorded usage (no PHI: patient and encounter as HMACs only). */
export async function announceUsage(u: PlannedUsage, ids: { usageId: string; eventId: string | null; lotId: string | null; serialId: string | null }): Promise<void> {
  const { ctx } = u.w;
  const quantity = u.signed * u.factor;
  await ctx.emit('device.used', {
    usageId: ids.usageId, eventId: ids.eventId, materialId: u.material.id, lotId: ids.lotId, serialId: ids.serialId, gtin: u.gtin,
    lotNumber: u.dev.lot ?? null, serial: u.dev.serial ?? null, quantity, uom: u.material.baseUom,
    location: u.location.code, hospitalPartyId: u.partyId, usedAt: u.when.utc, procedureCode: u.procedure ?? null,
    patientRef: u.phi.patient_hmac, encounterRef: u.phi.encounter_hmac,
  });
  await ctx.audit({ action: 'hl7.device_used', entityType: 'device_usage', entityId: ids.usageId, after: { sourceKey: u.sourceKey, lotId: ids.lotId, serialId: ids.serialId, quantity, location: u.location.code } });
}

/**
 * DFT^P03 → device and supply usage at the hospital, one message at a time (first attempts of a
 * batch go through applyDftP03Batch instead). Per planned usage: the lot and serial (found or
 * created provisional), a `consuming` ObjectEvent at the hospital location, stock booked there
 * (−, or + for an FT1-6 `CD` credit), a `device_usages` row (PHI encrypted + HMAC) and a
 * `demand_history` row. Field positions: docs/connectors/hl7.md.
 */
export async function applyDftP03(w: WmsWriter, msg: Hl7Message, opts: DftOptions): Promise<UsageSummary> {
  const plan = await planDftP03(w, msg, opts, true);
  const { summary } = plan;
  const { ctx } = w;
  for (const u of plan.usages) {
    let eventId: string | null = null;
    let lotId: string | null = null;
    let serialId: string | null = null;
    if (u.dev.lot) {
      const lotResult = await findOrCreateLot(ctx.trx, { materialId: u.material.id, lotNumber: u.dev.lot, expiry: u.dev.expiry }, w.lineage);
      await afterLotResolved(w, u.rec, u.material, lotResult, u.sourceKey);
      const lot = lotResult.row;
      if (await alertRecalledLotUse(u, lot)) summary.recalledLots++;
      lotId = lot.id;
      if (u.dev.serial) {
        serialId = (await findOrCreateSerial(ctx.trx, { materialId: u.material.id, lotId: lot.id, serialNumber: u.dev.serial }, w.lineage)).row.id;
      }
      const item: StockItem = { material: u.material, lot, serialId, factor: u.factor };
      const id = await w.recordEvent(usageEvent(u, item), u.location.id, null);
      if (id === undefined) {
        summary.alreadyApplied++;
        continue;
      }
      eventId = id;
      const base = Math.abs(u.signed) * u.factor;
      await w.book({
        eventId: id, lotId: lot.id, gtin: u.gtin, lotNumber: lot.lot_number, location: u.location, stockState: 'finished',
        delta: u.credit ? base : -base, eventTime: new Date(u.when.utc), reason: 'movement', uom: u.material.baseUom, recordId: u.rec.id,
      });
    } else {
      // no lot: the usage and the demand are recorded; stock is kept per lot and cannot be booked
      summary.unlotted++;
    }
    const ids = { usageId: uuidv7(), eventId, lotId, serialId };
    const rows = usageRows(u, ids);
    await ctx.trx('device_usages').insert(rows.usage);
    await ctx.trx('demand_history').insert(rows.demand);
    await announceUsage(u, ids);
    summary.usages++;
  }
  return summary;
}
