import { LotBridgeError } from '../../errors';
import { findOrCreateLot } from '../../model/lots/find-or-create-lot';
import { readHl7DateTime, readHl7Number, readHl7Component as val, type Hl7Message, type Hl7Segment } from '../../parsers/hl7';
import { upsertMaterial } from '../../model/master-data/upsert-material';
import type { WmsWriter } from '../wms/wms-writer';
import { expiryAsDate } from './hl7-devices';

/**
 * A known material learns the hospital's item number as a `customer` identifier `<facility>:<ITM-1>`
 * (unless some material already has it), so later messages that name the item by it find the material.
 */
async function learnCustomerId(w: WmsWriter, m: { id: string; code: string }, customerId: string): Promise<void> {
  const added = await w.ctx
    .trx('material_identifiers')
    .insert({ material_id: m.id, scheme: 'customer', value: customerId })
    .onConflict(['scheme', 'value'])
    .ignore()
    .returning('id');
  if (added.length > 0) {
    await w.ctx.audit({ action: 'material.identifier_add', entityType: 'material', entityId: m.id, after: { code: m.code, scheme: 'customer', value: customerId } });
  }
}

/**
 * The material an ITM names: ITM-9 manufacturer catalog number = our material code, else a GTIN in
 * ITM-1 (coding system GTIN or 8/12/13/14 digits), else the hospital's item number already known
 * as a `customer` identifier. A material found by catalog number or GTIN gains the hospital's item
 * number `<facility>:<ITM-1>` as a customer identifier. Unknown items become materials coded
 * `<facility>:<ITM-1>` with that customer identifier.
 */
async function materialOfItm(w: WmsWriter, itm: Hl7Segment, facility: string): Promise<{ id: string; code: string; created: boolean }> {
  const trx = w.ctx.trx;
  const itemNo = val(itm, 1, 1);
  if (!itemNo) {
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'ITM-1 (item identifier) is empty', { location: itm.location(1) });
  }
  const customerId = `${facility}:${itemNo}`;
  const catalog = val(itm, 9, 1);
  if (catalog) {
    const m = await trx('materials').where({ code: catalog }).first<{ id: string; code: string } | undefined>('id', 'code');
    if (m) {
      await learnCustomerId(w, m, customerId);
      return { ...m, created: false };
    }
  }
  const system = (val(itm, 1, 3) ?? val(itm, 1, 2) ?? '').toUpperCase();
  if (/^\d{8}$|^\d{12,14}$/.test(itemNo) && (system === '' || system === 'GTIN' || system === 'GS1')) {
    const m = await w.materialByGtin(itemNo.padStart(14, '0'));
    if (m) {
      await learnCustomerId(w, m.material, customerId);
      return { id: m.material.id, code: m.material.code, created: false };
    }
  }
  const known = await trx('material_identifiers as i').join('materials as m', 'm.id', 'i.material_id').where({ 'i.scheme': 'customer', 'i.value': customerId }).first<{ id: string; code: string } | undefined>('m.id', 'm.code');
  if (known) return { ...known, created: false };
  const result = await upsertMaterial(trx, {
    code: customerId,
    description: val(itm, 2) ?? null,
    identifiers: [{ scheme: 'customer', value: customerId }],
  }, { actor: `connector:${w.connectorId}`, reason: `HL7 MFN^M16 ${w.ctx.message.controlId ?? w.ctx.message.id}` });
  return { id: result.record.id, code: result.record.code, created: true };
}

/**
 * MFN^M16 (inventory item master) → materials, reorder-policy seeds and lots. Per MFE + ITM:
 * the material (see materialOfItm); per IVT, the hospital location (IVT-2) with the recommended
 * reorder theory, safety stock days, maximum days, order point and order amount (IVT-21 … 25) kept
 * on `reorder_policies` (the order point seeds `reorder_point` until demand computes one); per ILT,
 * the lot (ILT-2) with its expiry (ILT-3).
 */
export async function applyMfnM16(w: WmsWriter, msg: Hl7Message): Promise<{ items: number; policies: number; lots: number }> {
  const { ctx } = w;
  const facility = msg.msh.get(4, 1) || msg.msh.get(3, 1) || 'HOSPITAL';
  const entries = msg.segmentGroups('MFE', { members: ['ITM', 'IVT', 'ILT'] });
  if (entries.length === 0) {
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'MFN^M16 has no MFE segment', { location: { segment: 'MFE' } });
  }
  let items = 0;
  let policies = 0;
  let lots = 0;
  for (const entry of entries) {
    const itm = entry.members.find((s) => s.name === 'ITM');
    if (!itm) {
      throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', 'an MFE of MFN^M16 has no ITM segment', { location: entry.leader.location() });
    }
    const event = (val(entry.leader, 1) ?? '').toUpperCase();
    const material = await materialOfItm(w, itm, facility);
    items++;
    if (material.created) w.summary.created.materials++;
    for (const ivt of entry.members.filter((s) => s.name === 'IVT')) {
      const loc = val(ivt, 2, 1);
      if (!loc) continue;
      const location = await w.location(`${facility}/${loc}`);
      const seed = {
        reorder_theory: val(ivt, 21, 1) ?? null,
        safety_stock_days: readHl7Number(ivt, 22) ?? null,
        max_days: readHl7Number(ivt, 23) ?? null,
        recommended_order_point: readHl7Number(ivt, 24) ?? null,
        recommended_order_amount: readHl7Number(ivt, 25) ?? null,
        source_message_id: ctx.message.id,
        updated_at: ctx.trx.fn.now(),
      };
      await ctx.trx('reorder_policies')
        .insert({ material_id: material.id, location_id: location.id, method: 'hl7_seed', reorder_point: seed.recommended_order_point, ...seed })
        .onConflict(['material_id', 'location_id'])
        // a reorder point that is still the seed follows the new recommendation; a computed one is kept
        .merge({
          ...seed,
          reorder_point: ctx.trx.raw("CASE WHEN reorder_policies.method = 'hl7_seed' THEN excluded.reorder_point ELSE coalesce(reorder_policies.reorder_point, excluded.reorder_point) END"),
        });
      await ctx.audit({ action: 'hl7.reorder_seed', entityType: 'reorder_policy', entityId: `${material.id}@${location.id}`, after: { location: location.code, ...seed, updated_at: undefined } });
      policies++;
    }
    for (const ilt of entry.members.filter((s) => s.name === 'ILT')) {
      const lotNumber = val(ilt, 2);
      if (!lotNumber) continue;
      const expiry = readHl7DateTime(ilt, 3, { zone: ctx.timezone });
      const r = await findOrCreateLot(ctx.trx, { materialId: material.id, lotNumber, ...(expiry ? { expiry: expiryAsDate(expiry.local) } : {}) }, w.lineage);
      if (r.created) {
        w.summary.created.lots++;
        await ctx.emit('lot.created', { lotId: r.row.id, materialId: material.id, lotNumber, expiry: r.row.expiry, provisional: true, source: 'hl7:MFN^M16' });
      }
      lots++;
    }
    await ctx.emit('item.master_updated', { materialId: material.id, materialCode: material.code, event, facility });
  }
  return { items, policies, lots };
}
