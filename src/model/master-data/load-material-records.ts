import type { Db } from '../../db/knex';
import {
  IDENTIFIER_SCHEMES,
  PACKAGING_LEVELS,
  type DbMaterialIdentifierRow,
  type DbMaterialRow,
  type MaterialIdentifier,
  type MaterialRecord,
} from './master-data.types';

/** Orders identifiers by scheme (gtin first), packaging level (each first), then value. */
export function compareIdentifiers(a: MaterialIdentifier, b: MaterialIdentifier): number {
  return (
    IDENTIFIER_SCHEMES.indexOf(a.scheme) - IDENTIFIER_SCHEMES.indexOf(b.scheme) ||
    PACKAGING_LEVELS.indexOf(a.packagingLevel) - PACKAGING_LEVELS.indexOf(b.packagingLevel) ||
    (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)
  );
}

/**
 * Builds the API/canonical record of a material from its row and identifier rows.
 * @param row - the materials row
 * @param ids - its material_identifiers rows (any order)
 */
export function toMaterialRecord(row: DbMaterialRow, ids: DbMaterialIdentifierRow[]): MaterialRecord {
  return {
    id: row.id,
    code: row.code,
    description: row.description,
    kind: row.kind,
    baseUom: row.base_uom,
    shelfLifeDays: row.shelf_life_days,
    storageTempMinC: row.storage_temp_min_c,
    storageTempMaxC: row.storage_temp_max_c,
    lotControlled: row.lot_controlled,
    serialControlled: row.serial_controlled,
    implantable: row.implantable,
    riskClass: row.risk_class,
    unitCost: row.unit_cost,
    provisional: row.provisional,
    identifiers: ids
      .map((i) => ({ scheme: i.scheme, value: i.value, packagingLevel: i.packaging_level, quantityPerLevel: i.quantity_per_level }))
      .sort(compareIdentifiers),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * Loads materials with their identifiers, in the order of `ids` (unknown ids are left out).
 * @param db - knex instance or transaction
 * @param ids - material ids
 */
export async function loadMaterialRecords(db: Db, ids: string[]): Promise<MaterialRecord[]> {
  if (ids.length === 0) {
    return [];
  }
  const rows = await db<DbMaterialRow>('materials').whereIn('id', ids);
  const idRows = await db<DbMaterialIdentifierRow>('material_identifiers').whereIn('material_id', ids);
  const byMaterial = new Map<string, DbMaterialIdentifierRow[]>();
  for (const r of idRows) {
    const list = byMaterial.get(r.material_id) ?? [];
    list.push(r);
    byMaterial.set(r.material_id, list);
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [toMaterialRecord(row, byMaterial.get(id) ?? [])] : [];
  });
}
