import type { Knex } from 'knex';
import type { BalanceKey } from './get-ledger-balance-as-of';

/** A balance a pick books into, and the pick's business time. */
export interface PickArrival extends BalanceKey {
  pickedAt: Date;
}

/** Per {@link PickArrival}: its balance now, and what ships took from it later in business time. */
export interface ShippedBeforePicked {
  balance: number;
  /** Quantity (base units, positive) that WMS ships booked out of this balance with an event time after the pick's. */
  shippedAfter: number;
}

/**
 * For each balance a pick is about to book into: the balance now and the quantity that ships
 * (trace events with bizStep `shipping`) took out of it at a business time after the pick. A ship
 * that arrives before its pick finds no picked stock and books its quantity out of the lot's
 * default state at the dock (a negative balance); when the pick then arrives, the part of it those
 * later ships already took is booked into that state, so the balances end as they would have in
 * business order (see applyWmsMovement). One statement for all keys, by the ledger's
 * `(lot_id, location_id, stock_state, event_time)` index.
 * @param db - the transaction
 * @param keys - the balances (lot, location, the state the ship took from) and the picks' times
 * @returns one entry per key, in order
 */
export async function findShippedBeforePicked(db: Knex, keys: PickArrival[]): Promise<ShippedBeforePicked[]> {
  if (keys.length === 0) return [];
  const r = await db.raw<{ rows: Array<{ balance: number; shipped_after: number }> }>(
    `SELECT coalesce((SELECT b.quantity FROM inventory_balances b
                       WHERE b.lot_id = k.lot_id AND b.location_id = k.location_id AND b.stock_state = k.stock_state), 0)::float8 AS balance,
            coalesce((SELECT sum(-l.delta) FROM inventory_ledger l JOIN trace_events e ON e.id = l.event_id
                       WHERE l.lot_id = k.lot_id AND l.location_id = k.location_id AND l.stock_state = k.stock_state
                         AND l.event_time > k.picked_at AND l.delta < 0 AND e.biz_step = 'shipping'), 0)::float8 AS shipped_after
       FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::timestamptz[]) WITH ORDINALITY AS k(lot_id, location_id, stock_state, picked_at, ord)
      ORDER BY k.ord`,
    [keys.map((k) => k.lotId), keys.map((k) => k.locationId), keys.map((k) => k.stockState), keys.map((k) => k.pickedAt.toISOString())],
  );
  return r.rows.map((x) => ({ balance: Number(x.balance), shippedAfter: Number(x.shipped_after) }));
}

/**
 * How much of a pick of `quantity` goes to the stock its later ships already took: at most what
 * they took after it, and at most what the balance is below zero (an earlier pick may have filled it).
 */
export function pickFill(quantity: number, s: ShippedBeforePicked): number {
  return Math.max(0, Math.min(quantity, s.shippedAfter, -s.balance));
}
