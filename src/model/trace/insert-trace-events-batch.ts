import type { Knex } from 'knex';

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

/**
 * Inserts the trace events of a set-based batch and the items of those inserted, in one statement
 * (a data-modifying CTE). An event whose source key another transaction recorded meanwhile is not
 * inserted (ON CONFLICT DO NOTHING); then this throws, so that the batch rolls back and its
 * messages go the one-by-one path, which sorts the duplicate out.
 * @param what - names the events in the error ("usage", "movement")
 */
export async function insertTraceEventsBatch(trx: Knex.Transaction, eventRows: TraceEventRow[], itemRows: Array<Record<string, unknown>>, what: string): Promise<void> {
  if (eventRows.length === 0) return;
  const col = (k: string): unknown[] => itemRows.map((i) => i[k]);
  const r = await trx.raw<{ rows: Array<{ n: number }> }>(
    `WITH e AS (?),
          i AS (INSERT INTO trace_event_items (event_id, role, material_id, lot_id, serial_id, quantity, uom, base_quantity)
                SELECT x.event_id, x.role, x.material_id, x.lot_id, x.serial_id, x.quantity, x.uom, x.base_quantity
                  FROM unnest(?::uuid[], ?::text[], ?::uuid[], ?::uuid[], ?::uuid[], ?::numeric[], ?::text[], ?::numeric[])
                       AS x(event_id, role, material_id, lot_id, serial_id, quantity, uom, base_quantity)
                  JOIN e ON e.id = x.event_id)
     SELECT count(*)::int AS n FROM e`,
    [
      trx('trace_events').insert(eventRows).onConflict().ignore().returning('id'),
      col('event_id'), col('role'), col('material_id'), col('lot_id'), col('serial_id'), col('quantity'), col('uom'), col('base_quantity'),
    ] as unknown as readonly Knex.RawBinding[],
  );
  const inserted = Number(r.rows[0].n);
  if (inserted !== eventRows.length) {
    throw new Error(`${eventRows.length - inserted} ${what} event(s) of the batch were recorded meanwhile`);
  }
}
