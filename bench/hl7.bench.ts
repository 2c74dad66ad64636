import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fromRoot } from '../src/paths';
import { loadConfig } from '../src/config/config';
import { silentLogger } from '../src/logging/logger';
import { startHub } from '../src/hub';
import { dropDatabase } from '../src/db/knex';
import type { Hl7ClientCommand } from './hl7-client';
import { deleteRedisPrefix, percentile, sleep, type BenchResult } from './bench-result';
import { cpuSnapshot, pgSingleRowTps, printTableStats } from './pipeline.bench';

export interface Hl7BenchOptions {
  serverUrl: string;
  redisUrl: string;
  /** Messages in the sustained phase. */
  messages: number;
  /** MLLP client connections. */
  connections: number;
  /** false: `lotbridge start` all-in-one; true: intake here, the pipeline in a `lotbridge worker` process. */
  split?: boolean;
}

export { dftP03 } from './hl7-messages';


/** The senders run in a child process (bench/hl7-client.ts): the hub under test keeps its event loop. */
function startClientProcess(): { child: ChildProcess; call<T>(c: DistributiveOmit<Hl7ClientCommand, 'id'>): Promise<T> } {
  const entry = path.join(__dirname, 'hl7-client.js');
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new Error(`hl7 bench client: ${m.error}`));
    else w?.resolve(m.result);
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`hl7 bench client exited (${code})`));
    waiting.clear();
  });
  return {
    child,
    call<T>(c: DistributiveOmit<Hl7ClientCommand, 'id'>): Promise<T> {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...c, id });
      });
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type RawDb = { raw<T>(sql: string): Promise<T> };
type TableRow = { relname: string; seq_scan: string; seq_tup_read: string; idx_scan: string; idx_tup_fetch: string; vacuums: string };

/**
 * BENCH_HL7_DIAG=1: what the latency phase cost and where its tails came from. Prints the main
 * thread's event-loop delay, the tables autovacuum touched meanwhile, the intake group commit's
 * flush times, per-message database and per-table scan figures (a plan that flips to a sequential
 * scan shows here), and which ACKs took more than 8 ms.
 */
async function startLatencyDiagnosis(db: RawDb, groupCommit: () => Record<string, number>): Promise<{ report(lat: number[], messages: number): Promise<void> }> {
  const dbSql = `SELECT xact_commit AS commits, tup_fetched AS fetched, tup_returned AS returned, tup_inserted AS inserted, tup_updated AS updated, blks_hit AS buffer_hits
                   FROM pg_stat_database WHERE datname = current_database()`;
  const tableSql = `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, coalesce(idx_tup_fetch, 0) AS idx_tup_fetch,
                           autovacuum_count + autoanalyze_count AS vacuums FROM pg_stat_user_tables`;
  const snapshot = async (): Promise<{ db: Record<string, string>; tables: Map<string, TableRow> }> => {
    await db.raw('SELECT pg_stat_clear_snapshot()');
    const d = (await db.raw<{ rows: Array<Record<string, string>> }>(dbSql)).rows[0];
    const t = (await db.raw<{ rows: TableRow[] }>(tableSql)).rows;
    return { db: d, tables: new Map(t.map((r) => [r.relname, r])) };
  };
  const before = await snapshot();
  const flushes0 = { ...groupCommit() };
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  // the monotonic clock of V8's CPU profiles (µs): cut a --cpu-prof profile to this phase
  const phaseStart = process.hrtime.bigint() / 1000n;
  console.log(`diag: latency phase starts (pid ${process.pid})`);
  return {
    async report(lat, messages) {
      eld.disable();
      console.log(`diag: phase on the profiles' clock ${phaseStart}–${process.hrtime.bigint() / 1000n} µs`);
      await sleep(1200); // backends report their statistics at most once a second
      const after = await snapshot();
      const ms = (ns: number): string => (ns / 1e6).toFixed(2);
      const per = (a: string | undefined, b: string | undefined): number => (Number(b ?? 0) - Number(a ?? 0)) / messages;
      const vacuumed = [...after.tables.values()].filter((r) => Number(r.vacuums) > Number(before.tables.get(r.relname)?.vacuums ?? 0)).map((r) => r.relname);
      const flushes1 = groupCommit();
      const f = (k: string): number => (flushes1[k] ?? 0) - (flushes0[k] ?? 0);
      console.log(`diag: event-loop delay p50 ${ms(eld.percentile(50))} p99 ${ms(eld.percentile(99))} max ${ms(eld.max)} ms; autovacuum/analyze during the phase: ${vacuumed.join(', ') || 'none'}`);
      console.log(`diag: intake flushes ${f('flushes')} for ${f('items')} messages, mean ${(f('flushMsTotal') / Math.max(1, f('flushes'))).toFixed(2)} ms, ${f('flushesOver5ms')} over 5 ms, longest of the run ${flushes1.flushMsMax?.toFixed(1)} ms`);
      console.log(`diag: per message: ${Object.keys(after.db).map((k) => `${k} ${per(before.db[k], after.db[k]).toFixed(2)}`).join(', ')}`);
      const cols = ['seq_scan', 'seq_tup_read', 'idx_scan', 'idx_tup_fetch'] as const;
      const tables = [...after.tables.values()]
        .map((r) => ({ name: r.relname, v: cols.map((c) => per(before.tables.get(r.relname)?.[c], r[c])) }))
        .filter((x) => x.v[1] > 1 || x.v[2] > 0.5)
        .map((x) => `${x.name} ${x.v.map((n) => n.toFixed(2)).join('/')}`);
      console.log(`diag: per message ${cols.join('/')}: ${tables.join(', ')}`);
      const slow = lat.map((v, i) => [i, v] as const).filter(([, v]) => v > 8);
      console.log(`diag: ACKs over 8 ms: ${slow.length} of ${lat.length}; the first (send order: ms) ${slow.slice(0, 30).map(([i, v]) => `${i}:${v.toFixed(0)}`).join(' ')}`);
    },
  };
}

/**
 * The hospital HL7 path end to end: N MLLP connections send DFT^P03 messages into a hub with the
 * hl7-mllp connector (ACK after store) and the pipeline mapping them into the canonical model.
 * (1) Sustained rate received → ACKed and received → canonical commit (all messages processed),
 * against (a) PostgreSQL single-row insert transactions/s through a pool of the hub's size.
 * (2) At an offered 500 msg/s (open loop): ACK latency p50/p99 and receipt → commit p99
 * (inbound_messages.received_at → processed_at, stamped with clock_timestamp() in the canonical transaction).
 */
export async function runHl7Bench(opts: Hl7BenchOptions): Promise<BenchResult[]> {
  const run = randomBytes(3).toString('hex');
  const dbName = `lotbridge_bench_hl7_${run}`;
  const u = new URL(opts.serverUrl);
  u.pathname = `/${dbName}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-bench-hl7-'));
  const config = loadConfig({
    DATABASE_URL: u.toString(), REDIS_URL: opts.redisUrl, LOTBRIDGE_HTTP_PORT: '0', LOTBRIDGE_HTTP_HOST: '127.0.0.1', LOTBRIDGE_MLLP_PORT: '0',
    LOTBRIDGE_DATA_DIR: dataDir, LOTBRIDGE_QUEUE_PREFIX: `lbbench_${run}`, LOTBRIDGE_PHI_KEY: randomBytes(32).toString('base64'),
    // the pipeline threads log at the level of the split run's `lotbridge worker` (this process's own logger is silent)
    LOTBRIDGE_LOG_LEVEL: 'warn',
    ...(process.env.LOTBRIDGE_WORKER_CONCURRENCY ? { LOTBRIDGE_WORKER_CONCURRENCY: process.env.LOTBRIDGE_WORKER_CONCURRENCY } : {}),
    ...(process.env.LOTBRIDGE_PIPELINE_BATCH_MAX ? { LOTBRIDGE_PIPELINE_BATCH_MAX: process.env.LOTBRIDGE_PIPELINE_BATCH_MAX } : {}),
    ...(process.env.LOTBRIDGE_PIPELINE_HANDOFF_MAX ? { LOTBRIDGE_PIPELINE_HANDOFF_MAX: process.env.LOTBRIDGE_PIPELINE_HANDOFF_MAX } : {}),
    ...(process.env.LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE ? { LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE: process.env.LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE } : {}),
    ...(process.env.LOTBRIDGE_PIPELINE_HANDOFF ? { LOTBRIDGE_PIPELINE_HANDOFF: process.env.LOTBRIDGE_PIPELINE_HANDOFF } : {}),
  });
  // split: intake in this process, the pipeline in a `lotbridge worker` process (as docs/operations.md scales out)
  const split = opts.split === true;
  const topology = split ? 'start+worker' : 'all-in-one';
  const hub = await startHub(config, silentLogger(), { mode: 'all', workers: !split });
  const workerProc = split
    ? spawn(process.execPath, [...(process.env.BENCH_WORKER_NODE_ARGS ? process.env.BENCH_WORKER_NODE_ARGS.split(' ') : []), fromRoot('bin', 'lotbridge.js'), 'worker'], {
        env: { ...process.env, DATABASE_URL: u.toString(), REDIS_URL: opts.redisUrl, LOTBRIDGE_DATA_DIR: dataDir, LOTBRIDGE_QUEUE_PREFIX: `lbbench_${run}`, LOTBRIDGE_PHI_KEY: config.phiKey, LOTBRIDGE_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'inherit'],
      })
    : undefined;
  const port = (hub.connectors.get('hl7-mllp') as unknown as { mllpPort: number }).mllpPort;
  const client = startClientProcess();
  const results: BenchResult[] = [];
  const openCount = async (): Promise<number> =>
    Number((await hub.db('inbound_messages').whereIn('status', ['received', 'queued']).count<Array<{ count: string }>>('* as count'))[0].count);
  try {
    const tpsA = await pgSingleRowTps(u.toString(), 4000, 8, config.dbPoolMax);
    await client.call({ cmd: 'connect', port, connections: opts.connections });
    // warm-up: master data created provisionally, JIT. 2,000 messages (BENCH_HL7_WARMUP; 200 until
    // 2026-11-27): after 200, V8's optimising compiler was still busy through the sustained phase
    // (half of its helper threads' CPU in a perf profile), so the figures were a hub's first seconds,
    // not a running one's (quiet machine, two runs each: hub CPU per message 0.53–0.56 → 0.39–0.45 ms,
    // receipt → commit p99 at 500 msg/s 45–48 → 18–19 ms)
    await client.call({ cmd: 'warmup', messages: Number(process.env.BENCH_HL7_WARMUP ?? 2000), run: `w${run}` });
    while ((await openCount()) > 0) await sleep(50);
    // The statistics a running database has: autovacuum analyses a table once a tenth of it changed,
    // and that invalidates the plans prepared statements cached (the hot statements are named
    // prepared statements, and PostgreSQL keeps a generic plan from their sixth run). On this fresh
    // database the first minute has no ANALYZE yet: a generic plan made at a few hundred rows (a
    // sequential scan of inbound_messages in the batch end's status update) then stayed for the
    // whole run in some runs and doubled PostgreSQL's CPU per message at 500 msg/s (auto_explain,
    // docs/architecture.md). ANALYZE after the warm-up, as autovacuum would have by then.
    await hub.db.raw('ANALYZE');

    // CPU seconds of the hub (this process: intake thread + pipeline threads; plus the `lotbridge
    // worker` process when split) and of the PostgreSQL backends of the bench database
    const cpu = async (): Promise<{ hub: number; pg: number }> => {
      const c = await cpuSnapshot(hub.db as never, dbName, workerProc?.pid);
      return { hub: c.hub + c.load, pg: c.pg };
    };
    const perMessage = (a: { hub: number; pg: number }, b: { hub: number; pg: number }, n: number) => ({
      cpuMsPerMessageHub: Number((((b.hub - a.hub) * 1000) / n).toFixed(3)),
      cpuMsPerMessagePostgres: Number((((b.pg - a.pg) * 1000) / n).toFixed(3)),
    });

    // (1) sustained: every connection keeps up to 8 messages in flight
    const cpu0 = await cpu();
    const t0 = performance.now();
    const sustained = await client.call<{ ms: number; notAccepted: number }>({ cmd: 'sustained', messages: opts.messages, run, inFlightPerConnection: 8 });
    const rejected = sustained.notAccepted;
    const tAcked = t0 + sustained.ms;
    while ((await openCount()) > 0) await sleep(20);
    const tDone = performance.now();
    const cpu1 = await cpu();
    const processed = Number((await hub.db('inbound_messages').where({ status: 'processed', connector_id: 'hl7-mllp' }).count<Array<{ count: string }>>('* as count'))[0].count);
    const acked = opts.messages / ((tAcked - t0) / 1000);
    const committed = opts.messages / ((tDone - t0) / 1000);
    results.push({
      name: `hl7-mllp-received-to-acked (${topology})`,
      figures: { messagesPerSecond: Math.round(acked), messages: opts.messages, connections: opts.connections, notAccepted: rejected },
      baseline: { pgSingleRowTxPerSecond: Math.round(tpsA) },
      ratio: Number((acked / tpsA).toFixed(3)),
      target: 0,
      pass: true,
      notes: 'reported: MLLP receipt → raw message committed (group commit) → ACK written',
    });
    results.push({
      name: `hl7-mllp-received-to-canonical-commit (${topology})`,
      figures: { messagesPerSecond: Math.round(committed), messages: opts.messages, processedTotal: processed, seconds: Number(((tDone - t0) / 1000).toFixed(2)), ...perMessage(cpu0, cpu1, opts.messages) },
      baseline: { pgSingleRowTxPerSecond: Math.round(tpsA) },
      ratio: Number((committed / tpsA).toFixed(3)),
      target: 0.6,
      pass: committed / tpsA >= 0.6,
      notes: 'DFT^P03 with PRT/UDI → trace event, stock booking, device usage (PHI encrypted), demand row, audit + outbox',
    });

    // (2) latency at an offered 500 msg/s (BENCH_HL7_RATE) for 10 s, open loop over the connections
    const rate = Number(process.env.BENCH_HL7_RATE ?? 500);
    const seconds = 10;
    const latRun = `l${run}`;
    const diag = process.env.BENCH_HL7_DIAG === '1' ? await startLatencyDiagnosis(hub.db as never, () => hub.ingest.groupCommitStats) : undefined;
    const cpu2 = await cpu();
    const { lat } = await client.call<{ lat: number[] }>({ cmd: 'open-loop', rate, seconds, run: latRun });
    while ((await openCount()) > 0) await sleep(20);
    const cpu3 = await cpu();
    if (diag) await diag.report(lat, rate * seconds);
    lat.sort((a, b) => a - b);
    const commitMs = (await hub.db.raw<{ rows: Array<{ ms: number }> }>(
      `SELECT extract(epoch FROM (processed_at - received_at)) * 1000 AS ms FROM inbound_messages WHERE control_id LIKE ? AND status = 'processed' ORDER BY 1`,
      [`B${latRun}%`],
    )).rows.map((r) => Number(r.ms));
    const ackP99 = percentile(lat, 99);
    results.push({
      name: `hl7-mllp-ack-latency-at-${rate}-per-second (${topology})`,
      figures: { p50Ms: Number(percentile(lat, 50).toFixed(2)), p99Ms: Number(ackP99.toFixed(2)), maxMs: Number(lat[lat.length - 1].toFixed(2)), messages: lat.length },
      baseline: { targetP99Ms: 10 },
      ratio: Number((ackP99 / 10).toFixed(2)),
      target: 1,
      lowerIsBetter: true,
      pass: ackP99 <= 10,
      notes: 'ACK p99 ≤ 10 ms (ratio = p99 / 10 ms)',
    });
    const commitP99 = percentile(commitMs, 99);
    results.push({
      name: `hl7-receipt-to-commit-at-${rate}-per-second (${topology})`,
      figures: { p50Ms: Number(percentile(commitMs, 50).toFixed(2)), p99Ms: Number(commitP99.toFixed(2)), maxMs: Number((commitMs[commitMs.length - 1] ?? NaN).toFixed(2)), messages: commitMs.length, ...perMessage(cpu2, cpu3, rate * seconds) },
      baseline: { targetP99Ms: 50 },
      ratio: Number((commitP99 / 50).toFixed(2)),
      target: 1,
      lowerIsBetter: true,
      pass: commitP99 <= 50,
      notes: 'receipt → canonical commit p99 ≤ 50 ms (ratio = p99 / 50 ms)',
    });
    if (process.env.BENCH_HL7_STATS === '1') await printTableStats(hub.db as never);
  } finally {
    await client.call({ cmd: 'close' }).catch(() => undefined);
    client.child.kill('SIGTERM');
    if (workerProc) {
      workerProc.kill('SIGTERM');
      await new Promise((r) => workerProc.once('exit', r));
    }
    await hub.stop();
    if (process.env.BENCH_HL7_KEEP === '1') console.log(`kept database ${dbName}`);
    else await dropDatabase(u.toString());
    await deleteRedisPrefix(opts.redisUrl, `lbbench_${run}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
