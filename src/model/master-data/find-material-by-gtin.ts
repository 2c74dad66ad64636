import type { Db } from '../../db/knex';
import { LotBridgeError } from '../../errors';
import { normalizeGtin } from './gs1-keys';
import { toMaterialRecord } from './load-material-records';
import type { DbMaterialIdentifierRow, DbMaterialRow, MaterialRecord, PackagingLevel } from './master-data.types';

/** A result row of the GTIN look-up: the material's columns, the matched identifier's (x_) and one of its identifiers (i_, null when it has none). */
type GtinLookupRow = DbMaterialRow & {
  x_packaging_level: PackagingLevel;
  x_quantity_per_level: number;
  i_id: number | null;
  i_material_id: string | null;
  i_scheme: string | null;
  i_value: string | null;
  i_packaging_level: string | null;
  i_quantity_per_level: number | null;
};

/** A material found by one of its GTINs, with the pack that GTIN names. */
export interface MaterialByGtin {
  /** The material. */
  material: MaterialRecord;
  /** The GTIN, normalized to 14 digits. */
  gtin: string;
  /** Packaging level the GTIN names. */
  packagingLevel: PackagingLevel;
  /** Base units in one pack of that level (multiply a quantity counted in these packs by it). */
  quantityPerLevel: number;
}

/**
 * Finds the material that owns a GTIN at any packaging level (each, inner, box, case, pallet).
 * Also matches a UDI-DI with the same digits, since a GS1 UDI-DI is a GTIN.
 * @param db - knex instance or transaction
 * @param gtin - GTIN-8/12/13/14 (left-padded to 14 digits before the lookup)
 * @throws LotBridgeError LB_ERR_MASTER_DATA_GTIN_INVALID when `gtin` is not a valid GTIN
 */
export async function findMaterialByGtin(db: Db, gtin: string): Promise<MaterialByGtin | undefined> {
  const g = normalizeGtin(gtin);
  if (!g.ok) {
    throw new LotBridgeError('LB_ERR_MASTER_DATA_GTIN_INVALID', g.reason, { location: { path: 'gtin' }, details: { value: gtin } });
  }
  // One statement: the identifier that names the GTIN (a GTIN before a UDI-DI with the same digits),
  // its material row, and all of that material's identifier rows (one result row per identifier).
  const r = await db.raw<{ rows: GtinLookupRow[] }>(
    `SELECT m.*, x.packaging_level AS x_packaging_level, x.quantity_per_level AS x_quantity_per_level,
            i.id AS i_id, i.material_id AS i_material_id, i.scheme AS i_scheme, i.value AS i_value,
            i.packaging_level AS i_packaging_level, i.quantity_per_level AS i_quantity_per_level
       FROM (SELECT material_id, packaging_level, quantity_per_level FROM material_identifiers
              WHERE scheme IN ('gtin', 'udi_di') AND value = ?
              ORDER BY scheme = 'gtin' DESC LIMIT 1) x
       JOIN materials m ON m.id = x.material_id
       LEFT JOIN material_identifiers i ON i.material_id = m.id`,
    [g.gtin],
  );
  const first = r.rows[0];
  if (!first) {
    return undefined;
  }
  const ids: DbMaterialIdentifierRow[] = r.rows
    .filter((row) => row.i_id !== null)
    .map((row) => ({
      id: row.i_id as number,
      material_id: row.i_material_id as string,
      scheme: row.i_scheme as DbMaterialIdentifierRow['scheme'],
      value: row.i_value as string,
      packaging_level: row.i_packaging_level as PackagingLevel,
      quantity_per_level: row.i_quantity_per_level as number,
    }));
  return { material: toMaterialRecord(first, ids), gtin: g.gtin, packagingLevel: first.x_packaging_level, quantityPerLevel: first.x_quantity_per_level };
}
