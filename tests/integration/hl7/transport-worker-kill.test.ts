import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createMllpClient } from '../../../src/transport/mllp';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { TEST_REDIS_URL } from '../../helpers/test-redis';
import { countRows, hl7HubEnv, mllpPortOf, parseAck, singleImplantDft, waitAllSettled, waitFor } from '../../helpers/hl7';

const ROOT = path.join(__dirname, '../../..');

/*
 * Store first, process later, lose nothing: a hub that only takes messages in (workers: false)
 * ACKs DFT^P03 messages over MLLP once they are stored; a separate `lotbridge worker` process is
 * SIGKILLed while it maps them; a second worker finishes. Every message ends processed exactly
 * once, with exactly one usage, trace event and ledger row.
 */
describe('hl7 over MLLP: a worker killed between store and processing', () => {
  let h: TestHub | undefined;
  const workers = new Set<ChildProcess>();
  const cfg = hl7HubEnv();

  beforeAll(() => {
    ensureCompiled('src/cli/main.ts'); // the worker runs the compiled CLI (only stale files are emitted)
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await h?.stop();
    cfg.cleanup();
  });

  const spawnWorker = (hub: TestHub): ChildProcess => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/lotbridge.js'), 'worker'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: hub.databaseUrl, REDIS_URL: TEST_REDIS_URL, LOTBRIDGE_QUEUE_PREFIX: hub.prefix, LOTBRIDGE_DATA_DIR: hub.dataDir, LOTBRIDGE_CONFIG_FILE: '',
        LOTBRIDGE_LOG_LEVEL: 'warn', LOTBRIDGE_STALLED_INTERVAL_MS: '1000', LOTBRIDGE_JOB_LOCK_MS: '2000', LOTBRIDGE_SWEEP_INTERVAL_MS: '1000', LOTBRIDGE_SWEEP_GRACE_MS: '2000',
        // small batches, so the kill lands between two canonical commits
        LOTBRIDGE_PIPELINE_BATCH_MAX: '4', LOTBRIDGE_WORKER_CONCURRENCY: '2',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    workers.add(child);
    child.on('exit', () => workers.delete(child));
    return child;
  };

  it('ACKs every message once stored, then processes each exactly once across a SIGKILLed worker and its successor', async () => {
    h = await startTestHub({ workers: false, env: cfg.env });
    const hub = h;
    const port = mllpPortOf(hub);
    const n = 120;
    const msgs = Array.from({ length: n }, (_, i) => singleImplantDft(i, { controlIdPrefix: 'KILL', lot: `LK${i % 6}` }));
    const answers = (
      await Promise.all(
        [0, 1, 2].map(async (c) => {
          const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs: 20000 });
          try {
            return await Promise.all(msgs.filter((_, i) => i % 3 === c).map(async (m) => ({ m, ack: parseAck(await client.send(m.payload)) })));
          } finally {
            await client.close();
          }
        }),
      )
    ).flat();
    expect(answers).toHaveLength(n);
    expect(answers.every((a) => a.ack.code === 'AA' && a.ack.controlId === a.m.controlId)).toBe(true);
    // intake only: every message is stored and waits; nothing is mapped yet
    expect(await countRows(hub, 'inbound_messages', { status: 'queued' })).toBe(n);
    expect(await countRows(hub, 'device_usages')).toBe(0);

    const first = spawnWorker(hub);
    const processedAtKill = await waitFor('the first worker to commit something', async () => {
      const done = await countRows(hub, 'inbound_messages', { status: 'processed' });
      return done > 0 && done;
    }, 30_000, 5);
    first.kill('SIGKILL');
    await new Promise<void>((r) => (first.exitCode !== null || first.signalCode !== null ? r() : first.once('exit', () => r())));
    const afterKill = await countRows(hub, 'inbound_messages', { status: 'processed' });
    expect(afterKill).toBeLessThan(n); // killed half-way: some messages were still waiting
    expect(processedAtKill).toBeGreaterThan(0);

    spawnWorker(hub);
    await waitAllSettled(hub, 40_000);
    expect(await countRows(hub, 'inbound_messages', { status: 'processed' })).toBe(n);
    expect(await countRows(hub, 'inbound_messages')).toBe(n);
    const perMessage = await hub.hub.db('device_usages').groupBy('source_message_id').select('source_message_id').count<Array<{ source_message_id: string; count: string }>>('* as count');
    expect(perMessage).toHaveLength(n);
    expect(perMessage.every((r) => Number(r.count) === 1)).toBe(true);
    expect(await countRows(hub, 'trace_events')).toBe(n);
    expect(await countRows(hub, 'inventory_ledger')).toBe(n);
    expect(await countRows(hub, 'demand_history')).toBe(n);
    // the six lots were each consumed 20 times at the hospital location, no more
    const perLot = await hub.hub.db('device_usages').join('lots', 'lots.id', 'device_usages.lot_id').groupBy('lots.lot_number').select('lots.lot_number').sum<Array<{ lot_number: string; sum: string }>>('quantity as sum');
    expect(Object.fromEntries(perLot.map((r) => [r.lot_number, Number(r.sum)]))).toEqual(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`LK${i}`, 20])));
  }, 90_000);
});
