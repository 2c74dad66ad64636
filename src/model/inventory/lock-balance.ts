import type { Knex } from 'knex';
import type { BalanceKey } from './get-ledger-balance-as-of';

/**
 * Locks the balance row of a lot/location/state until the transaction ends (creating it at 0 when
 * missing), so what the transaction reads from the ledger afterwards cannot miss a change another
 * transaction is booking: bookings take the same row lock (the balance upsert), and the statements
 * after this one see what they committed.
 * @param db - the transaction
 * @param key - lot, location and stock state
 */
export async function lockBalance(db: Knex, key: BalanceKey): Promise<void> {
  await db.raw(
    `INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity) VALUES (?, ?, ?, 0)
     ON CONFLICT (lot_id, location_id, stock_state) DO UPDATE SET quantity = inventory_balances.quantity`,
    [key.lotId, key.locationId, key.stockState],
  );
}
