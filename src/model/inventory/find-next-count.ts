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
