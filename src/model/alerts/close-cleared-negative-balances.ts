import type { Knex } from 'knex';
import type pg from 'pg';

/** The closing statement; `lots` is how its one parameter (the lot ids, text[]) is written. */
const closeSql = (lots: string): string => `WITH open AS (
       SELECT id, split_part(dedup_key, ':', 2)::uuid AS lot_id, split_part(dedup_key, ':', 3)::uuid AS location_id, split_part(dedup_key, ':', 4) AS stock_state
         FROM alerts
        WHERE type = 'negative_balance' AND status = 'open' AND subject_id = ANY(${lots}::text[]) AND dedup_key LIKE 'negative\\_balance:%')
     UPDATE alerts a SET status = 'closed', closed_at = now()
       FROM open o
       JOIN inventory_balances b ON b.lot_id = o.lot_id AND b.location_id = o.location_id AND b.stock_state = o.stock_state
      WHERE a.id = o.id AND b.quantity >= 0
     RETURNING a.id`;

/**
 * Closes the open `negative_balance` alerts of these lots whose balance (the lot, location and
 * stock state in the alert's dedup key) is no longer below zero: the receipt, pick or count that
 * explains the missing stock has arrived. Writers call it after opening their own alerts, for the
 * lots of the balances that were below zero before (or during) their booking and are not any more.
 * The alert stays in the table, closed, with `closed_at`.
 * @param db - the writer's transaction
 * @param lotIds - lots whose balances the writer brought back to zero or above
 * @returns the ids of the alerts closed
 */
export async function closeClearedNegativeBalances(db: Knex, lotIds: readonly string[]): Promise<string[]> {
  if (lotIds.length === 0) return [];
  const r = await db.raw<{ rows: Array<{ id: string }> }>(closeSql('?'), [[...new Set(lotIds)]] as unknown as string[]);
  return r.rows.map((x) => x.id);
}

/**
 * {@link closeClearedNegativeBalances} on a plain driver connection inside its transaction (the
 * stock import's, which books through COPY on one connection).
 */
export async function closeClearedNegativeBalancesOn(conn: pg.ClientBase, lotIds: readonly string[]): Promise<string[]> {
  if (lotIds.length === 0) return [];
  const r = await conn.query<{ id: string }>(closeSql('$1'), [[...new Set(lotIds)]]);
  return r.rows.map((x) => x.id);
}
