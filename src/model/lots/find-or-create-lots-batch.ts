import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbLotRow } from '../../db/tables';
import type { LotResolution } from './find-or-create-lot';
import { rawNamed } from '../../db/named-statement';

/** A lot a set-based batch needs, in the batch's order. */
export interface WantedLot {
  materialId: string;
  lot: string;
  /** Expiry the message states (YYYY-MM-DD), if any. */
  expiry?: string;
  /** Lineage of a lot created here. */
  messageId: string;
  /** Takes the lineage ordinal of a lot created here (called in key order, once per new lot). */
  nextOrdinal(): number;
}

const keyOf = (materialId: string, lot: string): string => `${materialId}\u0000${lot}`;

/**
 * The lots of (material, lot number) keys. A named prepared statement, so its columns are listed:
 * with `l.*` a column another hub's migration adds to `lots` while this process runs would change
 * the prepared statement's result type, and PostgreSQL refuses that statement on every connection
 * that prepared it ("cached plan must not change result type") until the process restarts.
 */
export const LOTS_BY_KEY_SQL =
  'SELECT l.id, l.material_id, l.lot_number, l.manufactured_at, l.expiry, l.status, l.provisional, l.source_message_id, l.ordinal, l.created_at, l.updated_at FROM lots l JOIN unnest(?::uuid[], ?::text[]) AS k(material_id, lot_number) ON l.material_id = k.material_id AND l.lot_number = k.lot_number';

/**
 * The lots of a batch, answered for each wanted entry in input order as findOrCreateLot would
 * have answered the messages one after another: one SELECT for all, one INSERT (provisional, in
 * key order, so concurrent batches take the unique index's locks in one order) for the missing
 * ones; the first entry of a new lot is `created`, every later one gets its missing expiry filled
 * or a different expiry reported as `expiryMismatch`. A lot a concurrent transaction inserted after
 * the statement's snapshot is read on its own.
 * @throws Error when a lot vanished meanwhile (the batch rolls back and falls back)
 */
export async function findOrCreateLotsBatch(trx: Knex.Transaction, wanted: readonly WantedLot[]): Promise<LotResolution[]> {
  const first = new Map<string, WantedLot>();
  for (const w of wanted) {
    const k = keyOf(w.materialId, w.lot);
    if (!first.has(k)) first.set(k, w);
  }
  const keys = [...first.values()];
  const found = await rawNamed<{ rows: DbLotRow[] }>(trx,
    LOTS_BY_KEY_SQL,
    [keys.map((w) => w.materialId), keys.map((w) => w.lot)] as unknown as string[],
  );
  const rows = new Map(found.rows.map((r) => [keyOf(r.material_id, r.lot_number), r]));
  const created = new Set<string>();
  const missing = keys
    .filter((w) => !rows.has(keyOf(w.materialId, w.lot)))
    .sort((a, b) => {
      const ka = keyOf(a.materialId, a.lot);
      const kb = keyOf(b.materialId, b.lot);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  if (missing.length > 0) {
    const inserted = await trx('lots')
      .insert(missing.map((w) => ({
        id: uuidv7(), material_id: w.materialId, lot_number: w.lot, expiry: w.expiry ?? null, provisional: true,
        source_message_id: w.messageId, ordinal: w.nextOrdinal(),
      })))
      .onConflict(['material_id', 'lot_number'])
      .ignore()
      .returning<DbLotRow[]>('*');
    for (const r of inserted) {
      const k = keyOf(r.material_id, r.lot_number);
      rows.set(k, r);
      created.add(k);
    }
    for (const w of missing.filter((x) => !rows.has(keyOf(x.materialId, x.lot)))) {
      // inserted by a concurrent transaction after this statement's snapshot
      const r = await trx<DbLotRow>('lots').where({ material_id: w.materialId, lot_number: w.lot }).first();
      if (r) rows.set(keyOf(r.material_id, r.lot_number), r);
    }
  }
  const out: LotResolution[] = [];
  const seen = new Set<string>();
  for (const w of wanted) {
    const k = keyOf(w.materialId, w.lot);
    const row = rows.get(k);
    if (!row) throw new Error(`lot ${w.lot} vanished while it was resolved`);
    if (created.has(k) && !seen.has(k)) {
      seen.add(k);
      out.push({ row, created: true });
      continue;
    }
    seen.add(k);
    if (w.expiry !== undefined && row.expiry === null) {
      const [updated]: DbLotRow[] = await trx<DbLotRow>('lots').where({ id: row.id }).whereNull('expiry').update({ expiry: w.expiry, updated_at: trx.fn.now() }).returning('*');
      const now = updated ?? row;
      rows.set(k, now);
      out.push({ row: now, created: false });
    } else if (w.expiry !== undefined && row.expiry !== w.expiry) {
      out.push({ row, created: false, expiryMismatch: w.expiry });
    } else {
      out.push({ row, created: false });
    }
  }
  return out;
}
