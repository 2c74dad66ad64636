import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import { readHl7DateTime, readHl7Number, type Hl7Message, type Hl7Segment } from '../../parsers/hl7';
import type { WmsWriter } from '../wms/wms-writer';

/** ORC-1 order control (HL7 table 0119) → requisition status. */
const STATUS_OF_CONTROL: Readonly<Record<string, string>> = {
  NW: 'open', SN: 'open', RO: 'open', RP: 'changed', XO: 'changed', XX: 'changed', CA: 'cancelled', OC: 'cancelled', CR: 'cancelled',
  DC: 'cancelled', OD: 'cancelled', HD: 'on_hold', OH: 'on_hold', RL: 'open', OR: 'open', SC: 'open', OK: 'open',
};

/** Material of a requisition line: RQD-3 (external, e.g. GTIN or our code), else RQD-2 (internal), else RQD-4 (hospital item). */
async function materialOf(w: WmsWriter, rqd: Hl7Segment, sender: string): Promise<{ id: string; baseUom: string } | undefined> {
  for (const f of [3, 2, 4]) {
    const code = rqd.get(f, 1);
    if (!code) continue;
    if (/^\d{8}$|^\d{12,14}$/.test(code)) {
      const m = await w.materialByGtin(code.padStart(14, '0'));
      if (m) return { id: m.material.id, baseUom: m.material.baseUom };
    }
    const byCode = await w.ctx.trx('materials').where({ code }).first<{ id: string; base_uom: string } | undefined>('id', 'base_uom');
    if (byCode) return { id: byCode.id, baseUom: byCode.base_uom };
    const byId = await w.ctx
      .trx('material_identifiers as i')
      .join('materials as m', 'm.id', 'i.material_id')
      .whereIn('i.value', [code, `${sender}:${code}`])
      .first<{ id: string; base_uom: string } | undefined>('m.id', 'm.base_uom');
    if (byId) return { id: byId.id, baseUom: byId.base_uom };
  }
  return undefined;
}

/**
 * OMS^O05 (supply order) → `supply_requisitions`, one row per ORC + RQD line, keyed by sender,
 * ORC-2 placer order number and RQD-1 line: a resend or a change (ORC-1 XO) updates the line, a
 * cancel (CA/OC) marks it cancelled. New lines of known materials add `requisition` demand rows.
 */
export async function applyOmsO05(w: WmsWriter, msg: Hl7Message): Promise<{ lines: number; unknownItems: number }> {
  const { ctx } = w;
  const sender = ctx.message.sender ?? '';
  const hospitalRef = (msg.msh.get(4, 3) ?? '').toUpperCase() === 'GLN' && msg.msh.get(4, 2) ? (msg.msh.get(4, 2) as string) : msg.msh.get(4, 1) || sender || 'UNKNOWN-FACILITY';
  const hospitalCode = msg.msh.get(4, 1) || hospitalRef;
  const party = await findOrCreateParty(ctx.trx, hospitalRef, 'customer', w.lineage);
  const orders = msg.segmentGroups('ORC', { members: ['RQD', 'TQ1'] });
  if (orders.length === 0) {
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'OMS^O05 has no ORC segment', { location: { segment: 'ORC' } });
  }
  let lines = 0;
  let unknownItems = 0;
  for (const order of orders) {
    const orc = order.leader;
    const control = (orc.get(1) ?? '').toUpperCase();
    if (!control) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'ORC-1 (order control) is empty', { location: orc.location(1) });
    }
    const number = orc.get(2, 1) || orc.get(4, 1);
    if (!number) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'ORC-2 (placer order number) is empty: the requisition cannot be identified', { location: orc.location(2) });
    }
    const status = STATUS_OF_CONTROL[control] ?? 'open';
    const requestedAt = readHl7DateTime(orc, 9, { zone: ctx.timezone }) ?? readHl7DateTime(msg.msh, 7, { zone: ctx.timezone });
    for (const [i, rqd] of order.members.filter((s) => s.name === 'RQD').entries()) {
      const lineNo = readHl7Number(rqd, 1) ?? i + 1;
      const material = await materialOf(w, rqd, sender);
      if (!material) unknownItems++;
      const quantity = readHl7Number(rqd, 5);
      const uom = rqd.get(6, 1) || material?.baseUom || null;
      const deliverTo = rqd.get(9, 1);
      const location = deliverTo ? await w.location(`${hospitalCode}/${deliverTo}`) : undefined;
      const needed = readHl7DateTime(rqd, 10, { zone: ctx.timezone, type: 'DT' });
      const row = {
        party_id: party.row.id, sender, requisition_number: number, line_no: lineNo, order_control: control, status,
        material_id: material?.id ?? null, item_code: rqd.get(3, 1) || rqd.get(2, 1) || rqd.get(4, 1) || null,
        item_text: rqd.get(3, 2) || rqd.get(2, 2) || rqd.get(4, 2) || null, quantity: quantity ?? null, uom,
        location_id: location?.id ?? null, needed_by: needed ? needed.local.slice(0, 10) : null,
        requested_at: requestedAt ? new Date(requestedAt.utc) : null, source_message_id: ctx.message.id, updated_at: ctx.trx.fn.now(),
      };
      const [saved] = await ctx.trx('supply_requisitions')
        .insert({ id: uuidv7(), ...row, ordinal: ctx.nextOrdinal() })
        .onConflict(['sender', 'requisition_number', 'line_no'])
        .merge(['order_control', 'status', 'material_id', 'item_code', 'item_text', 'quantity', 'uom', 'location_id', 'needed_by', 'requested_at', 'updated_at'])
        .returning<Array<{ id: string }>>('id');
      const demandKey = `hl7-req:${sender}:${number}:${lineNo}`;
      if (status === 'cancelled') {
        await ctx.trx('demand_history').where({ source_key: demandKey }).delete();
      } else if (material && quantity !== undefined) {
        await ctx.trx('demand_history')
          .insert({
            kind: 'requisition', material_id: material.id, location_id: location?.id ?? null, party_id: party.row.id, quantity, uom: uom ?? material.baseUom,
            occurred_at: requestedAt ? new Date(requestedAt.utc) : ctx.message.receivedAt, source_key: demandKey, source_message_id: ctx.message.id, ordinal: ctx.nextOrdinal(),
          })
          .onConflict('source_key')
          .merge(['quantity', 'uom', 'location_id']);
      }
      await ctx.emit(status === 'cancelled' ? 'requisition.cancelled' : 'requisition.received', {
        requisitionId: saved.id, requisitionNumber: number, lineNo, orderControl: control, status, materialId: material?.id ?? null,
        itemCode: row.item_code, quantity: quantity ?? null, uom, neededBy: row.needed_by, hospitalPartyId: party.row.id,
      });
      await ctx.audit({ action: `hl7.requisition_${status}`, entityType: 'supply_requisition', entityId: saved.id, after: { number, lineNo, control, quantity: quantity ?? null } });
      lines++;
    }
  }
  return { lines, unknownItems };
}
