import type { Knex } from 'knex';

/**
 * The outbox relay (src/routing/outbox-relay.ts) keeps its place in the outbox as a position — the
 * PostgreSQL snapshot up to which it has relayed every event — instead of marking each event
 * dispatched. Every outbox event carries the id of the transaction that wrote it (`tx`, the column
 * default `pg_current_xact_id()`); an event is relayed once its transaction is visible in the
 * relay's batch snapshot and was not visible in the snapshot of the batch before (the technique of
 * PgQ's batches), so events of a long transaction are neither skipped nor held up by it.
 *
 * The per-event `UPDATE … SET dispatched_at` this replaces could not be a HOT update (the pending
 * index's predicate names the column): a second heap tuple and three index entries per event, about
 * two events per pipeline message.
 *
 * Events written before this migration keep their state: those already dispatched get `tx` 1 and
 * those still pending `tx` 2, and the position starts at the snapshot `2:2:` (transaction 1 visible,
 * 2 and every real transaction id, which start above 2, not yet), so the pending ones are relayed
 * first, in id order, and then the new ones.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox_events ADD COLUMN tx xid8');
  await knex.raw(`UPDATE outbox_events SET tx = (CASE WHEN dispatched_at IS NULL THEN '2' ELSE '1' END)::xid8`);
  await knex.raw('ALTER TABLE outbox_events ALTER COLUMN tx SET DEFAULT pg_current_xact_id(), ALTER COLUMN tx SET NOT NULL');
  await knex.raw(`COMMENT ON COLUMN outbox_events.tx IS 'id of the transaction that wrote the event (the outbox relay''s position is a snapshot of these)'`);
  await knex.raw('CREATE INDEX outbox_events_tx_idx ON outbox_events (tx, id)');
  await knex.raw('DROP INDEX IF EXISTS outbox_events_pending_idx');
  await knex.raw('ALTER TABLE outbox_events DROP COLUMN dispatched_at');
  await knex.raw(`
    CREATE TABLE outbox_relay_position (
      relay text PRIMARY KEY,
      relayed pg_snapshot NOT NULL,
      batch pg_snapshot,
      after_tx xid8,
      after_id bigint,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((after_tx IS NULL) = (after_id IS NULL)),
      CHECK (batch IS NOT NULL OR after_tx IS NULL)
    )`);
  await knex.raw(`COMMENT ON TABLE outbox_relay_position IS 'where a relay of outbox_events stands: every event whose tx is visible in "relayed" was relayed; while a batch is under way ("batch": its snapshot), also those visible in it up to (after_tx, after_id)'`);
  await knex.raw(`INSERT INTO outbox_relay_position (relay, relayed) VALUES ('route', '2:2:')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE outbox_events ADD COLUMN dispatched_at timestamptz');
  await knex.raw(`
    UPDATE outbox_events e SET dispatched_at = now()
      FROM outbox_relay_position p
     WHERE p.relay = 'route'
       AND (pg_visible_in_snapshot(e.tx, p.relayed)
            OR (p.batch IS NOT NULL AND pg_visible_in_snapshot(e.tx, p.batch) AND (e.tx, e.id) <= (p.after_tx, p.after_id)))`);
  await knex.raw('CREATE INDEX outbox_events_pending_idx ON outbox_events (id) WHERE dispatched_at IS NULL');
  await knex.raw('DROP TABLE outbox_relay_position');
  await knex.raw('DROP INDEX IF EXISTS outbox_events_tx_idx');
  await knex.raw('ALTER TABLE outbox_events DROP COLUMN tx');
}
