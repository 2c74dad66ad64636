import type { Knex } from 'knex';

/**
 * The append-only, hash-chained audit log (the database refuses UPDATE, DELETE and TRUNCATE;
 * each row's hash covers its content and the previous row's hash in its chain), the outbox that
 * feeds the `route` queue, and API keys / console users.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE audit_log (
      seq bigserial PRIMARY KEY,
      chain text NOT NULL,
      chain_seq bigint NOT NULL,
      at timestamptz NOT NULL DEFAULT now(),
      actor text NOT NULL,
      action text NOT NULL,
      entity_type text NOT NULL,
      entity_id text,
      before jsonb,
      after jsonb,
      reason text,
      source_message_id uuid,
      prev_hash char(64) NOT NULL,
      hash char(64) NOT NULL,
      UNIQUE (chain, chain_seq)
    )
  `);
  await knex.raw(`CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id)`);
  await knex.raw(`CREATE INDEX audit_log_message_idx ON audit_log (source_message_id) WHERE source_message_id IS NOT NULL`);
  // The text a row's hash covers. Timestamps as epoch microseconds, so the session TimeZone never matters.
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_audit_digest(r audit_log) RETURNS char(64)
    LANGUAGE sql IMMUTABLE AS $$
      SELECT encode(sha256(convert_to(concat_ws('|',
        r.prev_hash, r.chain, r.chain_seq::text, (extract(epoch FROM r.at) * 1000000)::bigint::text,
        r.actor, r.action, r.entity_type, coalesce(r.entity_id, ''), coalesce(r.before::text, ''),
        coalesce(r.after::text, ''), coalesce(r.reason, ''), coalesce(r.source_message_id::text, '')
      ), 'UTF8')), 'hex')
    $$
  `);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_audit_chain() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE last_row record;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext('lotbridge_audit:' || NEW.chain));
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
  `);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_audit_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$
  `);
  await knex.raw(`CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION lotbridge_audit_chain()`);
  await knex.raw(`CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION lotbridge_audit_refuse()`);
  await knex.raw(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION lotbridge_audit_refuse()`);

  await knex.schema.createTable('outbox_events', (t) => {
    t.bigIncrements('id');
    t.uuid('event_id').notNullable().unique();
    t.text('type').notNullable().comment('e.g. inventory.moved, lot.created, alert.opened');
    t.jsonb('payload').notNullable();
    t.uuid('source_message_id');
    t.integer('ordinal');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('dispatched_at', { useTz: true });
    t.unique(['source_message_id', 'ordinal']);
  });
  await knex.raw(`CREATE INDEX outbox_events_pending_idx ON outbox_events (id) WHERE dispatched_at IS NULL`);

  await knex.schema.createTable('api_keys', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.text('role').notNullable();
    t.text('key_prefix').notNullable().comment('first characters, to recognise a key in lists');
    t.string('key_hash', 64).notNullable().unique().comment('sha256 of the key');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('ingest','operator','admin','auditor'))`);

  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary();
    t.text('username').notNullable().unique();
    t.text('role').notNullable();
    t.text('password_hash').notNullable().comment('scrypt$N$r$p$salt$hash');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('disabled_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('ingest','operator','admin','auditor'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('users');
  await knex.schema.dropTableIfExists('api_keys');
  await knex.schema.dropTableIfExists('outbox_events');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_audit_digest(audit_log)');
  await knex.raw('DROP TABLE IF EXISTS audit_log');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_audit_chain()');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_audit_refuse()');
}
