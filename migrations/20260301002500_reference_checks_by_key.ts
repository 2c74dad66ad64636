import type { Knex } from 'knex';
import { REFERENCING_TABLES, SET_BASED_REFERENCES, raiseMissingReference, referencingFunction as semiJoinFunction } from './20260301002400_set_based_reference_checks';

/**
 * The set-based reference checks (migration 20260301002400) look their ids up by primary key,
 * always.
 *
 * Their first form asked `r.id IN (SELECT n.col FROM new_rows n)`: a semi-join of the referenced
 * table with the statement's transition table. The planner knows little about a transition table,
 * and in some HL7 benchmark runs it chose a hash semi-join over a sequential scan of `serials` and
 * of `trace_events` for some statements: 2,300–3,100 serial rows and 1,100–1,500 trace event rows
 * read per message, against 22 and 11 in runs where it did not (`pg_stat_user_tables`, latency
 * phase at 500 msg/s, 2026-11-27). Those runs had ACK p99 13–14 ms and receipt → commit p99
 * 85–94 ms; the run without the scans 9.6 and 39.5 ms.
 *
 * Now the distinct ids are gathered into an array first and looked up with `id = ANY(ids)`:
 * an index scan of the primary key whatever the sizes, one descent per distinct id. Same
 * guarantee, same locks (`FOR KEY SHARE`), same error fields.
 */
function byKeyFunction(table: string): string {
  const refs = SET_BASED_REFERENCES.filter(([t]) => t === table);
  const checks = refs.map(([, col, ref, fk]) => `
  SELECT array_agg(DISTINCT n.${col}) INTO ids FROM new_rows n WHERE n.${col} IS NOT NULL;
  IF ids IS NOT NULL THEN
    SELECT count(*) INTO found FROM (SELECT 1 FROM ${ref} r WHERE r.id = ANY (ids) FOR KEY SHARE OF r) k;
    IF found < cardinality(ids) THEN
      SELECT m::text INTO missing FROM unnest(ids) m WHERE NOT EXISTS (SELECT 1 FROM ${ref} r WHERE r.id = m) LIMIT 1;
${raiseMissingReference(table, col, ref, fk)}
    END IF;
  END IF;`).join('\n');
  return `CREATE OR REPLACE FUNCTION lb_refs_${table}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE ids uuid[]; found bigint; missing text;
BEGIN${checks}
  RETURN NULL;
END
$fn$`;
}

export async function up(knex: Knex): Promise<void> {
  for (const table of REFERENCING_TABLES) {
    await knex.raw(byKeyFunction(table));
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of REFERENCING_TABLES) {
    await knex.raw(semiJoinFunction(table));
  }
}
