import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Pipeline } from '../pipeline/pipeline';
import type { HubQueue, HubWorker, QueueKit } from '../pipeline/queue-kit';
import { QUEUES } from '../pipeline/queues';
import { supersedingMessages } from '../pipeline/reprocess';
import { applySearch, lineageMessageIds, type MessageSearch } from './search';

/** A row of console_jobs. */
export interface ConsoleJobRow {
  id: string;
  kind: 'reprocess';
  query: MessageSearch;
  status: 'queued' | 'running' | 'done' | 'cancelled' | 'failed';
  total: number | null;
  done: number;
  skipped: number;
  cursor: string | null;
  error: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  cancel_requested: boolean;
}

/** Messages handled per step (one progress update, one cancellation check). */
export const JOB_BATCH = 500;
/** Queue calls made at once within a step. */
const QUEUE_CONCURRENCY = 50;

async function inChunks<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(f))));
  return out;
}

/**
 * reprocessMessage (src/pipeline/reprocess.ts) for many messages at once, with the same rules: a
 * duplicate, a message without payload, a rejected one whose dedup key a later message holds (the
 * sender's resend) or one being processed right now is skipped; the others go
 * back to `queued` (a rejected one reclaims its dedup key if no newer message took it), each with
 * its own audit row, and get a fresh `ingest` job. One transaction per batch.
 */
export async function reprocessBatch(db: Db, pipeline: Pipeline, ids: string[], actor: string): Promise<{ done: number; skipped: number }> {
  const rows = (await db('inbound_messages').whereIn('id', ids)
    .select('id', 'status', 'dedup_key', 'connector_id', 'message_type', 'format', db.raw('payload IS NOT NULL AS has_payload'))) as Array<{ id: string; status: string; dedup_key: string; connector_id: string; message_type: string | null; format: string; has_payload: boolean }>;
  const superseded = await supersedingMessages(db, rows.filter((m) => m.status === 'rejected').map((m) => ({ id: m.id, dedupKey: m.dedup_key })));
  const candidates = rows.filter((m) => m.status !== 'duplicate' && m.has_payload && !superseded.has(m.id));
  const withJobs = await inChunks(candidates, QUEUE_CONCURRENCY, async (m) => {
    const job = await pipeline.ingestQueue.getJob(m.id);
    return { m, job, state: job ? await job.getState() : undefined };
  });
  const go = withJobs.filter((x) => x.state !== 'active');
  if (go.length > 0) {
    await db.transaction(async (trx) => {
      await trx('inbound_messages').whereIn('id', go.map((x) => x.m.id))
        .update({ status: 'queued', error_code: null, error_message: null, error_location: null, processed_at: null, updated_at: trx.fn.now() });
      const rejected = go.filter((x) => x.m.status === 'rejected').map((x) => x.m);
      if (rejected.length > 0) {
        await trx.raw('INSERT INTO message_dedup (dedup_key, message_id, connector_id) SELECT * FROM unnest(?::text[], ?::uuid[], ?::text[]) ON CONFLICT DO NOTHING',
          [rejected.map((m) => m.dedup_key), rejected.map((m) => m.id), rejected.map((m) => m.connector_id)]);
      }
      await trx('audit_log').insert(go.map((x) => ({ chain: 'admin', actor, action: 'message.reprocess', entity_type: 'inbound_message', entity_id: x.m.id, before: JSON.stringify({ status: x.m.status }), source_message_id: x.m.id })));
    });
    await inChunks(go, QUEUE_CONCURRENCY, async ({ m, job, state }) => {
      if (job && state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') await job.remove();
      await pipeline.ingestQueue.add(m.message_type ?? m.format, { messageId: m.id, connectorId: m.connector_id }, { ...pipeline.jobOptions(), jobId: m.id });
    });
  }
  return { done: go.length, skipped: ids.length - go.length };
}

/**
 * Bulk console jobs ("reprocess all matching a search"): a row in console_jobs keeps the search,
 * progress and the cursor; a job on the `console` BullMQ queue works through it in steps of 500,
 * newest first, so a restarted job resumes after its cursor. Cancellable between steps.
 */
export class ConsoleJobs {
  readonly queue: HubQueue;
  private worker?: HubWorker;
  private closing = false;

  constructor(private readonly deps: { db: Db; kit: QueueKit; pipeline: Pipeline; logger: Logger }) {
    this.queue = deps.kit.queue(QUEUES.console, { producer: true });
  }

  /** Starts the worker of the `console` queue in this process (one job at a time). */
  async start(): Promise<void> {
    const log = this.deps.logger.child({ scope: 'console-jobs' });
    this.worker = this.deps.kit.worker<{ jobId: string }>(QUEUES.console, async (job) => this.run(job.data.jobId), { concurrency: 1 });
    this.worker.on('error', (...args: unknown[]) => log.warn({ err: args[0] }, 'console job worker error'));
    this.worker.on('failed', (...args: unknown[]) => {
      const [job, err] = args as [{ data?: { jobId?: string }; attemptsMade?: number; opts?: { attempts?: number } } | undefined, Error];
      log.warn({ jobId: job?.data?.jobId, err: err?.message }, 'console job step failed');
      if (job?.data?.jobId && (job.attemptsMade ?? 0) >= (job.opts?.attempts ?? 1)) {
        void this.deps.db('console_jobs').where({ id: job.data.jobId }).update({ status: 'failed', finished_at: this.deps.db.fn.now(), updated_at: this.deps.db.fn.now() })
          .catch((e: unknown) => log.warn({ err: e }, 'could not mark the console job failed'));
      }
    });
    await this.worker.waitUntilReady();
  }

  /** Stops after the current step of a running job (it resumes from its cursor on the next start). */
  async close(): Promise<void> {
    this.closing = true;
    await this.worker?.close();
    await this.queue.close();
  }

  /** Creates a reprocess job over a search; the worker picks it up at once. */
  async createReprocess(search: MessageSearch, actor: string): Promise<ConsoleJobRow> {
    const id = uuidv7();
    await this.deps.db('console_jobs').insert({ id, kind: 'reprocess', query: JSON.stringify(search), status: 'queued', created_by: actor });
    await this.deps.db('audit_log').insert({ chain: 'admin', actor, action: 'message.reprocess_bulk', entity_type: 'console_job', entity_id: id, after: JSON.stringify({ search }) });
    await this.queue.add('reprocess', { jobId: id }, { jobId: id, attempts: 50, backoff: { type: 'fixed', delay: 5000 }, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 14 * 24 * 3600 } });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<ConsoleJobRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return this.deps.db<ConsoleJobRow>('console_jobs').where({ id }).first();
  }

  /** Newest jobs first. */
  async list(limit = 50): Promise<ConsoleJobRow[]> {
    return this.deps.db<ConsoleJobRow>('console_jobs').orderBy('id', 'desc').limit(limit);
  }

  /** Asks a job to stop after its current step (a queued job stops before it starts). */
  async cancel(id: string, actor: string): Promise<ConsoleJobRow> {
    const row = await this.get(id);
    if (!row) throw new LotBridgeError('LB_ERR_CONSOLE_JOB_NOT_FOUND', `no console job ${id}`);
    if (row.status === 'queued' || row.status === 'running') {
      await this.deps.db('console_jobs').where({ id }).update({ cancel_requested: true, updated_at: this.deps.db.fn.now() });
      await this.deps.db('audit_log').insert({ chain: 'admin', actor, action: 'console_job.cancel', entity_type: 'console_job', entity_id: id });
    }
    return (await this.get(id))!;
  }

  /** Works a job through to the end (or its cancellation). */
  async run(id: string): Promise<{ done: number; skipped: number; status: string }> {
    const { db, pipeline } = this.deps;
    let row = await this.get(id);
    if (!row) return { done: 0, skipped: 0, status: 'missing' };
    if (row.status === 'done' || row.status === 'cancelled') return { done: row.done, skipped: row.skipped, status: row.status };
    const search = row.query;
    const lineage = search.lot || search.gtin || search.serial ? (await lineageMessageIds(db, search)).ids : undefined;
    if (row.total === null) {
      const c = await applySearch(db('inbound_messages'), search, lineage).count<Array<{ count: string }>>('* as count');
      await db('console_jobs').where({ id }).update({ total: Number(c[0].count), status: 'running', updated_at: db.fn.now() });
    } else {
      await db('console_jobs').where({ id }).update({ status: 'running', updated_at: db.fn.now() });
    }
    let { done, skipped, cursor } = row;
    try {
      for (;;) {
        if (this.closing) {
          throw new Error('the hub is stopping; the job resumes after its cursor when a worker starts again');
        }
        row = (await this.get(id))!;
        if (row.cancel_requested) {
          await db('console_jobs').where({ id }).update({ status: 'cancelled', finished_at: db.fn.now(), updated_at: db.fn.now() });
          return { done, skipped, status: 'cancelled' };
        }
        const b = applySearch(db('inbound_messages'), search, lineage).select('id');
        if (cursor) b.where('id', '<', cursor);
        const ids = ((await b.orderBy('id', 'desc').limit(JOB_BATCH)) as Array<{ id: string }>).map((r) => r.id);
        if (ids.length === 0) break;
        const r = await reprocessBatch(db, pipeline, ids, row.created_by);
        done += r.done;
        skipped += r.skipped;
        cursor = ids[ids.length - 1];
        await db('console_jobs').where({ id }).update({ done, skipped, cursor, updated_at: db.fn.now() });
      }
      await db('console_jobs').where({ id }).update({ status: 'done', finished_at: db.fn.now(), updated_at: db.fn.now() });
      return { done, skipped, status: 'done' };
    } catch (err) {
      await db('console_jobs').where({ id }).update({ error: (err as Error).message.slice(0, 1000), updated_at: db.fn.now() });
      throw err; // BullMQ retries; the next attempt resumes after the cursor
    }
  }
}
