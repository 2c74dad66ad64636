import type { Db } from '../../db/knex';
import { LotBridgeError } from '../../errors';
import { normalizeGtin } from './gs1-keys';
import { loadMaterialRecords } from './load-material-records';
import type { MaterialRecord, PackagingLevel } from './master-data.types';

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
  const row = await db('material_identifiers')
    .whereIn('scheme', ['gtin', 'udi_di'])
    .where({ value: g.gtin })
    .orderByRaw("scheme = 'gtin' DESC")
    .first<{ material_id: string; packaging_level: PackagingLevel; quantity_per_level: number } | undefined>(
      'material_id',
      'packaging_level',
      'quantity_per_level',
    );
  if (!row) {
    return undefined;
  }
  const [material] = await loadMaterialRecords(db, [row.material_id]);
  return material ? { material, gtin: g.gtin, packagingLevel: row.packaging_level, quantityPerLevel: row.quantity_per_level } : undefined;
}
