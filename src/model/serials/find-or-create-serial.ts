import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbSerialRow, RowLineage } from '../../db/tables';
import { rowVanished } from '../row-vanished';

/**
 * Finds a serial number of a material, or creates it in the given lot.
 * @param db - the transaction
 * @param input - material, lot and serial number
 * @param lineage - message and ordinal for a created row
 */
export async function findOrCreateSerial(
  db: Knex,
  input: { materialId: string; lotId: string; serialNumber: string },
  lineage: RowLineage,
): Promise<{ row: DbSerialRow; created: boolean }> {
  const key = { material_id: input.materialId, serial_number: input.serialNumber };
  const found = await db<DbSerialRow>('serials').where(key).first();
  if (found) {
    return { row: found, created: false };
  }
  const [inserted] = await db<DbSerialRow>('serials')
    .insert({ id: uuidv7(), ...key, lot_id: input.lotId, source_message_id: lineage.sourceMessageId, ordinal: lineage.nextOrdinal() })
    .onConflict(['material_id', 'serial_number'])
    .ignore()
    .returning('*');
  const row = inserted ?? (await db<DbSerialRow>('serials').where(key).first());
  if (!row) {
    throw rowVanished(`serial ${input.serialNumber}`);
  }
  return { row, created: inserted !== undefined };
}
