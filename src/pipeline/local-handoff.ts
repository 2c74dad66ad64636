import type { Logger } from '../logging/logger';
import { GroupCommit } from '../ingest/group-commit';
import { processBatch, type ProcessDeps, type ProcessOutcome } from './process-message';

/**
 * The local hand-off: messages the intake of this process (or of the main thread, for a pipeline
 * worker thread) has just committed go straight to a batch processor here, without a round trip
 * through the `ingest` queue and a worker's pick-up of the job. Batches form like the intake's
 * group commit: one batch runs at a time (`maxInFlight`), everything handed over meanwhile goes in
 * the next (at most `maxBatch`), so the batch size follows the load and at moderate load a message
 * waits for at most the batch ahead of it.
 *
 * What keeps it safe: a handed-off message is already committed with status `queued`. Its record
 * of being handed off is only in memory, so a crash (of the process or of the thread) leaves it
 * `queued` without a job, and the sweeper queues it after LOTBRIDGE_SWEEP_GRACE_MS (the main thread
 * re-enqueues the hand-offs of a thread that died at once). A message that needs a retry (a
 * transient error) or has to wait for an earlier one (FIFO) is put on the `ingest` queue
 * (`fallback`), where backoff and attempts apply as for any job. Processing is idempotent per
 * message (a row lock and the terminal-status check), so a message that reaches a worker twice
 * is mapped once.
 */
export interface LocalHandoffOptions {
  deps: ProcessDeps;
  logger: Logger;
  /** Most messages in one canonical transaction (LOTBRIDGE_PIPELINE_BATCH_MAX). */
  maxBatch: number;
  /** Batches running at once; a batch beyond the first starts only with a full batch waiting (a backlog). */
  maxInFlight: number;
  /** Observes each local batch's run time, as an ingest job's (metrics). */
  onBatchDone?: (seconds: number, outcome: 'completed' | 'failed') => void;
  /** Puts messages on the `ingest` queue (retry with backoff, FIFO wait, or a failed batch). */
  fallback(items: Array<{ messageId: string; outcome: 'retry' | 'wait' | 'error' }>): Promise<void>;
}

export class LocalHandoff {
  private readonly writer: GroupCommit<string, ProcessOutcome>;
  /** Messages handed over, processed here, and put back on the queue (for metrics and tests). */
  readonly stats = { handedOff: 0, processed: 0, fellBack: 0 };

  constructor(private readonly opts: LocalHandoffOptions) {
    this.writer = new GroupCommit((ids) => this.run(ids), { maxBatch: Math.max(1, opts.maxBatch), maxInFlight: Math.max(1, opts.maxInFlight), extraOnlyWhenFull: true });
  }

  /** Messages handed over and not finished yet. */
  get pending(): number {
    return this.writer.pending;
  }

  /** Resolves when every message handed over is finished (processed, or on the queue). */
  drained(): Promise<void> {
    return this.writer.drained();
  }

  /** Hands stored messages over; resolves when each is finished (never rejects). */
  async submit(messageIds: readonly string[]): Promise<void> {
    this.stats.handedOff += messageIds.length;
    await Promise.all(messageIds.map((id) => this.writer.submit(id).catch(() => undefined)));
  }

  private async run(ids: string[]): Promise<Array<PromiseSettledResult<ProcessOutcome>>> {
    const log = this.opts.logger;
    let results: Array<{ messageId: string; outcome: ProcessOutcome }>;
    const started = performance.now();
    try {
      // first attempts of fresh messages: `final: false`, a transient error goes to the queue for its retries
      results = await processBatch(this.opts.deps, ids, { final: false, claim: false });
      this.opts.onBatchDone?.((performance.now() - started) / 1000, 'completed');
    } catch (err) {
      this.opts.onBatchDone?.((performance.now() - started) / 1000, 'failed');
      // the batch could not even record its verdicts (the database is gone): the queue takes over
      log.warn({ err, scope: 'pipeline', messages: ids.length }, 'local batch failed; its messages go on the ingest queue');
      await this.fallBack(ids.map((messageId) => ({ messageId, outcome: 'error' as const })));
      return ids.map(() => ({ status: 'rejected' as const, reason: err }));
    }
    const byId = new Map(results.map((r) => [r.messageId, r.outcome]));
    const back: Array<{ messageId: string; outcome: 'retry' | 'wait' }> = [];
    for (const r of results) {
      this.opts.deps.onOutcome?.(r.outcome.status);
      if (r.outcome.status === 'retry' || r.outcome.status === 'wait') {
        back.push({ messageId: r.messageId, outcome: r.outcome.status });
      } else {
        this.stats.processed++;
      }
    }
    if (back.length > 0) {
      await this.fallBack(back);
    }
    return ids.map((id) => ({ status: 'fulfilled' as const, value: byId.get(id) ?? { status: 'skipped' as const, reason: 'not processed' } }));
  }

  private async fallBack(items: Array<{ messageId: string; outcome: 'retry' | 'wait' | 'error' }>): Promise<void> {
    this.stats.fellBack += items.length;
    try {
      await this.opts.fallback(items);
    } catch (err) {
      // Redis is down as well: the messages stay `queued`, and the sweeper queues them later
      this.opts.logger.warn({ err, scope: 'pipeline', messageIds: items.slice(0, 20).map((i) => i.messageId), count: items.length }, 'could not queue messages of the local hand-off; the sweeper will');
    }
  }
}
