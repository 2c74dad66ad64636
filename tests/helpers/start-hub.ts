import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { loadConfig, type LotBridgeConfig } from '../../src/config/config';
import { silentLogger, createLogger, type Logger } from '../../src/logging/logger';
import { startHub, type RunningHub } from '../../src/hub';
import { dropDatabase, TEST_PG_SERVER } from './test-db';
import { cleanupRedisPrefix, testQueuePrefix, TEST_REDIS_URL } from './test-redis';

export interface TestHub {
  hub: RunningHub;
  prefix: string;
  dataDir: string;
  url: string;
  key: string;
  config: LotBridgeConfig;
  databaseUrl: string;
  /** fetch against the hub with the admin key. */
  api(method: string, p: string, body?: string | Buffer, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string; headers: Headers }>;
  /** Sum of a lot's balances over every location and stock state, from GET /api/v1/lots. */
  lotTotal(gtin: string, lot: string): Promise<number>;
  /** Polls GET /api/v1/messages/:id until the status is terminal. */
  waitForStatus(id: string, timeoutMs?: number): Promise<any>;
  stop(): Promise<void>;
}

/**
 * Starts a whole hub in this process on its own database, Redis prefix (or the PostgreSQL queue
 * backend with `queue: 'postgres'`), data dir and a free HTTP port.
 */
export async function startTestHub(opts: { queue?: 'redis' | 'postgres'; env?: Record<string, string>; databaseUrl?: string; workers?: boolean; prefix?: string; logger?: Logger } = {}): Promise<TestHub> {
  const dbName = `lotbridge_t_${randomBytes(6).toString('hex')}`;
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/${dbName}`;
  const databaseUrl = opts.databaseUrl ?? u.toString();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-test-'));
  const key = `test-admin-${randomBytes(12).toString('hex')}`;
  const prefix = opts.prefix ?? testQueuePrefix();
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    ...(opts.queue === 'postgres' ? {} : { REDIS_URL: TEST_REDIS_URL }),
    LOTBRIDGE_HTTP_PORT: '0',
    // a free MLLP port too: test files run side by side (and beside a hub on the default 2575)
    LOTBRIDGE_MLLP_PORT: '0',
    LOTBRIDGE_HTTP_HOST: '127.0.0.1',
    LOTBRIDGE_DATA_DIR: dataDir,
    LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: key,
    LOTBRIDGE_QUEUE_PREFIX: prefix,
    LOTBRIDGE_SWEEP_INTERVAL_MS: '2000',
    LOTBRIDGE_SWEEP_GRACE_MS: '1000',
    LOTBRIDGE_CONFIG_FILE: '',
    // workers on the test's own thread (ts-jest cannot load a worker thread's TypeScript entry)
    LOTBRIDGE_WORKER_THREADS: '0',
    // Node-RED is one per process and costs ~1 s and ~100 MB: only the tests that need it turn it on
    LOTBRIDGE_NODERED_ENABLED: 'false',
    ...opts.env,
  });
  if (opts.queue === 'postgres') {
    // no REDIS_URL and a Redis URL that does not answer: the hub must pick the PostgreSQL backend
    config.redisUrl = 'redis://127.0.0.1:1';
  }
  const logger = opts.logger ?? (process.env.TEST_LOG ? createLogger('debug') : silentLogger());
  const hub = await startHub(config, logger, { mode: 'all', stalledIntervalMs: 1000, lockDurationMs: 3000, workers: opts.workers });
  const port = (hub.app!.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const api: TestHub['api'] = async (method, p, body, headers = {}) => {
    const res = await fetch(url + p, { method, body, headers: { authorization: `Bearer ${key}`, ...headers } });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  return {
    hub, url, key, config, databaseUrl, api, prefix, dataDir,
    async lotTotal(gtin: string, lot: string) {
      const r = await api('GET', `/api/v1/lots?gtin=${gtin}&lot=${encodeURIComponent(lot)}`);
      return (r.json.balances as Array<{ quantity: number }>).reduce((s, b) => s + b.quantity, 0);
    },
    async waitForStatus(id: string, timeoutMs = 20000) {
      const until = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < until) {
        last = (await api('GET', `/api/v1/messages/${id}`)).json;
        if (last && ['processed', 'rejected', 'failed', 'duplicate', 'routed'].includes(last.status)) {
          return last;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`message ${id} still ${last?.status} after ${timeoutMs} ms`);
    },
    async stop() {
      await hub.stop();
      if (!opts.databaseUrl) {
        await dropDatabase(databaseUrl);
      }
      await cleanupRedisPrefix(prefix);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
