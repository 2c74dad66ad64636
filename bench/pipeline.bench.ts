import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { loadConfig } from '../src/config/config';
import { silentLogger } from '../src/logging/logger';
import { startHub } from '../src/hub';
import { createDb, dropDatabase } from '../src/db/knex';
import { fork, type ChildProcess } from 'node:child_process';
import { deleteRedisPrefix, sleep, type BenchResult } from './bench-result';
import { runLoad, type LatencyResult, type LoadCommand } from './pipeline-load';

/**
 * The HTTP load generator: a child process (default), so that its CPU is not taken from the hub's
 * event loop; BENCH_PIPELINE_CLIENT=inproc runs it in the bench process beside the hub, as before.
 */
export function loadGenerator(): { pid?: number; run<T>(c: LoadCommand): Promise<T>; close(): void } {
  if (process.env.BENCH_PIPELINE_CLIENT === 'inproc') {
    return { run: async <T>(c: LoadCommand) => (await runLoad(c)) as T, close: () => undefined };
  }
  const child: ChildProcess = fork(path.join(__dirname, 'pipeline-load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    pid: child.pid,
    run: <T>(c: LoadCommand) =>
      new Promise<T>((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`load generator exited (${code})`));
        child.once('exit', onExit);
        child.once('message', (m: { ok: boolean; result?: unknown; error?: string }) => {
          child.off('exit', onExit);
          if (m.ok) resolve(m.result as T);
          else reject(new Error(m.error));
        });
        child.send(c);
      }),
    close: () => {
      child.disconnect();
    },
  };
}

export interface PipelineBenchOptions {
  serverUrl: string;
  redisUrl: string;
  messages: number;
  concurrency: number;
}

/** CPU seconds (user + system) of processes by pid, from /proc (Linux; 0 elsewhere or for a pid gone). */
export function cpuSecondsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // not Linux, or the process ended
    }
  }
  return ticks / 100; // USER_HZ
}

/** Where the CPU goes: this process (hub: intake thread + pipeline threads), the PostgreSQL backends of the bench database, the load generator. */
export async function cpuSnapshot(db: { raw: (sql: string, b: unknown[]) => Promise<{ rows: Array<{ pid: number }> }> }, dbName: string, loadPid: number | undefined): Promise<{ hub: number; pg: number; load: number }> {
  const pids = (await db.raw('SELECT pid FROM pg_stat_activity WHERE datname = ?', [dbName])).rows.map((r) => r.pid);
  const u = process.cpuUsage();
  return { hub: (u.user + u.system) / 1e6, pg: cpuSecondsOf(pids), load: loadPid === undefined ? 0 : cpuSecondsOf([loadPid]) };
}

/**
 * Prints row writes and scans per table of the bench database over the whole run (warm-up
 * included): inserts, updates, HOT updates, deletes, sequential scans and the rows they read, and
 * each table's index count (BENCH_PIPELINE_STATS, BENCH_HL7_STATS).
 */
export async function printTableStats(db: { raw: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }> }): Promise<void> {
  const t = await db.raw(
    `SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del, seq_scan, seq_tup_read,
            (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid) AS indexes
       FROM pg_stat_user_tables s WHERE n_tup_ins + n_tup_upd + n_tup_del + seq_scan > 0 ORDER BY n_tup_ins + n_tup_upd DESC`);
  console.table(t.rows);
}

/** Baseline (a): single-row INSERT transactions/s through a pool the size of the hub's, at the workers' concurrency. */
export async function pgSingleRowTps(url: string, n: number, concurrency: number, poolMax: number): Promise<number> {
  const db = createDb({ url, poolMax });
  await db.raw('CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, k text NOT NULL, v jsonb, at timestamptz DEFAULT now())');
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      await db.transaction(async (trx) => {
        await trx('bench_rows').insert({ k: `k${i}`, v: JSON.stringify({ i }) });
      });
    }
  }));
  const s = (performance.now() - t0) / 1000;
  await db.raw('DROP TABLE bench_rows');
  await db.destroy();
  return n / s;
}

/** Baseline (b): BullMQ no-op jobs/s on the same Redis. */
async function bullmqNoopJps(redisUrl: string, n: number, concurrency: number): Promise<number> {
  const prefix = `lbbench_${randomBytes(4).toString('hex')}`;
  const u = new URL(redisUrl);
  const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };
  const q = new Queue('noop', { connection, prefix });
  let done = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    await q.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true } })));
  }
  const w = new Worker('noop', async () => { done++; }, { connection, prefix, concurrency });
  while (done < n) {
    await sleep(20);
  }
  const s = (performance.now() - t0) / 1000;
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  return n / s;
}

/**
 * WMS movement messages received → committed per second through the whole hub (HTTP intake,
 * store, BullMQ on Redis, WMS mapping, canonical transaction), against baselines (a) and (b).
 * Then the HTTP 202 latency at a steady 500 msg/s, against /healthz latency at the same rate.
 */
export async function runPipelineBench(opts: PipelineBenchOptions): Promise<BenchResult[]> {
  const run = randomBytes(4).toString('hex');
  const dbName = `lotbridge_bench_${run}`;
  const u = new URL(opts.serverUrl);
  u.pathname = `/${dbName}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-bench-'));
  const key = `bench-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: u.toString(), REDIS_URL: opts.redisUrl, LOTBRIDGE_HTTP_PORT: '0', LOTBRIDGE_HTTP_HOST: '127.0.0.1', LOTBRIDGE_DATA_DIR: dataDir,
    LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: key, LOTBRIDGE_QUEUE_PREFIX: `lbbench_${run}`, LOTBRIDGE_WORKER_CONCURRENCY: String(opts.concurrency),
    // the pipeline threads log as `lotbridge start` does (LOTBRIDGE_LOG_LEVEL, default info; measured:
    // info and warn cost the same CPU per message), the intake thread to silentLogger
    ...(process.env.LOTBRIDGE_LOG_LEVEL ? { LOTBRIDGE_LOG_LEVEL: process.env.LOTBRIDGE_LOG_LEVEL } : {}),
  });
  const hub = await startHub(config, silentLogger(), { mode: 'all' });
  const base = `http://127.0.0.1:${(hub.app!.server.address() as AddressInfo).port}`;
  const results: BenchResult[] = [];
  const load = loadGenerator();
  // parallel HTTP senders (connections, one request in flight each) of the sustained phase
  const senders = Number(process.env.BENCH_PIPELINE_SENDERS ?? 32);
  try {
    const tpsA = await pgSingleRowTps(u.toString(), Math.max(2000, opts.messages), opts.concurrency, config.dbPoolMax);
    const jpsB = await bullmqNoopJps(opts.redisUrl, Math.max(5000, opts.messages), opts.concurrency);

    // warm-up: master data path, JIT
    await load.run({ cmd: 'warm', base, key, run: `warm${run}`, messages: 50 });
    await sleep(1000);
    const before = Number((await hub.db('inbound_messages').where({ status: 'processed' }).count<Array<{ count: string }>>('* as count'))[0].count);
    const xacts = async (): Promise<number> => {
      await hub.db.raw('SELECT pg_stat_clear_snapshot()');
      return Number((await hub.db.raw<{ rows: Array<{ n: string }> }>('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = ?', [dbName])).rows[0].n);
    };
    const flushes0 = hub.ingest.groupCommitStats.flushes;
    const xact0 = await xacts();
    const cpu0 = await cpuSnapshot(hub.db as never, dbName, load.pid);
    const t0 = performance.now();
    await load.run({ cmd: 'sustained', base, key, run, messages: opts.messages, senders });
    const tIntake = performance.now();
    for (;;) {
      const open = Number((await hub.db('inbound_messages').whereIn('status', ['received', 'queued']).count<Array<{ count: string }>>('* as count'))[0].count);
      if (open === 0) break;
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = await cpuSnapshot(hub.db as never, dbName, load.pid);
    const flushes = hub.ingest.groupCommitStats.flushes - flushes0;
    await sleep(600); // backends report their counts to the statistics within a second
    const xact = (await xacts()) - xact0;
    const processed = Number((await hub.db('inbound_messages').where({ status: 'processed' }).count<Array<{ count: string }>>('* as count'))[0].count) - before;
    if (process.env.BENCH_PIPELINE_STATS === '1') {
      await printTableStats(hub.db as never);
    }
    const mps = processed / seconds;
    results.push({
      name: 'wms-movements-received-to-committed',
      figures: {
        messagesPerSecond: Math.round(mps), messages: processed, seconds: Number(seconds.toFixed(2)), intakeOnlyPerSecond: Math.round(opts.messages / ((tIntake - t0) / 1000)),
        // CPU per message (ms): the hub's process (intake thread + pipeline thread), the PostgreSQL backends of its database, the HTTP load generator
        cpuMsPerMessageHub: Number((((cpu1.hub - cpu0.hub) * 1000) / processed).toFixed(3)),
        cpuMsPerMessagePostgres: Number((((cpu1.pg - cpu0.pg) * 1000) / processed).toFixed(3)),
        cpuMsPerMessageLoadGenerator: Number((((cpu1.load - cpu0.load) * 1000) / processed).toFixed(3)),
        // intake group commits (one statement each) and PostgreSQL transactions of the bench database, per message
        intakeFlushesPerMessage: Number((flushes / processed).toFixed(3)),
        transactionsPerMessage: Number((xact / processed).toFixed(3)),
      },
      baseline: { pgSingleRowTxPerSecond: Math.round(tpsA), bullmqNoopJobsPerSecond: Math.round(jpsB) },
      ratio: Number((mps / tpsA).toFixed(3)),
      target: 0.6,
      pass: mps / tpsA >= 0.6,
      notes: `${senders} HTTP senders in a child process; ratio vs (a) PostgreSQL single-row tx/s; vs (b) BullMQ no-op: ${(mps / jpsB).toFixed(3)}`,
    });

    if (process.env.BENCH_PIPELINE_LATENCY !== '0') {
      // latency at a steady 500 msg/s for 10 s (open loop), against /healthz at the same rate
      const health = await load.run<LatencyResult>({ cmd: 'latency', base, key, run, rate: 500, seconds: 10, target: 'healthz' });
      const ingest = await load.run<LatencyResult>({ cmd: 'latency', base, key, run: `lat${run}`, rate: 500, seconds: 10, target: 'ingest' });
      const p99 = ingest.p99Ms;
      const p99h = health.p99Ms;
      results.push({
        name: 'ingest-http-202-latency-at-500-per-second',
        figures: { p50Ms: Number(ingest.p50Ms.toFixed(2)), p99Ms: Number(p99.toFixed(2)), maxMs: Number(ingest.maxMs.toFixed(2)), requests: ingest.requests },
        baseline: { healthzP50Ms: Number(health.p50Ms.toFixed(2)), healthzP99Ms: Number(p99h.toFixed(2)) },
        ratio: Number((p99 / p99h).toFixed(2)),
        target: 0,
        lowerIsBetter: true,
        pass: true,
        notes: 'reported, no target: p99 of the store-before-ack 202 vs p99 of GET /healthz at the same rate and concurrency',
      });
    }
  } finally {
    load.close();
    await hub.stop();
    await dropDatabase(u.toString());
    await deleteRedisPrefix(opts.redisUrl, `lbbench_${run}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
