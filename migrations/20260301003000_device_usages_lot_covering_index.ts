import type { Knex } from 'knex';

/**
 * `device_usages (lot_id)` becomes `(lot_id, id) INCLUDE (…)` with every column the forward trace
 * page (`pageRows`, src/trace/trace-page.ts) and the recall impact (src/trace/recall-impact.ts)
 * read of a usage, as `shipment_lines` has had since 20260301002200: a lot's hospital usages in key
 * order by an index-only scan (once the visibility map is set; usages are inserted and not updated,
 * so their pages stay all-visible after autovacuum), instead of a bitmap heap scan, a heap page per
 * usage and a sort per lot.
 *
 * Why: a lot's usages lie on as many heap pages as it has usages (they arrive in time order, among
 * every other lot's), and on a trace page that is not in shared buffers each one is a read. Measured
 * on the trace bench graph (100,000 usages; docs/architecture.md, "Runs of 2026-11-28, 06:45–"):
 * the page statement of a raw lot's first forward page, cold, 191–296 → 82–152 buffer reads and
 * 2.8–8.5 → 1.1–3.4 ms of read time. The index is 18 MB against 2 MB for 100,000 usages. Writes:
 * the HL7 DFT path inserts one wider entry per usage (measured in the same section).
 *
 * It replaces the old index (same leading column, so every look-up by lot_id keeps an index).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS device_usages_lot_id_id_covering_index ON device_usages (lot_id, id)
    INCLUDE (material_id, location_id, party_id, serial_id, used_at, used_at_offset, quantity, uom, procedure_code, procedure_ref_hmac)`);
  await knex.raw('DROP INDEX IF EXISTS device_usages_lot_id_index');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS device_usages_lot_id_index ON device_usages (lot_id)');
  await knex.raw('DROP INDEX IF EXISTS device_usages_lot_id_id_covering_index');
}
