import type { DbLotRow, DbShipmentRow } from '../../db/tables';
import type { NewAlert } from '../../model/alerts/open-alert';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import type { WmsWriter } from '../wms/wms-writer';

/**
 * The source key of an ASN's `shipping` trace event (applyAsn writes it; the cancellation and the
 * receipt matching read the event's items by it): ASN numbers are the sender's, so the key holds both.
 */
export function asnShippingEventKey(partnerId: string, asnNumber: string): string {
  return `edi:asn:${partnerId}:${asnNumber}`;
}

/** The reference kinds of a WMS receipt that name the inbound ASN it receives against. */
export const ASN_REFERENCE_KINDS = ['asn', 'desadv', 'shipment'] as const;

/** One received lot (or serial) of a WMS receipt that names an ASN. */
export interface AsnReceiptLine {
  asnNumber: string;
  eventId: string;
  recordId: string;
  gtin: string;
  materialId: string;
  lot: DbLotRow;
  serialId: string | null;
  serial?: string;
  /** Base units received. */
  quantity: number;
  uom: string;
  receivedAt: Date;
}

/** A line of an inbound ASN with the base units per unit it was announced in. */
interface AsnLine {
  id: number;
  lot_id: string | null;
  lot_number: string | null;
  material_id: string | null;
  serial_id: string | null;
  serial_number: string | null;
  gtin: string | null;
  uom: string | null;
  quantity_shipped: string | null;
  /** Base units received against the line (what receipts count). */
  quantity_received: string | null;
  /** Base units per unit of `quantity_shipped`. */
  factor: number;
}

/**
 * The ASN's lines, each with the base units per unit it was announced in: the factor the ASN
 * mapping used when it booked the in-transit stock, read back from its shipping event's items
 * (`base_quantity ÷ quantity` of the item of the line's lot and unit), so a change of master data
 * after the ASN changes nothing here; for a line without such an item (no lot), the units per
 * packaging level of its GTIN, else 1.
 */
async function asnLines(w: WmsWriter, s: InboundShipment): Promise<AsnLine[]> {
  const factors = await lineFactors(w, s);
  const r = await w.ctx.trx.raw<{ rows: Array<Omit<AsnLine, 'factor'>> }>(
    `SELECT l.id, l.lot_id, t.lot_number, l.material_id, l.serial_id, l.serial_number, l.gtin, l.uom, l.quantity_shipped, l.quantity_received
       FROM shipment_lines l LEFT JOIN lots t ON t.id = l.lot_id
      WHERE l.shipment_id = ? ORDER BY l.line_no`,
    [s.id],
  );
  return r.rows.map((l) => ({ ...l, factor: factors.get(l.id) ?? 1 }));
}

const FACTORS = 'edi:asn-line-factors';

/**
 * The factor of each line of the ASN (see {@link asnLines}), read once per transaction: a receipt
 * message matches every record against the ASN, and the factors do not change meanwhile (only the
 * lines' received quantities do).
 */
async function lineFactors(w: WmsWriter, s: InboundShipment): Promise<Map<number, number>> {
  const key = `${FACTORS}:${s.id}`;
  let m = w.ctx.cache.get(key) as Map<number, number> | undefined;
  if (!m) {
    const r = await w.ctx.trx.raw<{ rows: Array<{ id: number; master_factor: string; event_factor: string | null }> }>(
      `SELECT l.id,
              coalesce((SELECT mi.quantity_per_level FROM material_identifiers mi WHERE mi.scheme IN ('gtin', 'udi_di') AND mi.value = l.gtin
                         ORDER BY mi.scheme = 'gtin' DESC LIMIT 1), 1) AS master_factor,
              (SELECT i.base_quantity / i.quantity FROM trace_events e JOIN trace_event_items i ON i.event_id = e.id
                WHERE e.source_key = ? AND i.lot_id = l.lot_id AND i.uom = l.uom AND i.quantity > 0
                ORDER BY i.id LIMIT 1) AS event_factor
         FROM shipment_lines l WHERE l.shipment_id = ?`,
      [asnShippingEventKey(s.edi_partner_id ?? '', s.shipment_number), s.id],
    );
    m = new Map(r.rows.map((x) => [Number(x.id), Number(x.event_factor ?? x.master_factor)]));
    w.ctx.cache.set(key, m);
  }
  return m;
}

type InboundShipment = DbShipmentRow & { to_location_id: string | null; edi_partner_id: string | null };

const TOUCHED = 'edi:asn-receipts-touched';

function touched(w: WmsWriter): Map<string, InboundShipment> {
  let m = w.ctx.cache.get(`${TOUCHED}:${w.ctx.message.id}`) as Map<string, InboundShipment> | undefined;
  if (!m) {
    m = new Map();
    w.ctx.cache.set(`${TOUCHED}:${w.ctx.message.id}`, m);
  }
  return m;
}

function discrepancy(s: InboundShipment, kind: string, key: string, message: string, details: Record<string, unknown>, severity: NewAlert['severity'] = 'warning'): NewAlert {
  return {
    type: 'asn_discrepancy',
    severity,
    subjectType: 'shipment',
    subjectId: s.id,
    message: `ASN ${s.shipment_number}: ${message}`,
    details: { asnNumber: s.shipment_number, kind, ...details },
    dedupKey: `asn_discrepancy:${s.id}:${kind}:${key}`,
  };
}

/**
 * Matches one received lot/serial of a WMS receipt against the inbound ASN it names: the ASN lines
 * of that lot (or serial) take the received quantity, the in-transit stock at the ASN's receiving
 * location is taken back (up to what is still in transit for the lot), and what cannot match opens
 * an `asn_discrepancy` alert at once: a lot the ASN does not announce (`wrong_lot`, or
 * `unexpected_item` for a product it does not list), a serial it does not list
 * (`unexpected_serial`), a lot already expired on arrival (`expired_on_arrival`). A receipt after
 * the ASN's expected delivery date opens `shipment_late`. Short and over are judged per lot once
 * the receipt message is done ({@link reconcileAsnReceipts}). An ASN LotBridge has not seen changes nothing.
 */
export async function matchAsnReceipt(w: WmsWriter, r: AsnReceiptLine): Promise<void> {
  const trx = w.ctx.trx;
  const s = await trx<InboundShipment>('shipments').where({ direction: 'inbound', shipment_number: r.asnNumber }).whereNot({ status: 'cancelled' }).forUpdate().first();
  if (!s) {
    return;
  }
  touched(w).set(s.id, s);
  const lines = await asnLines(w, s);
  const ofLot = lines.filter((l) => l.lot_id === r.lot.id);
  const day = r.receivedAt.toISOString().slice(0, 10);
  if (ofLot.length === 0) {
    const sameItem = lines.some((l) => l.material_id === r.materialId);
    const kind = sameItem ? 'wrong_lot' : 'unexpected_item';
    await w.alert(discrepancy(s, kind, r.lot.id, sameItem ? `received lot ${r.lot.lot_number} of GTIN ${r.gtin}, which the ASN does not announce (record ${r.recordId})` : `received GTIN ${r.gtin} lot ${r.lot.lot_number}, which the ASN does not list (record ${r.recordId})`, { gtin: r.gtin, lotNumber: r.lot.lot_number, quantity: r.quantity, recordId: r.recordId }));
  } else if (r.serial !== undefined && ofLot.some((l) => l.serial_number !== null)) {
    const line = ofLot.find((l) => l.serial_number === r.serial);
    if (!line) {
      await w.alert(discrepancy(s, 'unexpected_serial', `${r.lot.id}:${r.serial}`, `received serial ${r.serial} of lot ${r.lot.lot_number}, which the ASN does not list (record ${r.recordId})`, { gtin: r.gtin, lotNumber: r.lot.lot_number, serial: r.serial, recordId: r.recordId }));
    } else {
      await trx('shipment_lines').where({ id: line.id }).update({ quantity_received: trx.raw('coalesce(quantity_received, 0) + ?', [r.quantity]) });
    }
  } else {
    // the lot's lines fill in order up to what each announced, in base units (a line of 2 cases
    // of 10 takes 20; `quantity_received` counts base units); the rest goes on the last
    let rest = r.quantity;
    for (let i = 0; i < ofLot.length && rest > 0; i++) {
      const l = ofLot[i];
      const room = i === ofLot.length - 1 ? rest : Math.max(0, Number(l.quantity_shipped ?? 0) * l.factor - Number(l.quantity_received ?? 0));
      const take = Math.min(room, rest);
      if (take > 0) {
        await trx('shipment_lines').where({ id: l.id }).update({ quantity_received: trx.raw('coalesce(quantity_received, 0) + ?', [take]) });
        rest -= take;
      }
    }
  }
  if (r.lot.expiry !== null && String(r.lot.expiry) < day) {
    await w.alert(discrepancy(s, 'expired_on_arrival', r.lot.id, `lot ${r.lot.lot_number} (GTIN ${r.gtin}) arrived expired (expiry ${r.lot.expiry}, received ${day})`, { gtin: r.gtin, lotNumber: r.lot.lot_number, expiry: r.lot.expiry, receivedAt: r.receivedAt.toISOString() }, 'critical'));
  }
  // the in-transit stock this ASN booked for the lot comes back as it is received
  if (s.to_location_id && ofLot.length > 0) {
    const loc = await trx<DbLocationRow>('locations').where({ id: s.to_location_id }).first();
    const bal = await trx('inventory_balances').where({ lot_id: r.lot.id, location_id: s.to_location_id, stock_state: 'in_transit' }).first<{ quantity: string } | undefined>('quantity');
    const take = Math.min(r.quantity, Math.max(0, Number(bal?.quantity ?? 0)));
    if (loc && take > 0) {
      await w.book({ eventId: r.eventId, lotId: r.lot.id, gtin: r.gtin, lotNumber: r.lot.lot_number, location: loc, stockState: 'in_transit', delta: -take, eventTime: r.receivedAt, reason: 'movement', uom: r.uom, recordId: r.recordId });
    }
  }
  if (s.delivered_at === null) {
    await trx('shipments').where({ id: s.id }).update({ delivered_at: r.receivedAt, status: 'delivered' });
    s.delivered_at = r.receivedAt;
    if (s.expected_at !== null && day > new Date(s.expected_at).toISOString().slice(0, 10)) {
      await w.alert({
        type: 'shipment_late', severity: 'warning', subjectType: 'shipment', subjectId: s.id,
        message: `ASN ${s.shipment_number} arrived ${day}, after its expected delivery ${new Date(s.expected_at).toISOString().slice(0, 10)}`,
        details: { asnNumber: s.shipment_number, expectedAt: new Date(s.expected_at).toISOString(), deliveredAt: r.receivedAt.toISOString(), partnerId: s.edi_partner_id },
        dedupKey: `shipment_late:${s.id}`,
      });
    }
  }
}

/**
 * After a receipt message: per lot of each ASN it received against, received vs announced. Less than
 * announced opens `asn_discrepancy` short (closed again when a later receipt completes the lot),
 * more opens `over`; when every line is complete the shipment becomes `received`.
 */
export async function reconcileAsnReceipts(w: WmsWriter): Promise<void> {
  const trx = w.ctx.trx;
  for (const s of touched(w).values()) {
    // per lot, announced and received in base units (each line's announced quantity × the factor it
    // was announced in; received quantities are base units)
    const perLot = new Map<string, { lot_id: string; lot_number: string; gtin: string | null; shipped: number; received: number }>();
    for (const l of await asnLines(w, s)) {
      if (l.lot_id === null) continue;
      const p = perLot.get(l.lot_id) ?? { lot_id: l.lot_id, lot_number: l.lot_number ?? '', gtin: l.gtin, shipped: 0, received: 0 };
      p.shipped += Number(l.quantity_shipped ?? 0) * l.factor;
      p.received += Number(l.quantity_received ?? 0);
      perLot.set(l.lot_id, p);
    }
    let complete = true;
    for (const p of perLot.values()) {
      // base units are whole in practice; rounding to 4 places keeps a fractional factor from leaving a remainder
      const shipped = Math.round(p.shipped * 1e4) / 1e4;
      const received = Math.round(p.received * 1e4) / 1e4;
      const shortKey = `asn_discrepancy:${s.id}:short:${p.lot_id}`;
      if (received < shipped) {
        complete = false;
        await w.alert(discrepancy(s, 'short', p.lot_id, `lot ${p.lot_number} received ${received} of ${shipped} announced`, { gtin: p.gtin, lotNumber: p.lot_number, announced: shipped, received }));
      } else {
        await trx('alerts').where({ dedup_key: shortKey, status: 'open' }).update({ status: 'closed', closed_at: trx.fn.now() });
      }
      if (received > shipped) {
        await w.alert(discrepancy(s, 'over', p.lot_id, `lot ${p.lot_number} received ${received}, ${received - shipped} more than the ${shipped} announced`, { gtin: p.gtin, lotNumber: p.lot_number, announced: shipped, received }));
      }
    }
    if (complete) {
      await trx('shipments').where({ id: s.id }).update({ status: 'received' });
    }
    await w.ctx.emit('shipment.received', {
      shipmentId: s.id, asnNumber: s.shipment_number, complete,
      lots: [...perLot.values()].map((p) => ({ lotNumber: p.lot_number, announced: Math.round(p.shipped * 1e4) / 1e4, received: Math.round(p.received * 1e4) / 1e4 })),
    });
  }
  touched(w).clear();
}
