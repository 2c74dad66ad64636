import type { Knex } from 'knex';

/**
 * Connector deliveries (src/delivery/connector-outbound.ts): the outbox events a connector sends to
 * a partner (`hl7.application_ack`, `edi.ack`, `edi.outbound`) are found by a partial index on
 * their creation time, so the poll that turns them into deliveries never scans the whole outbox.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX outbox_events_connector_delivery_idx ON outbox_events (created_at)
      WHERE type IN ('hl7.application_ack', 'edi.ack', 'edi.outbound')`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS outbox_events_connector_delivery_idx');
}
