import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { RowLineage } from '../../db/tables';
import type { NewAlert } from './open-alert';
import { rawNamed } from '../../db/named-statement';

/**
 * Opens many alerts in one statement, each unless an open alert with its dedup key exists (the
 * first of equal keys wins). Rows go in dedup-key order, so concurrent batches take the unique
 * index's locks in one order. Lineage ordinals are taken only for the alerts written.
 * @returns per input index, the new alert's id (absent when an open alert with its key existed)
 */
export async function openAlerts(db: Knex, items: ReadonlyArray<{ alert: NewAlert; lineage: RowLineage }>): Promise<Map<number, string>> {
  const firstOfKey = new Map<string, number>();
  items.forEach((it, i) => {
    if (!firstOfKey.has(it.alert.dedupKey)) firstOfKey.set(it.alert.dedupKey, i);
  });
  const order = [...firstOfKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, i]) => i);
  const out = new Map<number, string>();
  if (order.length === 0) return out;
  // which keys are open already: their rows are not written (and take no ordinal)
  const open = new Set(
    (await rawNamed<{ rows: Array<{ dedup_key: string }> }>(db, "SELECT dedup_key FROM alerts WHERE status = 'open' AND dedup_key = ANY(?::text[])", [order.map((i) => items[i].alert.dedupKey)])).rows.map((r) => r.dedup_key),
  );
  const todo = order.filter((i) => !open.has(items[i].alert.dedupKey));
  if (todo.length === 0) return out;
  const rows = todo.map((i) => {
    const { alert: a, lineage } = items[i];
    return {
      id: uuidv7(), type: a.type, severity: a.severity, subject_type: a.subjectType, subject_id: a.subjectId, message: a.message.slice(0, 2000),
      details: a.details === null ? null : JSON.stringify(a.details), dedup_key: a.dedupKey, source_message_id: lineage.sourceMessageId, ordinal: lineage.nextOrdinal(),
    };
  });
  const inserted = await db('alerts')
    .insert(rows)
    .onConflict(db.raw("(dedup_key) WHERE status = 'open' AND dedup_key IS NOT NULL"))
    .ignore()
    .returning<Array<{ id: string; dedup_key: string }>>(['id', 'dedup_key']);
  const idOfKey = new Map(inserted.map((r) => [r.dedup_key, r.id]));
  for (const i of todo) {
    const id = idOfKey.get(items[i].alert.dedupKey);
    if (id) out.set(i, id);
  }
  return out;
}
