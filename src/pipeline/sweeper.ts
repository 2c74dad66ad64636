import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import type { HubQueue } from './queue-kit';
import { ingestJobOptions } from './pipeline';

/**
 * Re-enqueues messages that are stored but not finished and not in the queue: `received` ones whose
 * enqueue failed, and `queued` ones whose job is gone (Redis lost its data, a FLUSHALL) or dead
 * (failed/completed while the message is still open). Runs at start and as a repeatable job.
 */
export async function sweep(db: Db, queue: HubQueue, logger: Logger, opts: { graceMs: number; maxAttempts: number; limit?: number }): Promise<number> {
  const rows = await db('inbound_messages')
    .whereIn('status', ['received', 'queued'])
    .where('updated_at', '<', new Date(Date.now() - opts.graceMs))
    .orderBy('received_at')
    .limit(opts.limit ?? 5000)
    .select<Array<{ id: string; connector_id: string; message_type: string | null; format: string; status: string }>>('id', 'connector_id', 'message_type', 'format', 'status');
  let requeued = 0;
  for (const r of rows) {
    const job = await queue.getJob(r.id);
    if (job) {
      const state = await job.getState();
      if (state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children') {
        continue;
      }
      await job.remove().catch((err: unknown) => logger.warn({ err, messageId: r.id }, 'could not remove a dead job'));
    }
    await queue.add(r.message_type ?? r.format, { messageId: r.id, connectorId: r.connector_id }, { ...ingestJobOptions(opts.maxAttempts), jobId: r.id });
    await db('inbound_messages').where({ id: r.id, status: 'received' }).update({ status: 'queued', updated_at: db.fn.now() });
    await db('inbound_messages').where({ id: r.id, status: 'queued' }).update({ updated_at: db.fn.now() });
    requeued++;
  }
  if (requeued > 0) {
    logger.warn({ requeued }, 'sweeper re-enqueued stranded messages');
  }
  return requeued;
}
