import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { RowLineage } from '../../db/tables';
import { checkGln } from '../master-data/gs1-keys';
import type { DbPartyRow, PartyRole } from '../master-data/master-data.types';
import { rowVanished } from '../row-vanished';

/**
 * Finds the party a feed names by GLN (13 digits with a valid check digit) or else by code
 * (customer id), or creates it as provisional with that GLN or code as its name.
 * @param db - the transaction
 * @param ref - GLN or code as the feed wrote it
 * @param role - the role of a created party (e.g. `customer` for a ship-to)
 * @param lineage - message and ordinal for a created row
 */
export async function findOrCreateParty(db: Knex, ref: string, role: PartyRole, lineage: RowLineage): Promise<{ row: DbPartyRow; created: boolean }> {
  const gln = checkGln(ref);
  const key = gln.ok ? { gln: gln.gln } : { code: ref };
  const found =
    (await db<DbPartyRow>('parties').where(key).first()) ?? (gln.ok ? await db<DbPartyRow>('parties').where({ code: ref }).first() : undefined);
  if (found) {
    return { row: found, created: false };
  }
  const [inserted] = await db<DbPartyRow>('parties')
    .insert({ id: uuidv7(), ...key, name: ref, role, provisional: true, source_message_id: lineage.sourceMessageId, ordinal: lineage.nextOrdinal() })
    .onConflict(gln.ok ? 'gln' : 'code')
    .ignore()
    .returning('*');
  const row = inserted ?? (await db<DbPartyRow>('parties').where(key).first());
  if (!row) {
    throw rowVanished(`party ${ref}`);
  }
  return { row, created: inserted !== undefined };
}
