import type { Knex } from 'knex';

/**
 * Trace, recall and audit-anchor support:
 * - `audit_anchors`: periodic snapshots of every audit chain's head (chain, chain_seq, seq, hash),
 *   themselves hash-chained and append-only, so truncating a chain's tail is detected by `audit
 *   verify` (each anchor is also written to the log, chain `anchor`).
 * - recalls: a readable number from a sequence, the requester's role, the requested body;
 *   recall_lots say whether a lot was named (→ recalled) or derived (→ on_hold) and its new status;
 *   recall_serials for serials named in a recall.
 * - indexes the forward/backward trace needs (serial number look-up, usages by serial, shipment lines by serial).
 */
const CHAIN_TRIGGER_BODY = (seqLine: string): string => `
    CREATE OR REPLACE FUNCTION lotbridge_audit_chain() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE last_row record;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('lotbridge_audit:' || NEW.chain));${seqLine}
      SELECT chain_seq, hash INTO last_row FROM audit_log WHERE chain = NEW.chain ORDER BY chain_seq DESC LIMIT 1;
      IF last_row IS NULL THEN
        NEW.chain_seq := 1;
        NEW.prev_hash := repeat('0', 64);
      ELSE
        NEW.chain_seq := last_row.chain_seq + 1;
        NEW.prev_hash := last_row.hash;
      END IF;
      NEW.at := coalesce(NEW.at, now());
      NEW.hash := lotbridge_audit_digest(NEW);
      RETURN NEW;
    END $$
  `;

export async function up(knex: Knex): Promise<void> {
  // seq is drawn under the chain's lock, so within a chain seq grows with chain_seq even when
  // transactions append to one chain concurrently (the column default drew it before the lock);
  // audit verify can then detect reordered rows. Rows written before this migration keep their
  // seq: lotbridge_audit_ordered_from() is the highest seq of that time, and the order check
  // starts after it.
  const seqName = (await knex.raw<{ rows: Array<{ s: string }> }>(`SELECT pg_get_serial_sequence('audit_log', 'seq') AS s`)).rows[0].s;
  // the trigger draws seq, so the column default (which would draw one more before the lock) goes
  await knex.raw(`ALTER TABLE audit_log ALTER COLUMN seq DROP DEFAULT`);
  await knex.raw(CHAIN_TRIGGER_BODY(`
      NEW.seq := nextval('${seqName}');`));
  // The last-row look-up must always be the index probe: a plan cached while audit_log was small
  // (a sequential scan + sort) made every insert scan the whole chain — quadratic in a long batch
  // (measured: 4,000 rows took 1.5 s instead of 0.1 s; 50,000 rows ran for minutes).
  await knex.raw(`ALTER FUNCTION lotbridge_audit_chain() SET enable_seqscan = off`);
  const max = await knex.raw<{ rows: Array<{ m: string }> }>(`SELECT coalesce(max(seq), 0)::text AS m FROM audit_log`);
  await knex.raw(`CREATE OR REPLACE FUNCTION lotbridge_audit_ordered_from() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT ${BigInt(max.rows[0].m).toString()}::bigint $$`);
  await knex.raw(`
    CREATE TABLE audit_anchors (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      max_seq bigint NOT NULL,
      heads jsonb NOT NULL,
      prev_hash char(64) NOT NULL,
      hash char(64) NOT NULL
    )
  `);
  await knex.raw(`COMMENT ON TABLE audit_anchors IS 'chain heads of audit_log at a point in time; append-only, hash-chained'`);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_anchor_digest(r audit_anchors) RETURNS char(64)
    LANGUAGE sql IMMUTABLE AS $$
      SELECT encode(sha256(convert_to(concat_ws('|',
        r.prev_hash, r.id::text, (extract(epoch FROM r.at) * 1000000)::bigint::text, r.max_seq::text, r.heads::text
      ), 'UTF8')), 'hex')
    $$
  `);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_anchor_chain() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE last_hash char(64);
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('lotbridge_audit_anchor'));
      SELECT hash INTO last_hash FROM audit_anchors ORDER BY id DESC LIMIT 1;
      NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
      NEW.at := coalesce(NEW.at, now());
      NEW.hash := lotbridge_anchor_digest(NEW);
      RETURN NEW;
    END $$
  `);
  await knex.raw(`CREATE TRIGGER audit_anchors_chain BEFORE INSERT ON audit_anchors FOR EACH ROW EXECUTE FUNCTION lotbridge_anchor_chain()`);
  await knex.raw(`CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE OR DELETE ON audit_anchors FOR EACH ROW EXECUTE FUNCTION lotbridge_audit_refuse()`);
  await knex.raw(`CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors FOR EACH STATEMENT EXECUTE FUNCTION lotbridge_audit_refuse()`);

  await knex.raw(`CREATE SEQUENCE recall_number_seq`);
  await knex.schema.alterTable('recalls', (t) => {
    t.text('opened_role').comment('role of the API key or "cli"');
    t.jsonb('request').comment('the body as requested (lots, serials, reason, class)');
    t.integer('lot_count');
  });
  await knex.raw(`ALTER TABLE recalls ADD CONSTRAINT recalls_class_check CHECK (class IS NULL OR class IN ('I','II','III'))`);
  await knex.raw(`ALTER TABLE recalls ADD CONSTRAINT recalls_status_check CHECK (status IN ('open','closed','cancelled'))`);
  await knex.schema.alterTable('recall_lots', (t) => {
    t.text('role').notNullable().defaultTo('named').comment('named (recalled) | derived (on hold)');
    t.text('new_status');
    t.integer('depth').notNullable().defaultTo(0);
  });
  await knex.raw(`ALTER TABLE recall_lots ADD CONSTRAINT recall_lots_role_check CHECK (role IN ('named','derived'))`);
  await knex.raw(`CREATE INDEX recall_lots_lot_idx ON recall_lots (lot_id)`);
  await knex.schema.createTable('recall_serials', (t) => {
    t.uuid('recall_id').notNullable().references('recalls.id').onDelete('CASCADE');
    t.uuid('serial_id').notNullable().references('serials.id');
    t.text('previous_status');
    t.primary(['recall_id', 'serial_id']);
  });

  await knex.raw(`CREATE INDEX IF NOT EXISTS serials_serial_number_idx ON serials (serial_number)`);
  await knex.raw(`CREATE INDEX IF NOT EXISTS shipment_lines_serial_idx ON shipment_lines (serial_id) WHERE serial_id IS NOT NULL`);
  await knex.raw(`CREATE INDEX IF NOT EXISTS trace_event_items_serial_idx ON trace_event_items (serial_id) WHERE serial_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS trace_event_items_serial_idx');
  await knex.raw('DROP INDEX IF EXISTS shipment_lines_serial_idx');
  await knex.raw('DROP INDEX IF EXISTS serials_serial_number_idx');
  await knex.schema.dropTableIfExists('recall_serials');
  await knex.raw('DROP INDEX IF EXISTS recall_lots_lot_idx');
  await knex.raw('ALTER TABLE recall_lots DROP CONSTRAINT IF EXISTS recall_lots_role_check');
  await knex.schema.alterTable('recall_lots', (t) => {
    t.dropColumns('role', 'new_status', 'depth');
  });
  await knex.raw('ALTER TABLE recalls DROP CONSTRAINT IF EXISTS recalls_status_check');
  await knex.raw('ALTER TABLE recalls DROP CONSTRAINT IF EXISTS recalls_class_check');
  await knex.schema.alterTable('recalls', (t) => {
    t.dropColumns('opened_role', 'request', 'lot_count');
  });
  await knex.raw('DROP SEQUENCE IF EXISTS recall_number_seq');
  await knex.raw('DROP TRIGGER IF EXISTS audit_anchors_chain ON audit_anchors');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_anchor_chain()');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_anchor_digest(audit_anchors)');
  await knex.raw('DROP TABLE IF EXISTS audit_anchors');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_audit_ordered_from()');
  await knex.raw(CHAIN_TRIGGER_BODY(''));
  await knex.raw(`ALTER FUNCTION lotbridge_audit_chain() RESET enable_seqscan`);
  const seqName = (await knex.raw<{ rows: Array<{ s: string }> }>(`SELECT pg_get_serial_sequence('audit_log', 'seq') AS s`)).rows[0].s;
  await knex.raw(`ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('${seqName}'::regclass)`);
}
