import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';
import type { AsnDocument, AsnItem, EdiParty, OrderDocument } from '../../parsers/edi/edi-documents';
import { buildDesadv, buildOrders, buildX12_850, buildX12_856, type OutboundEnvelope } from '../../parsers/edi/edi-outbound';
import { allocateControlNumbers, type DbEdiPartnerRow } from './edi-partners';
import { writeAdminAudit } from '../master-data/write-admin-audit';

/** What to send: an 850/ORDERS from a purchase order, or an 856/DESADV from an outbound shipment. */
export interface SendEdiInput {
  partnerId: string;
  type: '850' | 'ORDERS' | '856' | 'DESADV';
  poId?: string;
  shipmentId?: string;
}

async function partyOf(db: Knex, id: string | null): Promise<EdiParty | undefined> {
  if (!id) return undefined;
  const p = await db('parties').where({ id }).first<{ gln: string | null; code: string | null; name: string | null } | undefined>('gln', 'code', 'name');
  if (!p) return undefined;
  return { ...(p.name ? { name: p.name } : {}), ...(p.gln ? { gln: p.gln } : p.code ? { id: p.code, qualifier: 'ZZ' } : {}) };
}

async function gtinOf(db: Knex, materialId: string | null): Promise<string | undefined> {
  if (!materialId) return undefined;
  const r = await db('material_identifiers').where({ material_id: materialId }).whereIn('scheme', ['gtin', 'udi_di']).orderByRaw("packaging_level = 'each' DESC").first<{ value: string } | undefined>('value');
  return r?.value;
}

/** Reads a purchase order (with its lines) into an order document. */
export async function orderDocumentOf(db: Knex, poId: string): Promise<OrderDocument> {
  const po = await db('purchase_orders').where({ id: poId }).first<{ po_number: string; status: string; ordered_at: Date | null; buyer_party_id: string | null; supplier_party_id: string | null } | undefined>();
  if (!po) throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no purchase order ${poId}`);
  const lines = await db('po_lines as l').leftJoin('materials as m', 'm.id', 'l.material_id').where({ 'l.po_id': poId }).orderBy('l.line_no')
    .select<Array<{ line_no: number; material_id: string | null; quantity: string; uom: string | null; unit_price: string | null; requested_at: string | null; gtin: string | null; vendor_part: string | null; code: string | null }>>('l.*', 'm.code');
  return {
    kind: 'order', poNumber: po.po_number, purpose: po.status === 'cancelled' ? 'cancel' : 'original', ...(po.ordered_at ? { orderedAt: new Date(po.ordered_at).toISOString().slice(0, 10) } : {}),
    ...(await partyOf(db, po.buyer_party_id).then((b) => (b ? { buyer: b } : {}))), ...(await partyOf(db, po.supplier_party_id).then((s) => (s ? { supplier: s } : {}))),
    lines: await Promise.all(lines.map(async (l) => {
      const gtin = l.gtin ?? (await gtinOf(db, l.material_id));
      return {
        lineNo: l.line_no, quantity: Number(l.quantity), uom: l.uom ?? 'EA', ...(l.unit_price !== null ? { unitPrice: Number(l.unit_price) } : {}),
        ...(l.requested_at ? { requestedAt: String(l.requested_at).slice(0, 10) } : {}), ...(gtin ? { gtin } : {}), ...(l.vendor_part ? { vendorPart: l.vendor_part } : {}), ...(l.code ? { buyerPart: l.code } : {}),
      };
    })),
  };
}

/** Reads an outbound shipment (WMS ship movements) into an ASN: one item per lot, serials listed, SSCCs and POs as recorded. */
export async function asnDocumentOf(db: Knex, shipmentId: string): Promise<AsnDocument> {
  const s = await db('shipments').where({ id: shipmentId }).first<{ shipment_number: string; direction: string; status: string; shipped_at: Date | null; expected_at: Date | null; to_party_id: string | null; ship_to: string | null; carrier: string | null } | undefined>();
  if (!s || s.direction !== 'outbound') throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no outbound shipment ${shipmentId}`);
  const lines = await db('shipment_lines as l').leftJoin('lots as t', 't.id', 'l.lot_id').leftJoin('serials as r', 'r.id', 'l.serial_id').leftJoin('materials as m', 'm.id', 'l.material_id')
    .where({ 'l.shipment_id': shipmentId }).orderBy('l.line_no')
    .select<Array<{ material_id: string | null; lot_number: string | null; lot_expiry: string | null; made: string | null; serial: string | null; qty: string; uom: string | null; sscc: string | null; po_number: string | null; code: string | null }>>(
      'l.material_id', 't.lot_number', 't.expiry as lot_expiry', 't.manufactured_at as made', 'r.serial_number as serial', 'l.quantity_shipped as qty', 'l.uom', 'l.sscc', 'l.po_number', 'm.code');
  const items = new Map<string, AsnItem>();
  for (const l of lines) {
    const key = `${l.material_id}|${l.lot_number}|${l.sscc ?? ''}|${l.po_number ?? ''}`;
    let it = items.get(key);
    if (!it) {
      const gtin = await gtinOf(db, l.material_id);
      it = {
        ref: `line ${items.size + 1}`, quantity: 0, uom: l.uom ?? 'EA', serials: [], ...(gtin ? { gtin } : {}), ...(l.code ? { vendorPart: l.code } : {}),
        ...(l.lot_number ? { lot: l.lot_number } : {}), ...(l.lot_expiry ? { expiry: String(l.lot_expiry).slice(0, 10) } : {}), ...(l.made ? { productionDate: String(l.made).slice(0, 10) } : {}),
        ...(l.sscc ? { sscc: l.sscc } : {}), ...(l.po_number ? { poNumber: l.po_number } : {}),
      };
      items.set(key, it);
    }
    it.quantity += Number(l.qty);
    if (l.serial) it.serials.push(l.serial);
  }
  const to = await partyOf(db, s.to_party_id);
  return {
    kind: 'asn', asnNumber: s.shipment_number, purpose: s.status === 'cancelled' ? 'cancel' : 'original', poNumbers: [...new Set(lines.map((l) => l.po_number).filter((p): p is string => !!p))],
    ...(s.shipped_at ? { shippedAt: new Date(s.shipped_at).toISOString().slice(0, 10) } : {}), ...(s.expected_at ? { expectedAt: new Date(s.expected_at).toISOString().slice(0, 10) } : {}),
    ...(to ? { shipTo: to } : s.ship_to ? { shipTo: { id: s.ship_to, qualifier: 'ZZ' } } : {}), ...(s.carrier ? { carrier: s.carrier } : {}),
    items: [...items.values()],
  };
}

/**
 * Builds an outbound 850/ORDERS (from a purchase order) or 856/DESADV (from an outbound shipment)
 * with the partner's separators, versions, identities and next control numbers; stores it in
 * `edi_outbound_messages` (watched for the partner's 997/CONTRL: `partner_ack_missing` after
 * `ackOverdueMinutes`) and writes an `edi.outbound` outbox event for routing to the partner's destination.
 */
export async function sendEdiDocument(db: Knex, input: SendEdiInput, actor: string): Promise<{ outboundMessageId: string; controlNumber: string; raw: string }> {
  return db.transaction(async (trx) => {
    const partner = await trx<DbEdiPartnerRow>('edi_partners').where({ id: input.partnerId }).first();
    if (!partner || !partner.active) throw new LotBridgeError('LB_ERR_EDI_PARTNER_NOT_FOUND', `no active EDI partner ${input.partnerId}`);
    const x12 = input.type === '850' || input.type === '856';
    if (x12 !== (partner.standard === 'x12')) {
      throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', `partner ${partner.interchange_id} speaks ${partner.standard}; ${input.type} is ${x12 ? 'X12' : 'EDIFACT'}`);
    }
    const order = input.type === '850' || input.type === 'ORDERS';
    const sourceId = order ? input.poId : input.shipmentId;
    if (!sourceId) throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', `${input.type} needs ${order ? 'poId' : 'shipmentId'}`);
    const n = await allocateControlNumbers(trx, partner.id);
    const env: OutboundEnvelope = {
      ourQualifier: partner.our_qualifier ?? 'ZZ', ourId: partner.our_id ?? 'LOTBRIDGE', partnerQualifier: partner.qualifier || 'ZZ', partnerId: partner.interchange_id,
      interchangeControlNumber: n.interchange, groupControlNumber: n.group, now: new Date(), ...(partner.versions?.interchange ? { version: partner.versions.interchange } : {}),
    };
    const seps = (partner.separators ?? {}) as Record<string, string>;
    const raw = order
      ? x12 ? buildX12_850(await orderDocumentOf(trx, sourceId), env, seps) : buildOrders(await orderDocumentOf(trx, sourceId), env, seps)
      : x12 ? buildX12_856(await asnDocumentOf(trx, sourceId), env, seps) : buildDesadv(await asnDocumentOf(trx, sourceId), env, seps);
    const id = uuidv7();
    const controlNumber = String(n.interchange).padStart(9, '0');
    await trx('edi_outbound_messages').insert({ id, partner_id: partner.id, standard: partner.standard, type: input.type, control_number: controlNumber, group_control_number: String(n.group), document_id: sourceId, raw });
    await trx('outbox_events').insert({ event_id: uuidv7(), type: 'edi.outbound', payload: JSON.stringify({ outboundMessageId: id, partnerId: partner.id, type: input.type, controlNumber, documentId: sourceId, destination: partner.outbound_destination ?? null }) });
    await writeAdminAudit(trx, { actor, action: 'edi.outbound', entityType: 'edi_outbound_message', entityId: id, after: { type: input.type, controlNumber, documentId: sourceId, partnerId: partner.id } });
    return { outboundMessageId: id, controlNumber, raw };
  });
}
