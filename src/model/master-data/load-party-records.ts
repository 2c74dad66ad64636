import type { DbPartyRow, PartyRecord } from './master-data.types';
import { isoTime } from './master-data.util';

/**
 * The API/canonical record of a party.
 * @param row - parties row
 */
export function toPartyRecord(row: DbPartyRow): PartyRecord {
  return {
    id: row.id,
    gln: row.gln,
    code: row.code,
    name: row.name,
    role: row.role,
    provisional: row.provisional,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
  };
}
