import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { v7 as uuidv7 } from 'uuid';
import { deleteRedisPrefix, percentile, type BenchResult } from './bench-result';
import { loadConfig } from '../src/config/config';
import { dropDatabase } from '../src/db/knex';
import { silentLogger } from '../src/logging/logger';
import { startHub } from '../src/hub';

/** A local HTTP server that notes when each event id arrives (from the X-LotBridge-Event-Id header or the body). */
async function arrivalServer(): Promise<{ url: string; arrived: Map<string, number>; close(): Promise<void> }> {
  const arrived = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = (req.headers['x-bench-id'] as string | undefined) ?? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id;
      arrived.set(id, performance.now());
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrived,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function waitAll(arrived: Map<string, number>, n: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (arrived.size < n) {
    if (Date.now() > until) {
      throw new Error(`only ${arrived.size} of ${n} arrived within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function figuresOf(sent: Map<string, number>, arrived: Map<string, number>): { eventsPerSec: number; p50Ms: number; p99Ms: number } {
  const lat = [...sent].map(([id, t]) => arrived.get(id)! - t).sort((a, b) => a - b);
  const first = Math.min(...sent.values());
  const last = Math.max(...arrived.values());
  return { eventsPerSec: Math.round((sent.size / (last - first)) * 1000), p50Ms: Math.round(percentile(lat, 50) * 10) / 10, p99Ms: Math.round(percentile(lat, 99) * 10) / 10 };
}

/**
 * Event delivery through Node-RED: route job → lotbridge-event → function → lotbridge-deliver →
 * deliver queue → HTTP POST to a local server, in an embedded hub; events/s and latency (route job
 * added → POST arrived). Baseline in the same run, same Redis and server: a two-job chain of no-op
 * BullMQ jobs (route → deliver) whose deliver job does a plain HTTP POST. Target ≥ 0.5×.
 */
export async function runNodeRedBench(opts: { serverUrl: string; redisUrl: string; events: number; concurrency: number }): Promise<BenchResult[]> {
  const sink = await arrivalServer();
  const redis = new URL(opts.redisUrl);
  const connection = { host: redis.hostname, port: Number(redis.port || 6379) };
  const blPrefix = `lbbench_bl_${randomBytes(4).toString('hex')}`;
  const hubPrefix = `lbbench_nr_${randomBytes(4).toString('hex')}`;
  const dbName = `lotbridge_bench_nr_${randomBytes(4).toString('hex')}`;
  const u = new URL(opts.serverUrl);
  u.pathname = `/${dbName}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-bench-nr-'));
  const results: BenchResult[] = [];
  try {
    // ---- baseline: route → deliver no-op chain + plain POST
    const blRoute = new Queue('bl_route', { connection, prefix: blPrefix });
    const blDeliver = new Queue('bl_deliver', { connection, prefix: blPrefix });
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
    const post = (id: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({ id });
        const req = http.request(`${sink.url}/baseline`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-bench-id': id } }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end(body);
      });
    const w1 = new Worker('bl_route', async (job) => { await blDeliver.add('d', job.data, { removeOnComplete: true }); }, { connection, prefix: blPrefix, concurrency: opts.concurrency });
    const w2 = new Worker('bl_deliver', async (job) => { await post((job.data as { id: string }).id); }, { connection, prefix: blPrefix, concurrency: opts.concurrency });
    await Promise.all([w1.waitUntilReady(), w2.waitUntilReady()]);
    const blSent = new Map<string, number>();
    const ids = Array.from({ length: opts.events }, () => uuidv7());
    for (let i = 0; i < ids.length; i += 200) {
      const chunk = ids.slice(i, i + 200);
      const t = performance.now();
      chunk.forEach((id) => blSent.set(id, t));
      await blRoute.addBulk(chunk.map((id) => ({ name: 'r', data: { id }, opts: { removeOnComplete: true } })));
    }
    await waitAll(sink.arrived, opts.events, 120_000);
    const baseline = figuresOf(blSent, sink.arrived);
    await Promise.all([w1.close(), w2.close(), blRoute.close(), blDeliver.close()]);
    agent.destroy();
    sink.arrived.clear();

    // ---- Node-RED: a hub with one flow, event → function → deliver
    fs.mkdirSync(path.join(dataDir, 'node-red'), { recursive: true });
    const z = 'bench.tab';
    fs.writeFileSync(path.join(dataDir, 'node-red', 'flows.json'), JSON.stringify([
      { id: z, type: 'tab', label: 'bench' },
      { id: 'b.ev', z, type: 'lotbridge-event', events: 'bench.event', timeout: 60, x: 100, y: 100, wires: [['b.fn']] },
      { id: 'b.fn', z, type: 'function', func: 'msg.payload = { id: msg.eventId, lot: msg.payload.lot };\nreturn msg;', outputs: 1, x: 300, y: 100, wires: [['b.dl']] },
      { id: 'b.dl', z, type: 'lotbridge-deliver', kind: 'http', url: `${sink.url}/flow`, concurrency: opts.concurrency, attempts: 3, x: 500, y: 100, wires: [[], []] },
    ]));
    const config = loadConfig({
      DATABASE_URL: u.toString(), REDIS_URL: opts.redisUrl, LOTBRIDGE_HTTP_PORT: '0', LOTBRIDGE_HTTP_HOST: '127.0.0.1', LOTBRIDGE_MLLP_PORT: '0',
      LOTBRIDGE_DATA_DIR: dataDir, LOTBRIDGE_QUEUE_PREFIX: hubPrefix, LOTBRIDGE_CONFIG_FILE: '', LOTBRIDGE_WORKER_THREADS: '0',
      LOTBRIDGE_ADMIN_PASSWORD: 'bench-password', LOTBRIDGE_ROUTE_CONCURRENCY: String(opts.concurrency), LOTBRIDGE_DELIVER_CONCURRENCY: String(opts.concurrency),
    });
    const hub = await startHub(config, silentLogger(), { mode: 'all' });
    try {
      const route = new Queue('route', { connection, prefix: hubPrefix });
      const sent = new Map<string, number>();
      const evIds = Array.from({ length: opts.events }, () => uuidv7());
      for (let i = 0; i < evIds.length; i += 200) {
        const chunk = evIds.slice(i, i + 200);
        const t = performance.now();
        chunk.forEach((id) => sent.set(id, t));
        await route.addBulk(chunk.map((id) => ({
          name: 'bench.event',
          data: { eventId: id, type: 'bench.event', payload: { lot: 'L2403A' }, sourceMessageId: null, ordinal: null, createdAt: new Date().toISOString() },
          opts: { jobId: id, attempts: 3, removeOnComplete: true },
        })));
      }
      await waitAll(sink.arrived, opts.events, 300_000);
      const flow = figuresOf(sent, sink.arrived);
      await route.close();
      const ratio = Math.round((flow.eventsPerSec / baseline.eventsPerSec) * 100) / 100;
      results.push({
        name: `Node-RED event delivery (${opts.events} events, lotbridge-event → function → lotbridge-deliver → HTTP, concurrency ${opts.concurrency})`,
        figures: flow,
        baseline,
        ratio,
        target: 0.5,
        pass: ratio >= 0.5,
        notes: 'latency = route job added → POST arrived at the local server; the flow path also writes and updates a deliveries row per event (PostgreSQL) and encrypts its body; the outbox relay hop (poll LOTBRIDGE_OUTBOX_POLL_MS) is not in either path',
      });
    } finally {
      await hub.stop();
    }
  } finally {
    await sink.close();
    await dropDatabase(u.toString()).catch(() => undefined);
    await deleteRedisPrefix(opts.redisUrl, blPrefix);
    await deleteRedisPrefix(opts.redisUrl, hubPrefix);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
