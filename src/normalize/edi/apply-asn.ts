import { v7 as uuidv7 } from 'uuid';
import type { DbLotRow, DbShipmentRow } from '../../db/tables';
import { LotBridgeError } from '../../errors';
import { createProvisionalMaterial } from '../../model/materials/create-provisional-material';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import type { DbEdiPartnerRow } from '../../model/edi/edi-partners';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import type { AsnDocument, AsnItem } from '../../parsers/edi/edi-documents';
import { CANONICAL, type WmsWriter } from '../wms/wms-writer';
import { asnShippingEventKey } from './asn-receipt';

/** What one ASN did. */
export interface AsnOutcome {
  shipmentId: string;
  asnNumber: string;
  /** False when the ASN number was known already (a replayed or re-numbered resend): nothing written. */
  applied: boolean;
  lines: number;
  lots: number;
  serials: number;
}

interface Material {
  id: string;
  baseUom: string;
  /** Base units per unit the ASN counts in (the GTIN's packaging level). */
  factor: number;
}

/** The location an ASN's goods are expected at: N1*ST / NAD+DP GLN, else the partner's receiving location, else RECEIVING. */
async function receivingLocation(w: WmsWriter, doc: AsnDocument, partner: DbEdiPartnerRow): Promise<DbLocationRow> {
  const gln = doc.shipTo?.gln;
  if (gln) {
    const byGln = await w.ctx.trx<DbLocationRow>('locations').where({ gln }).orderBy('created_at').first();
    if (byGln) return byGln;
    const [made] = await w.ctx.trx<DbLocationRow>('locations')
      .insert({ id: uuidv7(), code: `GLN-${gln}`, gln, name: doc.shipTo?.name ?? null, kind: 'warehouse', provisional: true, source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal() })
      .onConflict('code')
      .ignore()
      .returning('*');
    if (made) {
      w.summary.created.locations++;
      await w.ctx.audit({ action: 'location.create_provisional', entityType: 'location', entityId: made.id, after: { code: made.code, gln, kind: 'warehouse', provisional: true } });
      return made;
    }
    return w.location(`GLN-${gln}`);
  }
  return w.location(partner.receiving_location ?? 'RECEIVING');
}

async function materialOf(w: WmsWriter, item: AsnItem, partner: DbEdiPartnerRow, cache: Map<string, Material>): Promise<Material> {
  const key = item.gtin ? `g:${item.gtin}` : item.buyerPart ? `b:${item.buyerPart}` : `v:${item.vendorPart ?? ''}`;
  const known = cache.get(key);
  if (known) return known;
  let m: Material | undefined;
  if (item.gtin) {
    const found = await w.materialByGtin(item.gtin);
    if (found) {
      m = { id: found.material.id, baseUom: found.material.baseUom, factor: found.quantityPerLevel };
    } else {
      const made = await createProvisionalMaterial(w.ctx.trx, { gtin: item.gtin, baseUom: item.uom }, w.lineage);
      if (made.created) {
        w.summary.created.materials++;
        await w.ctx.audit({ action: 'material.create_provisional', entityType: 'material', entityId: made.row.id, after: { code: made.row.code, gtin: item.gtin, provisional: true } });
      }
      m = { id: made.row.id, baseUom: made.row.base_uom, factor: 1 };
    }
  } else {
    const code = item.buyerPart ?? `${partner.interchange_id}:${item.vendorPart ?? ''}`;
    const row = await w.ctx.trx('materials').where({ code }).first<{ id: string; base_uom: string } | undefined>('id', 'base_uom');
    if (row) {
      m = { id: row.id, baseUom: row.base_uom, factor: 1 };
    } else {
      const [made] = await w.ctx.trx('materials')
        .insert({ id: uuidv7(), code, description: item.vendorPart ? `vendor part ${item.vendorPart} of ${partner.name ?? partner.interchange_id}` : null, kind: 'finished', base_uom: item.uom, provisional: true, source_message_id: w.ctx.message.id, ordinal: w.ctx.nextOrdinal() })
        .onConflict('code')
        .ignore()
        .returning<Array<{ id: string; base_uom: string }>>(['id', 'base_uom']);
      const row2 = made ?? (await w.ctx.trx('materials').where({ code }).first<{ id: string; base_uom: string }>('id', 'base_uom'));
      if (made) w.summary.created.materials++;
      m = { id: row2.id, baseUom: row2.base_uom, factor: 1 };
    }
  }
  cache.set(key, m);
  return m;
}

/**
 * Maps an ASN (856 / DESADV) into the canonical model: an inbound shipment (status in_transit) with
 * one line per lot or serial as announced (GTIN, lot, expiry, serial, SSCC, PO), provisional lots
 * with their expiry (and serials), one `shipping` trace event, and the quantities as `in_transit`
 * stock at the receiving location. A known ASN number changes nothing (`applied` false); a
 * cancellation (BSN01 01 / BGM 1225 = 1) cancels the shipment and takes its in-transit stock back.
 * @param w - the writer of this message
 * @param doc - the ASN
 * @param partner - the sending trading partner
 */
export async function applyAsn(w: WmsWriter, doc: AsnDocument, partner: DbEdiPartnerRow): Promise<AsnOutcome> {
  const trx = w.ctx.trx;
  const existing = await trx<DbShipmentRow>('shipments').where({ direction: 'inbound', shipment_number: doc.asnNumber }).forUpdate().first();
  if (doc.purpose === 'cancel') {
    if (!existing) {
      throw new LotBridgeError('LB_ERR_X12_ELEMENT_INVALID', `ASN ${doc.asnNumber} is cancelled but no such ASN was received`, { location: purposeElement(partner) });
    }
    if (existing.status !== 'cancelled') {
      await cancelAsn(w, existing, partner);
    }
    return { shipmentId: existing.id, asnNumber: doc.asnNumber, applied: existing.status !== 'cancelled', lines: 0, lots: 0, serials: 0 };
  }
  if (existing) {
    return { shipmentId: existing.id, asnNumber: doc.asnNumber, applied: false, lines: 0, lots: 0, serials: 0 };
  }
  const location = await receivingLocation(w, doc, partner);
  let fromPartyId = partner.party_id;
  if (doc.shipFrom?.gln || doc.shipFrom?.id) {
    const p = await findOrCreateParty(trx, (doc.shipFrom.gln ?? doc.shipFrom.id) as string, 'supplier', w.lineage);
    if (p.created) w.summary.created.parties++;
    fromPartyId = p.row.id;
  }
  const materials = new Map<string, Material>();
  const itemMaterials: Material[] = [];
  for (const item of doc.items) itemMaterials.push(await materialOf(w, item, partner, materials));
  // lots: one statement for all (found, created provisional with the ASN's expiry, or given the expiry they lacked)
  const lotKeys = new Map<string, { materialId: string; lotNumber: string; expiry: string | null; production: string | null }>();
  doc.items.forEach((item, i) => {
    if (!item.lot) return;
    const k = `${itemMaterials[i].id}|${item.lot}`;
    if (!lotKeys.has(k)) lotKeys.set(k, { materialId: itemMaterials[i].id, lotNumber: item.lot, expiry: item.expiry ?? null, production: item.productionDate ?? null });
  });
  const lots = new Map<string, DbLotRow>();
  if (lotKeys.size > 0) {
    const keys = [...lotKeys.values()];
    const ords = keys.map(() => w.ctx.nextOrdinal());
    const r = await trx.raw<{ rows: Array<DbLotRow & { created: boolean }> }>(
      `WITH x AS (SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::date[], ?::date[], ?::int[]) AS x(id, material_id, lot_number, expiry, manufactured_at, ordinal)),
       ins AS (INSERT INTO lots (id, material_id, lot_number, expiry, manufactured_at, provisional, source_message_id, ordinal)
               SELECT id, material_id, lot_number, expiry, manufactured_at, true, ?::uuid, ordinal FROM x
               ON CONFLICT (material_id, lot_number) DO NOTHING RETURNING *),
       upd AS (UPDATE lots t SET expiry = coalesce(t.expiry, x.expiry), manufactured_at = coalesce(t.manufactured_at, x.manufactured_at), updated_at = now()
                 FROM x WHERE t.material_id = x.material_id AND t.lot_number = x.lot_number
                  AND ((t.expiry IS NULL AND x.expiry IS NOT NULL) OR (t.manufactured_at IS NULL AND x.manufactured_at IS NOT NULL))
               RETURNING t.*)
       SELECT ins.*, true AS created FROM ins
       UNION ALL SELECT upd.*, false FROM upd
       UNION ALL SELECT t.*, false FROM lots t JOIN x ON t.material_id = x.material_id AND t.lot_number = x.lot_number WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.id = t.id)`,
      [keys.map(() => uuidv7()), keys.map((k) => k.materialId), keys.map((k) => k.lotNumber), keys.map((k) => k.expiry), keys.map((k) => k.production), ords, w.ctx.message.id] as unknown as string[],
    );
    for (const row of r.rows) {
      const { created, ...lot } = row;
      lots.set(`${lot.material_id}|${lot.lot_number}`, lot as DbLotRow);
      if (created) {
        w.summary.created.lots++;
        w.ctx.validate(CANONICAL.lot, { id: lot.id, materialId: lot.material_id, lotNumber: lot.lot_number, expiry: lot.expiry ?? null, status: lot.status, provisional: true });
      }
    }
  }
  const lines: Array<{ item: AsnItem; material: Material; lot?: DbLotRow; serial?: string; qty: number }> = [];
  doc.items.forEach((item, i) => {
    const material = itemMaterials[i];
    const lot = item.lot ? lots.get(`${material.id}|${item.lot}`) : undefined;
    if (item.serials.length > 0) {
      for (const s of item.serials) lines.push({ item, material, lot, serial: s, qty: 1 });
    } else {
      lines.push({ item, material, lot, qty: item.quantity });
    }
  });
  // serials: one statement for all (a 10,000-serial ASN must not cost 10,000 round trips)
  const serialIds = new Map<string, string>();
  const withSerial = lines.filter((l) => l.serial !== undefined && l.lot !== undefined);
  if (withSerial.length > 0) {
    const ords = withSerial.map(() => w.ctx.nextOrdinal());
    const r = await trx.raw<{ rows: Array<{ id: string; material_id: string; serial_number: string; inserted: boolean }> }>(
      `WITH x AS (SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::uuid[], ?::int[]) AS x(id, material_id, serial_number, lot_id, ordinal)),
       ins AS (INSERT INTO serials (id, material_id, serial_number, lot_id, source_message_id, ordinal)
               SELECT id, material_id, serial_number, lot_id, ?::uuid, ordinal FROM x
               ON CONFLICT DO NOTHING RETURNING id, material_id, serial_number)
       SELECT id, material_id, serial_number, true AS inserted FROM ins
       UNION ALL
       SELECT s.id, s.material_id, s.serial_number, false FROM serials s JOIN x ON s.material_id = x.material_id AND s.serial_number = x.serial_number`,
      [withSerial.map(() => uuidv7()), withSerial.map((l) => l.material.id), withSerial.map((l) => l.serial), withSerial.map((l) => l.lot!.id), ords, w.ctx.message.id] as unknown as string[],
    );
    for (const row of r.rows) serialIds.set(`${row.material_id}|${row.serial_number}`, row.id);
  }
  const shippedAt = doc.shippedAt ? new Date(doc.shippedAt.length === 10 ? `${doc.shippedAt}T00:00:00Z` : `${doc.shippedAt}Z`) : w.ctx.message.receivedAt;
  const expectedAt = doc.expectedAt ? new Date(doc.expectedAt.length === 10 ? `${doc.expectedAt}T00:00:00Z` : `${doc.expectedAt}Z`) : null;
  const shipment = {
    id: uuidv7(),
    shipment_number: doc.asnNumber,
    direction: 'inbound' as const,
    from_party_id: fromPartyId,
    to_party_id: null,
    to_location_id: location.id,
    ship_to: doc.shipTo?.gln ?? doc.shipTo?.id ?? null,
    status: 'in_transit',
    shipped_at: shippedAt,
    expected_at: expectedAt,
    carrier: doc.carrier ?? null,
    edi_partner_id: partner.id,
    po_numbers: JSON.stringify(doc.poNumbers),
    purpose: doc.purpose,
    source_message_id: w.ctx.message.id,
    ordinal: w.ctx.nextOrdinal(),
  };
  w.ctx.validate(CANONICAL.shipment, {
    id: shipment.id, shipmentNumber: doc.asnNumber, direction: 'inbound', fromPartyId, toPartyId: null, shipTo: shipment.ship_to, status: 'in_transit',
    shippedAt: shippedAt.toISOString(), expectedAt: expectedAt?.toISOString() ?? null, carrier: shipment.carrier,
  });
  await trx('shipments').insert(shipment);
  w.summary.created.shipments++;
  const lineOrds = lines.map(() => w.ctx.nextOrdinal());
  await trx.raw(
    `INSERT INTO shipment_lines (shipment_id, line_no, material_id, lot_id, serial_id, quantity_expected, quantity_shipped, uom, gtin, lot_number, expiry, production_date, serial_number, sscc, po_number, item_ref, source_message_id, ordinal)
     SELECT ?::uuid, x.n, x.material_id, x.lot_id, x.serial_id, x.qty, x.qty, x.uom, x.gtin, x.lot_number, x.expiry, x.production_date, x.serial_number, x.sscc, x.po_number, x.item_ref, ?::uuid, x.ordinal
       FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::numeric[], ?::text[], ?::text[], ?::text[], ?::date[], ?::date[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[])
            WITH ORDINALITY AS x(material_id, lot_id, serial_id, qty, uom, gtin, lot_number, expiry, production_date, serial_number, sscc, po_number, item_ref, ordinal, n)`,
    [
      shipment.id, w.ctx.message.id,
      lines.map((l) => l.material.id), lines.map((l) => l.lot?.id ?? null), lines.map((l) => (l.serial ? (serialIds.get(`${l.material.id}|${l.serial}`) ?? null) : null)),
      lines.map((l) => l.qty), lines.map((l) => l.item.uom), lines.map((l) => l.item.gtin ?? null), lines.map((l) => l.item.lot ?? null),
      lines.map((l) => l.item.expiry ?? null), lines.map((l) => l.item.productionDate ?? null), lines.map((l) => l.serial ?? null),
      lines.map((l) => l.item.sscc ?? null), lines.map((l) => l.item.poNumber ?? null), lines.map((l) => l.item.ref), lineOrds,
    ] as unknown as string[],
  );
  // one shipping event; in-transit stock per lot at the receiving location
  const perLot = new Map<string, { lot: DbLotRow; material: Material; qty: number; gtin: string }>();
  for (const l of lines) {
    if (!l.lot) continue;
    const cur = perLot.get(l.lot.id) ?? { lot: l.lot, material: l.material, qty: 0, gtin: l.item.gtin ?? '' };
    cur.qty += l.qty * l.material.factor;
    perLot.set(l.lot.id, cur);
  }
  // event items: one per serial, and one per lot (and unit) for the unserialised quantities
  type Item = { role: 'subject'; materialId: string; lotId: string; serialId?: string; serial?: string; gtin?: string; lotNumber: string; quantity: number; uom: string; baseQuantity: number };
  const items: Item[] = [];
  const lotItems = new Map<string, Item>();
  for (const l of lines) {
    if (!l.lot) continue;
    if (l.serial) {
      const serialId = serialIds.get(`${l.material.id}|${l.serial}`);
      items.push({ role: 'subject', materialId: l.material.id, lotId: l.lot.id, ...(serialId ? { serialId } : {}), serial: l.serial, ...(l.item.gtin ? { gtin: l.item.gtin } : {}), lotNumber: l.lot.lot_number, quantity: l.qty, uom: l.item.uom, baseQuantity: l.qty * l.material.factor });
      continue;
    }
    const k = `${l.lot.id}|${l.item.uom}`;
    const cur = lotItems.get(k);
    if (cur) {
      cur.quantity += l.qty;
      cur.baseQuantity += l.qty * l.material.factor;
    } else {
      const it: Item = { role: 'subject', materialId: l.material.id, lotId: l.lot.id, ...(l.item.gtin ? { gtin: l.item.gtin } : {}), lotNumber: l.lot.lot_number, quantity: l.qty, uom: l.item.uom, baseQuantity: l.qty * l.material.factor };
      lotItems.set(k, it);
      items.push(it);
    }
  }
  if (items.length > 0) {
    const eventTime = shippedAt.toISOString();
    const eventId = await w.recordEvent(
      {
        eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'shipping', disposition: 'in_transit', eventTime, eventTimeZoneOffset: '+00:00', location: location.code,
        bizTransactions: [{ type: 'desadv', value: doc.asnNumber }, ...doc.poNumbers.map((po) => ({ type: 'po', value: po }))],
        sensorElementList: null, sourceKey: asnShippingEventKey(partner.id, doc.asnNumber),
        items,
        details: { asnNumber: doc.asnNumber, partner: partner.interchange_id, expectedAt: expectedAt?.toISOString() ?? null },
      },
      location.id,
      doc.shipFrom?.gln ?? null,
    );
    if (eventId) {
      await bookInTransit(w, eventId, location, shippedAt, [...perLot.values()], doc.asnNumber);
    }
  }
  await w.ctx.emit('shipment.expected', {
    shipmentId: shipment.id, asnNumber: doc.asnNumber, partnerId: partner.id, location: location.code, expectedAt: expectedAt?.toISOString() ?? null,
    lines: lines.length, lots: perLot.size, poNumbers: doc.poNumbers,
  });
  await w.ctx.audit({ action: 'shipment.create', entityType: 'shipment', entityId: shipment.id, after: { asnNumber: doc.asnNumber, direction: 'inbound', status: 'in_transit', lines: lines.length } });
  return { shipmentId: shipment.id, asnNumber: doc.asnNumber, applied: true, lines: lines.length, lots: perLot.size, serials: withSerial.length };
}

/** Where an ASN says it is a cancellation: X12 BSN01, EDIFACT BGM data element 1225. */
function purposeElement(partner: DbEdiPartnerRow): { segment: string; field: string } {
  return partner.standard === 'edifact' ? { segment: 'BGM', field: '1225' } : { segment: 'BSN', field: 'BSN01' };
}

/**
 * Cancels an inbound ASN (X12 BSN01 = 01, EDIFACT BGM 1225 = 1): status cancelled; the in-transit
 * stock its shipping event booked is taken back at the receiving location, per lot in the
 * material's base unit, as that event's items hold it (`base_quantity`: a line in cases took back
 * cases × units per case); and a CBV `void_shipping` event names the same items and business
 * transactions as the shipping event it voids ("objects of a prior shipping event were not
 * shipped as indicated"). The take-back is capped at the lot's in-transit balance there (a receipt
 * against another ASN of the same lot may have used part of it). Rejected with an error naming
 * the reason, nothing changed: a cancellation from another partner than the ASN's sender, and one
 * of an ASN against which goods were already received.
 */
async function cancelAsn(w: WmsWriter, s: DbShipmentRow & { to_location_id?: string | null; edi_partner_id?: string | null }, partner: DbEdiPartnerRow): Promise<void> {
  const trx = w.ctx.trx;
  // ASN numbers are the sender's: only the partner that sent the ASN may cancel it
  if (s.edi_partner_id !== partner.id) {
    throw new LotBridgeError(
      'LB_ERR_X12_ELEMENT_INVALID',
      `ASN ${s.shipment_number} is cancelled by ${partner.interchange_id}, but it was not sent by that partner; the cancellation is not applied`,
      { location: purposeElement(partner) },
    );
  }
  if (s.delivered_at !== null) {
    throw new LotBridgeError(
      'LB_ERR_X12_ELEMENT_INVALID',
      `ASN ${s.shipment_number} is cancelled, but goods against it were received on ${new Date(s.delivered_at).toISOString().slice(0, 10)}; the cancellation is not applied`,
      { location: purposeElement(partner) },
    );
  }
  await trx('shipments').where({ id: s.id }).update({ status: 'cancelled' });
  const loc = s.to_location_id ? await trx<DbLocationRow>('locations').where({ id: s.to_location_id }).first() : undefined;
  // the ASN's shipping event (applyAsn: one per ASN with lots) and its items
  const shipping = s.edi_partner_id
    ? await trx('trace_events').where({ source_key: asnShippingEventKey(s.edi_partner_id, s.shipment_number) }).first<{ id: string; biz_transactions: Array<{ type: string; value: string }> } | undefined>('id', 'biz_transactions')
    : undefined;
  if (loc && shipping) {
    const shipped = await trx('trace_event_items as i').join('lots as t', 't.id', 'i.lot_id').join('materials as m', 'm.id', 'i.material_id').where('i.event_id', shipping.id).orderBy('i.id')
      .select<Array<{ role: 'subject'; material_id: string; lot_id: string; lot_number: string; serial_id: string | null; quantity: number; uom: string; base_quantity: number; base_uom: string }>>(
        'i.role', 'i.material_id', 'i.lot_id', 't.lot_number', 'i.serial_id', 'i.quantity', 'i.uom', 'i.base_quantity', 'm.base_uom');
    const at = w.ctx.message.receivedAt;
    const eventId = await w.recordEvent(
      {
        eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'void_shipping', disposition: null, eventTime: at.toISOString(), eventTimeZoneOffset: '+00:00', location: loc.code,
        bizTransactions: shipping.biz_transactions, sensorElementList: null, sourceKey: `edi:asn-cancel:${s.id}`,
        items: shipped.map((i) => ({
          role: i.role, materialId: i.material_id, lotId: i.lot_id, ...(i.serial_id ? { serialId: i.serial_id } : {}), lotNumber: i.lot_number,
          quantity: Number(i.quantity), uom: i.uom, baseQuantity: Number(i.base_quantity),
        })),
        details: { asnNumber: s.shipment_number, cancelled: true, voids: shipping.id },
      },
      loc.id,
      null,
    );
    if (eventId) {
      const perLot = new Map<string, { lotNumber: string; qty: number; uom: string }>();
      for (const i of shipped) {
        const p = perLot.get(i.lot_id) ?? { lotNumber: i.lot_number, qty: 0, uom: i.base_uom };
        p.qty += Number(i.base_quantity);
        perLot.set(i.lot_id, p);
      }
      // at most what is still in transit for the lot there: in-transit stock of a lot at a location is
      // one balance, and a receipt against another ASN of the same lot may have taken part of this one's
      const balances = await trx('inventory_balances').whereIn('lot_id', [...perLot.keys()]).where({ location_id: loc.id, stock_state: 'in_transit' })
        .select<Array<{ lot_id: string; quantity: string }>>('lot_id', 'quantity');
      const inTransit = new Map(balances.map((b) => [b.lot_id, Number(b.quantity)]));
      for (const [lotId, p] of perLot) {
        const take = Math.min(p.qty, Math.max(0, inTransit.get(lotId) ?? 0));
        if (take <= 0) continue;
        await w.book({ eventId, lotId, gtin: '', lotNumber: p.lotNumber, location: loc, stockState: 'in_transit', delta: -take, eventTime: at, reason: 'movement', uom: p.uom, recordId: s.shipment_number });
      }
    }
  }
  await w.ctx.audit({ action: 'shipment.cancel', entityType: 'shipment', entityId: s.id, after: { status: 'cancelled' } });
}

/**
 * Books the ASN's quantities as in-transit stock, set-based: one statement for the ledger rows and
 * balances of every lot. A lot whose in-transit balance at this location was counted at or after the
 * ship time (rare) goes through WmsWriter.book instead, which applies the count rule.
 */
async function bookInTransit(
  w: WmsWriter, eventId: string, location: DbLocationRow, at: Date,
  perLot: Array<{ lot: DbLotRow; material: Material; qty: number; gtin: string }>, asnNumber: string,
): Promise<void> {
  const trx = w.ctx.trx;
  const counted = new Set(
    (
      await trx('inventory_ledger as l').join('trace_events as e', 'e.id', 'l.event_id')
        .whereIn('l.lot_id', perLot.map((p) => p.lot.id)).where({ 'l.location_id': location.id, 'l.stock_state': 'in_transit', 'e.biz_step': 'cycle_counting' })
        .where('l.event_time', '>=', at).distinct<Array<{ lot_id: string }>>('l.lot_id')
    ).map((r) => r.lot_id),
  );
  const bulk = perLot.filter((p) => !counted.has(p.lot.id));
  for (const p of perLot.filter((q) => counted.has(q.lot.id))) {
    await w.book({ eventId, lotId: p.lot.id, gtin: p.gtin, lotNumber: p.lot.lot_number, location, stockState: 'in_transit', delta: p.qty, eventTime: at, reason: 'movement', uom: p.material.baseUom, recordId: asnNumber });
  }
  if (bulk.length === 0) return;
  for (const p of bulk) {
    w.ctx.validate(CANONICAL.inventoryChange, { eventId, lotId: p.lot.id, locationId: location.id, location: location.code, ...(p.gtin ? { gtin: p.gtin } : {}), lotNumber: p.lot.lot_number, stockState: 'in_transit', delta: p.qty, eventTime: at.toISOString(), reason: 'movement' });
  }
  const ords = bulk.map(() => w.ctx.nextOrdinal());
  await trx.raw(
    `WITH x AS (SELECT * FROM unnest(?::uuid[], ?::numeric[], ?::int[]) AS x(lot_id, delta, ordinal)),
     l AS (INSERT INTO inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)
           SELECT ?::uuid, lot_id, ?::uuid, 'in_transit', delta, ?::timestamptz, ?::uuid, ordinal FROM x)
     INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity)
     SELECT lot_id, ?::uuid, 'in_transit', delta FROM x
     ON CONFLICT (lot_id, location_id, stock_state) DO UPDATE SET quantity = inventory_balances.quantity + EXCLUDED.quantity, updated_at = now()`,
    [bulk.map((p) => p.lot.id), bulk.map((p) => p.qty), ords, eventId, location.id, at, w.ctx.message.id, location.id] as unknown as string[],
  );
  w.summary.ledgerRows += bulk.length;
}
