import type { Knex } from 'knex';
import type { BalanceKey } from './get-ledger-balance-as-of';

/**
 * The current balance of a lot/location/state (0 when it has none).
 * @param db - the transaction
 * @param key - lot, location and stock state
 */
export async function getBalance(db: Knex, key: BalanceKey): Promise<number> {
  const row = await db('inventory_balances')
    .where({ lot_id: key.lotId, location_id: key.locationId, stock_state: key.stockState })
    .first<{ quantity: number } | undefined>('quantity');
  return Number(row?.quantity ?? 0);
}
