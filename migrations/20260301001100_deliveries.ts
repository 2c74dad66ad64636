import type { Knex } from 'knex';

/**
 * Outbound deliveries (the `deliver` queue): one row per send a flow or a connector asked for, with
 * its destination (no secrets), status, attempts and the destination's answer (HTTP status, HL7 ACK,
 * file path). The body and any secret headers are kept encrypted (LOTBRIDGE_PHI_KEY) in `request`,
 * so a BullMQ job carries only the delivery id. `source_message_id` links a delivery back to the
 * inbound message whose event caused it: it is part of that message's lineage.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deliveries', (t) => {
    t.uuid('id').primary();
    t.text('idempotency_key').unique().comment('e.g. <event id>:<flow node id>: a re-delivered event never sends twice');
    t.uuid('event_id').comment('outbox_events.event_id that caused it, when any');
    t.text('event_type');
    t.uuid('source_message_id').comment('the inbound message behind the event, when any (lineage)');
    t.integer('ordinal').comment('ordinal of the causing outbox event on its message');
    t.text('origin').notNullable().comment('flow:<node id> or connector:<id>');
    t.text('kind').notNullable();
    t.text('destination_key').notNullable().comment('per-destination concurrency key: http://host:port, mllp://host:port, file:/dir');
    t.jsonb('destination').notNullable().comment('where to, without secrets');
    t.binary('request').notNullable().comment('AES-256-GCM blob of { body, secretHeaders }');
    t.text('status').notNullable().defaultTo('queued');
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('max_attempts').notNullable();
    t.jsonb('ack').comment('the answer: HTTP status + body head, HL7 MSA/ERR, file path');
    t.text('error_code');
    t.text('error_message');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('delivered_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check CHECK (status IN ('queued','delivering','delivered','failed','skipped'))`);
  await knex.raw(`ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check CHECK (kind IN ('http','mllp','file'))`);
  await knex.raw(`CREATE INDEX deliveries_message_idx ON deliveries (source_message_id) WHERE source_message_id IS NOT NULL`);
  await knex.raw(`CREATE INDEX deliveries_open_idx ON deliveries (updated_at) WHERE status IN ('queued','delivering')`);
  await knex.raw(`CREATE INDEX deliveries_event_idx ON deliveries (event_id) WHERE event_id IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deliveries');
}
