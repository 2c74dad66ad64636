import { v7 as uuidv7 } from 'uuid';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import type { DbEdiPartnerRow } from '../../model/edi/edi-partners';
import type { EdiParty, FunctionalAckDocument, InventoryReportDocument, InvoiceDocument, OrderDocument, ReceivingAdviceDocument } from '../../parsers/edi/edi-documents';
import type { WmsWriter } from '../wms/wms-writer';

async function partyId(w: WmsWriter, p: EdiParty | undefined, role: 'customer' | 'supplier'): Promise<string | null> {
  const ref = p?.gln ?? p?.id;
  if (!ref) return null;
  const r = await findOrCreateParty(w.ctx.trx, ref, role, w.lineage);
  if (r.created) w.summary.created.parties++;
  return r.row.id;
}

async function materialIdOf(w: WmsWriter, l: { gtin?: string; buyerPart?: string }): Promise<string | null> {
  if (l.gtin) {
    const m = await w.materialByGtin(l.gtin);
    if (m) return m.material.id;
  }
  if (l.buyerPart) {
    const row = await w.ctx.trx('materials').where({ code: l.buyerPart }).first<{ id: string } | undefined>('id');
    if (row) return row.id;
  }
  return null;
}

const CANCEL = new Set(['01', '1', '3']);

/**
 * 850 / ORDERS received (a customer's order to us): `purchase_orders` direction `inbound` with its
 * lines (material by GTIN or buyer part = material code; unknown items keep GTIN/part on the line).
 * A known order number of the same buyer changes nothing, unless the document cancels it (BEG01 01 /
 * BGM 1225 = 1), which sets `cancelled`.
 */
export async function applyInboundOrder(w: WmsWriter, doc: OrderDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  const trx = w.ctx.trx;
  const buyer = (await partyId(w, doc.buyer, 'customer')) ?? partner.party_id;
  const existing = await trx('purchase_orders').where({ direction: 'inbound', po_number: doc.poNumber }).modify((q) => (buyer ? void q.where({ buyer_party_id: buyer }) : void q.whereNull('buyer_party_id'))).first<{ id: string; status: string } | undefined>('id', 'status');
  if (existing) {
    if (CANCEL.has(doc.purpose) && existing.status !== 'cancelled') {
      await trx('purchase_orders').where({ id: existing.id }).update({ status: 'cancelled' });
      await w.ctx.audit({ action: 'purchase_order.cancel', entityType: 'purchase_order', entityId: existing.id, after: { status: 'cancelled' } });
      await w.ctx.emit('purchase_order.cancelled', { poId: existing.id, poNumber: doc.poNumber, direction: 'inbound' });
      return { kind: 'order', poId: existing.id, cancelled: true };
    }
    return { kind: 'order', poId: existing.id, applied: false };
  }
  const id = uuidv7();
  await trx('purchase_orders').insert({
    id, po_number: doc.poNumber, direction: 'inbound', buyer_party_id: buyer, supplier_party_id: null, edi_partner_id: partner.id,
    status: CANCEL.has(doc.purpose) ? 'cancelled' : 'open', origin: 'edi', ordered_at: doc.orderedAt ?? null, source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal(),
  });
  for (const l of doc.lines) {
    await trx('po_lines').insert({
      po_id: id, line_no: l.lineNo, material_id: await materialIdOf(w, l), quantity: l.quantity, uom: l.uom, unit_price: l.unitPrice ?? null,
      requested_at: l.requestedAt ?? null, gtin: l.gtin ?? null, vendor_part: l.vendorPart ?? null, buyer_part: l.buyerPart ?? null,
      source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal(),
    });
  }
  await w.ctx.audit({ action: 'purchase_order.create', entityType: 'purchase_order', entityId: id, after: { poNumber: doc.poNumber, direction: 'inbound', lines: doc.lines.length } });
  await w.ctx.emit('purchase_order.received', { poId: id, poNumber: doc.poNumber, partnerId: partner.id, lines: doc.lines.length });
  return { kind: 'order', poId: id, applied: true, lines: doc.lines.length };
}

/**
 * 855 / ORDRSP (a supplier's answer to our order): the outbound purchase order gets status
 * `acknowledged` (or `cancelled` when the supplier rejects it: BAK02 RJ / BGM 1225 27), the
 * response code and time, and per line the confirmed quantity and line status (ACK01 / LIN 1229).
 * An answer to an order LotBridge does not know changes nothing (`matched` false; it still goes to flows).
 */
export async function applyOrderResponse(w: WmsWriter, doc: OrderDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  const trx = w.ctx.trx;
  const po = await trx('purchase_orders').where({ direction: 'outbound', po_number: doc.poNumber }).orderBy('created_at', 'desc').first<{ id: string } | undefined>('id');
  if (!po) {
    return { kind: 'order_response', poNumber: doc.poNumber, matched: false };
  }
  const rejected = doc.purpose === 'RJ' || doc.purpose === '27';
  await trx('purchase_orders').where({ id: po.id }).update({ status: rejected ? 'cancelled' : 'acknowledged', response_code: doc.purpose, responded_at: trx.fn.now() });
  let lines = 0;
  for (const l of doc.lines) {
    lines += await trx('po_lines').where({ po_id: po.id, line_no: l.lineNo }).update({ quantity_confirmed: l.quantityConfirmed ?? null, line_status: l.lineStatus ?? null });
  }
  await w.ctx.audit({ action: 'purchase_order.acknowledge', entityType: 'purchase_order', entityId: po.id, after: { responseCode: doc.purpose, lines } });
  await w.ctx.emit('purchase_order.acknowledged', { poId: po.id, poNumber: doc.poNumber, partnerId: partner.id, responseCode: doc.purpose, rejected });
  return { kind: 'order_response', poId: po.id, matched: true, lines };
}

/** 810 / INVOIC: an `invoices` row linked to its purchase order (by number) and ASN (inbound shipment by number). */
export async function applyInvoice(w: WmsWriter, doc: InvoiceDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  const trx = w.ctx.trx;
  const po = doc.poNumber ? await trx('purchase_orders').where({ po_number: doc.poNumber }).orderByRaw("direction = 'outbound' DESC").first<{ id: string } | undefined>('id') : undefined;
  const ship = doc.asnNumber ? await trx('shipments').where({ shipment_number: doc.asnNumber, direction: 'inbound' }).first<{ id: string } | undefined>('id') : undefined;
  const id = uuidv7();
  const rows = await trx('invoices')
    .insert({
      id, invoice_number: doc.invoiceNumber, edi_partner_id: partner.id, po_id: po?.id ?? null, shipment_id: ship?.id ?? null, po_number: doc.poNumber ?? null,
      asn_number: doc.asnNumber ?? null, invoice_date: doc.invoiceDate ?? null, total: doc.total ?? null, currency: doc.currency ?? null,
      lines: JSON.stringify(doc.lines), source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal(),
    })
    .onConflict(['edi_partner_id', 'invoice_number'])
    .ignore()
    .returning('id');
  if (rows.length === 0) return { kind: 'invoice', invoiceNumber: doc.invoiceNumber, applied: false };
  await w.ctx.audit({ action: 'invoice.create', entityType: 'invoice', entityId: id, after: { invoiceNumber: doc.invoiceNumber, poId: po?.id ?? null, shipmentId: ship?.id ?? null, total: doc.total ?? null } });
  await w.ctx.emit('invoice.received', { invoiceId: id, invoiceNumber: doc.invoiceNumber, partnerId: partner.id, poId: po?.id ?? null, shipmentId: ship?.id ?? null, total: doc.total ?? null, currency: doc.currency ?? null });
  return { kind: 'invoice', invoiceId: id, applied: true, poLinked: po !== undefined, asnLinked: ship !== undefined };
}

/** 846 / INVRPT: one `supplier_stock_snapshots` row per reported quantity (supplier or consignment stock; not our balances). */
export async function applyInventoryReport(w: WmsWriter, doc: InventoryReportDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  const rows = [];
  for (const l of doc.lines) {
    rows.push({
      edi_partner_id: partner.id, report_number: doc.reportNumber, reported_at: doc.reportedAt ?? null, location_ref: doc.location?.gln ?? doc.location?.id ?? null,
      material_id: await materialIdOf(w, l), gtin: l.gtin ?? null, vendor_part: l.vendorPart ?? null, lot_number: l.lot ?? null, expiry: l.expiry ?? null,
      qualifier: l.qualifier, quantity: l.quantity, uom: l.uom, source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal(),
    });
  }
  if (rows.length > 0) await w.ctx.trx('supplier_stock_snapshots').insert(rows).onConflict(['source_message_id', 'ordinal']).ignore();
  await w.ctx.emit('supplier_stock.reported', { partnerId: partner.id, reportNumber: doc.reportNumber, reportedAt: doc.reportedAt ?? null, lines: rows.length });
  return { kind: 'inventory_report', lines: rows.length };
}

/**
 * 861 / RECADV (the customer confirms receipt of our shipment): the outbound shipment gets
 * `received` and its lines' received quantities per lot; every discrepancy reason (RECADV QVR, 861
 * RCD) becomes a receiving-inspection finding in `quality_results` of the lot (test `receiving_advice`,
 * result fail, the reason as value) and a `receiving_advice.discrepancy` event.
 */
export async function applyReceivingAdvice(w: WmsWriter, doc: ReceivingAdviceDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  const trx = w.ctx.trx;
  const ship = doc.asnNumber ? await trx('shipments').where({ shipment_number: doc.asnNumber, direction: 'outbound' }).first<{ id: string } | undefined>('id') : undefined;
  let findings = 0;
  let linesUpdated = 0;
  const at = doc.receivedAt ? new Date(`${doc.receivedAt}T00:00:00Z`) : w.ctx.message.receivedAt;
  for (const l of doc.lines) {
    const lot = l.lot
      ? await trx('lots as t').join('material_identifiers as i', 'i.material_id', 't.material_id').where({ 't.lot_number': l.lot }).modify((q) => (l.gtin ? void q.where({ 'i.value': l.gtin }) : undefined)).first<{ id: string } | undefined>('t.id')
      : undefined;
    if (ship && lot) {
      linesUpdated += await trx('shipment_lines').where({ shipment_id: ship.id, lot_id: lot.id }).update({ quantity_received: l.quantityReceived });
    }
    if (l.reason && lot) {
      await trx('quality_results').insert({
        id: uuidv7(), lot_id: lot.id, test_code: 'receiving_advice', test_name: `receiving advice ${doc.adviceNumber} discrepancy`, result: 'fail',
        value: l.reason, unit: l.uom, disposition: l.quantityDiscrepant !== undefined ? `variance ${l.quantityDiscrepant}` : null, inspected_at: at,
        source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal(),
      });
      findings++;
    }
    if (l.reason) {
      await w.ctx.emit('receiving_advice.discrepancy', { adviceNumber: doc.adviceNumber, asnNumber: doc.asnNumber ?? null, gtin: l.gtin ?? null, lot: l.lot ?? null, reason: l.reason, variance: l.quantityDiscrepant ?? null, partnerId: partner.id });
    }
  }
  if (ship) {
    await trx('shipments').where({ id: ship.id }).update({ status: 'received', delivered_at: at });
    await w.ctx.audit({ action: 'shipment.receipt_confirmed', entityType: 'shipment', entityId: ship.id, after: { adviceNumber: doc.adviceNumber, findings } });
  }
  return { kind: 'receiving_advice', shipmentMatched: ship !== undefined, linesUpdated, findings };
}

/**
 * A partner's 997/999/TA1/CONTRL for a document we sent: the outbound message it names (by our GS06,
 * or our ISA13 / UNB 0020) gets `acknowledged_at` and the partner's verdict, which stops the
 * `partner_ack_missing` watch and closes its alert. Acknowledgements are never acknowledged in turn.
 */
export async function applyFunctionalAck(w: WmsWriter, doc: FunctionalAckDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  const trx = w.ctx.trx;
  const q = trx('edi_outbound_messages').where({ partner_id: partner.id }).whereNotIn('type', ['997', '999', 'TA1', 'CONTRL']);
  if (doc.ref.groupControlNumber !== undefined) void q.where({ group_control_number: doc.ref.groupControlNumber });
  else void q.where({ control_number: String(doc.ref.interchangeControlNumber ?? '').padStart(9, '0') });
  const rows = await q.update({ acknowledged_at: trx.fn.now(), acknowledged_by: `${doc.status}:${doc.code}` }).returning<Array<{ id: string; type: string }>>(['id', 'type']);
  for (const r of rows) {
    await trx('alerts').where({ dedup_key: `partner_ack_missing:${r.id}`, status: 'open' }).update({ status: 'closed', closed_at: trx.fn.now() });
    await w.ctx.emit('edi.acknowledged', { outboundMessageId: r.id, type: r.type, partnerId: partner.id, status: doc.status, code: doc.code });
  }
  return { kind: 'functional_ack', matched: rows.length, status: doc.status, ...doc.ref };
}
