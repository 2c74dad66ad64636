import type { Knex } from 'knex';
import type { BalanceKey } from './get-ledger-balance-as-of';

/**
 * The earliest count booked for a lot/location/state at or after a business time (strictly after
 * with `strict`), found by its ledger row (counts book one even when their adjustment is 0).
 * A change booked before such a count arrived late: the count already saw it.
 * @param db - the transaction
 * @param key - lot, location and stock state
 * @param at - the business time of the change
 * @param strict - only counts after `at` (used when the change is itself a count)
 * @param countBizStep - the bizStep that marks count events (default cycle_counting)
 */
export async function findNextCount(
  db: Knex,
  key: BalanceKey,
  at: Date,
  strict: boolean,
  countBizStep = 'cycle_counting',
): Promise<{ eventId: string; eventTime: Date } | undefined> {
  const row = await db('inventory_ledger as l')
    .join('trace_events as e', 'e.id', 'l.event_id')
    .where({ 'l.lot_id': key.lotId, 'l.location_id': key.locationId, 'l.stock_state': key.stockState, 'e.biz_step': countBizStep })
    .where('l.event_time', strict ? '>' : '>=', at)
    .orderBy('l.event_time')
    .orderBy('l.id')
    .first<{ event_id: string; event_time: Date } | undefined>('l.event_id', 'l.event_time');
  return row ? { eventId: row.event_id, eventTime: row.event_time } : undefined;
}

/** One change to test against the count rule: its balance key and business time. */
export interface CountProbe {
  lotId: string;
  locationId: string;
  stockState: string;
  at: Date;
  /** The change's own trace event: when it is itself a count, the probe finds nothing (a count is not absorbed by the next one). */
  eventId?: string;
}

/**
 * {@link findNextCount} for many changes in one statement (one probe of the ledger index per
 * change): per index into `probes`, the time of the earliest count of its lot/location/state at or
 * after its time. The batch writers reverse such changes at that time after booking them (the
 * count already saw them); read after the booking, which locks the balance rows.
 * @param db - the transaction
 * @param probes - the changes (zero deltas need no probe: leave them out)
 * @param countBizStep - the bizStep that marks count events (default cycle_counting)
 */
export async function findNextCounts(db: Knex, probes: readonly CountProbe[], countBizStep = 'cycle_counting'): Promise<Map<number, Date>> {
  const out = new Map<number, Date>();
  if (probes.length === 0) {
    return out;
  }
  const r = await db.raw<{ rows: Array<{ n: number; at: Date }> }>(
    `SELECT k.n, c.event_time AS at
       FROM unnest(?::int[], ?::uuid[], ?::uuid[], ?::text[], ?::timestamptz[], ?::uuid[]) AS k(n, lot_id, location_id, stock_state, at, event_id)
       CROSS JOIN LATERAL (
         SELECT l.event_time FROM inventory_ledger l JOIN trace_events e ON e.id = l.event_id
          WHERE l.lot_id = k.lot_id AND l.location_id = k.location_id AND l.stock_state = k.stock_state
            AND e.biz_step = ? AND l.event_time >= k.at
          ORDER BY l.event_time, l.id LIMIT 1) c
      WHERE NOT EXISTS (SELECT 1 FROM trace_events own WHERE own.id = k.event_id AND own.biz_step = ?)`,
    [
      probes.map((_, n) => n), probes.map((p) => p.lotId), probes.map((p) => p.locationId), probes.map((p) => p.stockState),
      probes.map((p) => p.at), probes.map((p) => p.eventId ?? null), countBizStep, countBizStep,
    ] as unknown as readonly Knex.RawBinding[],
  );
  for (const row of r.rows) out.set(Number(row.n), new Date(row.at));
  return out;
}
