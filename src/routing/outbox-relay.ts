import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import type { HubQueue } from '../pipeline/queue-kit';
import type { RouteJobData } from '../pipeline/queues';
import { PollingRelay } from './polling-relay';
import type { EventRouting } from './event-pattern';

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  db: Db;
  /** The `route` queue. */
  queue: HubQueue;
  logger: Logger;
  /** Whether some flow listens to this event now (others are passed over without a job). */
  wanted(type: string, routing: EventRouting): boolean;
  /** False while flows are (re)starting: the relay waits, so no event passes by a flow being deployed. */
  isOpen(): boolean;
  /** Poll interval when the outbox is empty (ms). */
  pollMs: number;
  /** Route job attempts (a flow error or timeout retries the event this often). */
  attempts: number;
  batchSize?: number;
}

/** The relay's row in `outbox_relay_position`. */
const RELAY = 'route';

/** Job options of a `route` job: jobId = outbox event id (a re-add is a no-op). */
export function routeJobOptions(eventId: string, attempts: number): Record<string, unknown> {
  return { jobId: eventId, attempts, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: true, removeOnFail: { age: 14 * 24 * 3600, count: 50000 } };
}

interface OutboxRow {
  id: string;
  event_id: string;
  type: string;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
  /** xid8 as text. */
  tx: string;
  connector_id: string | null;
  message_type: string | null;
}

interface Position {
  relayed: string;
  /** The batch under way, or a new one: this statement's snapshot. */
  batch: string;
  /** False when the batch starts with this tick. */
  open: boolean;
  after_tx: string | null;
  after_id: string | null;
}

/**
 * The events of a batch after a position in it: events whose transaction is visible in the batch's
 * snapshot and was not in the relayed snapshot (the batch before), after (afterTx, afterId), in
 * (tx, id) order. Those not visible in the relayed snapshot are the ones of transactions still open
 * then (its xip list) and those that started after it (tx ≥ its xmax): two ranges of the (tx, id)
 * index, so a tick reads only events not relayed yet, however long a transaction stays open. Only
 * the two payload fields routing looks at are read here; the payloads of the events a flow wants
 * are read afterwards.
 */
/** What a tick reads of an event (an OutboxRow): no payload, only the two fields routing filters on. */
const EVENT_COLUMNS = `e.id, e.event_id, e.type, e.source_message_id, e.ordinal, e.created_at, e.tx,
  e.payload->>'connectorId' AS connector_id, e.payload->>'messageType' AS message_type`;

const BATCH_EVENTS_SQL = `
  SELECT e.* FROM (
    (SELECT ${EVENT_COLUMNS}
       FROM outbox_events e
      WHERE e.tx = ANY(ARRAY(SELECT pg_snapshot_xip(?::pg_snapshot)))
        AND (e.tx, e.id) > (?::xid8, ?::bigint) AND pg_visible_in_snapshot(e.tx, ?::pg_snapshot)
      ORDER BY e.tx, e.id LIMIT ?::int)
    UNION ALL
    (SELECT ${EVENT_COLUMNS}
       FROM outbox_events e
      WHERE (e.tx, e.id) > (?::xid8, ?::bigint) AND e.tx < pg_snapshot_xmax(?::pg_snapshot)
        AND pg_visible_in_snapshot(e.tx, ?::pg_snapshot)
      ORDER BY e.tx, e.id LIMIT ?::int)
  ) e
  ORDER BY e.tx, e.id LIMIT ?::int`;
/** The names of BATCH_EVENTS_SQL's parameters, in order. */
const BATCH_EVENTS_PARAMS = ['relayed', 'afterTx', 'afterId', 'batch', 'limit', 'fromTx', 'fromId', 'batch', 'batch', 'limit', 'limit'] as const;

/** xmax of a pg_snapshot's text (`xmin:xmax:xip,…`). */
const snapshotXmax = (snapshot: string): bigint => BigInt(snapshot.split(':')[1]);

/**
 * Where the second range of BATCH_EVENTS_SQL starts: after (afterTx, afterId), and at tx ≥ the relayed
 * snapshot's xmax. One row bound, so that the index scan starts there (given a row bound and a
 * separate `tx >=` bound, PostgreSQL started at the row bound: from the index's start).
 */
function rangeStart(relayed: string, afterTx: string, afterId: string): { fromTx: string; fromId: string } {
  const xmax = snapshotXmax(relayed);
  return BigInt(afterTx) >= xmax ? { fromTx: afterTx, fromId: afterId } : { fromTx: String(xmax), fromId: '-1' };
}

/**
 * Moves outbox events to the `route` queue (transactional outbox), at least once and in the order
 * their transactions became visible, without writing to the events: the relay's place is a row of
 * `outbox_relay_position` (see migration 20260301002300). A tick, in one transaction: lock that row
 * (SKIP LOCKED: with several hubs, one relays at a time and the others find nothing to do); take a
 * batch snapshot unless a batch is under way; read up to `batchSize` events of the batch after the
 * position; add a job per event a flow listens to (jobId = event id); move the position on; commit.
 * A batch ends with the tick that takes its last events: its snapshot becomes the relayed one, and
 * the next tick starts a new batch. A crash between the job add and the commit re-adds the same job
 * ids later: at least once, never lost. Events no flow listens to get no job; they stay readable in
 * `outbox_events`.
 */
export class OutboxRelay extends PollingRelay {
  constructor(private readonly opts: OutboxRelayOptions) {
    super({ pollMs: opts.pollMs, batchSize: opts.batchSize ?? 500, logger: opts.logger, what: 'outbox relay' });
  }

  /** Relays one batch now; returns how many events it took. */
  async tick(): Promise<number> {
    if (!this.opts.isOpen()) {
      return 0;
    }
    const limit = this.opts.batchSize ?? 500;
    return this.opts.db.transaction(async (trx) => {
      const pos = (await trx.raw<{ rows: Position[] }>(
        `SELECT relayed::text, coalesce(batch, pg_current_snapshot())::text AS batch, batch IS NOT NULL AS open, after_tx::text, after_id::text
           FROM outbox_relay_position WHERE relay = ? FOR UPDATE SKIP LOCKED`,
        [RELAY],
      )).rows[0];
      if (!pos) {
        return 0; // another hub's relay holds the position (or the row is missing: see migration 20260301002300)
      }
      // one more than a tick takes: whether the batch has more after this tick
      const after = { afterTx: pos.after_tx ?? '0', afterId: pos.after_id ?? '0' };
      const at = { relayed: pos.relayed, batch: pos.batch, ...after, ...rangeStart(pos.relayed, after.afterTx, after.afterId), limit: limit + 1 };
      const rows = (await trx.raw<{ rows: OutboxRow[] }>(BATCH_EVENTS_SQL, BATCH_EVENTS_PARAMS.map((n) => at[n]))).rows;
      const more = rows.length > limit;
      if (more) rows.length = limit;
      if (rows.length === 0 && !pos.open) {
        return 0; // nothing new: the position stays as it is (no write while the hub is idle)
      }
      const wanted = rows.filter((r) => this.opts.wanted(r.type, { connectorId: r.connector_id ?? undefined, messageType: r.message_type ?? undefined }));
      if (wanted.length > 0) {
        const payloads = new Map(
          (await trx('outbox_events').whereIn('id', wanted.map((r) => r.id)).select('id', 'payload') as Array<{ id: string; payload: Record<string, unknown> }>)
            .map((p) => [String(p.id), p.payload]),
        );
        const jobs = wanted.map((r) => ({
          name: r.type,
          data: {
            eventId: r.event_id, type: r.type, payload: payloads.get(String(r.id)) ?? {}, sourceMessageId: r.source_message_id, ordinal: r.ordinal,
            createdAt: new Date(r.created_at).toISOString(),
          } satisfies RouteJobData,
          opts: routeJobOptions(r.event_id, this.opts.attempts),
        }));
        if (this.opts.queue.addBulk) {
          await this.opts.queue.addBulk(jobs);
        } else {
          for (const j of jobs) {
            await this.opts.queue.add(j.name, j.data as unknown as Record<string, unknown>, j.opts);
          }
        }
        this.opts.logger.debug({ events: rows.length, routed: jobs.length }, 'outbox events relayed');
      }
      const last = rows[rows.length - 1];
      if (!more) {
        // the batch is complete: everything visible in its snapshot has been relayed
        await trx.raw(
          `UPDATE outbox_relay_position SET relayed = ?::pg_snapshot, batch = NULL, after_tx = NULL, after_id = NULL, updated_at = now() WHERE relay = ?`,
          [pos.batch, RELAY],
        );
      } else {
        await trx.raw(
          `UPDATE outbox_relay_position SET batch = ?::pg_snapshot, after_tx = ?::xid8, after_id = ?, updated_at = now() WHERE relay = ?`,
          [pos.batch, last.tx, last.id, RELAY],
        );
      }
      return rows.length;
    });
  }
}
