import type { Knex } from 'knex';

/** A material with stock at a location, and its storage temperature range. */
export interface StockedMaterial {
  materialId: string;
  code: string;
  storageTempMinC: number | null;
  storageTempMaxC: number | null;
  /** Sum over its lots and stock states, in base units. */
  quantity: number;
}

/**
 * The materials with a positive balance at a location (any lot, any stock state), ordered by code.
 * With `at`, the balance as of that business time (the ledger rows with event_time <= `at`), so a
 * reading that arrives late is judged against the stock that was there when it was taken.
 * @param db - the transaction
 * @param locationId - the location
 * @param at - the business time (default: the current balances)
 */
export async function listMaterialsStockedAt(db: Knex, locationId: string, at?: Date): Promise<StockedMaterial[]> {
  const q = db('inventory_balances as b')
    .join('lots as l', 'l.id', 'b.lot_id')
    .join('materials as m', 'm.id', 'l.material_id')
    .where('b.location_id', locationId);
  if (at !== undefined) {
    // every balance key that ever had stock here has its balance row; its ledger as of `at` (index lot/location/state/time)
    q.join('inventory_ledger as g', (j) => {
      j.on('g.lot_id', 'b.lot_id').andOn('g.location_id', 'b.location_id').andOn('g.stock_state', 'b.stock_state');
    }).where('g.event_time', '<=', at);
  }
  const amount = at === undefined ? 'b.quantity' : 'g.delta';
  const rows = await q
    .groupBy('m.id', 'm.code', 'm.storage_temp_min_c', 'm.storage_temp_max_c')
    .havingRaw(`sum(${amount}) > 0`)
    .orderBy('m.code')
    .select<Array<{ id: string; code: string; storage_temp_min_c: number | null; storage_temp_max_c: number | null; quantity: number }>>(
      'm.id',
      'm.code',
      'm.storage_temp_min_c',
      'm.storage_temp_max_c',
      db.raw(`sum(${amount}) AS quantity`),
    );
  return rows.map((r) => ({
    materialId: r.id,
    code: r.code,
    storageTempMinC: r.storage_temp_min_c === null ? null : Number(r.storage_temp_min_c),
    storageTempMaxC: r.storage_temp_max_c === null ? null : Number(r.storage_temp_max_c),
    quantity: Number(r.quantity),
  }));
}
