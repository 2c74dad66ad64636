import type { Knex } from 'knex';

/**
 * Audit digest version 2 (docs/architecture.md, "Audit hash chain").
 *
 * Version 1 hashed the `|`-joined fields with NULLs as empty strings: a field that contains `|`
 * can take text from its neighbour (actor 'a|b', action 'c' → actor 'a', action 'b|c') and NULL
 * reads as '' — edits the hash cannot see. It also left `seq` out, so seq values swapped between
 * rows of different chains (each chain still in order) went unnoticed.
 *
 * Version 2 hashes the JSON array (json_build_array) of the tag `lotbridge.audit.v2` and every
 * column but `hash`, in a fixed order: digest_version, seq, chain, chain_seq, at (epoch
 * microseconds), actor, action, entity_type, entity_id, before, after, reason, source_message_id,
 * prev_hash. JSON text decodes back to exactly one array: text is a quoted string with `"` and `\`
 * escaped, so it cannot reach into its neighbour; NULL is `null`, not `""`; numbers are numbers;
 * before/after are nested as their (canonical) jsonb text. Measured the cheapest of the unambiguous
 * encodings tried (per-field `<length>:<text>` in SQL cost about twice as much per row).
 *
 * The table stays append-only: rows written before this migration keep `digest_version = 1` and
 * are verified with the version 1 digest (lotbridge_audit_digest_v1, the old function renamed).
 * lotbridge_audit_digest(r) recomputes a row by its own version (NULL for an unknown version), so
 * the by-hand SQL keeps working. Every row from now on is version 2 (the trigger sets it,
 * whatever the insert says); lotbridge_audit_v2_from() is the highest seq written before, and a
 * version 1 row above it, or after a version 2 row of its chain, is a downgrade (`audit verify`).
 */
const seqNameOf = async (knex: Knex): Promise<string> =>
  (await knex.raw<{ rows: Array<{ s: string }> }>(`SELECT pg_get_serial_sequence('audit_log', 'seq') AS s`)).rows[0].s;

const chainTrigger = (seqName: string, version: 1 | 2): string => `
    CREATE OR REPLACE FUNCTION lotbridge_audit_chain() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE last_row record;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('lotbridge_audit:' || NEW.chain));
      NEW.seq := nextval('${seqName}');
      SELECT chain_seq, hash INTO last_row FROM audit_log WHERE chain = NEW.chain ORDER BY chain_seq DESC LIMIT 1;
      IF last_row IS NULL THEN
        NEW.chain_seq := 1;
        NEW.prev_hash := repeat('0', 64);
      ELSE
        NEW.chain_seq := last_row.chain_seq + 1;
        NEW.prev_hash := last_row.hash;
      END IF;
      NEW.at := coalesce(NEW.at, now());${version === 2 ? `
      NEW.digest_version := 2;
      NEW.hash := lotbridge_audit_digest_v2(NEW);` : `
      NEW.hash := lotbridge_audit_digest(NEW);`}
      RETURN NEW;
    END $$
  `;

export async function up(knex: Knex): Promise<void> {
  // existing rows get 1 without a table rewrite (a constant default); new rows 2
  await knex.raw(`ALTER TABLE audit_log ADD COLUMN digest_version smallint NOT NULL DEFAULT 1`);
  await knex.raw(`ALTER TABLE audit_log ALTER COLUMN digest_version SET DEFAULT 2`);
  await knex.raw(`ALTER TABLE audit_log ADD CONSTRAINT audit_log_digest_version_check CHECK (digest_version IN (1, 2))`);
  await knex.raw(`COMMENT ON COLUMN audit_log.digest_version IS 'how hash was computed: 1 = |-joined (rows before migration 20260301002800), 2 = JSON array of every column but hash'`);
  // ALTER TABLE holds an ACCESS EXCLUSIVE lock until this migration commits: every row written
  // before is committed by now, every row after comes through the new trigger
  const max = await knex.raw<{ rows: Array<{ m: string }> }>(`SELECT coalesce(max(seq), 0)::text AS m FROM audit_log`);
  await knex.raw(`CREATE OR REPLACE FUNCTION lotbridge_audit_v2_from() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT ${BigInt(max.rows[0].m).toString()}::bigint $$`);
  await knex.raw(`ALTER FUNCTION lotbridge_audit_digest(audit_log) RENAME TO lotbridge_audit_digest_v1`);
  // STABLE, not IMMUTABLE: convert_to is STABLE, and only a function no stricter than its body is
  // inlined into the query that calls it (an IMMUTABLE digest is a function call per row: measured
  // 6.7 µs a row for version 1 as it was, against ~3 µs inlined)
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_audit_digest_v2(r audit_log) RETURNS char(64)
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT encode(sha256(convert_to(json_build_array('lotbridge.audit.v2',
        r.digest_version, r.seq, r.chain, r.chain_seq, (extract(epoch FROM r.at) * 1000000)::bigint,
        r.actor, r.action, r.entity_type, r.entity_id, r.before, r.after, r.reason, r.source_message_id, r.prev_hash
      )::text, 'UTF8')), 'hex')
    $$
  `);
  await knex.raw(`ALTER FUNCTION lotbridge_audit_digest_v1(audit_log) STABLE`);
  // a row by its own version; NULL (never equal) for a version this code does not know
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_audit_digest(r audit_log) RETURNS char(64)
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT CASE r.digest_version WHEN 2 THEN lotbridge_audit_digest_v2(r) WHEN 1 THEN lotbridge_audit_digest_v1(r) END
    $$
  `);
  await knex.raw(chainTrigger(await seqNameOf(knex), 2));
  // CREATE OR REPLACE drops the function's SET clauses: the last-row look-up must stay the index probe (migration 20260301001000)
  await knex.raw(`ALTER FUNCTION lotbridge_audit_chain() SET enable_seqscan = off`);
}

/** Back to version 1 for every row: version 2 rows then no longer verify (their hashes stay what they were). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP FUNCTION IF EXISTS lotbridge_audit_digest(audit_log)`);
  await knex.raw(`ALTER FUNCTION lotbridge_audit_digest_v1(audit_log) IMMUTABLE`);
  await knex.raw(`ALTER FUNCTION lotbridge_audit_digest_v1(audit_log) RENAME TO lotbridge_audit_digest`);
  await knex.raw(chainTrigger(await seqNameOf(knex), 1));
  await knex.raw(`ALTER FUNCTION lotbridge_audit_chain() SET enable_seqscan = off`);
  await knex.raw(`DROP FUNCTION IF EXISTS lotbridge_audit_digest_v2(audit_log)`);
  await knex.raw(`DROP FUNCTION IF EXISTS lotbridge_audit_v2_from()`);
  await knex.raw(`ALTER TABLE audit_log DROP COLUMN digest_version`);
}
