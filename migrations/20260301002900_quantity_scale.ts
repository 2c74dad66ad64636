import type { Knex } from 'knex';

/**
 * Quantities of material are kept with 10 decimals (`numeric(28,10)`) instead of 4
 * (`numeric(18,4)`). Quantities are stored in the material's base unit, and a feed may count in a
 * much smaller one: 40 MG of a coating kept in KG is 0.00004 KG, which four decimals rounded to 0
 * — the consumption was booked as nothing, in the stock, the event item and the genealogy link.
 * Ten decimals hold a microgram of a kilogram material (1e-9) and a millilitre of a cubic metre,
 * and 18 integer digits keep every quantity the feeds accept (they refuse 1e14 base units and
 * more, see wms-stock-item.ts).
 *
 * Changing a numeric's scale rewrites each table and its indexes under an ACCESS EXCLUSIVE lock:
 * on a large database, run the migration in a maintenance window (it is one transaction; the
 * tables are read and written again once).
 *
 * Money (`invoices.total`) keeps its 4 decimals.
 */
export const QUANTITY_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['inventory_balances', 'quantity'],
  ['inventory_ledger', 'delta'],
  ['trace_event_items', 'quantity'],
  ['trace_event_items', 'base_quantity'],
  ['lot_links', 'quantity'],
  ['shipment_lines', 'quantity_expected'],
  ['shipment_lines', 'quantity_shipped'],
  ['shipment_lines', 'quantity_received'],
  ['po_lines', 'quantity'],
  ['po_lines', 'quantity_confirmed'],
  ['po_lines', 'quantity_received'],
  ['device_usages', 'quantity'],
  ['demand_history', 'quantity'],
  ['supply_requisitions', 'quantity'],
  ['supplier_stock_snapshots', 'quantity'],
  ['reorder_policies', 'demand_mean'],
  ['reorder_policies', 'demand_sd'],
  ['reorder_policies', 'safety_stock'],
  ['reorder_policies', 'reorder_point'],
  ['reorder_policies', 'max_stock'],
  ['reorder_policies', 'recommended_order_point'],
  ['reorder_policies', 'recommended_order_amount'],
];

async function retype(knex: Knex, type: string): Promise<void> {
  const byTable = new Map<string, string[]>();
  for (const [table, column] of QUANTITY_COLUMNS) byTable.set(table, [...(byTable.get(table) ?? []), column]);
  // one ALTER TABLE per table: its rows and indexes are rewritten once for all its columns
  for (const [table, columns] of byTable) {
    await knex.raw(`ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} TYPE ${type}`).join(', ')}`);
  }
}

export async function up(knex: Knex): Promise<void> {
  await retype(knex, 'numeric(28,10)');
}

export async function down(knex: Knex): Promise<void> {
  await retype(knex, 'numeric(18,4)');
}
