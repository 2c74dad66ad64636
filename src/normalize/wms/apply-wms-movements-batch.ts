import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { DbLotRow } from '../../db/tables';
import { isLotBridgeError, type LotBridgeError } from '../../errors';
import type { LotResolution } from '../../model/lots/find-or-create-lot';
import { openAlerts } from '../../model/alerts/open-alerts';
import { closeClearedNegativeBalances } from '../../model/alerts/close-cleared-negative-balances';
import { findNextCounts } from '../../model/inventory/find-next-count';
import { findShippedBeforePicked, pickFill } from '../../model/inventory/find-shipped-before-picked';
import { findOrCreateLotsBatch } from '../../model/lots/find-or-create-lots-batch';
import { findOrCreateSerialsBatch, serialKey } from '../../model/serials/find-or-create-serials-batch';
import { insertTraceEventsBatch, traceItemRows, type TraceEventRow } from '../../model/trace/insert-trace-events-batch';
import type { NewAlert } from '../../model/alerts/open-alert';
import type { DbLocationRow } from '../../model/master-data/master-data.types';
import { ASN_REFERENCE_KINDS } from '../edi/asn-receipt';
import { recalledLotMovementAlert } from './wms-recalled-lot';
import { fillShippedBeforePicked } from './wms-pick-fill';
import { bizTransactionsOf, defaultStockState, dispositionOf, WMS_EPCIS, wmsSourceKey } from './wms-mapping';
import type { StockState, WmsMovement, WmsRecord } from './wms-record.types';
import { afterLotResolved, resolveStockMaterial, subjectItemOf, type StockItem } from './wms-stock-item';
import { CANONICAL, negativeBalanceAlert, type BookedChange, type CanonicalTraceEvent, type WmsWriter } from './wms-writer';

/**
 * True when every record of a message can be mapped set-based: movements whose effects do not
 * depend on balances booked before them in the same batch and write nothing but the event and the
 * stock. Counts (they read the ledger as of their time), readings, ships (an outbound shipment to
 * `shipTo`; without a `stockState` they read the picked balance) and receipts against an inbound
 * ASN take the one-by-one path.
 */
export function setBasedMovement(rec: WmsRecord): rec is WmsMovement {
  if (rec.kind !== 'movement' || rec.type === 'ship') return false;
  if (rec.type === 'receive' && ASN_REFERENCE_KINDS.some((k) => rec.reference[k] !== undefined)) return false;
  return true;
}

/** One message of a set-based chunk: its writer, its valid movements, and the record errors found so far. */
export interface PlannedWmsMessage {
  w: WmsWriter;
  movements: WmsMovement[];
  /** Input errors of its records (validation, and resolution errors found here are added). */
  errors: LotBridgeError[];
}

/** One leg of a movement: a signed change at one location in one state. */
interface Leg {
  location: DbLocationRow;
  state: StockState;
  delta: number;
}

/** A movement to apply, with everything resolved. */
interface Planned {
  m: PlannedWmsMessage;
  rec: WmsMovement;
  sourceKey: string;
  material: StockItem['material'];
  factor: number;
  lot?: DbLotRow;
  serialId: string | null;
  from: DbLocationRow;
  to?: DbLocationRow;
  fromState: StockState;
  legs: Leg[];
  eventId: string;
  changes: BookedChange[];
}

const keyOf = (...parts: Array<string | null>): string => parts.join('\u0000');

/** Input errors of one record are collected; anything else is rethrown (transient, defect). */
function recordError(err: unknown): LotBridgeError {
  if (isLotBridgeError(err) && err.kind === 'input') return err;
  throw err;
}

/** The lots of the movements, as findOrCreateLot would answer each record in batch order (findOrCreateLotsBatch). */
async function resolveLots(trx: Knex.Transaction, plans: Planned[]): Promise<Map<Planned, LotResolution>> {
  const res = await findOrCreateLotsBatch(trx, plans.map((p) => ({
    materialId: p.material.id, lot: p.rec.item.lot, expiry: p.rec.item.expiry, messageId: p.m.w.ctx.message.id, nextOrdinal: () => p.m.w.ctx.nextOrdinal(),
  })));
  return new Map(plans.map((p, i) => [p, res[i]]));
}

/** Serials of the movements: found ones keep their row (and lot), missing ones are inserted in key order, one statement. */
async function resolveSerials(trx: Knex.Transaction, plans: Planned[]): Promise<void> {
  const withSerial = plans.filter((p) => p.rec.item.serial !== undefined);
  const ids = await findOrCreateSerialsBatch(trx, withSerial.map((p) => ({
    materialId: p.material.id, serial: p.rec.item.serial as string, lotId: (p.lot as DbLotRow).id, messageId: p.m.w.ctx.message.id, nextOrdinal: () => p.m.w.ctx.nextOrdinal(),
  })));
  for (const p of withSerial) {
    p.serialId = ids.get(serialKey(p.material.id, p.rec.item.serial as string)) as string;
  }
}

function legsOf(rec: WmsMovement, from: DbLocationRow, to: DbLocationRow | undefined, fromState: StockState, base: number): Leg[] {
  switch (rec.type) {
    case 'receive':
    case 'adjust':
      return [{ location: from, state: fromState, delta: base }];
    case 'putaway':
    case 'move':
      return [{ location: from, state: fromState, delta: -base }, { location: to ?? from, state: rec.toStockState ?? fromState, delta: base }];
    case 'pick':
      return [{ location: from, state: fromState, delta: -base }, { location: to ?? from, state: rec.toStockState ?? 'pending_shipment', delta: base }];
    case 'issue':
    case 'ship':
      return [{ location: from, state: fromState, delta: -base }];
  }
}

/**
 * Picks (into `pending_shipment`) of stock that ships took before the pick arrived, as
 * applyWmsMovement books them: one read of the balances they book into and of the later ships,
 * then in batch order, each pick against the balance the chunk's earlier legs leave.
 */
async function fillPicksShippedBefore(trx: Knex.Transaction, plans: Planned[]): Promise<void> {
  const picks = plans.filter((p) => p.rec.type === 'pick' && p.rec.toStockState === undefined);
  if (picks.length === 0) return;
  const arrival = (p: Planned): { lotId: string; locationId: string; stockState: StockState; pickedAt: Date } => ({
    lotId: (p.lot as DbLotRow).id, locationId: (p.to ?? p.from).id, stockState: defaultStockState(p.material.kind), pickedAt: p.rec.occurredAt.utc,
  });
  const found = await findShippedBeforePicked(trx, picks.map(arrival));
  if (!found.some((s) => s.balance < 0)) return;
  const shippedAfter = new Map(picks.map((p, i) => [p, found[i].shippedAfter]));
  const running = new Map<string, number>();
  picks.forEach((p, i) => {
    const a = arrival(p);
    running.set(keyOf(a.lotId, a.locationId, a.stockState), found[i].balance);
  });
  for (const p of plans) {
    const lotId = (p.lot as DbLotRow).id;
    const after = shippedAfter.get(p);
    if (after !== undefined) {
      const a = arrival(p);
      const balance = running.get(keyOf(a.lotId, a.locationId, a.stockState)) as number;
      fillShippedBeforePicked(p.legs, a.stockState, pickFill(p.rec.quantity * p.factor, { balance, shippedAfter: after }));
    }
    for (const leg of p.legs) {
      const k = keyOf(lotId, leg.location.id, leg.state);
      const b = running.get(k);
      if (b !== undefined) running.set(k, b + leg.delta);
    }
  }
}

/**
 * The movements of several messages written set-based, in one transaction: each record writes what
 * applyWmsMovement writes (the same trace event with its item, ledger rows and balances, count rules,
 * alerts, `inventory.moved` event and audit row, lots and serials found or created), but lots,
 * serials, events, ledger rows with their balances and alerts each take one statement for the whole
 * chunk. Records are taken in batch order (message by message, record by record): a source key
 * seen before — in the database or earlier in the chunk — is `alreadyApplied`; a record whose
 * material or quantity fails resolution gets its record error, as it would alone.
 * Every record must satisfy {@link setBasedMovement}. Throws when an event of the chunk was recorded
 * meanwhile by another transaction (the batch then falls back to one message at a time).
 */
export async function applyWmsMovementsBatch(trx: Knex.Transaction, messages: PlannedWmsMessage[]): Promise<void> {
  // 1. idempotency: source keys recorded before (one read), or earlier in this chunk
  const all = messages.flatMap((m) => m.movements.map((rec) => ({ m, rec, sourceKey: wmsSourceKey(m.w.connectorId, rec.id, rec.sender, false) })));
  if (all.length === 0) return;
  const recorded = new Set(
    (await trx.raw<{ rows: Array<{ source_key: string }> }>('SELECT source_key FROM trace_events WHERE source_key = ANY(?::text[])', [[...new Set(all.map((x) => x.sourceKey))]] as unknown as string[])).rows.map(
      (r) => r.source_key,
    ),
  );
  // 2. material, quantity conversion and locations, record by record (memoized; provisional ones created in order)
  const plans: Planned[] = [];
  for (const { m, rec, sourceKey } of all) {
    if (recorded.has(sourceKey)) {
      m.w.summary.alreadyApplied++;
      continue;
    }
    let resolved: { material: StockItem['material']; factor: number };
    try {
      resolved = await resolveStockMaterial(m.w, rec, sourceKey);
    } catch (err) {
      m.errors.push(recordError(err));
      continue;
    }
    recorded.add(sourceKey);
    const base = rec.quantity * resolved.factor;
    const from = await m.w.location(rec.location);
    const to = rec.toLocation === undefined ? undefined : await m.w.location(rec.toLocation);
    const fromState = rec.stockState ?? defaultStockState(resolved.material.kind);
    plans.push({
      m, rec, sourceKey, material: resolved.material, factor: resolved.factor, serialId: null, from, to, fromState,
      legs: legsOf(rec, from, to, fromState, base), eventId: uuidv7(), changes: [],
    });
  }
  if (plans.length === 0) return;

  // 3. lots (with what follows a created or contradicted lot, in order) and serials
  const lots = await resolveLots(trx, plans);
  for (const p of plans) {
    const r = lots.get(p) as LotResolution;
    p.lot = r.row;
    await afterLotResolved(p.m.w, p.rec, p.material, r, p.sourceKey);
  }
  await resolveSerials(trx, plans);
  await fillPicksShippedBefore(trx, plans);

  // 4. trace events and their items, one statement
  const eventRows: TraceEventRow[] = [];
  const itemRows: Array<Record<string, unknown>> = [];
  for (const p of plans) {
    const { rec, m } = p;
    const lot = p.lot as DbLotRow;
    const base = rec.quantity * p.factor;
    const where = rec.type === 'putaway' || rec.type === 'move' || rec.type === 'pick' ? (p.to ?? p.from) : p.from;
    const epcis = WMS_EPCIS[rec.type];
    const item: StockItem = { material: p.material, lot, serialId: p.serialId, factor: p.factor };
    const ev: CanonicalTraceEvent = {
      eventType: 'ObjectEvent',
      action: epcis.action,
      bizStep: epcis.bizStep,
      disposition: dispositionOf(rec.type, p.legs[Math.min(1, p.legs.length - 1)].state),
      eventTime: rec.occurredAt.utc.toISOString(),
      eventTimeZoneOffset: rec.occurredAt.offset,
      location: where.code,
      bizTransactions: bizTransactionsOf(rec.reference),
      sensorElementList: null,
      sourceKey: p.sourceKey,
      items: [subjectItemOf(rec, item, base)],
      details: {
        wmsType: rec.type,
        movementId: rec.id,
        ...(rec.sender === undefined ? {} : { sender: rec.sender }),
        from: { location: p.from.code, stockState: p.fromState },
        ...(p.legs.length > 1 ? { to: { location: p.legs[1].location.code, stockState: p.legs[1].state } } : {}),
        ...(rec.shipTo === undefined ? {} : { shipTo: rec.shipTo }),
      },
    };
    m.w.ctx.validate(CANONICAL.traceEvent, ev);
    eventRows.push({
      id: p.eventId, type: ev.eventType, action: ev.action, biz_step: ev.bizStep, disposition: ev.disposition, event_time: new Date(ev.eventTime),
      event_time_zone_offset: ev.eventTimeZoneOffset, location_id: where.id, read_point: where.id === p.from.id ? null : p.from.code,
      biz_transactions: JSON.stringify(ev.bizTransactions), sensor_readings: null, details: JSON.stringify(ev.details), source_key: ev.sourceKey,
      source_message_id: m.w.ctx.message.id, ordinal: m.w.ctx.nextOrdinal(),
    });
    itemRows.push(...traceItemRows(p.eventId, ev.items));
    m.w.summary.events++;
  }
  await insertTraceEventsBatch(trx, eventRows, itemRows, 'movement');

  // 5. ledger rows and balances of every leg, one statement (balance rows locked in key order)
  type Booked = { p: Planned; leg: Leg; delta: number; at: Date; reason: 'movement' | 'count_absorbed'; ordinal: number };
  const validateChange = (p: Planned, leg: Leg, delta: number, at: Date, reason: Booked['reason']): void => {
    const lot = p.lot as DbLotRow;
    p.m.w.ctx.validate(CANONICAL.inventoryChange, {
      eventId: p.eventId, lotId: lot.id, locationId: leg.location.id, location: leg.location.code, gtin: p.rec.item.gtin, lotNumber: lot.lot_number,
      stockState: leg.state, delta, eventTime: at.toISOString(), reason,
    });
    p.m.w.summary.ledgerRows++;
  };
  // (a pick wholly taken by ships that arrived before it books no arriving leg)
  const legs = plans.flatMap((p) => p.legs.filter((leg) => !(leg.delta === 0 && p.legs.length === 3)).map((leg) => ({ p, leg })));
  const movementRows: Booked[] = legs.map(({ p, leg }) => {
    validateChange(p, leg, leg.delta, p.rec.occurredAt.utc, 'movement');
    return { p, leg, delta: leg.delta, at: p.rec.occurredAt.utc, reason: 'movement', ordinal: p.m.w.ctx.nextOrdinal() };
  });
  const balanceKey = (p: Planned, leg: Leg): string => keyOf((p.lot as DbLotRow).id, leg.location.id, leg.state);
  const book = async (rows: Booked[]): Promise<Map<string, number>> => {
    const r = await trx.raw<{ rows: Array<{ lot_id: string; location_id: string; stock_state: string; quantity: string }> }>(
      `WITH x AS (SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::numeric[], ?::timestamptz[], ?::uuid[], ?::int[])
                  AS t(event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)),
            l AS (INSERT INTO inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)
                  SELECT event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal FROM x)
       INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity)
       SELECT lot_id, location_id, stock_state, sum(delta) FROM x GROUP BY lot_id, location_id, stock_state ORDER BY lot_id, location_id, stock_state
       ON CONFLICT (lot_id, location_id, stock_state)
       DO UPDATE SET quantity = inventory_balances.quantity + EXCLUDED.quantity, updated_at = now()
       RETURNING lot_id, location_id, stock_state, quantity`,
      [
        rows.map((b) => b.p.eventId), rows.map((b) => (b.p.lot as DbLotRow).id), rows.map((b) => b.leg.location.id), rows.map((b) => b.leg.state),
        rows.map((b) => b.delta), rows.map((b) => b.at), rows.map((b) => b.p.m.w.ctx.message.id), rows.map((b) => b.ordinal),
      ] as unknown as string[],
    );
    return new Map(r.rows.map((x) => [keyOf(x.lot_id, x.location_id, x.stock_state), Number(x.quantity)]));
  };
  const after = await book(movementRows);

  // 6. the count rules (after the balance rows are locked, as WmsWriter.book reads after its booking):
  // a leg with a count of its lot/location/state at or after its time was seen by that count, and is
  // reversed at the count's time
  const nonZero = movementRows.map((b, n) => ({ b, n })).filter((x) => x.b.delta !== 0);
  const found = await findNextCounts(trx, nonZero.map((x) => ({ lotId: (x.b.p.lot as DbLotRow).id, locationId: x.b.leg.location.id, stockState: x.b.leg.state, at: x.b.at })));
  const countAt = new Map([...found].map(([i, at]): [number, Date] => [nonZero[i].n, at]));
  const absorbed: Booked[] = [];
  movementRows.forEach((b, n) => {
    const at = countAt.get(n);
    if (at === undefined) return;
    validateChange(b.p, b.leg, -b.delta, at, 'count_absorbed');
    absorbed.push({ ...b, delta: -b.delta, at, reason: 'count_absorbed', ordinal: b.p.m.w.ctx.nextOrdinal() });
  });
  const final = absorbed.length > 0 ? new Map([...after, ...(await book(absorbed))]) : after;

  // 7. the balance after each change, in batch order, as one booking after another would report it;
  // the first change that leaves a balance below zero opens its negative_balance alert
  const running = new Map<string, number>();
  for (const [k, q] of final) running.set(k, q);
  for (const b of [...movementRows, ...absorbed]) {
    const k = balanceKey(b.p, b.leg);
    running.set(k, (running.get(k) as number) - b.delta);
  }
  // balances below zero before the chunk or after one of its changes, with their lot (the alert is closed below when the balance ends at zero or above)
  const wasNegative = new Map<string, string>();
  for (const b of [...movementRows, ...absorbed]) {
    const k = balanceKey(b.p, b.leg);
    if ((running.get(k) as number) < 0) wasNegative.set(k, (b.p.lot as DbLotRow).id);
  }
  const alerts: Array<{ p: Planned; alert: NewAlert }> = [];
  movementRows.forEach((b, n) => {
    const k = balanceKey(b.p, b.leg);
    let balance = (running.get(k) as number) + b.delta;
    const change: BookedChange = { location: b.leg.location.code, stockState: b.leg.state, delta: b.delta, balance };
    const at = countAt.get(n);
    if (at !== undefined) {
      balance -= b.delta;
      change.balance = balance;
      change.absorbedByCountAt = at.toISOString();
    }
    running.set(k, balance);
    b.p.changes.push(change);
    if (balance < 0) {
      const lot = b.p.lot as DbLotRow;
      wasNegative.set(k, lot.id);
      const alert = negativeBalanceAlert(
        { lotId: lot.id, lotNumber: lot.lot_number, gtin: b.p.rec.item.gtin, location: b.leg.location, stockState: b.leg.state, uom: b.p.material.baseUom, recordId: b.p.rec.id },
        balance,
        b.p.m.w.feedName,
      );
      b.p.m.w.validateAlert(alert);
      alerts.push({ p: b.p, alert });
    }
    // a recalled lot's movement, after the record's last leg (as applyWmsMovement raises it after booking)
    if (n === movementRows.length - 1 || movementRows[n + 1].p !== b.p) {
      const p = b.p;
      const lot = p.lot as DbLotRow;
      if (lot.status === 'recalled') {
        const base = p.rec.quantity * p.factor;
        const alert = recalledLotMovementAlert({
          recordId: p.rec.id, type: p.rec.type, sourceKey: p.sourceKey, lotId: lot.id, lotNumber: lot.lot_number, gtin: p.rec.item.gtin, location: p.from.code,
          quantity: base, uom: p.material.baseUom, shipTo: p.rec.shipTo,
        });
        p.m.w.validateAlert(alert);
        alerts.push({ p, alert });
      }
    }
  });
  const opened = await openAlerts(trx, alerts.map((a) => ({ alert: a.alert, lineage: a.p.m.w.lineage })));
  // as one booking after another would: a balance that was below zero and ends at zero or above closes its alert
  await closeClearedNegativeBalances(trx, [...wasNegative].filter(([k]) => (final.get(k) as number) >= 0).map(([, lotId]) => lotId));
  const openedOf = new Map<Planned, Array<{ alert: NewAlert; id: string }>>();
  for (const [i, id] of opened) {
    const a = alerts[i];
    openedOf.set(a.p, [...(openedOf.get(a.p) ?? []), { alert: a.alert, id }]);
  }

  // 8. per record, in order: its alerts, its inventory.moved event and its audit row (buffered to the batch's end)
  for (const p of plans) {
    const { rec, m } = p;
    const lot = p.lot as DbLotRow;
    for (const a of openedOf.get(p) ?? []) await m.w.alertOpened(a.alert, a.id);
    await m.w.ctx.emit('inventory.moved', {
      eventId: p.eventId, sourceKey: p.sourceKey, movementId: rec.id, type: rec.type, gtin: rec.item.gtin, materialCode: p.material.code, lotId: lot.id,
      lotNumber: lot.lot_number, eventTime: rec.occurredAt.utc.toISOString(), uom: p.material.baseUom, changes: p.changes,
    });
    await m.w.ctx.audit({ action: `wms.${rec.type}`, entityType: 'trace_event', entityId: p.eventId, after: { sourceKey: p.sourceKey, lotId: lot.id, changes: p.changes } });
    m.w.summary.applied++;
  }
}
