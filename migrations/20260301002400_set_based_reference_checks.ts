import type { Knex } from 'knex';

/**
 * Set-based reference checks for the fact tables the pipeline writes a batch at a time.
 *
 * PostgreSQL checks a foreign key row by row: an AFTER trigger event per row and column, and for
 * each an index look-up of the referenced row and a KEY SHARE lock on it (a WAL record). A
 * DFT^P03 writes about 20 such references (its serial, trace event and item, device usage and
 * demand row), nearly all to the same few materials, locations and parties. Measured: 20,000 rows
 * with six foreign keys took 0.76–1.28 s to insert against 0.05–0.08 s without them and 0.13 s
 * with the statement-level check below; in the HL7 benchmark dropping these foreign keys took
 * PostgreSQL's CPU per message from 0.78–0.82 to 0.61–0.68 ms (three alternating runs each, a
 * machine at about half its quiet speed; 2026-11-27).
 *
 * So the 16 foreign keys below are replaced by triggers that give the same guarantee once per
 * statement, set-based:
 *
 * - **Referencing side** (`lb_refs_<table>`, AFTER INSERT and AFTER UPDATE FOR EACH STATEMENT,
 *   with the statement's new rows as a transition table): for each reference column, the distinct
 *   ids the statement wrote must exist, and they are locked `FOR KEY SHARE` until the transaction
 *   ends — the lock the foreign-key trigger takes, so a concurrent delete of a referenced row waits
 *   for this transaction and then fails its own check. A missing id raises `foreign_key_violation`
 *   (23503) with the foreign key's own name, message and detail.
 * - **Referenced side** (`lb_refd_<table>`, AFTER DELETE FOR EACH STATEMENT on materials, locations,
 *   parties, lots, serials and trace_events): a deleted id that a fact row still references raises
 *   23503 as `NO ACTION` would; and their `id` cannot be updated (a BEFORE UPDATE OF id row
 *   trigger), so no reference can be left behind by a key change. The deleting statement must run
 *   at READ COMMITTED (every LotBridge statement does): its check then sees the rows of a
 *   transaction it waited for.
 * - `TRUNCATE` of a referenced table stays refused: each one is still the target of other foreign
 *   keys (shipment lines, lot links, recall rows …), which PostgreSQL checks for TRUNCATE.
 *
 * `trace_event_items.event_id` keeps its foreign key (ON DELETE CASCADE), and inventory_ledger and
 * inventory_balances keep theirs (the stock import's bulk path relies on their being plain
 * foreign keys; see src/model/stock/import-stock-csv.ts).
 */

/** [table, column, referenced table, foreign key name] */
export const SET_BASED_REFERENCES: ReadonlyArray<readonly [string, string, string, string]> = [
  ['serials', 'material_id', 'materials', 'serials_material_id_foreign'],
  ['serials', 'lot_id', 'lots', 'serials_lot_id_foreign'],
  ['serials', 'location_id', 'locations', 'serials_location_id_foreign'],
  ['trace_events', 'location_id', 'locations', 'trace_events_location_id_foreign'],
  ['trace_event_items', 'material_id', 'materials', 'trace_event_items_material_id_foreign'],
  ['trace_event_items', 'lot_id', 'lots', 'trace_event_items_lot_id_foreign'],
  ['trace_event_items', 'serial_id', 'serials', 'trace_event_items_serial_id_foreign'],
  ['device_usages', 'trace_event_id', 'trace_events', 'device_usages_trace_event_id_foreign'],
  ['device_usages', 'material_id', 'materials', 'device_usages_material_id_foreign'],
  ['device_usages', 'lot_id', 'lots', 'device_usages_lot_id_foreign'],
  ['device_usages', 'serial_id', 'serials', 'device_usages_serial_id_foreign'],
  ['device_usages', 'location_id', 'locations', 'device_usages_location_id_foreign'],
  ['device_usages', 'party_id', 'parties', 'device_usages_party_id_foreign'],
  ['demand_history', 'material_id', 'materials', 'demand_history_material_id_foreign'],
  ['demand_history', 'location_id', 'locations', 'demand_history_location_id_foreign'],
  ['demand_history', 'party_id', 'parties', 'demand_history_party_id_foreign'],
];

const unique = (xs: string[]): string[] => [...new Set(xs)];

/** The tables whose references are checked set-based (each has one `lb_refs_<table>` function). */
export const REFERENCING_TABLES: readonly string[] = unique(SET_BASED_REFERENCES.map(([t]) => t));

/** The foreign key's own error for an id in `missing` that the referenced table lacks (PL/pgSQL, inside a check). */
export function raiseMissingReference(table: string, col: string, ref: string, fk: string): string {
  return `      RAISE EXCEPTION 'insert or update on table "${table}" violates foreign key constraint "${fk}"'
        USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (${col})=(%s) is not present in table "${ref}".', missing),
              TABLE = '${table}', COLUMN = '${col}', CONSTRAINT = '${fk}';`;
}

/** The referencing side of one table: every reference column checked and locked, once per statement. */
export function referencingFunction(table: string): string {
  const refs = SET_BASED_REFERENCES.filter(([t]) => t === table);
  const checks = refs.map(([, col, ref, fk]) => `
  SELECT count(DISTINCT n.${col}) INTO wanted FROM new_rows n WHERE n.${col} IS NOT NULL;
  IF wanted > 0 THEN
    SELECT count(*) INTO found FROM (SELECT 1 FROM ${ref} r WHERE r.id IN (SELECT n.${col} FROM new_rows n) FOR KEY SHARE OF r) k;
    IF found < wanted THEN
      SELECT n.${col}::text INTO missing FROM new_rows n
       WHERE n.${col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${ref} r WHERE r.id = n.${col}) LIMIT 1;
${raiseMissingReference(table, col, ref, fk)}
    END IF;
  END IF;`).join('\n');
  return `CREATE OR REPLACE FUNCTION lb_refs_${table}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE wanted bigint; found bigint; missing text;
BEGIN${checks}
  RETURN NULL;
END
$fn$`;
}

/** The referenced side of one table: a deleted id still referenced by a fact row is refused. */
function referencedFunction(ref: string): string {
  const refs = SET_BASED_REFERENCES.filter(([, , r]) => r === ref);
  const checks = refs.map(([table, col, , fk]) => `
  SELECT o.id::text INTO hit FROM old_rows o WHERE EXISTS (SELECT 1 FROM ${table} f WHERE f.${col} = o.id) LIMIT 1;
  IF hit IS NOT NULL THEN
    RAISE EXCEPTION 'update or delete on table "${ref}" violates foreign key constraint "${fk}" on table "${table}"'
      USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (id)=(%s) is still referenced from table "${table}".', hit),
            TABLE = '${table}', CONSTRAINT = '${fk}';
  END IF;`).join('\n');
  return `CREATE OR REPLACE FUNCTION lb_refd_${ref}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE hit text;
BEGIN${checks}
  RETURN NULL;
END
$fn$`;
}

export async function up(knex: Knex): Promise<void> {
  for (const [table, , , fk] of SET_BASED_REFERENCES) {
    await knex.raw(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${fk}`);
  }
  for (const table of REFERENCING_TABLES) {
    await knex.raw(referencingFunction(table));
    await knex.raw(`CREATE TRIGGER lb_refs_insert AFTER INSERT ON ${table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lb_refs_${table}()`);
    await knex.raw(`CREATE TRIGGER lb_refs_update AFTER UPDATE ON ${table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lb_refs_${table}()`);
  }
  await knex.raw(`CREATE OR REPLACE FUNCTION lb_refd_keep_id() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.id IS DISTINCT FROM OLD.id THEN
    RAISE EXCEPTION 'the id of a row of "%" never changes (fact rows reference it)', TG_TABLE_NAME
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'id';
  END IF;
  RETURN NEW;
END
$fn$`);
  for (const ref of unique(SET_BASED_REFERENCES.map(([, , r]) => r))) {
    await knex.raw(referencedFunction(ref));
    await knex.raw(`CREATE TRIGGER lb_refd_delete AFTER DELETE ON ${ref} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lb_refd_${ref}()`);
    await knex.raw(`CREATE TRIGGER lb_refd_keep_id BEFORE UPDATE OF id ON ${ref} FOR EACH ROW EXECUTE FUNCTION lb_refd_keep_id()`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const ref of unique(SET_BASED_REFERENCES.map(([, , r]) => r))) {
    await knex.raw(`DROP TRIGGER IF EXISTS lb_refd_delete ON ${ref}`);
    await knex.raw(`DROP TRIGGER IF EXISTS lb_refd_keep_id ON ${ref}`);
    await knex.raw(`DROP FUNCTION IF EXISTS lb_refd_${ref}()`);
  }
  await knex.raw('DROP FUNCTION IF EXISTS lb_refd_keep_id()');
  for (const table of REFERENCING_TABLES) {
    await knex.raw(`DROP TRIGGER IF EXISTS lb_refs_insert ON ${table}`);
    await knex.raw(`DROP TRIGGER IF EXISTS lb_refs_update ON ${table}`);
    await knex.raw(`DROP FUNCTION IF EXISTS lb_refs_${table}()`);
  }
  for (const [table, col, ref, fk] of SET_BASED_REFERENCES) {
    await knex.raw(`ALTER TABLE ${table} ADD CONSTRAINT ${fk} FOREIGN KEY (${col}) REFERENCES ${ref}(id)`);
  }
}
