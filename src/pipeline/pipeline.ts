import type { JobsOptions } from 'bullmq';
import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import type { Enqueue, EnqueueMany } from '../ingest/ingest-service';
import { createIngestProcessor } from './ingest.worker';
import type { ProcessDeps } from './process-message';
import { isOwnWorker, type HubQueue, type HubWorker, type QueueKit } from './queue-kit';
import { QUEUES } from './queues';
import { sweep } from './sweeper';
import { LocalHandoff } from './local-handoff';

/** Job options of every `ingest` job: jobId = message id (a re-add is a no-op), exponential backoff. */
export function ingestJobOptions(maxAttempts: number): JobsOptions {
  return {
    attempts: maxAttempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: true,
    removeOnFail: { age: 14 * 24 * 3600, count: 50000 },
  };
}

export interface PipelineOptions {
  db: Db;
  logger: Logger;
  kit: QueueKit;
  processDeps: ProcessDeps;
  concurrency: number;
  maxAttempts: number;
  sweepIntervalMs: number;
  sweepGraceMs: number;
  /** How often BullMQ looks for jobs of dead workers (ms). */
  stalledIntervalMs?: number;
  /** How long a worker's lock on an active job lasts without renewal (ms); a killed worker's jobs return after it. */
  lockDurationMs?: number;
  /** Observes each ingest job's run time (metrics). */
  onJobDone?: (seconds: number, outcome: 'completed' | 'failed') => void;
  /**
   * Take messages the intake hands over directly (LOTBRIDGE_PIPELINE_HANDOFF): most messages in one
   * of its batches (0: no local hand-off; every message goes through the queue).
   */
  handOffBatchMax?: number;
}

/**
 * Batches of the local hand-off running at once. The second starts only when a full batch waits
 * (a backlog): at moderate load one batch at a time takes everything handed over meanwhile, and
 * under a backlog the next batch is mapped while the one ahead writes and commits (measured: see
 * docs/architecture.md "Local hand-off").
 */
export const HANDOFF_IN_FLIGHT = 2;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** Owns the queues and workers of one process: producers for intake, workers for `lotbridge start|worker`. */
export class Pipeline {
  readonly ingestQueue: HubQueue;
  private readonly maintenanceQueue: HubQueue;
  private workers: HubWorker[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** The local hand-off, while this process runs ingest workers with it on. */
  private local?: LocalHandoff;

  constructor(private readonly opts: PipelineOptions) {
    this.ingestQueue = opts.kit.queue(QUEUES.ingest, { producer: true });
    this.maintenanceQueue = opts.kit.queue(QUEUES.maintenance, { producer: true });
  }

  /**
   * How many workers of other processes (a `lotbridge worker`, another hub) consume the `ingest`
   * queue now: Redis lists every connected worker with its process's name (PROCESS_WORKER_NAME).
   * Undefined where that cannot be told (BullMQ's PostgreSQL backend, a Redis without CLIENT LIST).
   */
  async otherIngestConsumers(): Promise<number | undefined> {
    if (this.opts.kit.opts.kind !== 'redis' || !this.ingestQueue.getWorkers) return undefined;
    try {
      const workers = await this.ingestQueue.getWorkers();
      return workers.filter((w) => !isOwnWorker(w.rawname)).length;
    } catch {
      return undefined;
    }
  }

  /** Every queue of this pipeline (for the queue dashboard). */
  queues(): HubQueue[] {
    return [this.ingestQueue, this.maintenanceQueue];
  }

  /** Options of an `ingest` job with this process's LOTBRIDGE_PIPELINE_MAX_ATTEMPTS. */
  jobOptions(): JobsOptions {
    return ingestJobOptions(this.opts.maxAttempts);
  }

  /** Enqueue for the IngestService: fails fast (≤ 3 s) so intake never hangs on the queue. */
  readonly enqueue: Enqueue = async (messageId, jobName, { connectorId }) => {
    await withTimeout(
      this.ingestQueue.add(jobName, { messageId, connectorId }, { ...ingestJobOptions(this.opts.maxAttempts), jobId: messageId }),
      3000,
      'enqueue',
    );
  };

  /**
   * Enqueue for a group commit: one message keeps its own job (jobId = message id); several go in
   * one job processed in one canonical transaction (see processBatch). Fails fast like `enqueue`.
   */
  readonly enqueueMany: EnqueueMany = async (items) => {
    if (items.length === 1) {
      const [one] = items;
      await this.enqueue(one.messageId, one.jobName, { connectorId: one.connectorId, fifoGroup: one.fifoGroup });
      return;
    }
    await withTimeout(
      this.ingestQueue.add('batch', { messageIds: items.map((i) => i.messageId) }, { ...ingestJobOptions(this.opts.maxAttempts), jobId: `batch-${items[0].messageId}` }),
      3000,
      'enqueue',
    );
  };

  /**
   * Hands stored messages straight to this process's batch processor (see LocalHandoff): as many
   * of `messageIds` (from the front) as fit under `limit` messages held. Returns how many it took
   * (0 when there is none here: no workers, hand-off off, closing) and a promise that resolves when
   * they are finished; the caller enqueues the rest, so other workers share a backlog.
   */
  handOff(messageIds: readonly string[], limit = Infinity): { taken: number; done: Promise<void> } {
    if (!this.local || this.closed) {
      return { taken: 0, done: Promise.resolve() };
    }
    const taken = Math.max(0, Math.min(messageIds.length, limit - this.local.pending));
    return { taken, done: taken > 0 ? this.local.submit(messageIds.slice(0, taken)) : Promise.resolve() };
  }

  /** Counters of the local hand-off (undefined when it is off here). */
  get handOffStats(): { handedOff: number; processed: number; fellBack: number; pending: number } | undefined {
    return this.local ? { ...this.local.stats, pending: this.local.pending } : undefined;
  }

  /** Queues one message as its own job after a delay (a FIFO message from a batch whose predecessor is still open). */
  private async requeueLater(messageId: string, delayMs: number): Promise<void> {
    const old = await this.ingestQueue.getJob(messageId);
    if (old) {
      const state = await old.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'active' || state === 'prioritized') {
        return;
      }
      await old.remove();
    }
    await this.ingestQueue.add('fifo', { messageId }, { ...ingestJobOptions(this.opts.maxAttempts), jobId: messageId, delay: delayMs });
  }

  /** Starts the ingest and maintenance workers and schedules the repeatable sweeper; sweeps once now. */
  async startWorkers(): Promise<void> {
    const log = this.opts.logger.child({ scope: 'pipeline' });
    // While this process's local pipeline holds hand-offs, its queue batches map only their own
    // messages: a claim (status queued, attempts 0) would take handed-off messages the local batch
    // is about to lock, which it then skips and re-queues one by one (measured under a saturating
    // load: more transactions and Redis jobs per message). Otherwise (no hand-offs now, or a
    // `lotbridge worker` process) batches claim as before.
    const deps = this.opts.processDeps;
    const claimLimit = (): number | undefined => (this.local && this.local.pending > 0 ? 0 : deps.claimUpTo);
    const process = createIngestProcessor(deps, this.opts.maxAttempts, log, (messageId, delayMs) => this.requeueLater(messageId, delayMs), claimLimit);
    const onJobDone = this.opts.onJobDone;
    const timed: typeof process = onJobDone
      ? async (job, token) => {
          const t0 = performance.now();
          try {
            const r = await process(job, token);
            onJobDone((performance.now() - t0) / 1000, 'completed');
            return r;
          } catch (err) {
            onJobDone((performance.now() - t0) / 1000, 'failed');
            throw err;
          }
        }
      : process;
    const ingest = this.opts.kit.worker(QUEUES.ingest, timed, {
      concurrency: this.opts.concurrency,
      stalledInterval: this.opts.stalledIntervalMs ?? 30000,
      lockDuration: this.opts.lockDurationMs ?? 30000,
      maxStalledCount: 5,
    });
    ingest.on('failed', (...args: unknown[]) => {
      const [job, err] = args as [{ id?: string } | undefined, Error];
      log.warn({ jobId: job?.id, err: err?.message }, 'ingest job failed');
    });
    ingest.on('error', (...args: unknown[]) => log.warn({ err: args[0] }, 'ingest worker error'));
    if (this.opts.handOffBatchMax && this.opts.handOffBatchMax > 0) {
      this.local = new LocalHandoff({
        deps: { ...this.opts.processDeps, logger: log },
        logger: log,
        maxBatch: this.opts.handOffBatchMax,
        maxInFlight: HANDOFF_IN_FLIGHT,
        fallback: (items) => this.fallBack(items),
        onBatchDone: this.opts.onJobDone,
      });
    }
    const maintenance = this.opts.kit.worker(
      QUEUES.maintenance,
      async (job) => {
        if (job.name === 'sweep') {
          return { requeued: await this.sweepNow() };
        }
        if (job.name === 'partitions') {
          await this.opts.db.raw("SELECT lotbridge_ensure_message_partition(now() + interval '1 month')");
          return { ok: true };
        }
        return { ignored: job.name };
      },
      { concurrency: 1 },
    );
    maintenance.on('error', (...args: unknown[]) => log.warn({ err: args[0] }, 'maintenance worker error'));
    this.workers.push(ingest, maintenance);
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    await this.scheduleMaintenance();
    // the schedules live in the queue backend: if Redis loses its data they are gone, so every
    // worker process re-asserts them (an idempotent upsert) on a timer of its own
    this.timer = setInterval(() => {
      this.scheduleMaintenance().catch((err: unknown) => log.warn({ err }, 'could not re-assert the maintenance schedules'));
    }, this.opts.sweepIntervalMs);
    this.timer.unref();
    await this.sweepNow().catch((err: unknown) => log.warn({ err }, 'start-up sweep failed'));
  }

  /**
   * Messages of the local hand-off that need the queue: a retry (its first attempt is spent: the
   * job has one attempt less, and starts after the first backoff), a FIFO wait, or a batch that
   * could not finish. Also used by the main thread for the hand-offs of a thread that died.
   */
  async fallBack(items: ReadonlyArray<{ messageId: string; outcome: 'retry' | 'wait' | 'error' }>): Promise<void> {
    for (const it of items) {
      if (it.outcome === 'wait') {
        await this.requeueLater(it.messageId, 200);
        continue;
      }
      const opts = ingestJobOptions(it.outcome === 'retry' ? Math.max(1, this.opts.maxAttempts - 1) : this.opts.maxAttempts);
      await withTimeout(
        this.ingestQueue.add('handoff', { messageId: it.messageId }, { ...opts, jobId: it.messageId, ...(it.outcome === 'retry' ? { delay: 1000 } : {}) }),
        3000,
        'enqueue',
      );
    }
  }

  private async scheduleMaintenance(): Promise<void> {
    await this.maintenanceQueue.upsertJobScheduler('sweeper', { every: this.opts.sweepIntervalMs }, { name: 'sweep' });
    await this.maintenanceQueue.upsertJobScheduler('partitions', { every: 24 * 3600 * 1000 }, { name: 'partitions' });
  }

  /** Re-enqueues stranded messages now. */
  sweepNow(graceMs = this.opts.sweepGraceMs): Promise<number> {
    return sweep(this.opts.db, this.ingestQueue, this.opts.logger.child({ scope: 'sweeper' }), { graceMs, maxAttempts: this.opts.maxAttempts });
  }

  /** Ready when the queue backend answers. */
  async ping(): Promise<void> {
    await withTimeout(this.ingestQueue.getJobCounts('waiting'), 2000, 'queue ping');
  }

  /** Lets active jobs finish (unless `force`), then closes workers and queues. Idempotent. */
  async close(force = false): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    clearInterval(this.timer);
    if (!force) {
      // what was handed over finishes first (the intake has stopped handing over by now)
      await this.local?.drained();
    }
    await Promise.all(this.workers.map((w) => w.close(force)));
    await Promise.all([this.ingestQueue.close(), this.maintenanceQueue.close()]);
  }
}
