import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { RowLineage } from '../../db/tables';
import type { DbMaterialRow } from '../master-data/master-data.types';
import { rowVanished } from '../row-vanished';

/**
 * Creates the provisional material of a GTIN no master data knows yet: code `GTIN-<gtin>`,
 * kind finished, the given base unit, and the GTIN as its `each` identifier (1 base unit), so the
 * master-data upsert that later names this GTIN adopts it. When another transaction created it
 * first, returns that one (`created` false). When master data gave the GTIN to another material
 * meanwhile, the row made here is removed again and that material is returned (`created` false):
 * the result is always the material that holds the GTIN.
 * @param db - the transaction
 * @param input - the 14-digit GTIN and the base unit of measure the feed counts in
 * @param lineage - message and ordinal for the created row
 */
export async function createProvisionalMaterial(
  db: Knex,
  input: { gtin: string; baseUom: string },
  lineage: RowLineage,
): Promise<{ row: DbMaterialRow; created: boolean }> {
  const code = `GTIN-${input.gtin}`;
  const [inserted] = await db<DbMaterialRow>('materials')
    .insert({
      id: uuidv7(),
      code,
      kind: 'finished',
      base_uom: input.baseUom,
      provisional: true,
      source_message_id: lineage.sourceMessageId,
      ordinal: lineage.nextOrdinal(),
    })
    .onConflict('code')
    .ignore()
    .returning('*');
  const row = inserted ?? (await db<DbMaterialRow>('materials').where({ code }).first());
  if (!row) {
    throw rowVanished(`material ${code}`);
  }
  const [claimed] = await db('material_identifiers')
    .insert({ material_id: row.id, scheme: 'gtin', value: input.gtin, packaging_level: 'each', quantity_per_level: 1 })
    .onConflict(['scheme', 'value'])
    .ignore()
    .returning<Array<{ material_id: string }>>('material_id');
  const owner = claimed ?? (await db('material_identifiers').where({ scheme: 'gtin', value: input.gtin }).first<{ material_id: string } | undefined>('material_id'));
  if (owner !== undefined && owner.material_id !== row.id) {
    if (inserted) {
      await db('materials').where({ id: row.id, provisional: true }).delete();
    }
    const holder = await db<DbMaterialRow>('materials').where({ id: owner.material_id }).first();
    if (!holder) {
      throw rowVanished(`material holding GTIN ${input.gtin}`);
    }
    return { row: holder, created: false };
  }
  return { row, created: inserted !== undefined };
}
