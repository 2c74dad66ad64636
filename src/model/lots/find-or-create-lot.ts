import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbLotRow, RowLineage } from '../../db/tables';
import { rowVanished } from '../row-vanished';

/** What {@link findOrCreateLot} did. */
export interface LotResolution {
  /** The lot (after any expiry fill). */
  row: DbLotRow;
  /** True when this call inserted it (provisional: first seen in a feed). */
  created: boolean;
  /** The feed's expiry when it differs from the stored one (the stored one is kept). */
  expiryMismatch?: string;
}

/**
 * Finds a lot by material and lot number, or creates it as provisional (first seen in a feed) with
 * the feed's expiry. A found lot without an expiry takes the feed's; a different stored expiry is
 * kept and reported as `expiryMismatch`.
 * @param db - the transaction
 * @param input - material id, lot number and the expiry the feed gives (YYYY-MM-DD), if any
 * @param lineage - message and ordinal for a created row
 */
export async function findOrCreateLot(
  db: Knex,
  input: { materialId: string; lotNumber: string; expiry?: string },
  lineage: RowLineage,
): Promise<LotResolution> {
  const key = { material_id: input.materialId, lot_number: input.lotNumber };
  let row = await db<DbLotRow>('lots').where(key).first();
  if (!row) {
    const [inserted] = await db<DbLotRow>('lots')
      .insert({
        id: uuidv7(),
        ...key,
        expiry: input.expiry ?? null,
        provisional: true,
        source_message_id: lineage.sourceMessageId,
        ordinal: lineage.nextOrdinal(),
      })
      .onConflict(['material_id', 'lot_number'])
      .ignore()
      .returning('*');
    if (inserted) {
      return { row: inserted, created: true };
    }
    row = await db<DbLotRow>('lots').where(key).first();
    if (!row) {
      throw rowVanished(`lot ${input.lotNumber}`);
    }
  }
  if (input.expiry !== undefined && row.expiry === null) {
    const [updated] = await db<DbLotRow>('lots').where({ id: row.id }).whereNull('expiry').update({ expiry: input.expiry, updated_at: db.fn.now() }).returning('*');
    return { row: updated ?? row, created: false };
  }
  if (input.expiry !== undefined && row.expiry !== input.expiry) {
    return { row, created: false, expiryMismatch: input.expiry };
  }
  return { row, created: false };
}
