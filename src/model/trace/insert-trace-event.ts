import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { DbTraceEventItemRow, DbTraceEventRow } from '../../db/tables';

/** A trace event to insert (ids, record time and lineage are filled in here). */
export type NewTraceEvent = Omit<DbTraceEventRow, 'id' | 'record_time'>;

/** An item of a new trace event. */
export type NewTraceEventItem = Omit<DbTraceEventItemRow, 'id' | 'event_id'>;

/**
 * Inserts a trace event and its items, unless an event with the same `source_key` (the same source
 * record, from any message) or the same `(source_message_id, ordinal)` exists.
 * @param db - the transaction
 * @param event - the event row
 * @param items - the lots/serials it touched
 * @returns the new event's id, or undefined when it existed (nothing was written)
 */
export async function insertTraceEvent(db: Knex, event: NewTraceEvent, items: NewTraceEventItem[]): Promise<string | undefined> {
  const id = uuidv7();
  const inserted = await db('trace_events')
    .insert({
      ...event,
      id,
      biz_transactions: JSON.stringify(event.biz_transactions),
      sensor_readings: event.sensor_readings === null ? null : JSON.stringify(event.sensor_readings),
      details: event.details === null ? null : JSON.stringify(event.details),
    })
    .onConflict()
    .ignore()
    .returning('id');
  if (inserted.length === 0) {
    return undefined;
  }
  if (items.length > 0) {
    await db('trace_event_items').insert(items.map((i) => ({ ...i, event_id: id })));
  }
  return id;
}
