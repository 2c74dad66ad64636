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
 * @param db - the transaction
 * @param locationId - the location
 */
export async function listMaterialsStockedAt(db: Knex, locationId: string): Promise<StockedMaterial[]> {
  const rows = await db('inventory_balances as b')
    .join('lots as l', 'l.id', 'b.lot_id')
    .join('materials as m', 'm.id', 'l.material_id')
    .where('b.location_id', locationId)
    .groupBy('m.id', 'm.code', 'm.storage_temp_min_c', 'm.storage_temp_max_c')
    .havingRaw('sum(b.quantity) > 0')
    .orderBy('m.code')
    .select<Array<{ id: string; code: string; storage_temp_min_c: number | null; storage_temp_max_c: number | null; quantity: number }>>(
      'm.id',
      'm.code',
      'm.storage_temp_min_c',
      'm.storage_temp_max_c',
      db.raw('sum(b.quantity) AS quantity'),
    );
  return rows.map((r) => ({
    materialId: r.id,
    code: r.code,
    storageTempMinC: r.storage_temp_min_c === null ? null : Number(r.storage_temp_min_c),
    storageTempMaxC: r.storage_temp_max_c === null ? null : Number(r.storage_temp_max_c),
    quantity: Number(r.quantity),
  }));
}
