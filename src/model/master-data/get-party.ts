import type { Db } from '../../db/knex';
import { toPartyRecord } from './load-party-records';
import type { DbPartyRow, PartyRecord } from './master-data.types';

/**
 * Loads a party by its GLN or, failing that, its code.
 * @param db - knex instance or transaction
 * @param key - GLN or party code
 */
export async function getParty(db: Db, key: string): Promise<PartyRecord | undefined> {
  const k = key.trim();
  const row =
    (await db<DbPartyRow>('parties').where({ gln: k }).first()) ?? (await db<DbPartyRow>('parties').where({ code: k }).first());
  return row ? toPartyRecord(row) : undefined;
}
