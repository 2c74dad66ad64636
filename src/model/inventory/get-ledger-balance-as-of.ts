import type { Knex } from 'knex';

/** A balance key: one lot at one location in one stock state. */
export interface BalanceKey {
  lotId: string;
  locationId: string;
  stockState: string;
}

/**
 * The balance of a lot/location/state as of a business time: the sum of its ledger rows with
 * event_time <= `at` (what a count at `at` is compared with).
 * @param db - the transaction
 * @param key - lot, location and stock state
 * @param at - the business time
 */
export async function getLedgerBalanceAsOf(db: Knex, key: BalanceKey, at: Date): Promise<number> {
  const row = await db('inventory_ledger')
    .where({ lot_id: key.lotId, location_id: key.locationId, stock_state: key.stockState })
    .where('event_time', '<=', at)
    .first<{ total: number | null }>(db.raw('sum(delta) AS total'));
  return Number(row?.total ?? 0);
}
