import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { rawNamed } from '../../db/named-statement';

/** A serial a set-based batch needs: found, or created in the lot and with the lineage given. */
export interface WantedSerial {
  materialId: string;
  serial: string;
  /** Lot of a serial created here (a serial already known keeps its row and lot, as findOrCreateSerial does). */
  lotId: string | null;
  /** Lineage of a serial created here. */
  messageId: string;
  /** Takes the lineage ordinal of a serial created here (called in key order, once per distinct serial). */
  nextOrdinal(): number;
}

/** The key of a serial in the map {@link findOrCreateSerialsBatch} answers. */
export const serialKey = (materialId: string, serial: string): string => `${materialId}\u0000${serial}`;

/**
 * Finds or creates the serials of a batch in one statement: the missing ones are inserted (in key
 * order, so concurrent batches take the unique index's locks in one order; the first wanted entry
 * of a serial gives its lot and lineage), the known ones read. A serial a concurrent transaction
 * inserted after the statement's snapshot is read on its own. Answers serialKey → id.
 * @throws Error when a serial vanished meanwhile (the batch rolls back and falls back)
 */
export async function findOrCreateSerialsBatch(trx: Knex.Transaction, wanted: readonly WantedSerial[]): Promise<Map<string, string>> {
  const first = new Map<string, WantedSerial>();
  for (const w of wanted) {
    const k = serialKey(w.materialId, w.serial);
    if (!first.has(k)) first.set(k, w);
  }
  const ids = new Map<string, string>();
  if (first.size === 0) return ids;
  const firsts = [...first.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, w]) => w);
  const r = await rawNamed<{ rows: Array<{ id: string; material_id: string; serial_number: string }> }>(trx,
    `WITH k AS (SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::uuid[], ?::uuid[], ?::int[]) AS t(id, material_id, serial_number, lot_id, source_message_id, ordinal)),
          ins AS (INSERT INTO serials (id, material_id, serial_number, lot_id, source_message_id, ordinal)
                  SELECT k.id, k.material_id, k.serial_number, k.lot_id, k.source_message_id, k.ordinal FROM k
                   WHERE NOT EXISTS (SELECT 1 FROM serials s WHERE s.material_id = k.material_id AND s.serial_number = k.serial_number)
                  ON CONFLICT (material_id, serial_number) DO NOTHING
                  RETURNING id, material_id, serial_number)
     SELECT id, material_id, serial_number FROM ins
     UNION ALL
     SELECT s.id, s.material_id, s.serial_number FROM serials s JOIN k ON s.material_id = k.material_id AND s.serial_number = k.serial_number`,
    [
      firsts.map(() => uuidv7()), firsts.map((w) => w.materialId), firsts.map((w) => w.serial), firsts.map((w) => w.lotId),
      firsts.map((w) => w.messageId), firsts.map((w) => w.nextOrdinal()),
    ] as unknown as string[],
  );
  for (const row of r.rows) ids.set(serialKey(row.material_id, row.serial_number), row.id);
  for (const w of firsts.filter((x) => !ids.has(serialKey(x.materialId, x.serial)))) {
    // inserted by a concurrent transaction after this statement's snapshot
    const row = await trx('serials').where({ material_id: w.materialId, serial_number: w.serial }).first<{ id: string } | undefined>('id');
    if (row) ids.set(serialKey(w.materialId, w.serial), row.id);
  }
  for (const w of firsts) {
    if (!ids.has(serialKey(w.materialId, w.serial))) throw new Error(`serial ${w.serial} vanished while it was resolved`);
  }
  return ids;
}
