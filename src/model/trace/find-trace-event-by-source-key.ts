import type { Knex } from 'knex';

/**
 * The id of the trace event recorded for a source record (e.g. `wms:wms:WMS-000123`), if any:
 * a record whose event exists has had its effects already, in this message or another one.
 * @param db - the transaction
 * @param sourceKey - the source record's idempotency key
 */
export async function findTraceEventBySourceKey(db: Knex, sourceKey: string): Promise<string | undefined> {
  const row = await db('trace_events').where({ source_key: sourceKey }).first<{ id: string } | undefined>('id');
  return row?.id;
}
