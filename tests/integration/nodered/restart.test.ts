/**
 * Node-RED across process boundaries, with the compiled `lotbridge start` in child processes:
 * a hub killed (SIGKILL) while a flow holds an event delivers it again after a restart, exactly
 * once at the destination; a hub whose flow file is invalid still starts, with flows disabled, and
 * says so in /readyz.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { cleanupRedisPrefix, testQueuePrefix, TEST_REDIS_URL } from '../../helpers/test-redis';
import { captureServer, ensureNodeRedNodes, insertOutboxEvent, tab, waitUntil } from '../../helpers/nodered';

const ROOT = path.resolve(__dirname, '..', '..', '..');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('embedded Node-RED in a lotbridge start process', () => {
  const children = new Set<ChildProcess>();
  let t: TestDatabase;
  const prefix = testQueuePrefix();
  const dirs: string[] = [];

  beforeAll(async () => {
    ensureCompiled('src/cli/main.ts');
    ensureNodeRedNodes();
    t = await createTestDatabase();
  }, 180_000);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await t?.destroy();
    await cleanupRedisPrefix(prefix);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const start = async (dataDir: string): Promise<{ child: ChildProcess; url: string }> => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/lotbridge.js'), 'start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: t.url, REDIS_URL: TEST_REDIS_URL, LOTBRIDGE_QUEUE_PREFIX: prefix, LOTBRIDGE_DATA_DIR: dataDir, LOTBRIDGE_CONFIG_FILE: '',
        LOTBRIDGE_HTTP_PORT: String(port), LOTBRIDGE_HTTP_HOST: '127.0.0.1', LOTBRIDGE_MLLP_PORT: '0', LOTBRIDGE_WORKER_THREADS: '0',
        LOTBRIDGE_ADMIN_PASSWORD: 'restart-test-pw', LOTBRIDGE_LOG_LEVEL: 'warn', LOTBRIDGE_OUTBOX_POLL_MS: '50',
        LOTBRIDGE_STALLED_INTERVAL_MS: '1000', LOTBRIDGE_JOB_LOCK_MS: '2000',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    const url = `http://127.0.0.1:${port}`;
    await waitUntil('hub ready', async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, 200);
    return { child, url };
  };
  const kill = async (child: ChildProcess): Promise<void> => {
    child.kill('SIGKILL');
    await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  };

  it('delivers an event again after the hub was killed mid-flow, once at the destination', async () => {
    const sink = await captureServer();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-nr-kill-'));
    dirs.push(dataDir);
    fs.mkdirSync(path.join(dataDir, 'node-red'), { recursive: true });
    // a flow that holds each event 4 s before delivering it: the kill lands in between
    const flow = tab('t.kill', [
      { id: 'k.ev', type: 'lotbridge-event', events: 'lot.released', timeout: 60, wires: [['k.fn']] },
      { id: 'k.fn', type: 'function', func: "setTimeout(() => { node.send(msg); node.done(); }, 4000);\nreturn null;", outputs: 1, wires: [['k.dl']] },
      { id: 'k.dl', type: 'lotbridge-deliver', kind: 'http', url: `${sink.url}/erp`, attempts: 3, backoff: 0.1, wires: [[], []] },
    ]);
    fs.writeFileSync(path.join(dataDir, 'node-red', 'flows.json'), JSON.stringify(flow));
    const queue = new Queue('route', { connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379) }, prefix });
    try {
      const first = await start(dataDir);
      const eventId = await insertOutboxEvent(t.db, 'lot.released', { gtin: '09506000134352', lot: 'L2403A', status: 'released' });
      await waitUntil('the flow holds the event', async () => (await queue.getJobCounts('active')).active === 1, 20_000);
      await kill(first.child);
      expect(sink.requests).toHaveLength(0);
      expect(await (await queue.getJob(eventId))?.getState()).toBe('active'); // its lock still held by the dead process

      await start(dataDir);
      const req = await waitUntil('delivered after the restart', () => sink.requests.find((r) => r.headers['x-lotbridge-event-id'] === eventId), 40_000, 100);
      expect(JSON.parse(req.body)).toEqual({ gtin: '09506000134352', lot: 'L2403A', status: 'released' });
      await waitUntil('route job completed', async () => (await queue.getJob(eventId)) === undefined, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.requests.filter((r) => r.headers['x-lotbridge-event-id'] === eventId)).toHaveLength(1);
      const rows = await t.db('deliveries').where({ event_id: eventId });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ status: 'delivered', attempts: 1 });
    } finally {
      for (const c of [...children]) await kill(c);
      await queue.close();
      await sink.close();
    }
  }, 150_000);

  it('starts with flows disabled when the flow file is invalid, keeps the file aside and says why in /readyz', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-nr-bad-'));
    dirs.push(dataDir);
    fs.mkdirSync(path.join(dataDir, 'node-red'), { recursive: true });
    const broken = '[{"id":"a","type":"lotbridge-event","events":"lot.released"},\n {"id":"b","type":"function" "func":"return msg;"}]';
    fs.writeFileSync(path.join(dataDir, 'node-red', 'flows.json'), broken);
    const hub = await start(dataDir);
    try {
      const r = (await (await fetch(`${hub.url}/readyz`)).json()) as any;
      expect(r.status).toBe('ready');
      expect(r.dependencies.nodered).toMatchObject({ state: 'up', flows: 'disabled' });
      expect(r.dependencies.nodered.reason).toMatch(/^LB_ERR_FLOWS_INVALID: flow file .*flows\.json is not valid JSON/);
      const kept = fs.readdirSync(path.join(dataDir, 'node-red')).filter((f) => f.startsWith('flows.json.invalid-'));
      expect(kept).toHaveLength(1);
      expect(fs.readFileSync(path.join(dataDir, 'node-red', kept[0]), 'utf8')).toBe(broken);
      // the editor still answers (to fix and deploy flows), behind its login
      expect((await fetch(`${hub.url}/flows/flows`)).status).toBe(401);
    } finally {
      await kill(hub.child);
    }
  }, 120_000);
});
