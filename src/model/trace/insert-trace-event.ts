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
  const insertEvent = db('trace_events')
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
  // One statement: the items are inserted only when the event was (they join the event insert's RETURNING).
  const r = await db.raw<{ rows: Array<{ id: string }> }>(
    `WITH e AS (?),
     i AS (INSERT INTO trace_event_items (event_id, role, material_id, lot_id, serial_id, quantity, uom, base_quantity)
           SELECT e.id, x.role, x.material_id, x.lot_id, x.serial_id, x.quantity, x.uom, x.base_quantity
             FROM e CROSS JOIN unnest(?::text[], ?::uuid[], ?::uuid[], ?::uuid[], ?::numeric[], ?::text[], ?::numeric[])
                  WITH ORDINALITY AS x(role, material_id, lot_id, serial_id, quantity, uom, base_quantity, n)
            ORDER BY x.n)
     SELECT id FROM e`,
    [
      insertEvent,
      items.map((i) => i.role),
      items.map((i) => i.material_id ?? null),
      items.map((i) => i.lot_id ?? null),
      items.map((i) => i.serial_id ?? null),
      items.map((i) => i.quantity ?? null),
      items.map((i) => i.uom ?? null),
      items.map((i) => i.base_quantity ?? null),
    ] as unknown as readonly Knex.RawBinding[],
  );
  return r.rows.length === 0 ? undefined : id;
}
