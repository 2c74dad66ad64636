import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import type { HubQueue } from '../pipeline/queue-kit';
import type { RouteJobData } from '../pipeline/queues';
import { PollingRelay } from './polling-relay';

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  db: Db;
  /** The `route` queue. */
  queue: HubQueue;
  logger: Logger;
  /** Which event types some flow listens to now (others are marked dispatched without a job). */
  wanted(type: string, payload: Record<string, unknown>): boolean;
  /** False while flows are (re)starting: the relay waits, so no event passes by a flow being deployed. */
  isOpen(): boolean;
  /** Poll interval when the outbox is empty (ms). */
  pollMs: number;
  /** Route job attempts (a flow error or timeout retries the event this often). */
  attempts: number;
  batchSize?: number;
}

/** Job options of a `route` job: jobId = outbox event id (a re-add is a no-op). */
export function routeJobOptions(eventId: string, attempts: number): Record<string, unknown> {
  return { jobId: eventId, attempts, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: true, removeOnFail: { age: 14 * 24 * 3600, count: 50000 } };
}

interface OutboxRow {
  id: string;
  event_id: string;
  type: string;
  payload: Record<string, unknown>;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
}

/**
 * Moves outbox events to the `route` queue (transactional outbox): in one transaction it locks a
 * batch of undispatched rows (SKIP LOCKED, so several hubs share the work), adds a job per event a
 * flow listens to (jobId = event id), then marks the batch dispatched and commits. A crash between
 * the job add and the commit re-adds the same job ids later: at least once, never lost. Events no
 * flow listens to are marked dispatched without a job; they stay readable in `outbox_events`.
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
      const rows = (await trx('outbox_events')
        .whereNull('dispatched_at')
        .orderBy('id')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .select('id', 'event_id', 'type', 'payload', 'source_message_id', 'ordinal', 'created_at')) as OutboxRow[];
      if (rows.length === 0) {
        return 0;
      }
      const jobs = rows
        .filter((r) => this.opts.wanted(r.type, r.payload))
        .map((r) => ({
          name: r.type,
          data: { eventId: r.event_id, type: r.type, payload: r.payload, sourceMessageId: r.source_message_id, ordinal: r.ordinal, createdAt: new Date(r.created_at).toISOString() } satisfies RouteJobData,
          opts: routeJobOptions(r.event_id, this.opts.attempts),
        }));
      if (jobs.length > 0) {
        if (this.opts.queue.addBulk) {
          await this.opts.queue.addBulk(jobs);
        } else {
          for (const j of jobs) {
            await this.opts.queue.add(j.name, j.data as unknown as Record<string, unknown>, j.opts);
          }
        }
      }
      await trx('outbox_events').whereIn('id', rows.map((r) => r.id)).update({ dispatched_at: trx.fn.now() });
      if (jobs.length > 0) {
        this.opts.logger.debug({ events: rows.length, routed: jobs.length }, 'outbox events relayed');
      }
      return rows.length;
    });
  }
}
