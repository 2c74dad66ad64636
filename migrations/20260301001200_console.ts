import type { Knex } from 'knex';

/**
 * The support console: login sessions, bulk jobs (reprocess all matching a search), the link from an
 * edited copy to its original, "resolved" marks on messages, and the indexes the message browser's
 * searches need on a large message store (every search pages newest-first by id, a time-ordered uuidv7).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_sessions', (t) => {
    t.text('token_hash').primary().comment('sha256 hex of the session cookie value (the cookie itself is never stored)');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('csrf_token').notNullable().comment('synchronizer token: every state-changing console request must carry it');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.text('remote_address');
    t.index(['user_id']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('console_jobs', (t) => {
    t.uuid('id').primary();
    t.text('kind').notNullable().comment('reprocess');
    t.jsonb('query').notNullable().comment('the search the job works through');
    t.text('status').notNullable().defaultTo('queued');
    t.integer('total').comment('matching messages when the job started (null while counting)');
    t.integer('done').notNullable().defaultTo(0);
    t.integer('skipped').notNullable().defaultTo(0);
    t.text('cursor').comment('last message id handled (the job resumes after it)');
    t.text('error');
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.boolean('cancel_requested').notNullable().defaultTo(false);
  });
  await knex.raw(`ALTER TABLE console_jobs ADD CONSTRAINT console_jobs_status_check CHECK (status IN ('queued','running','done','cancelled','failed'))`);

  await knex.raw(`ALTER TABLE inbound_messages
    ADD COLUMN edit_of uuid,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolved_by text,
    ADD COLUMN resolution_note text`);
  // search indexes: equality on one column, newest first (id is a uuidv7: its order is receipt order)
  await knex.raw(`CREATE INDEX inbound_messages_c_connector_idx ON inbound_messages (connector_id, id DESC)`);
  await knex.raw(`CREATE INDEX inbound_messages_c_status_idx ON inbound_messages (status, id DESC)`);
  await knex.raw(`CREATE INDEX inbound_messages_c_type_idx ON inbound_messages (message_type, id DESC)`);
  await knex.raw(`CREATE INDEX inbound_messages_c_sender_idx ON inbound_messages (sender, id DESC)`);
  await knex.raw(`CREATE INDEX inbound_messages_c_format_idx ON inbound_messages (format, id DESC)`);
  await knex.raw(`CREATE INDEX inbound_messages_c_control_idx ON inbound_messages (control_id text_pattern_ops, id DESC) WHERE control_id IS NOT NULL`);
  await knex.raw(`CREATE INDEX inbound_messages_c_error_idx ON inbound_messages (error_code, id DESC) WHERE error_code IS NOT NULL`);
  await knex.raw(`CREATE INDEX inbound_messages_c_edit_idx ON inbound_messages (edit_of) WHERE edit_of IS NOT NULL`);
  // time ranges: rows arrive in time order, so a BRIN index is small and cheap to keep up at intake
  await knex.raw(`CREATE INDEX inbound_messages_c_received_brin ON inbound_messages USING brin (received_at)`);
  // lineage search by serial uses serials_serial_number_idx and trace_event_items_serial_idx (trace migration 20260301001000)
}

export async function down(knex: Knex): Promise<void> {
  for (const ix of ['connector', 'status', 'type', 'sender', 'format', 'control', 'error', 'edit']) {
    await knex.raw(`DROP INDEX IF EXISTS inbound_messages_c_${ix}_idx`);
  }
  await knex.raw('DROP INDEX IF EXISTS inbound_messages_c_received_brin');
  await knex.raw('ALTER TABLE inbound_messages DROP COLUMN IF EXISTS edit_of, DROP COLUMN IF EXISTS resolved_at, DROP COLUMN IF EXISTS resolved_by, DROP COLUMN IF EXISTS resolution_note');
  await knex.schema.dropTableIfExists('console_jobs');
  await knex.schema.dropTableIfExists('console_sessions');
}
