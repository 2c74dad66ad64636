import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import IORedis from 'ioredis';
import type { Queue } from 'bullmq';
import type { IngestJobData } from '../../../src/pipeline/queues';
import path from 'node:path';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { cleanupRedisPrefix, TEST_REDIS_URL } from '../../helpers/test-redis';
import { TEST_PG_SERVER, dropDatabase } from '../../helpers/test-db';
import { TcpProxy } from '../../helpers/tcp-proxy';

const ROOT = path.join(__dirname, '../../..');
const json = { 'content-type': 'application/json' };
const mv = (id: string, lot: string, qty: number, loc = 'WH1-R01'): string =>
  JSON.stringify({ movementId: id, type: 'receive', occurredAt: '2026-03-02T08:00:00Z', location: loc, gtin: '09506000134352', lot, expiry: '2027-03-31', quantity: qty, uom: 'EA' });

async function countWhere(h: TestHub, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const r = await h.hub.db(table).where(where).count<Array<{ count: string }>>('* as count');
  return Number(r[0].count);
}

async function waitAllTerminal(h: TestHub, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await h.hub.db('inbound_messages').whereIn('status', ['received', 'queued']).count<Array<{ count: string }>>('* as count');
    if (Number(open[0].count) === 0) return;
    if (Date.now() > until) throw new Error(`${open[0].count} messages still open after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function postAll(h: TestHub, bodies: string[], parallel: number): Promise<number[]> {
  const statuses: number[] = new Array(bodies.length);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < bodies.length) {
      const i = next++;
      const res = await fetch(`${h.url}/api/v1/ingest/wms`, { method: 'POST', body: bodies[i], headers: { ...json, authorization: `Bearer ${h.key}` } });
      statuses[i] = res.status;
      await res.arrayBuffer();
    }
  }));
  return statuses;
}

describe('reliability: nothing lost, nothing counted twice', () => {
  beforeAll(() => {
    // worker processes run the compiled CLI: make sure dist/ is current
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }, 180000);

  it('processes 10,000 messages exactly once while worker processes are SIGKILLed again and again', async () => {
    const h = await startTestHub({ workers: false });
    const workers = new Set<ChildProcess>();
    const spawnWorker = (): ChildProcess => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/lotbridge.js'), 'worker'], {
        cwd: ROOT,
        env: {
          ...process.env, DATABASE_URL: h.databaseUrl, REDIS_URL: TEST_REDIS_URL, LOTBRIDGE_QUEUE_PREFIX: h.prefix, LOTBRIDGE_DATA_DIR: h.dataDir,
          LOTBRIDGE_LOG_LEVEL: 'warn', LOTBRIDGE_STALLED_INTERVAL_MS: '1000', LOTBRIDGE_JOB_LOCK_MS: '3000', LOTBRIDGE_SWEEP_INTERVAL_MS: '2000', LOTBRIDGE_SWEEP_GRACE_MS: '5000',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      workers.add(child);
      child.on('exit', () => workers.delete(child));
      return child;
    };
    try {
      spawnWorker();
      spawnWorker();
      const N = 10000;
      const lots = 50;
      const bodies = Array.from({ length: N }, (_, i) => mv(`REL-${i}`, `LREL${i % lots}`, 1 + (i % 3)));
      const expectedTotal = bodies.reduce((s, _b, i) => s + 1 + (i % 3), 0);
      let kills = 0;
      const killer = setInterval(() => {
        const victim = [...workers][0];
        if (victim) {
          victim.kill('SIGKILL');
          kills++;
          spawnWorker();
        }
      }, 1500);
      const statuses = await postAll(h, bodies, 24);
      expect(statuses.filter((s) => s !== 202)).toEqual([]);
      await new Promise((r) => setTimeout(r, 2000));
      clearInterval(killer);
      await waitAllTerminal(h, 150000);
      expect(kills).toBeGreaterThanOrEqual(2);
      expect(await countWhere(h, 'inbound_messages', { status: 'processed' })).toBe(N);
      expect(await countWhere(h, 'trace_events')).toBe(N);
      expect(await countWhere(h, 'inventory_ledger')).toBe(N);
      const sum = await h.hub.db('inventory_balances').sum<Array<{ sum: number }>>('quantity as sum');
      expect(Number(sum[0].sum)).toBe(expectedTotal);
      const perLot = await h.hub.db('inventory_ledger').join('lots', 'lots.id', 'inventory_ledger.lot_id').groupBy('lots.lot_number').select('lots.lot_number').sum<Array<{ lot_number: string; sum: number }>>('delta as sum');
      expect(perLot).toHaveLength(lots);
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      await h.stop();
    }
  }, 300000);

  it('loses nothing when Redis loses its data: the sweeper re-enqueues what was queued', async () => {
    // intake only, so the jobs sit in Redis when it is emptied
    const h = await startTestHub({ workers: false });
    try {
      const statuses = await postAll(h, Array.from({ length: 60 }, (_, i) => mv(`FLUSH-${i}`, 'LFLUSH', 1)), 6);
      expect(statuses.every((s) => s === 202)).toBe(true);
      expect(await countWhere(h, 'inbound_messages', { status: 'queued' })).toBe(60);
      // group commit: a job holds one message or a batch of them; every queued message is in exactly one job
      // receipts do not wait for the enqueue: give the last ones a moment to reach the queue
      let queuedIds: Array<string | undefined> = [];
      for (let i = 0; i < 50 && queuedIds.length < 60; i++) {
        if (i > 0) await new Promise((res) => setTimeout(res, 100));
        const waitingJobs = await (h.hub.pipeline.ingestQueue as unknown as Queue<IngestJobData>).getWaiting(0, -1);
        queuedIds = waitingJobs.flatMap((j) => j.data.messageIds ?? [j.data.messageId]);
      }
      expect(queuedIds).toHaveLength(60);
      expect(new Set(queuedIds).size).toBe(60);
      const r = new IORedis(TEST_REDIS_URL);
      if (process.env.LOTBRIDGE_TEST_ALLOW_FLUSHALL === '1') {
        await r.flushall(); // CI: a Redis of its own
      } else {
        await cleanupRedisPrefix(h.prefix);
      }
      r.disconnect();
      expect((await h.hub.pipeline.ingestQueue.getJobCounts('waiting')).waiting).toBe(0);
      await new Promise((res) => setTimeout(res, 1200)); // past the sweeper's grace period
      await h.hub.pipeline.startWorkers(); // sweeps at start
      await waitAllTerminal(h, 30000);
      expect(await countWhere(h, 'inbound_messages', { status: 'processed' })).toBe(60);
      expect(await countWhere(h, 'trace_events')).toBe(60);
      expect(await h.lotTotal('09506000134352', 'LFLUSH')).toBe(60);
    } finally {
      await h.stop();
    }
  }, 60000);

  it('gives the same 1,000 messages posted twice at once one effect each', async () => {
    const h = await startTestHub();
    try {
      const bodies = Array.from({ length: 1000 }, (_, i) => mv(`TWICE-${i}`, 'LTWICE', 1));
      const [a, b] = await Promise.all([postAll(h, bodies, 12), postAll(h, [...bodies].reverse(), 12)]);
      const all = [...a, ...b];
      expect(all.filter((s) => s === 202)).toHaveLength(1000);
      expect(all.filter((s) => s === 200)).toHaveLength(1000);
      await waitAllTerminal(h, 60000);
      expect(await countWhere(h, 'inbound_messages', { status: 'processed' })).toBe(1000);
      expect(await countWhere(h, 'inbound_messages', { status: 'duplicate' })).toBe(1000);
      expect(await countWhere(h, 'trace_events')).toBe(1000);
      expect(await h.lotTotal('09506000134352', 'LTWICE')).toBe(1000);
    } finally {
      await h.stop();
    }
  }, 120000);

  it('answers 503 and never 202 while PostgreSQL is unreachable, and loses nothing it accepted', async () => {
    const target = new URL(TEST_PG_SERVER);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const port = await proxy.up();
    const dbName = `lotbridge_t_proxy_${Date.now().toString(36)}`;
    const viaProxy = new URL(TEST_PG_SERVER);
    viaProxy.port = String(port);
    viaProxy.pathname = `/${dbName}`;
    const h = await startTestHub({ databaseUrl: viaProxy.toString() });
    try {
      const before = await postAll(h, Array.from({ length: 100 }, (_, i) => mv(`PGD-a${i}`, 'LPGDOWN', 1)), 8);
      expect(before.every((s) => s === 202)).toBe(true);
      await proxy.down();
      const during = await postAll(h, Array.from({ length: 30 }, (_, i) => mv(`PGD-b${i}`, 'LPGDOWN', 1)), 4);
      expect(during.filter((s) => s >= 200 && s < 300)).toEqual([]);
      expect(new Set(during)).toEqual(new Set([503]));
      const ready = await fetch(`${h.url}/readyz`);
      expect(ready.status).toBe(503);
      await proxy.up();
      const after = await postAll(h, Array.from({ length: 50 }, (_, i) => mv(`PGD-c${i}`, 'LPGDOWN', 1)), 8);
      expect(after.every((s) => s === 202)).toBe(true);
      await waitAllTerminal(h, 90000);
      expect(await countWhere(h, 'inbound_messages', { status: 'processed' })).toBe(150);
      expect(await h.lotTotal('09506000134352', 'LPGDOWN')).toBe(150);
    } finally {
      await h.stop();
      await proxy.down();
      await dropDatabase(`${TEST_PG_SERVER.replace(/\/[^/]*$/, '')}/${dbName}`);
    }
  }, 180000);
});
