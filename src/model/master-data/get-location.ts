import type { Db } from '../../db/knex';
import { locationRecordQuery, toLocationRecord } from './load-location-records';
import type { LocationRecord } from './master-data.types';

/**
 * Loads a location by its code.
 * @param db - knex instance or transaction
 * @param code - location code
 */
export async function getLocation(db: Db, code: string): Promise<LocationRecord | undefined> {
  const row = (await locationRecordQuery(db).where('l.code', code.trim()))[0];
  return row ? toLocationRecord(row) : undefined;
}
