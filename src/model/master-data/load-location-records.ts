import type { Db } from '../../db/knex';
import type { DbLocationRow, LocationRecord } from './master-data.types';
import { isoTime } from './master-data.util';

/** A locations row joined with its parent's code and its party's GLN/code. */
export type DbLocationJoinedRow = DbLocationRow & { parent_code: string | null; party_gln: string | null; party_code: string | null };

/**
 * The API/canonical record of a location.
 * @param row - locations row with parent_code, party_gln, party_code joined
 */
export function toLocationRecord(row: DbLocationJoinedRow): LocationRecord {
  return {
    id: row.id,
    code: row.code,
    gln: row.gln,
    name: row.name,
    kind: row.kind,
    parentCode: row.parent_code,
    partyGln: row.party_gln,
    partyCode: row.party_code,
    temperatureZone: row.temperature_zone,
    tempMinC: row.temp_min_c,
    tempMaxC: row.temp_max_c,
    provisional: row.provisional,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
  };
}

/** Query of locations joined with parent code and party keys (add where/order/limit to it). */
export function locationRecordQuery(db: Db) {
  return db('locations as l')
    .leftJoin('locations as p', 'p.id', 'l.parent_id')
    .leftJoin('parties as pt', 'pt.id', 'l.party_id')
    .select<DbLocationJoinedRow[]>('l.*', 'p.code as parent_code', 'pt.gln as party_gln', 'pt.code as party_code');
}

/**
 * Loads one location record by id.
 * @param db - knex instance or transaction
 * @param id - location id
 */
export async function loadLocationRecord(db: Db, id: string): Promise<LocationRecord | undefined> {
  const row = (await locationRecordQuery(db).where('l.id', id))[0];
  return row ? toLocationRecord(row) : undefined;
}
