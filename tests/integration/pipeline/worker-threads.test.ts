import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureCompiled } from '../../helpers/ensure-compiled';
import { TEST_PG_SERVER, dropDatabase } from '../../helpers/test-db';
import { cleanupRedisPrefix, testQueuePrefix, TEST_REDIS_URL } from '../../helpers/test-redis';
import { createMllpClient } from '../../../src/transport/mllp';

/**
 * `lotbridge start` (compiled, as `npm start` runs it) maps messages in a pipeline worker thread
 * (LOTBRIDGE_WORKER_THREADS, default 1), not on the intake thread, and stops it gracefully.
 */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'lotbridge.js');

const free = (): number => 20000 + Math.floor(Math.random() * 20000);

describe('lotbridge start with a pipeline worker thread', () => {
  const dbName = `lotbridge_t_thr_${randomBytes(5).toString('hex')}`;
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/${dbName}`;
  const prefix = testQueuePrefix();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-threads-'));
  const key = `thr-${randomBytes(10).toString('hex')}`;
  const httpPort = free();
  const mllpPort = httpPort + 1;
  let child: ChildProcess;
  let log = '';

  beforeAll(async () => {
    ensureCompiled('src/cli/main.ts');
    ensureCompiled('src/pipeline/worker-thread.ts');
    child = spawn(process.execPath, [BIN, 'start'], {
      cwd: ROOT,
      env: {
        ...process.env, DATABASE_URL: u.toString(), REDIS_URL: TEST_REDIS_URL, LOTBRIDGE_HTTP_PORT: String(httpPort), LOTBRIDGE_HTTP_HOST: '127.0.0.1',
        LOTBRIDGE_MLLP_PORT: String(mllpPort), LOTBRIDGE_DATA_DIR: dataDir, LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: key, LOTBRIDGE_QUEUE_PREFIX: prefix,
        LOTBRIDGE_WORKER_THREADS: '1', LOTBRIDGE_LOG_LEVEL: 'info', LOTBRIDGE_CONFIG_FILE: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 40000;
    // the main thread's ready line (mode all), not a worker thread's: only it follows the MLLP listener
    while (!/"mode":"all"[^\n]*LotBridge ready/.test(log)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`hub did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await dropDatabase(u.toString()).catch(() => undefined);
    await cleanupRedisPrefix(prefix);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts the thread, maps an HL7 message there, and stops gracefully', async () => {
    expect(log).toMatch(/pipeline worker threads ready/);
    expect(log).toMatch(/"thread":"worker-1"/); // the worker hub's own log lines
    const client = createMllpClient({ host: '127.0.0.1', port: mllpPort, timeoutMs: 10000 });
    const msg = [
      'MSH|^~\\&|ORIS|STMARYS|LOTBRIDGE|ACME|20260301101500||DFT^P03^DFT_P03|THREAD-1|P|2.8.2',
      'PID|1||MRN1^^^STMARYS^MR||DOE^JANE',
      'PV1|1|O|OR3^^^STMARYS',
      'FT1|1|||20260301101500||CG|09506000134352^Knee^GTIN|||1',
      'PRT|1|AD||EQUIP^Equipment^HL70912||||||(01)09506000134352(17)270331(10)LT1(21)ST1||||||09506000134352^^2.51.1.1^ISO||20270331|LT1|ST1',
    ].join('\r');
    const ack = (await client.send(Buffer.from(msg))).toString('latin1');
    await client.close();
    expect(ack).toMatch(/\rMSA\|AA\|THREAD-1/);
    let lot: { status: number; body: string } = { status: 0, body: '' };
    for (let i = 0; i < 100; i++) {
      const r = await fetch(`http://127.0.0.1:${httpPort}/api/v1/lots?gtin=09506000134352&lot=LT1`, { headers: { authorization: `Bearer ${key}` } });
      lot = { status: r.status, body: await r.text() };
      if (lot.status === 200) break;
      await new Promise((r2) => setTimeout(r2, 100));
    }
    expect(lot.status).toBe(200);
    expect(lot.body).toContain('consuming');
    // graceful stop: the thread stops with the hub, the process exits 0
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).toMatch(/LotBridge stopped/);
  }, 60000);
});
