import type { Knex } from 'knex';

/** One signed change of a balance, booked by a trace event at its business time. */
export interface InventoryDelta {
  eventId: string;
  lotId: string;
  locationId: string;
  stockState: string;
  /** Signed, in the material's base unit. 0 is booked too (a count that matched). */
  delta: number;
  eventTime: Date;
  sourceMessageId: string;
  ordinal: number;
}

/**
 * Books a balance change: one `inventory_ledger` row and the `inventory_balances` upsert
 * (quantity = quantity + delta). Balances change only here. Negative results are allowed.
 * @param db - the transaction
 * @param d - the change
 * @returns the balance after the change
 */
export async function applyInventoryDelta(db: Knex, d: InventoryDelta): Promise<number> {
  // One statement: the ledger row (a data-modifying CTE) and the balance upsert, which takes the
  // balance row lock as before.
  const r = await db.raw<{ rows: Array<{ quantity: number }> }>(
    `WITH l AS (
       INSERT INTO inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?))
     INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity) VALUES (?, ?, ?, ?)
     ON CONFLICT (lot_id, location_id, stock_state)
     DO UPDATE SET quantity = inventory_balances.quantity + EXCLUDED.quantity, updated_at = now()
     RETURNING quantity`,
    [d.eventId, d.lotId, d.locationId, d.stockState, d.delta, d.eventTime, d.sourceMessageId, d.ordinal, d.lotId, d.locationId, d.stockState, d.delta],
  );
  return Number(r.rows[0].quantity);
}
