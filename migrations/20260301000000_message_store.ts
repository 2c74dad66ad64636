import type { Knex } from 'knex';

/**
 * The message store: every inbound message's raw bytes and status, partitioned by month
 * (device traceability records are kept 10–15 years; old months detach cheaply), and the
 * dedup keys in their own unpartitioned table so a duplicate is caught across partitions.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE inbound_messages (
      id uuid NOT NULL,
      connector_id text NOT NULL,
      connector_kind text NOT NULL,
      format text NOT NULL,
      transport text NOT NULL DEFAULT 'http',
      message_type text,
      sender text,
      receiver text,
      control_id text,
      dedup_key text NOT NULL,
      sha256 char(64) NOT NULL,
      size_bytes integer NOT NULL,
      payload bytea,
      content_type text,
      encoding text,
      envelope jsonb NOT NULL DEFAULT '{}'::jsonb,
      received_at timestamptz NOT NULL,
      status text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      error_code text,
      error_message text,
      error_location jsonb,
      record_errors jsonb,
      result jsonb,
      ack text,
      duplicate_of uuid,
      processed_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT inbound_messages_status_check CHECK (status IN
        ('received','queued','processed','rejected','failed','duplicate','routed')),
      PRIMARY KEY (id, received_at)
    ) PARTITION BY RANGE (received_at)
  `);
  await knex.raw(`CREATE TABLE inbound_messages_default PARTITION OF inbound_messages DEFAULT`);
  await knex.raw(`CREATE INDEX inbound_messages_id_idx ON inbound_messages (id)`);
  await knex.raw(`CREATE INDEX inbound_messages_status_idx ON inbound_messages (status, received_at)
                  WHERE status IN ('received','queued','failed')`);
  await knex.raw(`CREATE INDEX inbound_messages_connector_idx ON inbound_messages (connector_id, received_at DESC)`);
  await knex.raw(`CREATE INDEX inbound_messages_control_idx ON inbound_messages (control_id) WHERE control_id IS NOT NULL`);
  // Creates the month partition holding `at` when missing. Called at start and daily by the maintenance job.
  await knex.raw(`
    CREATE OR REPLACE FUNCTION lotbridge_ensure_message_partition(at timestamptz) RETURNS text
    LANGUAGE plpgsql AS $$
    DECLARE
      start_month timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
      end_month timestamptz := (date_trunc('month', at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
      part text := 'inbound_messages_' || to_char(at AT TIME ZONE 'UTC', 'YYYYMM');
    BEGIN
      IF to_regclass(part) IS NULL THEN
        IF EXISTS (SELECT 1 FROM inbound_messages_default WHERE received_at >= start_month AND received_at < end_month) THEN
          RETURN NULL; -- rows already sit in the default partition for that month: leave them there
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF inbound_messages FOR VALUES FROM (%L) TO (%L)', part, start_month, end_month);
      END IF;
      RETURN part;
    END $$
  `);
  await knex.raw(`SELECT lotbridge_ensure_message_partition(now())`);
  await knex.raw(`SELECT lotbridge_ensure_message_partition(now() + interval '1 month')`);

  await knex.raw(`
    CREATE TABLE message_dedup (
      dedup_key text PRIMARY KEY,
      message_id uuid NOT NULL,
      connector_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS message_dedup');
  await knex.raw('DROP TABLE IF EXISTS inbound_messages CASCADE');
  await knex.raw('DROP FUNCTION IF EXISTS lotbridge_ensure_message_partition(timestamptz)');
}
