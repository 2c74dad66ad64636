import os from 'node:os';
import { Queue, Worker, withBackend, createPostgresBackend, runMigrations, type Processor, type WorkerOptions, type JobsOptions } from 'bullmq';
import pg from 'pg';

/**
 * The name this process's queue workers carry (host and process id: every thread of a process
 * shares it), so that a hub can tell its own workers of a queue from other processes' ones.
 */
export const PROCESS_WORKER_NAME = `${os.hostname()}:${process.pid}`;

/**
 * The worker names of a queue's consumers as BullMQ lists them (Redis `CLIENT LIST`): `<prefix>:<queue>`
 * for an unnamed worker, `<prefix>:<queue>:w:<name>` for a named one.
 */
export function isOwnWorker(rawname: string | undefined): boolean {
  return rawname !== undefined && rawname.endsWith(`:w:${PROCESS_WORKER_NAME}`);
}

/** Which engine runs the queues: Redis (throughput) or BullMQ's PostgreSQL backend (nothing to install). */
export type QueueBackendKind = 'redis' | 'postgres';

export interface QueueKitOptions {
  kind: QueueBackendKind;
  /** REDIS_URL for `redis`; the hub's DATABASE_URL for `postgres`. */
  url: string;
  /** Redis key prefix, or (PostgreSQL) the schema suffix: schema `bullmq_<prefix>`. */
  prefix: string;
}

/** The minimal queue surface the hub uses, the same on both backends. */
export interface HubQueue {
  readonly name: string;
  add(name: string, data: Record<string, unknown>, opts: JobsOptions): Promise<unknown>;
  /** Adds many jobs in one round trip (BullMQ `addBulk`). */
  addBulk?(jobs: Array<{ name: string; data: unknown; opts?: JobsOptions }>): Promise<unknown>;
  getJob(id: string): Promise<{ id?: string; getState(): Promise<string>; remove(): Promise<void> } | undefined>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  upsertJobScheduler(id: string, repeat: { every: number }, template: { name: string; data?: Record<string, unknown> }): Promise<unknown>;
  /** The workers connected to this queue (BullMQ `getWorkers`; Redis only). */
  getWorkers?(): Promise<Array<{ rawname?: string }>>;
  close(): Promise<void>;
  waitUntilReady(): Promise<unknown>;
}

export interface HubWorker {
  close(force?: boolean): Promise<void>;
  on(event: string, cb: (...args: unknown[]) => void): unknown;
  waitUntilReady(): Promise<unknown>;
}

function redisConnection(url: string, producer: boolean): Record<string, unknown> {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // producers fail fast so intake never waits on Redis (the sweeper queues later);
    // workers wait for Redis to come back
    maxRetriesPerRequest: producer ? 1 : null,
    enableOfflineQueue: !producer,
    connectTimeout: 5000,
  };
}

/**
 * Builds queues and workers on the chosen backend with the same API. On PostgreSQL the BullMQ
 * schema migration is run explicitly by `prepare()`.
 */
export class QueueKit {
  constructor(readonly opts: QueueKitOptions) {}

  get schema(): string {
    return `bullmq_${this.opts.prefix}`.toLowerCase();
  }

  /** Creates the BullMQ schema on PostgreSQL (no-op on Redis). */
  async prepare(): Promise<void> {
    if (this.opts.kind !== 'postgres') {
      return;
    }
    const client = new pg.Client({ connectionString: this.opts.url });
    await client.connect();
    try {
      await runMigrations(client, this.schema);
    } finally {
      await client.end();
    }
  }

  queue(name: string, opts: { producer?: boolean } = {}): HubQueue {
    if (this.opts.kind === 'redis') {
      return new Queue(name, { connection: redisConnection(this.opts.url, opts.producer ?? false), prefix: this.opts.prefix }) as unknown as HubQueue;
    }
    const { Queue: PgQueue } = withBackend(createPostgresBackend);
    return new PgQueue(name, { connection: { connectionString: this.opts.url, schema: this.schema, max: 5 } }) as unknown as HubQueue;
  }

  worker<D>(name: string, processor: Processor<D>, opts: Omit<WorkerOptions, 'connection'>): HubWorker {
    if (this.opts.kind === 'redis') {
      return new Worker(name, processor, { name: PROCESS_WORKER_NAME, ...opts, connection: redisConnection(this.opts.url, false), prefix: this.opts.prefix }) as unknown as HubWorker;
    }
    const { Worker: PgWorker } = withBackend(createPostgresBackend);
    const { prefix: _prefix, ...rest } = opts;
    void _prefix;
    return new PgWorker(name, processor as Processor, { ...rest, connection: { connectionString: this.opts.url, schema: this.schema, max: Math.max(4, (opts.concurrency ?? 1) + 2) } }) as unknown as HubWorker;
  }

}
