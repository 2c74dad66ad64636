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
import { deleteRedisPrefix, percentile, sleep, type BenchResult } from './bench-result';

export interface PipelineBenchOptions {
  serverUrl: string;
  redisUrl: string;
  messages: number;
  concurrency: number;
}

function movement(i: number, run: string): string {
  const lot = `L${(i % 500).toString().padStart(4, '0')}`;
  return JSON.stringify({
    movementId: `B-${run}-${i}`, type: 'receive', occurredAt: new Date(Date.UTC(2026, 2, 1, 10, 0, i % 60)).toISOString(),
    location: `WH1-A${(i % 40).toString().padStart(2, '0')}`, gtin: '09506000134352', lot, expiry: '2027-03-31', quantity: 1 + (i % 7), uom: 'EA',
  });
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
  });
  const hub = await startHub(config, silentLogger(), { mode: 'all' });
  const base = `http://127.0.0.1:${(hub.app!.server.address() as AddressInfo).port}`;
  const results: BenchResult[] = [];
  try {
    const tpsA = await pgSingleRowTps(u.toString(), Math.max(2000, opts.messages), opts.concurrency, config.dbPoolMax);
    const jpsB = await bullmqNoopJps(opts.redisUrl, Math.max(5000, opts.messages), opts.concurrency);

    // warm-up: master data path, JIT
    for (let i = 0; i < 50; i++) {
      await fetch(`${base}/api/v1/ingest/wms`, { method: 'POST', body: movement(i, `warm${run}`), headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } });
    }
    await sleep(1000);
    const before = Number((await hub.db('inbound_messages').where({ status: 'processed' }).count<Array<{ count: string }>>('* as count'))[0].count);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < opts.messages) {
        const i = next++;
        const res = await fetch(`${base}/api/v1/ingest/wms`, { method: 'POST', body: movement(i, run), headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } });
        if (res.status !== 202) {
          throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
        }
        await res.arrayBuffer();
      }
    }));
    const tIntake = performance.now();
    for (;;) {
      const open = Number((await hub.db('inbound_messages').whereIn('status', ['received', 'queued']).count<Array<{ count: string }>>('* as count'))[0].count);
      if (open === 0) break;
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const processed = Number((await hub.db('inbound_messages').where({ status: 'processed' }).count<Array<{ count: string }>>('* as count'))[0].count) - before;
    const mps = processed / seconds;
    results.push({
      name: 'wms-movements-received-to-committed',
      figures: { messagesPerSecond: Math.round(mps), messages: processed, seconds: Number(seconds.toFixed(2)), intakeOnlyPerSecond: Math.round(opts.messages / ((tIntake - t0) / 1000)) },
      baseline: { pgSingleRowTxPerSecond: Math.round(tpsA), bullmqNoopJobsPerSecond: Math.round(jpsB) },
      ratio: Number((mps / tpsA).toFixed(3)),
      target: 0.6,
      pass: mps / tpsA >= 0.6,
      notes: `ratio vs (a) PostgreSQL single-row tx/s; vs (b) BullMQ no-op: ${(mps / jpsB).toFixed(3)}`,
    });

    // latency at a steady 500 msg/s for 10 s (open loop), against /healthz at the same rate
    const rate = 500;
    const secondsLat = 10;
    const measure = async (make: (i: number) => Promise<Response>): Promise<number[]> => {
      const lat: number[] = [];
      const pending: Array<Promise<void>> = [];
      const start = performance.now();
      for (let i = 0; i < rate * secondsLat; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const t = performance.now();
        pending.push(make(i).then(async (r) => { await r.arrayBuffer(); lat.push(performance.now() - t); }));
      }
      await Promise.all(pending);
      return lat.sort((a, b) => a - b);
    };
    const health = await measure(() => fetch(`${base}/healthz`));
    const ingest = await measure((i) => fetch(`${base}/api/v1/ingest/wms`, { method: 'POST', body: movement(i, `lat${run}`), headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } }));
    const p99 = percentile(ingest, 99);
    const p99h = percentile(health, 99);
    results.push({
      name: 'ingest-http-202-latency-at-500-per-second',
      figures: { p50Ms: Number(percentile(ingest, 50).toFixed(2)), p99Ms: Number(p99.toFixed(2)), maxMs: Number(ingest[ingest.length - 1].toFixed(2)), requests: ingest.length },
      baseline: { healthzP50Ms: Number(percentile(health, 50).toFixed(2)), healthzP99Ms: Number(p99h.toFixed(2)) },
      ratio: Number((p99 / p99h).toFixed(2)),
      target: 0,
      lowerIsBetter: true,
      pass: true,
      notes: 'reported, no target: p99 of the store-before-ack 202 vs p99 of GET /healthz at the same rate and concurrency',
    });
  } finally {
    await hub.stop();
    await dropDatabase(u.toString());
    await deleteRedisPrefix(opts.redisUrl, `lbbench_${run}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
