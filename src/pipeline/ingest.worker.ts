import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../logging/logger';
import { processMessage, type ProcessDeps } from './process-message';
import type { IngestJobData } from './queues';

/**
 * The `ingest` job processor. The only place that maps error kinds to BullMQ: `input` completes the
 * job (the message is `rejected`, never retried); `transient` throws for a retry with backoff, and
 * on the last attempt the message is `failed`; `defect` fails the job with UnrecoverableError.
 */
export function createIngestProcessor(deps: ProcessDeps, maxAttempts: number, logger: Logger) {
  return async (job: Job<IngestJobData>, token?: string): Promise<{ status: string }> => {
    const messageId = job.data.messageId ?? job.id;
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? maxAttempts);
    const outcome = await processMessage({ ...deps, logger: logger.child({ queue: job.queueName, jobId: job.id, attempt: job.attemptsMade + 1 }) }, messageId, { final });
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
        await job.moveToDelayed(Date.now() + 200, token);
        throw new DelayedError(outcome.reason);
      case 'skipped':
        return { status: `skipped: ${outcome.reason}` };
      default:
        return { status: outcome.status };
    }
  };
}
