import type { Knex } from 'knex';
import { rawNamed } from '../../db/named-statement';
import { columnArrays, columnList, unnestOf, type ColumnTypes } from '../../db/unnest-columns';

/** One trace_events row of a set-based batch (columns as in the table). */
export type TraceEventRow = Record<string, unknown> & { id: string };

/** An item of a canonical trace event (schemas/canonical trace event `items`). */
export interface TraceItem {
  role: string;
  materialId: string;
  lotId: string | null;
  serialId?: string | null;
  quantity: number;
  uom: string;
  baseQuantity: number | null;
}

/** The trace_event_items rows of an event's canonical items. */
export function traceItemRows(eventId: string, items: readonly TraceItem[]): Array<Record<string, unknown>> {
  return items.map((i) => ({ event_id: eventId, role: i.role, material_id: i.materialId, lot_id: i.lotId, serial_id: i.serialId ?? null, quantity: i.quantity, uom: i.uom, base_quantity: i.baseQuantity }));
}

const TRACE_EVENT_COLUMNS: ColumnTypes = [
  ['id', 'uuid'], ['type', 'text'], ['action', 'text'], ['biz_step', 'text'], ['disposition', 'text'], ['event_time', 'timestamptz'],
  ['event_time_zone_offset', 'text'], ['location_id', 'uuid'], ['read_point', 'text'], ['biz_transactions', 'jsonb'], ['sensor_readings', 'jsonb'],
  ['details', 'jsonb'], ['source_key', 'text'], ['source_message_id', 'uuid'], ['ordinal', 'int'],
];
const TRACE_ITEM_COLUMNS: ColumnTypes = [
  ['event_id', 'uuid'], ['role', 'text'], ['material_id', 'uuid'], ['lot_id', 'uuid'], ['serial_id', 'uuid'], ['quantity', 'numeric'], ['uom', 'text'], ['base_quantity', 'numeric'],
];

/**
 * The CTEs `e` (the events inserted; one whose source key another transaction recorded meanwhile is
 * skipped: ON CONFLICT DO NOTHING) and `i` (the items of the events inserted), for a statement of
 * its own or a larger one (`WITH ${TRACE_EVENTS_CTES}, …`). Binds traceEventArrays' arrays.
 */
export const TRACE_EVENTS_CTES = `e AS (
       INSERT INTO trace_events (${columnList(TRACE_EVENT_COLUMNS)}) SELECT * FROM ${unnestOf(TRACE_EVENT_COLUMNS)}
       ON CONFLICT DO NOTHING
       RETURNING id
     ), i AS (
       INSERT INTO trace_event_items (${columnList(TRACE_ITEM_COLUMNS)})
       SELECT t.* FROM ${unnestOf(TRACE_ITEM_COLUMNS)} JOIN e ON e.id = t.event_id
     )`;

/** The bindings of TRACE_EVENTS_CTES. */
export function traceEventArrays(eventRows: readonly TraceEventRow[], itemRows: ReadonlyArray<Record<string, unknown>>): unknown[][] {
  return [...columnArrays(eventRows, TRACE_EVENT_COLUMNS), ...columnArrays(itemRows, TRACE_ITEM_COLUMNS)];
}

/** Throws when fewer events were inserted than the batch holds (see insertTraceEventsBatch). */
export function checkEventsInserted(inserted: number, eventRows: readonly TraceEventRow[], what: string): void {
  if (inserted !== eventRows.length) {
    throw new Error(`${eventRows.length - inserted} ${what} event(s) of the batch were recorded meanwhile`);
  }
}

const INSERT_EVENTS_SQL = `WITH ${TRACE_EVENTS_CTES} SELECT count(*)::int AS n FROM e`;

/**
 * Inserts the trace events of a set-based batch and the items of those inserted, in one statement
 * (data-modifying CTEs, a named prepared statement). An event whose source key another transaction
 * recorded meanwhile is not inserted; then this throws, so that the batch rolls back and its
 * messages go the one-by-one path, which sorts the duplicate out.
 * @param what - names the events in the error ("usage", "movement")
 */
export async function insertTraceEventsBatch(trx: Knex.Transaction, eventRows: TraceEventRow[], itemRows: Array<Record<string, unknown>>, what: string): Promise<void> {
  if (eventRows.length === 0) return;
  const r = await rawNamed<{ rows: Array<{ n: number }> }>(trx, INSERT_EVENTS_SQL, traceEventArrays(eventRows, itemRows));
  checkEventsInserted(Number(r.rows[0].n), eventRows, what);
}
