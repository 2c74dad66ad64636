import type { Db } from '../../db/knex';
import { loadMaterialRecords } from './load-material-records';
import type { MaterialRecord } from './master-data.types';

/**
 * The id of the material with this code: its primary `code`, or else an `internal` identifier
 * (e.g. the MES material number), so a case GTIN and an MES code resolve to the same material.
 * @param db - knex instance or transaction
 * @param code - material code
 */
export async function findMaterialIdByCode(db: Db, code: string): Promise<string | undefined> {
  const key = code.trim();
  const direct = await db('materials').where({ code: key }).first<{ id: string } | undefined>('id');
  if (direct) {
    return direct.id;
  }
  const viaId = await db('material_identifiers').where({ scheme: 'internal', value: key }).first<{ material_id: string } | undefined>('material_id');
  return viaId?.material_id;
}

/**
 * Loads a material by its code or an internal identifier (see {@link findMaterialIdByCode}).
 * @param db - knex instance or transaction
 * @param code - material code
 */
export async function getMaterial(db: Db, code: string): Promise<MaterialRecord | undefined> {
  const id = await findMaterialIdByCode(db, code);
  return id ? (await loadMaterialRecords(db, [id]))[0] : undefined;
}
