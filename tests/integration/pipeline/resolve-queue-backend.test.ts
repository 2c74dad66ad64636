/**
 * resolveQueueBackend against the real Redis of the test machine (hence integration, not unit),
 * a closed port, and a fake Redis that comes up during the wait.
 */
import net from 'node:net';
import { loadConfig, type LotBridgeConfig } from '../../../src/config/config';
import { isLotBridgeError } from '../../../src/errors';
import { resolveQueueBackend } from '../../../src/pipeline/resolve-queue-backend';
import { captureLogger } from '../../helpers/capture-logger';
import { TEST_REDIS_URL } from '../../helpers/test-redis';

/** Nothing listens on TCP port 1 of the loopback: connections are refused at once. */
const CLOSED = 'redis://127.0.0.1:1';

function config(redisUrl: string | undefined): LotBridgeConfig {
  return loadConfig(redisUrl ? { REDIS_URL: redisUrl } : {});
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A minimal RESP server: +PONG to PING, +OK to anything else (QUIT closes). */
function fakeRedis(port: number): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.on('data', (d) => {
      const text = d.toString('utf8').toUpperCase();
      const commands = text.split('*').filter((c) => c.trim().length > 0);
      for (const c of commands) {
        if (c.includes('PING')) {
          sock.write('+PONG\r\n');
        } else if (c.includes('QUIT')) {
          sock.end('+OK\r\n');
        } else {
          sock.write('+OK\r\n');
        }
      }
    });
    sock.on('error', () => sock.destroy());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

describe('resolveQueueBackend', () => {
  test('REDIS_URL unset and Redis answers at the default address: redis', async () => {
    const cfg = config(undefined);
    cfg.redisUrl = TEST_REDIS_URL; // the default unless the test machine says otherwise
    const { logger } = captureLogger();
    const d = await resolveQueueBackend(cfg, logger);
    expect(d.kind).toBe('redis');
    expect(d.reason).toContain('default address');
  });

  test('REDIS_URL unset and nothing answers: BullMQ PostgreSQL backend, quickly', async () => {
    const cfg = config(undefined);
    cfg.redisUrl = CLOSED;
    const { logger } = captureLogger();
    const t0 = Date.now();
    const d = await resolveQueueBackend(cfg, logger, { probeTimeoutMs: 1000 });
    expect(d.kind).toBe('postgres');
    expect(d.reason).toMatch(/REDIS_URL is unset.*PostgreSQL backend/);
    expect(d.reason).toContain('ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('REDIS_URL set to the real Redis: redis', async () => {
    const { logger } = captureLogger();
    const d = await resolveQueueBackend(config(TEST_REDIS_URL), logger);
    expect(d).toEqual({ kind: 'redis', reason: `REDIS_URL is set (${new URL(TEST_REDIS_URL).toString()})` });
  });

  test('REDIS_URL set but unreachable: waits, reports periodically, then LB_ERR_SERVICE_UNAVAILABLE (never postgres)', async () => {
    const { logger, lines } = captureLogger();
    const t0 = Date.now();
    const err = await resolveQueueBackend(config('redis://:s3cret@127.0.0.1:1'), logger, {
      waitTimeoutMs: 1500,
      retryIntervalMs: 100,
      reportIntervalMs: 500,
      probeTimeoutMs: 300,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - t0;
    expect(isLotBridgeError(err)).toBe(true);
    if (!isLotBridgeError(err)) {
      return;
    }
    expect(err.code).toBe('LB_ERR_SERVICE_UNAVAILABLE');
    expect(err.message).toMatch(/^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 \(REDIS_URL\) did not answer within 1\.5 s: /);
    expect(err.message).not.toContain('s3cret');
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(5000);
    const waiting = lines.filter((l) => l.level === 40 && l.msg.includes('is not reachable; waiting'));
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    expect(waiting.length).toBeLessThanOrEqual(4);
    expect(waiting[0]?.msg).toContain('REDIS_URL is set, so LotBridge does not fall back');
    expect(JSON.stringify(lines)).not.toContain('s3cret');
  });

  test('REDIS_URL set and Redis comes up during the wait: redis', async () => {
    const port = await freePort();
    const { logger, lines } = captureLogger();
    let server: net.Server | undefined;
    const timer = setTimeout(() => {
      void fakeRedis(port).then((s) => {
        server = s;
      });
    }, 700);
    try {
      const d = await resolveQueueBackend(config(`redis://127.0.0.1:${port}`), logger, { waitTimeoutMs: 10000, retryIntervalMs: 100, probeTimeoutMs: 300 });
      expect(d.kind).toBe('redis');
      expect(lines.some((l) => l.level === 40 && l.msg.includes('not reachable; waiting'))).toBe(true);
      expect(lines.some((l) => l.msg === 'Redis is reachable')).toBe(true);
    } finally {
      clearTimeout(timer);
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
  });
});
