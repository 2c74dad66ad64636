import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../logging/logger';
import { processBatch, processMessage, type ProcessDeps } from './process-message';
import type { IngestJobData } from './queues';

/** How long a FIFO message waits before it is tried again (its earlier sibling is still open). */
const FIFO_WAIT_MS = 200;

/**
 * The `ingest` job processor. The only place that maps error kinds to BullMQ: `input` completes the
 * job (the message is `rejected`, never retried); `transient` throws for a retry with backoff, and
 * on the last attempt the message is `failed`; `defect` fails the job with UnrecoverableError.
 *
 * A batch job (a group commit's messages) completes when every message has a verdict; a message
 * that must be retried fails the whole job for a retry (the others are terminal by then and are
 * skipped on the next attempt); a FIFO message that must wait is re-queued as its own delayed job.
 */
export function createIngestProcessor(
  deps: ProcessDeps,
  maxAttempts: number,
  logger: Logger,
  requeueLater?: (messageId: string, delayMs: number) => Promise<void>,
  /** How many other queued messages a batch may claim now (read once per job); default `deps.claimUpTo`. */
  claimLimit?: () => number | undefined,
) {
  return async (job: Job<IngestJobData>, token?: string): Promise<{ status: string; counts?: Record<string, number> }> => {
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? maxAttempts);
    const jobLogger = logger.child({ queue: job.queueName, jobId: job.id, attempt: job.attemptsMade + 1 });
    const own = job.data.messageId ?? (job.data.messageIds ? undefined : job.id);
    const claimUpTo = claimLimit ? claimLimit() : deps.claimUpTo;
    // batch jobs, and single ones when batches may claim: one canonical transaction, set-based
    if ((job.data.messageIds && job.data.messageIds.length > 0) || (own && claimUpTo)) {
      const ids = job.data.messageIds && job.data.messageIds.length > 0 ? job.data.messageIds : [own as string];
      const results = await processBatch({ ...deps, logger: jobLogger, claimUpTo }, ids, { final });
      const counts: Record<string, number> = {};
      let retry: unknown;
      for (const { messageId, outcome } of results) {
        deps.onOutcome?.(outcome.status);
        counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
        if (outcome.status === 'retry') {
          retry ??= outcome.error;
        } else if (outcome.status === 'wait') {
          if (messageId === own) {
            // FIFO: this job's own message comes back shortly, without spending an attempt
            await job.moveToDelayed(Date.now() + FIFO_WAIT_MS, token);
            throw new DelayedError(outcome.reason);
          }
          if (!requeueLater) {
            throw new Error(`message ${messageId} must wait for an earlier message, and this worker cannot re-queue it`);
          }
          await requeueLater(messageId, FIFO_WAIT_MS);
        } else if (outcome.status === 'failed' && messageId === own) {
          throw new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
        }
      }
      if (retry !== undefined) {
        throw retry instanceof Error ? retry : new Error(String(retry));
      }
      return own && results.length === 1 ? { status: results[0].outcome.status } : { status: 'batch', counts };
    }
    const messageId = job.data.messageId ?? job.id;
    if (!messageId) {
      throw new UnrecoverableError('ingest job without a message id');
    }
    const outcome = await processMessage({ ...deps, logger: jobLogger }, messageId, { final });
    deps.onOutcome?.(outcome.status);
    switch (outcome.status) {
      case 'retry':
        throw outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
      case 'failed': {
        const err = new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
        throw err;
      }
      case 'wait':
        // FIFO: come back shortly, without spending an attempt
        await job.moveToDelayed(Date.now() + FIFO_WAIT_MS, token);
        throw new DelayedError(outcome.reason);
      case 'skipped':
        return { status: `skipped: ${outcome.reason}` };
      default:
        return { status: outcome.status };
    }
  };
}
