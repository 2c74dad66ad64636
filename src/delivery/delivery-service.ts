import { EventEmitter } from 'node:events';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import type { PhiProtector } from '../security/phi';
import { LotBridgeError, isLotBridgeError } from '../errors';
import type { HubQueue, HubWorker, QueueKit } from '../pipeline/queue-kit';
import { QUEUES, type DeliverJobData } from '../pipeline/queues';
import { DestinationLimiter } from './destination-limiter';
import { DeliverySender } from './send-delivery';
import { GroupCommit } from '../ingest/group-commit';
import { deliverJobOptions, deliveryView, enqueueDeliveries, openRequest, type DbDeliveryRow, type DeliveryRequest, type DeliveryView } from './enqueue-delivery';

/** An answer of enqueueDeliveries (a value, or that request's own error) as a settled result. */
function settled<T>(r: T | Error): PromiseSettledResult<T> {
  return r instanceof Error ? { status: 'rejected', reason: r } : { status: 'fulfilled', value: r };
}

/** Options of {@link DeliveryService}. */
export interface DeliveryServiceOptions {
  db: Db;
  kit: QueueKit;
  phi: PhiProtector;
  logger: Logger;
  /** Deliveries sent at once by this process's worker (all destinations together). */
  concurrency: number;
  /** Pool for status updates after a send (may commit without waiting for the WAL flush: a lost update re-sends, at least once). */
  statusDb?: Db;
  stalledIntervalMs?: number;
  lockDurationMs?: number;
}

/** A delivery reached a final state: `delivered`, or `failed` after its attempts (or at once for a refusal). */
export type DeliveryOutcome = DeliveryView;

/**
 * The `deliver` queue: producers (`enqueue`) everywhere, a worker where `startWorker()` is called.
 * Emits `outcome` (DeliveryOutcome) when a delivery this process sent reaches a final state.
 */
export class DeliveryService extends EventEmitter {
  readonly queue: HubQueue;
  private worker?: HubWorker;
  private readonly limiter = new DestinationLimiter();
  private readonly sender = new DeliverySender();
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: DeliveryServiceOptions) {
    super();
    this.queue = opts.kit.queue(QUEUES.deliver, { producer: true });
  }

  /**
   * {@link enqueueDelivery} with group commit: requests that arrive while a batch is being written
   * (or in the same event-loop turn) go together in the next one (one INSERT, one commit, one bulk
   * job add), so concurrent flows share the WAL flush. Each caller's promise resolves only once its
   * row is committed and its job added, as with enqueueDelivery.
   */
  private readonly enqueuer = new GroupCommit<DeliveryRequest, { delivery: DeliveryView; created: boolean }>(
    async (reqs) => (await enqueueDeliveries({ db: this.opts.db, queue: this.queue, phi: this.opts.phi }, reqs)).map(settled),
    { maxBatch: 500, maxInFlight: 1, lingerMs: 'tick' },
  );

  /** {@link enqueueDelivery} on this process's deliver queue (group commit, see `enqueuer`). */
  enqueue(req: DeliveryRequest): Promise<{ delivery: DeliveryView; created: boolean }> {
    return this.enqueuer.submit(req);
  }

  /** One delivery by id, or undefined. */
  async get(id: string): Promise<DeliveryView | undefined> {
    const row = (await this.opts.db('deliveries').where({ id }).first()) as DbDeliveryRow | undefined;
    return row ? deliveryView(row) : undefined;
  }

  /** Starts the deliver worker and the sweeper that re-queues deliveries whose job was lost. */
  async startWorker(): Promise<void> {
    const log = this.opts.logger.child({ scope: 'deliver' });
    this.worker = this.opts.kit.worker<DeliverJobData>(QUEUES.deliver, (job) => this.process(job as Job<DeliverJobData>), {
      concurrency: this.opts.concurrency,
      stalledInterval: this.opts.stalledIntervalMs ?? 30000,
      lockDuration: this.opts.lockDurationMs ?? 30000,
      maxStalledCount: 5,
    });
    this.worker.on('error', (...args: unknown[]) => log.warn({ err: args[0] }, 'deliver worker error'));
    await this.worker.waitUntilReady();
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => log.warn({ err }, 'delivery sweep failed'));
    }, 30000);
    this.timer.unref();
    await this.sweep().catch((err: unknown) => log.warn({ err }, 'delivery sweep failed'));
  }

  /** Re-adds jobs of deliveries still `queued` a while after their last change (a re-add of a live job is a no-op). */
  async sweep(graceMs = 30000): Promise<number> {
    const rows = (await this.opts.db('deliveries')
      .whereIn('status', ['queued'])
      .where('updated_at', '<', new Date(Date.now() - graceMs))
      .orderBy('updated_at')
      .limit(1000)) as DbDeliveryRow[];
    for (const r of rows) {
      await this.queue.add(r.kind, { deliveryId: r.id }, deliverJobOptions(r.id, r.destination.policy));
    }
    return rows.length;
  }

  private async process(job: Job<DeliverJobData>): Promise<Record<string, unknown>> {
    const db = this.opts.db;
    const id = job.data.deliveryId;
    // first attempt of a job added right after its row's commit: the job carries the row's send data
    // (status queued, attempts 0); retries, stalled jobs and sweeper re-adds read the row
    const snap = job.data.row;
    const fresh = snap && job.attemptsMade === 0 && !((job as { stalledCounter?: number }).stalledCounter ?? 0);
    const row = fresh
      ? ({ id, kind: snap.kind, destination_key: snap.destinationKey, destination: snap.destination, request: Buffer.from(snap.request, 'base64'), event_id: snap.eventId, max_attempts: snap.maxAttempts, status: 'queued', attempts: 0 } as unknown as DbDeliveryRow)
      : ((await db('deliveries').where({ id }).first()) as DbDeliveryRow | undefined);
    if (!row) {
      throw new UnrecoverableError(`LB_ERR_DELIVERY_NOT_FOUND: no delivery ${id}`);
    }
    if (row.status !== 'queued' && row.status !== 'delivering') {
      return { status: row.status, already: true };
    }
    const attempt = row.attempts + 1;
    const log = this.opts.logger.child({ scope: 'deliver', deliveryId: id, attempt, destination: row.destination_key });
    const sdb = this.opts.statusDb ?? db;
    const { body, contentType, secrets } = openRequest(this.opts.phi, row);
    const policy = row.destination.policy;
    const release = await this.limiter.acquire(row.destination_key, policy.concurrency);
    let ack: Record<string, unknown>;
    try {
      ack = await this.sender.send({ deliveryId: id, eventId: row.event_id, destination: row.destination, body, contentType, secrets, timeoutMs: policy.timeoutMs });
    } catch (err) {
      const e = isLotBridgeError(err) ? err : new LotBridgeError('LB_ERR_DELIVERY_CONNECT', (err as Error).message, { cause: err });
      const final = e.kind !== 'transient' || attempt >= row.max_attempts;
      const answer = (e.details?.ack as Record<string, unknown> | undefined) ?? null;
      const change = { status: final ? 'failed' : 'queued', attempts: attempt, error_code: e.code, error_message: e.message, ack: answer ? JSON.stringify(answer) : null, updated_at: db.fn.now() };
      if (final) {
        // the failed status and its `delivery.failed` event commit together: a reader that sees
        // one sees the other, and a crash cannot keep the one without the other
        const updated = await db.transaction(async (trx) => {
          const [row] = (await trx('deliveries').where({ id }).update(change).returning('*')) as DbDeliveryRow[];
          await this.writeFailedEvent(trx, row);
          return row;
        });
        log.warn({ code: e.code, err: e.message }, 'delivery failed');
        this.emit('outcome', deliveryView(updated));
        throw new UnrecoverableError(`${e.code}: ${e.message}`);
      }
      await sdb('deliveries').where({ id }).update(change);
      log.info({ code: e.code, err: e.message }, 'delivery attempt failed; retrying');
      throw e;
    } finally {
      release();
    }
    const done = await this.markDelivered(id, attempt, ack);
    log.debug('delivered');
    this.emit('outcome', deliveryView(done));
    return { status: 'delivered' };
  }

  /**
   * Records `delivered` (group commit on the status pool): sends that finish while an update is
   * being written go together in the next one. The job completes only after its row is updated, so
   * a crash before that re-sends (at least once), as with one update per delivery.
   */
  private readonly deliveredWriter = new GroupCommit<{ id: string; attempt: number; ack: string }, DbDeliveryRow>(
    async (batch) => {
      const r = await (this.opts.statusDb ?? this.opts.db).raw<{ rows: DbDeliveryRow[] }>(
        `UPDATE deliveries d SET status = 'delivered', attempts = v.attempts, ack = v.ack::jsonb, error_code = NULL, error_message = NULL, delivered_at = now(), updated_at = now()
           FROM unnest(?::uuid[], ?::int[], ?::text[]) AS v(id, attempts, ack)
          WHERE d.id = v.id
        RETURNING d.*`,
        [batch.map((b) => b.id), batch.map((b) => b.attempt), batch.map((b) => b.ack)],
      );
      const byId = new Map(r.rows.map((x) => [x.id, x]));
      return batch.map((b) => {
        const row = byId.get(b.id);
        return row ? { status: 'fulfilled', value: row } : { status: 'rejected', reason: new LotBridgeError('LB_ERR_INTERNAL', `delivery ${b.id} vanished before it was marked delivered`) };
      });
    },
    { maxBatch: 500, maxInFlight: 1, lingerMs: 'tick' },
  );

  private markDelivered(id: string, attempt: number, ack: Record<string, unknown>): Promise<DbDeliveryRow> {
    return this.deliveredWriter.submit({ id, attempt, ack: JSON.stringify(ack) });
  }

  /** A failed delivery writes outbox event `delivery.failed` (an alert flow can pick it up). */
  private async writeFailedEvent(trx: Knex.Transaction, row: DbDeliveryRow): Promise<void> {
    await trx('outbox_events').insert({
      event_id: uuidv7(),
      type: 'delivery.failed',
      payload: JSON.stringify({ deliveryId: row.id, origin: row.origin, kind: row.kind, destination: row.destination_key, attempts: row.attempts, error: { code: row.error_code, message: row.error_message }, eventId: row.event_id, sourceMessageId: row.source_message_id }),
    });
  }

  /** Stops the worker (letting sends finish unless `force`), closes MLLP connections and the queue. */
  async close(force = false): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    clearInterval(this.timer);
    await this.worker?.close(force);
    await this.sender.close();
    await this.queue.close();
  }
}
