import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import { readHl7DateTime, readHl7Number, readHl7Component as val, type Hl7Message, type Hl7Segment } from '../../parsers/hl7';
import type { WmsWriter } from '../wms/wms-writer';

/** ORC-1 order control (HL7 table 0119) → requisition status. */
const STATUS_OF_CONTROL: Readonly<Record<string, string>> = {
  NW: 'open', SN: 'open', RO: 'open', RP: 'changed', XO: 'changed', XX: 'changed', CA: 'cancelled', OC: 'cancelled', CR: 'cancelled',
  DC: 'cancelled', OD: 'cancelled', HD: 'on_hold', OH: 'on_hold', RL: 'open', OR: 'open', SC: 'open', OK: 'open',
};

/** Material of a requisition line: RQD-3 (external, e.g. GTIN or our code), else RQD-2 (internal), else RQD-4 (hospital item). */
async function materialOf(w: WmsWriter, rqd: Hl7Segment, facility: string): Promise<{ id: string; baseUom: string } | undefined> {
  for (const f of [3, 2, 4]) {
    const code = val(rqd, f, 1);
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
      .whereIn('i.value', [code, `${facility}:${code}`]) // hospital item numbers as MFN^M16 records them: <MSH-4>:<item>
      .first<{ id: string; base_uom: string } | undefined>('m.id', 'm.base_uom');
    if (byId) return { id: byId.id, baseUom: byId.base_uom };
  }
  return undefined;
}

/**
 * OMS^O05 (supply order) → `supply_requisitions`, one row per ORC + RQD line, keyed by sender,
 * ORC-2 placer order number and RQD-1 line: a resend or a change (ORC-1 XO) updates the line, a
 * cancel (CA/OC) marks it cancelled. New lines of known materials add `requisition` demand rows.
 * A line that already holds what the message says (a reprocess) or that a later message changed
 * (its ORC-9, else MSH-7, is later: a reprocess of an older message, a late delivery) is left as it is.
 */
export async function applyOmsO05(w: WmsWriter, msg: Hl7Message): Promise<{ lines: number; unknownItems: number; alreadyApplied: number; superseded: number }> {
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
  let alreadyApplied = 0;
  let superseded = 0;
  for (const order of orders) {
    const orc = order.leader;
    const control = (val(orc, 1) ?? '').toUpperCase();
    if (!control) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'ORC-1 (order control) is empty', { location: orc.location(1) });
    }
    const number = val(orc, 2, 1) || val(orc, 4, 1);
    if (!number) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'ORC-2 (placer order number) is empty: the requisition cannot be identified', { location: orc.location(2) });
    }
    const status = STATUS_OF_CONTROL[control] ?? 'open';
    const requestedAt = readHl7DateTime(orc, 9, { zone: ctx.timezone }) ?? readHl7DateTime(msg.msh, 7, { zone: ctx.timezone });
    for (const [i, rqd] of order.members.filter((s) => s.name === 'RQD').entries()) {
      const lineNo = readHl7Number(rqd, 1) ?? i + 1;
      const material = await materialOf(w, rqd, hospitalCode);
      if (!material) unknownItems++;
      const quantity = readHl7Number(rqd, 5);
      const uom = val(rqd, 6, 1) || material?.baseUom || null;
      const deliverTo = val(rqd, 9, 1);
      const location = deliverTo ? await w.location(`${hospitalCode}/${deliverTo}`) : undefined;
      const needed = readHl7DateTime(rqd, 10, { zone: ctx.timezone, type: 'DT' });
      const row = {
        party_id: party.row.id, sender, requisition_number: number, line_no: lineNo, order_control: control, status,
        material_id: material?.id ?? null, item_code: val(rqd, 3, 1) || val(rqd, 2, 1) || val(rqd, 4, 1) || null,
        item_text: val(rqd, 3, 2) || val(rqd, 2, 2) || val(rqd, 4, 2) || null, quantity: quantity ?? null, uom,
        location_id: location?.id ?? null, needed_by: needed ? neededByDate(needed.local) : null,
        requested_at: requestedAt ? new Date(requestedAt.utc) : null, source_message_id: ctx.message.id, updated_at: ctx.trx.fn.now(),
      };
      // a line already as this message says (a reprocess, a resend), or already changed by a later
      // message (ORC-9 / MSH-7 after this one: a reprocess of an older message, a late delivery), is left alone
      const existing = await ctx.trx('supply_requisitions').where({ sender, requisition_number: number, line_no: lineNo }).forUpdate().first();
      lines++;
      if (existing) {
        if (existing.requested_at && row.requested_at && new Date(existing.requested_at).getTime() > row.requested_at.getTime()) {
          superseded++;
          continue;
        }
        if (sameLine(existing, row)) {
          alreadyApplied++;
          continue;
        }
      }
      const [saved] = await ctx.trx('supply_requisitions')
        .insert({ id: uuidv7(), ...row, ordinal: ctx.nextOrdinal() })
        .onConflict(['sender', 'requisition_number', 'line_no'])
        .merge(['order_control', 'status', 'material_id', 'item_code', 'item_text', 'quantity', 'uom', 'location_id', 'needed_by', 'requested_at', 'updated_at'])
        .returning<Array<{ id: string }>>('id');
      const demandKey = `hl7-req:${sender}:${number}:${lineNo}`;
      if (status === 'cancelled' || !material || quantity === undefined) {
        // cancelled, or changed to an item master data does not know (or without a quantity): the line is no demand
        await ctx.trx('demand_history').where({ source_key: demandKey }).delete();
      } else {
        await ctx.trx('demand_history')
          .insert({
            kind: 'requisition', material_id: material.id, location_id: location?.id ?? null, party_id: party.row.id, quantity, uom: uom ?? material.baseUom,
            occurred_at: requestedAt ? new Date(requestedAt.utc) : ctx.message.receivedAt, source_key: demandKey, source_message_id: ctx.message.id, ordinal: ctx.nextOrdinal(),
          })
          .onConflict('source_key')
          // a change (XO) may name another item: the demand follows the line
          .merge(['material_id', 'quantity', 'uom', 'location_id']);
      }
      await ctx.emit(status === 'cancelled' ? 'requisition.cancelled' : 'requisition.received', {
        requisitionId: saved.id, requisitionNumber: number, lineNo, orderControl: control, status, materialId: material?.id ?? null,
        itemCode: row.item_code, quantity: quantity ?? null, uom, neededBy: row.needed_by, hospitalPartyId: party.row.id,
      });
      await ctx.audit({ action: `hl7.requisition_${status}`, entityType: 'supply_requisition', entityId: saved.id, after: { number, lineNo, control, quantity: quantity ?? null } });
    }
  }
  return { lines, unknownItems, alreadyApplied, superseded };
}

/** True when a stored requisition line already holds what a message says. */
function sameLine(stored: Record<string, unknown>, row: Record<string, unknown>): boolean {
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  const time = (v: unknown): number | null => (v instanceof Date ? v.getTime() : v ? new Date(v as string).getTime() : null);
  const day = (v: unknown): string | null => (v instanceof Date ? v.toISOString().slice(0, 10) : ((v as string | null) ?? null));
  return (
    ['order_control', 'status', 'material_id', 'item_code', 'item_text', 'uom', 'location_id', 'party_id'].every((k) => (stored[k] ?? null) === (row[k] ?? null)) &&
    num(stored.quantity) === num(row.quantity) &&
    day(stored.needed_by) === day(row.needed_by) &&
    time(stored.requested_at) === time(row.requested_at)
  );
}

/**
 * RQD-10 (DT, read in local time: `YYYY-MM-DD`, or `YYYY-MM` / `YYYY` when sent with month or year
 * precision) as the date the line is needed by: a month or year counts from its first day, so
 * the need is not planned late.
 * @param local - the date as read
 */
function neededByDate(local: string): string {
  return local.length >= 10 ? local.slice(0, 10) : `${local.slice(0, 4)}-${local.slice(5, 7) || '01'}-01`;
}
