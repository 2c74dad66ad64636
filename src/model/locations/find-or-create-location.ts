import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { RowLineage } from '../../db/tables';
import type { DbLocationRow } from '../master-data/master-data.types';
import { rowVanished } from '../row-vanished';

/**
 * Finds a location by code, or creates it as a provisional `bin` (a feed named a place master data
 * does not know yet; the master-data upsert of that code adopts it). Safe under concurrency: the
 * loser of a race reads the winner's row.
 * @param db - the transaction
 * @param code - the location code as the feed wrote it
 * @param lineage - message and ordinal for a created row
 */
export async function findOrCreateLocation(db: Knex, code: string, lineage: RowLineage): Promise<{ row: DbLocationRow; created: boolean }> {
  const found = await db<DbLocationRow>('locations').where({ code }).first();
  if (found) {
    return { row: found, created: false };
  }
  const [inserted] = await db<DbLocationRow>('locations')
    .insert({ id: uuidv7(), code, kind: 'bin', provisional: true, source_message_id: lineage.sourceMessageId, ordinal: lineage.nextOrdinal() })
    .onConflict('code')
    .ignore()
    .returning('*');
  const row = inserted ?? (await db<DbLocationRow>('locations').where({ code }).first());
  if (!row) {
    throw rowVanished(`location ${code}`);
  }
  return { row, created: inserted !== undefined };
}
