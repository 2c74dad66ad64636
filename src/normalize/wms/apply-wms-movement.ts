import { findShippedBeforePicked, pickFill } from '../../model/inventory/find-shipped-before-picked';
import { getBalance } from '../../model/inventory/get-balance';
import { lockBalance } from '../../model/inventory/lock-balance';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import { findOrCreateParty } from '../../model/parties/find-or-create-party';
import { addShipmentLine } from '../../model/shipments/add-shipment-line';
import { findOrCreateOutboundShipment } from '../../model/shipments/find-or-create-outbound-shipment';
import { findTraceEventBySourceKey } from '../../model/trace/find-trace-event-by-source-key';
import { bizTransactionsOf, defaultStockState, dispositionOf, WMS_EPCIS, wmsSourceKey } from './wms-mapping';
import type { StockState, WmsMovement } from './wms-record.types';
import { resolveStockItem, subjectItemOf, type StockItem } from './wms-stock-item';
import { raiseRecalledLotMovement } from './wms-recalled-lot';
import { fillShippedBeforePicked } from './wms-pick-fill';
import { CANONICAL, type BookedChange, type WmsWriter } from './wms-writer';
import { ASN_REFERENCE_KINDS, matchAsnReceipt } from '../edi/asn-receipt';

/** What applying a record did. */
export type ApplyOutcome = 'applied' | 'already_applied';

/** One leg of a movement: a signed change at one location in one state. */
interface Leg {
  location: DbLocationRow;
  state: StockState;
  delta: number;
}

/** The reference kinds that name an outbound shipment, in order of preference. */
const SHIPMENT_REFERENCE_KINDS = ['shipment', 'asn', 'delivery', 'so', 'order', 'ref'];

/**
 * The state a ship takes stock from when the record names none: `pending_shipment` when the picked
 * stock is there (the WMS picked first), else the material's default state (it ships unpicked).
 */
async function shipSourceState(w: WmsWriter, item: StockItem, from: DbLocationRow, base: number): Promise<StockState> {
  const key = { lotId: item.lot.id, locationId: from.id, stockState: 'pending_shipment' as const };
  await lockBalance(w.ctx.trx, key); // a concurrent pick must not change it between this read and the booking
  const picked = await getBalance(w.ctx.trx, key);
  return picked >= base ? 'pending_shipment' : defaultStockState(item.material.kind);
}

/**
 * Maps one WMS stock movement into the canonical model, once per source key:
 *  - receive: + quantity at `location` in `stockState` (default from the material kind)
 *  - putaway / move: − at `location`, + at `toLocation` (state kept unless `toStockState`)
 *  - pick: − at `location`, + at `toLocation` (or the same location) in `pending_shipment`
 *  - issue: − at `location`; ship: − at `location` and an outbound shipment line to `shipTo`
 *  - adjust: the signed quantity at `location`
 * All quantities are booked in base units through the ledger; one ObjectEvent records it.
 * @param w - the message's writer
 * @param rec - the validated movement
 */
export async function applyWmsMovement(w: WmsWriter, rec: WmsMovement): Promise<ApplyOutcome> {
  const { ctx } = w;
  const sourceKey = wmsSourceKey(w.connectorId, rec.id, rec.sender, false);
  if ((await findTraceEventBySourceKey(ctx.trx, sourceKey)) !== undefined) {
    return 'already_applied';
  }
  const item = await resolveStockItem(w, rec, sourceKey);
  const base = rec.quantity * item.factor;
  const from = await w.location(rec.location);
  const to = rec.toLocation === undefined ? undefined : await w.location(rec.toLocation);
  const fromState = rec.stockState ?? (rec.type === 'ship' ? await shipSourceState(w, item, from, base) : defaultStockState(item.material.kind));

  let legs: Leg[];
  switch (rec.type) {
    case 'receive':
    case 'adjust':
      legs = [{ location: from, state: fromState, delta: base }];
      break;
    case 'putaway':
    case 'move':
      legs = [
        { location: from, state: fromState, delta: -base },
        { location: to ?? from, state: rec.toStockState ?? fromState, delta: base },
      ];
      break;
    case 'pick': {
      legs = [
        { location: from, state: fromState, delta: -base },
        { location: to ?? from, state: rec.toStockState ?? 'pending_shipment', delta: base },
      ];
      if (rec.toStockState === undefined) {
        // ships of this stock that arrived before this pick took it from the default state
        const key = { lotId: item.lot.id, locationId: (to ?? from).id, stockState: defaultStockState(item.material.kind), pickedAt: rec.occurredAt.utc };
        if (pickFill(base, (await findShippedBeforePicked(w.ctx.trx, [key]))[0]) > 0) {
          await lockBalance(w.ctx.trx, key); // then read again under the lock a concurrent booking takes too
          fillShippedBeforePicked(legs, key.stockState, pickFill(base, (await findShippedBeforePicked(w.ctx.trx, [key]))[0]));
        }
      }
      break;
    }
    case 'issue':
    case 'ship':
      legs = [{ location: from, state: fromState, delta: -base }];
      break;
  }
  const where = rec.type === 'putaway' || rec.type === 'move' || rec.type === 'pick' ? (to ?? from) : from;
  const epcis = WMS_EPCIS[rec.type];
  const eventId = await w.recordEvent(
    {
      eventType: 'ObjectEvent',
      action: epcis.action,
      bizStep: epcis.bizStep,
      disposition: dispositionOf(rec.type, legs[Math.min(1, legs.length - 1)].state),
      eventTime: rec.occurredAt.utc.toISOString(),
      eventTimeZoneOffset: rec.occurredAt.offset,
      location: where.code,
      bizTransactions: bizTransactionsOf(rec.reference),
      sensorElementList: null,
      sourceKey,
      items: [subjectItemOf(rec, item, base)],
      details: {
        wmsType: rec.type,
        movementId: rec.id,
        ...(rec.sender === undefined ? {} : { sender: rec.sender }),
        from: { location: from.code, stockState: fromState },
        ...(legs.length > 1 ? { to: { location: legs[1].location.code, stockState: legs[1].state } } : {}),
        ...(rec.shipTo === undefined ? {} : { shipTo: rec.shipTo }),
      },
    },
    where.id,
    where.id === from.id ? null : from.code,
  );
  if (eventId === undefined) {
    return 'already_applied';
  }

  const changes: BookedChange[] = [];
  for (const leg of legs) {
    if (leg.delta === 0 && legs.length === 3) continue; // a pick wholly taken by ships that arrived before it
    changes.push(
      await w.book({
        eventId, lotId: item.lot.id, gtin: rec.item.gtin, lotNumber: item.lot.lot_number, location: leg.location, stockState: leg.state,
        delta: leg.delta, eventTime: rec.occurredAt.utc, reason: 'movement', uom: item.material.baseUom, recordId: rec.id,
      }),
    );
  }
  if (rec.type === 'ship' && rec.shipTo !== undefined) {
    await recordShipment(w, rec, item, from, base);
  }
  const asnKind = rec.type === 'receive' ? ASN_REFERENCE_KINDS.find((k) => rec.reference[k] !== undefined) : undefined;
  if (asnKind !== undefined) {
    // a receipt against an inbound ASN (856 / DESADV): matched lot by lot, serial by serial
    await matchAsnReceipt(w, {
      asnNumber: rec.reference[asnKind], eventId, recordId: rec.id, gtin: rec.item.gtin, materialId: item.material.id, lot: item.lot, serialId: item.serialId,
      ...(rec.item.serial === undefined ? {} : { serial: rec.item.serial }), quantity: base, uom: item.material.baseUom, receivedAt: rec.occurredAt.utc,
    });
  }
  if (item.lot.status === 'recalled') {
    await raiseRecalledLotMovement(w, { recordId: rec.id, type: rec.type, sourceKey, lotId: item.lot.id, lotNumber: item.lot.lot_number, gtin: rec.item.gtin, location: from.code, quantity: base, uom: item.material.baseUom, shipTo: rec.shipTo });
  }
  await ctx.emit('inventory.moved', {
    eventId, sourceKey, movementId: rec.id, type: rec.type, gtin: rec.item.gtin, materialCode: item.material.code, lotId: item.lot.id,
    lotNumber: item.lot.lot_number, eventTime: rec.occurredAt.utc.toISOString(), uom: item.material.baseUom, changes,
  });
  await ctx.audit({ action: `wms.${rec.type}`, entityType: 'trace_event', entityId: eventId, after: { sourceKey, lotId: item.lot.id, changes } });
  return 'applied';
}

async function recordShipment(w: WmsWriter, rec: WmsMovement, item: StockItem, from: DbLocationRow, base: number): Promise<void> {
  const { ctx } = w;
  const shipTo = rec.shipTo as string;
  const party = await findOrCreateParty(ctx.trx, shipTo, 'customer', w.lineage);
  if (party.created) {
    const p = party.row;
    ctx.validate(CANONICAL.party, { id: p.id, ...(p.gln === null ? {} : { gln: p.gln }), ...(p.code === null ? {} : { code: p.code }), name: p.name, role: p.role, provisional: true });
    w.summary.created.parties++;
    await ctx.audit({ action: 'party.create_provisional', entityType: 'party', entityId: p.id, after: { gln: p.gln, code: p.code, role: p.role } });
  }
  const kind = SHIPMENT_REFERENCE_KINDS.find((k) => rec.reference[k] !== undefined);
  const shipmentNumber = kind === undefined ? rec.id : rec.reference[kind];
  const shipment = await findOrCreateOutboundShipment(
    ctx.trx,
    { shipmentNumber, toPartyId: party.row.id, fromLocationId: from.id, shipTo, shippedAt: rec.occurredAt.utc },
    w.lineage,
  );
  const line = {
    lineNo: 0,
    materialId: item.material.id,
    lotId: item.lot.id,
    serialId: item.serialId,
    quantityShipped: base,
    uom: item.material.baseUom,
  };
  const s = shipment.row;
  const canonical = (lineNo: number): Record<string, unknown> => ({
    id: s.id, shipmentNumber: s.shipment_number, direction: 'outbound', toPartyId: s.to_party_id, fromLocationId: s.from_location_id, shipTo: s.ship_to,
    status: s.status, shippedAt: s.shipped_at === null ? null : new Date(s.shipped_at).toISOString(), lines: [{ ...line, lineNo }],
  });
  ctx.validate(CANONICAL.shipment, canonical(1));
  const added = await addShipmentLine(ctx.trx, { shipmentId: s.id, ...line }, w.lineage);
  if (shipment.created) {
    w.summary.created.shipments++;
    await ctx.emit('shipment.created', { shipmentId: s.id, shipmentNumber: s.shipment_number, direction: 'outbound', shipTo, toPartyId: party.row.id, shippedAt: rec.occurredAt.utc.toISOString() });
    await ctx.audit({ action: 'shipment.create', entityType: 'shipment', entityId: s.id, after: canonical(added.line_no) });
  } else {
    await ctx.audit({ action: 'shipment.add_line', entityType: 'shipment', entityId: s.id, after: { lineNo: added.line_no, lotId: item.lot.id, quantityShipped: base } });
  }
}
