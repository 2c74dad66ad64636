import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { LotResolution } from '../../model/lots/find-or-create-lot';
import { afterLotResolved, type StockItem } from '../wms/wms-stock-item';
import { CANONICAL, negativeBalanceAlert } from '../wms/wms-writer';
import { openAlerts } from '../../model/alerts/open-alerts';
import { closeClearedNegativeBalances } from '../../model/alerts/close-cleared-negative-balances';
import { findOrCreateLotsBatch } from '../../model/lots/find-or-create-lots-batch';
import { findOrCreateSerialsBatch, serialKey } from '../../model/serials/find-or-create-serials-batch';
import { checkEventsInserted, insertTraceEventsBatch, TRACE_EVENTS_CTES, traceEventArrays, traceItemRows, type TraceEventRow } from '../../model/trace/insert-trace-events-batch';
import { columnArrays, columnList, unnestOf, type ColumnTypes } from '../../db/unnest-columns';
import type { NewAlert } from '../../model/alerts/open-alert';
import { alertRecalledLotUse, announceUsage, usageEvent, usageRows, type PlannedDft, type PlannedUsage } from './apply-dft-p03';
import { rawNamed } from '../../db/named-statement';

/** Lots of the usages, as findOrCreateLot would answer each usage in batch order (findOrCreateLotsBatch). */
async function resolveLots(trx: Knex.Transaction, usages: PlannedUsage[]): Promise<Map<PlannedUsage, LotResolution>> {
  const res = await findOrCreateLotsBatch(trx, usages.map((u) => ({
    materialId: u.material.id, lot: u.dev.lot as string, expiry: u.dev.expiry, messageId: u.w.ctx.message.id, nextOrdinal: () => u.w.ctx.nextOrdinal(),
  })));
  return new Map(usages.map((u, i) => [u, res[i]]));
}

/** Serials of the usages: found ones keep their row (and lot), missing ones are inserted in the usage's lot, one statement. */
async function resolveSerials(trx: Knex.Transaction, usages: Array<{ u: PlannedUsage; lotId: string }>): Promise<Map<PlannedUsage, string>> {
  const withSerial = usages.filter((x) => x.u.dev.serial);
  const ids = await findOrCreateSerialsBatch(trx, withSerial.map((x) => ({
    materialId: x.u.material.id, serial: x.u.dev.serial as string, lotId: x.lotId, messageId: x.u.w.ctx.message.id, nextOrdinal: () => x.u.w.ctx.nextOrdinal(),
  })));
  return new Map(withSerial.map((x) => [x.u, ids.get(serialKey(x.u.material.id, x.u.dev.serial as string)) as string]));
}

/** Columns of device_usages and demand_history written by a batch, with their array types. */
const USAGE_COLUMNS: ColumnTypes = [
  ['id', 'uuid'], ['trace_event_id', 'uuid'], ['source_key', 'text'], ['material_id', 'uuid'], ['lot_id', 'uuid'], ['serial_id', 'uuid'],
  ['location_id', 'uuid'], ['party_id', 'uuid'], ['quantity', 'numeric'], ['uom', 'text'], ['used_at', 'timestamptz'], ['used_at_offset', 'text'],
  ['transaction_type', 'text'], ['procedure_code', 'text'], ['procedure_ref_hmac', 'text'], ['patient_hmac', 'text'], ['patient_enc', 'bytea'],
  ['encounter_hmac', 'text'], ['encounter_enc', 'bytea'], ['udi', 'text'], ['details', 'jsonb'], ['source_message_id', 'uuid'], ['ordinal', 'int'],
];
const DEMAND_COLUMNS: ColumnTypes = [
  ['kind', 'text'], ['material_id', 'uuid'], ['location_id', 'uuid'], ['party_id', 'uuid'], ['quantity', 'numeric'], ['uom', 'text'],
  ['occurred_at', 'timestamptz'], ['source_key', 'text'], ['source_message_id', 'uuid'], ['ordinal', 'int'],
];
/** The CTEs `d` (demand rows) and `u` (device usages); binds the demand arrays, then the usage arrays. */
const DEMAND_USAGES_CTES = `d AS (
       INSERT INTO demand_history (${columnList(DEMAND_COLUMNS)}) SELECT * FROM ${unnestOf(DEMAND_COLUMNS)}
     ), u AS (
       INSERT INTO device_usages (${columnList(USAGE_COLUMNS)}) SELECT * FROM ${unnestOf(USAGE_COLUMNS)}
     )`;
const USAGES_SQL = `WITH ${DEMAND_USAGES_CTES} SELECT 1`;

/** The batch's device usages and demand rows in one prepared statement (unnest: its text never varies with the batch). */
async function insertUsagesAndDemand(trx: Knex.Transaction, usages: Array<Record<string, unknown>>, demand: Array<Record<string, unknown>>): Promise<void> {
  await rawNamed(trx, USAGES_SQL, [...columnArrays(demand, DEMAND_COLUMNS), ...columnArrays(usages, USAGE_COLUMNS)]);
}

const LEDGER_COLUMNS: ColumnTypes = [
  ['event_id', 'uuid'], ['lot_id', 'uuid'], ['location_id', 'uuid'], ['delta', 'numeric'], ['event_time', 'timestamptz'], ['source_message_id', 'uuid'], ['ordinal', 'int'],
];

/**
 * The CTEs `x` (the ledger rows bound), `l` (their insert) and `b` (the balances they change,
 * upserted in key order so concurrent batches lock balance rows in one order; RETURNING the
 * balances after the batch). Binds the arrays of LEDGER_COLUMNS.
 */
const LEDGER_BALANCES_CTES = `x AS (
       SELECT * FROM ${unnestOf(LEDGER_COLUMNS)}
     ), l AS (
       INSERT INTO inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)
       SELECT event_id, lot_id, location_id, 'finished', delta, event_time, source_message_id, ordinal FROM x
     ), b AS (
       INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity)
       SELECT lot_id, location_id, 'finished', sum(delta) FROM x GROUP BY lot_id, location_id ORDER BY lot_id, location_id
       ON CONFLICT (lot_id, location_id, stock_state)
       DO UPDATE SET quantity = inventory_balances.quantity + EXCLUDED.quantity, updated_at = now()
       RETURNING lot_id, location_id, quantity
     )`;

/**
 * Everything a batch without counted usages writes after its lots and serials, in ONE statement
 * (data-modifying CTEs; foreign keys are checked at its end): trace events (an event another
 * transaction recorded meanwhile is skipped and counted, and the caller throws) with their items,
 * ledger rows, balances (upserted in key order), demand rows and device usages. Returns the
 * balances after the batch and how many events were inserted.
 */
const WRITE_ALL_SQL = `WITH ${TRACE_EVENTS_CTES}, ${LEDGER_BALANCES_CTES}, ${DEMAND_USAGES_CTES}
     SELECT (SELECT count(*) FROM e)::int AS events,
            (SELECT coalesce(json_agg(json_build_object('lot_id', lot_id, 'location_id', location_id, 'quantity', quantity)), '[]'::json) FROM b) AS balances`;

/**
 * The DFT^P03 usages of a whole batch written set-based: lots, serials, then trace events with their
 * items, ledger rows and balances, device usages and demand rows together in one statement for all
 * messages (WRITE_ALL_SQL), instead of a dozen statements per message. The rows are the same as applyDftP03
 * writes one message at a time (tests/integration/hl7 compares both). Usages whose lot/location
 * has a count at or after their time take the single-row booking (the count rules of WmsWriter.book).
 */
export async function applyDftP03Batch(trx: Knex.Transaction, plans: PlannedDft[]): Promise<void> {
  const usages = plans.flatMap((p) => p.usages);
  const summaryOf = new Map<PlannedUsage, PlannedDft>();
  for (const p of plans) for (const u of p.usages) summaryOf.set(u, p);
  const lotted = usages.filter((u) => u.dev.lot);
  const lots = lotted.length > 0 ? await resolveLots(trx, lotted) : new Map<PlannedUsage, LotResolution>();
  for (const u of lotted) {
    const r = lots.get(u) as LotResolution;
    await afterLotResolved(u.w, u.rec, u.material, r, u.sourceKey);
    if (await alertRecalledLotUse(u, r.row)) (summaryOf.get(u) as PlannedDft).summary.recalledLots++;
  }
  const serials = await resolveSerials(trx, lotted.map((u) => ({ u, lotId: (lots.get(u) as LotResolution).row.id })));

  // usages whose lot/location/state has a count at or after their time: booked one by one (count rules).
  // Per usage one probe of the ledger index (lot, location, state, event_time) from the usage's time on,
  // stopping at the first count: usages are nearly always the newest rows of their lot/location, so it
  // reads a row or none; when they arrive out of time order, the partial index of count events
  // (migration 20260301002600) lets the planner start from the counts instead. (Until 2026-11-27 this
  // read every ledger row of the batch's lot/location pairs to find their latest count, which grew with
  // the history: 7 million rows read in a 10,000-message benchmark, by sequential scans.)
  const counted = new Set<PlannedUsage>();
  if (lotted.length > 0) {
    const hit = await rawNamed<{ rows: Array<{ n: number }> }>(trx,
      `SELECT k.n
         FROM unnest(?::uuid[], ?::uuid[], ?::timestamptz[]) WITH ORDINALITY AS k(lot_id, location_id, at, n)
        WHERE EXISTS (SELECT 1 FROM inventory_ledger l JOIN trace_events e ON e.id = l.event_id
                       WHERE l.lot_id = k.lot_id AND l.location_id = k.location_id AND l.stock_state = 'finished'
                         AND l.event_time >= k.at AND e.biz_step = 'cycle_counting')`,
      [lotted.map((u) => (lots.get(u) as LotResolution).row.id), lotted.map((u) => u.location.id), lotted.map((u) => new Date(u.when.utc))] as unknown as string[],
    );
    for (const r of hit.rows) counted.add(lotted[Number(r.n) - 1]);
  }

  // trace events and their items
  const eventRows: TraceEventRow[] = [];
  const itemRows: Array<Record<string, unknown>> = [];
  const eventOf = new Map<PlannedUsage, string>();
  for (const u of lotted) {
    const lot = (lots.get(u) as LotResolution).row;
    const item: StockItem = { material: u.material, lot, serialId: serials.get(u) ?? null, factor: u.factor };
    const ev = usageEvent(u, item);
    u.w.ctx.validate(CANONICAL.traceEvent, ev);
    const id = uuidv7();
    eventOf.set(u, id);
    eventRows.push({
      id, type: ev.eventType, action: ev.action, biz_step: ev.bizStep, disposition: ev.disposition, event_time: new Date(ev.eventTime),
      event_time_zone_offset: ev.eventTimeZoneOffset, location_id: u.location.id, read_point: null, biz_transactions: JSON.stringify(ev.bizTransactions),
      sensor_readings: null, details: JSON.stringify(ev.details), source_key: ev.sourceKey, source_message_id: u.w.ctx.message.id, ordinal: u.w.ctx.nextOrdinal(),
    });
    itemRows.push(...traceItemRows(id, ev.items));
    u.w.summary.events++;
  }
  // stock: ledger rows and balances for all usages not touched by a count
  const booked = lotted.filter((u) => !counted.has(u));
  const ledger = booked.map((u) => {
    const lot = (lots.get(u) as LotResolution).row;
    const base = Math.abs(u.signed) * u.factor;
    const delta = u.credit ? base : -base;
    u.w.ctx.validate(CANONICAL.inventoryChange, {
      eventId: eventOf.get(u), lotId: lot.id, locationId: u.location.id, location: u.location.code, gtin: u.gtin, lotNumber: lot.lot_number,
      stockState: 'finished', delta, eventTime: u.when.utc, reason: 'movement',
    });
    u.w.summary.ledgerRows++;
    return { u, lot, delta, ordinal: u.w.ctx.nextOrdinal() };
  });
  const ledgerArrays = [
    ledger.map((b) => eventOf.get(b.u)), ledger.map((b) => b.lot.id), ledger.map((b) => b.u.location.id), ledger.map((b) => b.delta),
    ledger.map((b) => new Date(b.u.when.utc)), ledger.map((b) => b.u.w.ctx.message.id), ledger.map((b) => b.ordinal),
  ];
  // a balance left below zero opens one negative_balance alert (deduplicated per lot/location/state), all in one statement
  const alertNegatives = async (balances: Array<{ lot_id: string; location_id: string; quantity: number | string }>): Promise<void> => {
    const negatives: Array<{ w: PlannedUsage['w']; alert: NewAlert }> = [];
    // lots of balances that were below zero before or during the batch and end at zero or above (their alert is closed)
    const cleared: string[] = [];
    for (const row of balances) {
      // as WmsWriter.book does one change at a time: the first change that leaves the balance below zero names it
      const mine = ledger.filter((b) => b.lot.id === row.lot_id && b.u.location.id === row.location_id);
      let balance = Number(row.quantity) - mine.reduce((sum, b) => sum + b.delta, 0);
      let low = balance;
      let first: { b: (typeof mine)[number]; balance: number } | undefined;
      for (const b of mine) {
        balance += b.delta;
        low = Math.min(low, balance);
        if (!first && balance < 0) first = { b, balance };
      }
      if (low < 0 && balance >= 0) cleared.push(row.lot_id);
      if (!first) continue;
      const { u, lot } = first.b;
      const alert = negativeBalanceAlert({ lotId: lot.id, lotNumber: lot.lot_number, gtin: u.gtin, location: u.location, stockState: 'finished', uom: u.material.baseUom, recordId: u.rec.id }, first.balance, u.w.feedName);
      u.w.validateAlert(alert);
      negatives.push({ w: u.w, alert });
    }
    const opened = await openAlerts(trx, negatives.map((n) => ({ alert: n.alert, lineage: n.w.lineage })));
    for (const [i, id] of opened) {
      await negatives[i].w.alertOpened(negatives[i].alert, id);
    }
    await closeClearedNegativeBalances(trx, cleared);
  };
  // device usages and demand rows (their outbox events and audit rows are buffered to the batch's end)
  const buildUsages = () => {
    const usageRowsAll: Array<Record<string, unknown>> = [];
    const demandRows: Array<Record<string, unknown>> = [];
    const announced: Array<{ u: PlannedUsage; ids: { usageId: string; eventId: string | null; lotId: string | null; serialId: string | null } }> = [];
    for (const u of usages) {
      const lot = lots.get(u)?.row;
      const ids = { usageId: uuidv7(), eventId: eventOf.get(u) ?? null, lotId: lot?.id ?? null, serialId: serials.get(u) ?? null };
      const rows = usageRows(u, ids);
      usageRowsAll.push(rows.usage);
      demandRows.push(rows.demand);
      announced.push({ u, ids });
      const s = (summaryOf.get(u) as PlannedDft).summary;
      s.usages++;
      if (!u.dev.lot) s.unlotted++;
    }
    return { usageRowsAll, demandRows, announced };
  };

  if (counted.size === 0) {
    // the usual case: events, items, ledger, balances, demand and usages in one statement
    const { usageRowsAll, demandRows, announced } = buildUsages();
    if (usageRowsAll.length === 0) return;
    const r = await rawNamed<{ rows: Array<{ events: number; balances: Array<{ lot_id: string; location_id: string; quantity: number }> }> }>(trx, WRITE_ALL_SQL, [
      ...traceEventArrays(eventRows, itemRows), ...ledgerArrays,
      ...columnArrays(demandRows, DEMAND_COLUMNS), ...columnArrays(usageRowsAll, USAGE_COLUMNS),
    ]);
    checkEventsInserted(Number(r.rows[0].events), eventRows, 'usage');
    await alertNegatives(r.rows[0].balances);
    for (const a of announced) {
      await announceUsage(a.u, a.ids);
    }
    return;
  }

  // usages a count has seen: the events first, then the ledger of the others set-based, then these one by one (count rules)
  await insertTraceEventsBatch(trx, eventRows, itemRows, 'usage');
  if (ledger.length > 0) {
    const r = await rawNamed<{ rows: Array<{ lot_id: string; location_id: string; quantity: string }> }>(trx,
      `WITH ${LEDGER_BALANCES_CTES} SELECT lot_id, location_id, quantity FROM b`,
      ledgerArrays,
    );
    await alertNegatives(r.rows);
  }
  for (const u of counted) {
    const lot = (lots.get(u) as LotResolution).row;
    const base = Math.abs(u.signed) * u.factor;
    await u.w.book({
      eventId: eventOf.get(u) as string, lotId: lot.id, gtin: u.gtin, lotNumber: lot.lot_number, location: u.location, stockState: 'finished',
      delta: u.credit ? base : -base, eventTime: new Date(u.when.utc), reason: 'movement', uom: u.material.baseUom, recordId: u.rec.id,
    });
  }
  const { usageRowsAll, demandRows, announced } = buildUsages();
  if (usageRowsAll.length > 0) {
    await insertUsagesAndDemand(trx, usageRowsAll, demandRows);
  }
  for (const a of announced) {
    await announceUsage(a.u, a.ids);
  }
}
