import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import knex from 'knex';
import { createMllpClient } from '../../../src/transport/mllp';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { TEST_PG_SERVER, dropDatabase } from '../../helpers/test-db';
import { cleanupRedisPrefix, testQueuePrefix, TEST_REDIS_URL } from '../../helpers/test-redis';
import { countRows, hl7HubEnv, mllpPortOf, parseAck, singleImplantDft, waitAllSettled, waitFor } from '../../helpers/hl7';

/**
 * The local hand-off (LOTBRIDGE_PIPELINE_HANDOFF, docs/architecture.md): intake gives each group
 * commit's stored messages straight to the pipeline of its own process, without an `ingest` job.
 * The queue still takes what the local pipeline cannot hold, and the sweeper what a crash left.
 */

/** Sends the messages over `connections` MLLP connections at once; the ACKs in message order. */
async function sendAll(port: number, payloads: Buffer[], connections = 3): Promise<Buffer[]> {
  const acks: Buffer[] = new Array(payloads.length);
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs: 20000 });
      try {
        await Promise.all(payloads.map(async (p, i) => {
          if (i % connections === c) acks[i] = await client.send(p);
        }));
      } finally {
        await client.close();
      }
    }),
  );
  return acks;
}

async function ingestJobCount(h: TestHub): Promise<number> {
  const q = new Queue('ingest', { connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379) }, prefix: h.prefix });
  try {
    const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await q.close();
  }
}

async function expectOneEffectEach(h: TestHub, n: number): Promise<void> {
  expect(await countRows(h, 'inbound_messages', { status: 'processed' })).toBe(n);
  const perMessage = await h.hub.db('device_usages').groupBy('source_message_id').select('source_message_id').count<Array<{ count: string }>>('* as count');
  expect(perMessage).toHaveLength(n);
  expect(perMessage.every((r) => Number(r.count) === 1)).toBe(true);
  expect(await countRows(h, 'trace_events')).toBe(n);
  expect(await countRows(h, 'inventory_ledger')).toBe(n);
}

describe('local hand-off: intake → this process’s pipeline, without the queue', () => {
  let h: TestHub | undefined;
  const cfg = hl7HubEnv();
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });
  afterAll(() => cfg.cleanup());

  it('maps every message without an ingest job; a resend gets the same ACK and no second effect', async () => {
    h = await startTestHub({ env: cfg.env });
    const hub = h;
    const n = 60;
    const msgs = Array.from({ length: n }, (_, i) => singleImplantDft(i, { controlIdPrefix: 'HOFF', lot: `LH${i % 5}` }));
    const acks = (await sendAll(mllpPortOf(hub), msgs.map((m) => m.payload))).map(parseAck);
    expect(acks.every((a, i) => a.code === 'AA' && a.controlId === msgs[i].controlId)).toBe(true);
    await waitAllSettled(hub);
    await expectOneEffectEach(hub, n);
    const stats = hub.hub.pipeline.handOffStats;
    expect(stats?.handedOff).toBe(n);
    expect(stats?.fellBack).toBe(0);
    expect(await ingestJobCount(hub)).toBe(0); // no job was ever added for them

    // the sender did not get its ACK and sends message 7 again: the first ACK, no second usage
    const [again] = await sendAll(mllpPortOf(hub), [msgs[7].payload], 1);
    expect(again.toString('latin1')).toBe((await hub.hub.db('message_acks').join('inbound_messages', 'inbound_messages.id', 'message_acks.message_id')
      .where({ control_id: msgs[7].controlId, status: 'processed' }).first<{ ack: { raw: string } }>('message_acks.ack')).ack.raw);
    expect(await countRows(hub, 'inbound_messages', { control_id: msgs[7].controlId, status: 'duplicate' })).toBe(1);
    await waitAllSettled(hub);
    await expectOneEffectEach(hub, n);
  }, 60_000);

  it('puts what the local pipeline cannot hold on the queue, and maps each message once either way', async () => {
    // batches of 1, and the local pipeline holds at most 1 message: the rest of each group commit is enqueued
    h = await startTestHub({ env: { ...cfg.env, LOTBRIDGE_PIPELINE_BATCH_MAX: '1', LOTBRIDGE_PIPELINE_HANDOFF_MAX: '1', LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE: '1' } });
    const hub = h;
    const n = 60;
    const msgs = Array.from({ length: n }, (_, i) => singleImplantDft(i, { controlIdPrefix: 'HOVF', lot: `LV${i % 5}` }));
    const acks = (await sendAll(mllpPortOf(hub), msgs.map((m) => m.payload), 6)).map(parseAck);
    expect(acks.every((a) => a.code === 'AA')).toBe(true);
    await waitAllSettled(hub);
    await expectOneEffectEach(hub, n);
    const handedOff = hub.hub.pipeline.handOffStats?.handedOff ?? 0;
    expect(handedOff).toBeGreaterThan(0);
    expect(handedOff).toBeLessThan(n);
  }, 60_000);

  it('keeps the backlog local while no other process consumes the ingest queue, and shares it once one does', async () => {
    // LOTBRIDGE_PIPELINE_HANDOFF_MAX 1 applies only while another process's worker is on the queue
    h = await startTestHub({ env: { ...cfg.env, LOTBRIDGE_PIPELINE_BATCH_MAX: '1', LOTBRIDGE_PIPELINE_HANDOFF_MAX: '1' } });
    const hub = h;
    // this process's own workers (the hub's) are not others
    expect(await hub.hub.pipeline.otherIngestConsumers()).toBe(0);
    const alone = Array.from({ length: 40 }, (_, i) => singleImplantDft(i, { controlIdPrefix: 'HALN', lot: `LA${i % 4}` }));
    await sendAll(mllpPortOf(hub), alone.map((m) => m.payload), 6);
    await waitAllSettled(hub);
    await expectOneEffectEach(hub, 40);
    expect(hub.hub.pipeline.handOffStats?.handedOff).toBe(40);
    expect(hub.hub.handOffLimit?.value).toBe(50000);

    // another process's worker connects to the ingest queue (not running: it takes no job, the hub's workers do)
    const other = new Worker('ingest', async () => undefined, {
      connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379), maxRetriesPerRequest: null }, prefix: hub.prefix, autorun: false, name: 'another-host:4242',
    });
    try {
      await other.waitUntilReady();
      expect(await hub.hub.pipeline.otherIngestConsumers()).toBe(1);
      // the hub looks every 5 s; look now
      await hub.hub.handOffLimit?.refresh();
      expect(hub.hub.handOffLimit?.value).toBe(1);
      const shared = Array.from({ length: 40 }, (_, i) => singleImplantDft(100 + i, { controlIdPrefix: 'HSHR', lot: `LA${i % 4}` }));
      await sendAll(mllpPortOf(hub), shared.map((m) => m.payload), 6);
      await waitAllSettled(hub);
      await expectOneEffectEach(hub, 80);
      // at most one message held locally at a time: the rest of each group commit went on the queue
      expect(hub.hub.pipeline.handOffStats?.handedOff).toBeLessThan(80);
    } finally {
      await other.close();
    }
  }, 60_000);

  it('with LOTBRIDGE_PIPELINE_HANDOFF=false every message goes through the queue', async () => {
    h = await startTestHub({ env: { ...cfg.env, LOTBRIDGE_PIPELINE_HANDOFF: 'false' } });
    const hub = h;
    const msgs = Array.from({ length: 10 }, (_, i) => singleImplantDft(i, { controlIdPrefix: 'HOFFQ' }));
    await sendAll(mllpPortOf(hub), msgs.map((m) => m.payload));
    await waitAllSettled(hub);
    await expectOneEffectEach(hub, 10);
    expect(hub.hub.pipeline.handOffStats).toBeUndefined();
  }, 60_000);
});

/**
 * The crash case, on the compiled `lotbridge start` with its pipeline worker thread: the process
 * is SIGKILLed while handed-off messages wait in memory. They are committed `queued` rows without
 * a job; the restarted hub's sweeper queues them and each is mapped exactly once.
 */
describe('local hand-off: lotbridge start killed with hand-offs in memory', () => {
  const ROOT = path.resolve(__dirname, '..', '..', '..');
  const dbName = `lotbridge_t_hoff_${randomBytes(5).toString('hex')}`;
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/${dbName}`;
  const prefix = testQueuePrefix();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-hoff-'));
  const httpPort = 20000 + Math.floor(Math.random() * 20000);
  const mllpPort = httpPort + 1;
  const children = new Set<ChildProcess>();
  const db = knex({ client: 'pg', connection: u.toString(), pool: { min: 0, max: 2 } });

  const start = async (): Promise<{ child: ChildProcess; log: () => string }> => {
    let log = '';
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'lotbridge.js'), 'start'], {
      cwd: ROOT,
      env: {
        ...process.env, DATABASE_URL: u.toString(), REDIS_URL: TEST_REDIS_URL, LOTBRIDGE_HTTP_PORT: String(httpPort), LOTBRIDGE_HTTP_HOST: '127.0.0.1',
        LOTBRIDGE_MLLP_PORT: String(mllpPort), LOTBRIDGE_DATA_DIR: dataDir, LOTBRIDGE_QUEUE_PREFIX: prefix, LOTBRIDGE_CONFIG_FILE: '',
        LOTBRIDGE_WORKER_THREADS: '1', LOTBRIDGE_LOG_LEVEL: 'info', LOTBRIDGE_NODERED_ENABLED: 'false',
        LOTBRIDGE_SWEEP_INTERVAL_MS: '1000', LOTBRIDGE_SWEEP_GRACE_MS: '1000',
        // batches of 10 (the local pipeline holds up to 10): the kill lands between canonical commits
        LOTBRIDGE_PIPELINE_BATCH_MAX: '10',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('the hub to start', () => {
      if (child.exitCode !== null) throw new Error(`hub exited:\n${log}`);
      return /"mode":"all"[^\n]*LotBridge ready/.test(log);
    }, 40_000, 100);
    return { child, log: () => log };
  };

  beforeAll(() => {
    ensureCompiled('src/cli/main.ts');
    ensureCompiled('src/pipeline/worker-thread.ts');
  }, 120_000);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await db.destroy();
    await dropDatabase(u.toString()).catch(() => undefined);
    await cleanupRedisPrefix(prefix);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('maps every ACKed message exactly once after a SIGKILL and a restart', async () => {
    const first = await start();
    const n = 150;
    const msgs = Array.from({ length: n }, (_, i) => singleImplantDft(i, { controlIdPrefix: 'HKILL', lot: `LX${i % 6}` }));
    const acks = (await sendAll(mllpPort, msgs.map((m) => m.payload), 5)).map(parseAck);
    expect(acks.every((a, i) => a.code === 'AA' && a.controlId === msgs[i].controlId)).toBe(true);
    const count = async (status: string): Promise<number> => Number((await db('inbound_messages').where({ status }).count<Array<{ c: string }>>('* as c'))[0].c);
    await waitFor('the worker thread to commit a first batch', async () => (await count('processed')) > 0, 30_000, 5);
    first.child.kill('SIGKILL');
    await new Promise<void>((r) => (first.child.exitCode !== null || first.child.signalCode !== null ? r() : first.child.once('exit', () => r())));
    const open = await count('queued');
    expect(open).toBeGreaterThan(0); // killed half-way
    // handed off, not queued: open messages that no ingest job holds (the overflow of the small
    // local pipeline has jobs); only the sweeper can find those
    const q = new Queue('ingest', { connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379) }, prefix });
    const jobs = await q.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
    await q.close();
    const inJobs = new Set(jobs.flatMap((j) => (j.data as { messageIds?: string[] }).messageIds ?? [(j.data as { messageId?: string }).messageId ?? j.id ?? '']));
    const openIds = (await db('inbound_messages').where({ status: 'queued' }).select<Array<{ id: string }>>('id')).map((r) => r.id);
    expect(openIds.filter((id) => !inJobs.has(id)).length).toBeGreaterThan(0);

    const second = await start();
    await waitFor('every message to be processed after the restart', async () => (await count('processed')) === n, 40_000, 100);
    expect(await count('queued')).toBe(0);
    const perMessage = await db('device_usages').groupBy('source_message_id').select('source_message_id').count<Array<{ c: string }>>('* as c');
    expect(perMessage).toHaveLength(n);
    expect(perMessage.every((r) => Number(r.c) === 1)).toBe(true);
    expect(Number((await db('trace_events').count<Array<{ c: string }>>('* as c'))[0].c)).toBe(n);
    expect(second.log()).toMatch(/sweeper re-enqueued stranded messages/);
    const exited = new Promise<number | null>((resolve) => second.child.once('exit', (code) => resolve(code)));
    second.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});
