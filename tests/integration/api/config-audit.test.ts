/**
 * The hub's configuration in the audit log: the first start records it (`config.initial`), a start
 * with the same settings records nothing, a start with changed settings records `config.changed`
 * with before/after of just those — secrets only as set/unset, URLs without their password.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { auditableConfig } from '../../../src/config/config-audit';
import { loadConfig } from '../../../src/config/config';
import { dropDatabase, TEST_PG_SERVER } from '../../helpers/test-db';
import { startTestHub } from '../../helpers/start-hub';
import { testQueuePrefix } from '../../helpers/test-redis';

describe('configuration changes between starts', () => {
  const u = new URL(TEST_PG_SERVER);
  u.pathname = `/lotbridge_t_${randomBytes(6).toString('hex')}`;
  const databaseUrl = u.toString();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-config-audit-'));
  const prefix = testQueuePrefix();
  const configRows = async (db: import('../../../src/db/knex').Db) => db('audit_log').where({ chain: 'admin' }).whereIn('action', ['config.initial', 'config.changed']).orderBy('seq').select('actor', 'action', 'before', 'after', 'reason');

  afterAll(async () => {
    await dropDatabase(databaseUrl);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('records the first start, nothing for the same settings, and each changed setting (secrets as set/unset only)', async () => {
    const start = (env: Record<string, string>) => startTestHub({ databaseUrl, prefix, env: { LOTBRIDGE_DATA_DIR: dataDir, ...env } });
    let h = await start({});
    let rows = await configRows(h.hub.db);
    expect(rows.map((r) => r.action)).toEqual(['config.initial']);
    expect(rows[0]).toMatchObject({ actor: 'system:start', before: null });
    expect(rows[0].reason).toMatch(/^lotbridge start on \S+ \(pid \d+\)$/);
    expect(rows[0].after.config).toMatchObject({ LOTBRIDGE_PIPELINE_BATCH_MAX: expect.any(Number), LOTBRIDGE_ADMIN_PASSWORD: 'unset', LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: 'set', LOTBRIDGE_DATA_DIR: dataDir });
    const batchMax = rows[0].after.config.LOTBRIDGE_PIPELINE_BATCH_MAX as number;
    await h.stop();

    h = await start({});
    expect((await configRows(h.hub.db)).map((r) => r.action)).toEqual(['config.initial']);
    await h.stop();

    const password = `pw-${randomBytes(8).toString('hex')}`;
    h = await start({ LOTBRIDGE_PIPELINE_BATCH_MAX: String(batchMax + 7), LOTBRIDGE_ADMIN_PASSWORD: password });
    try {
      rows = await configRows(h.hub.db);
      expect(rows.map((r) => r.action)).toEqual(['config.initial', 'config.changed']);
      expect(rows[1].before).toEqual({ LOTBRIDGE_ADMIN_PASSWORD: 'unset', LOTBRIDGE_PIPELINE_BATCH_MAX: batchMax });
      expect(rows[1].after.changed).toEqual({ LOTBRIDGE_ADMIN_PASSWORD: 'set', LOTBRIDGE_PIPELINE_BATCH_MAX: batchMax + 7 });
      expect(JSON.stringify(rows)).not.toContain(password);
      expect(JSON.stringify(rows)).not.toContain(h.key); // the bootstrap admin key
      const v = await h.api('GET', '/api/v1/audit/verify');
      expect(v.json).toEqual({ ok: true, rows: expect.any(Number) });
    } finally {
      await h.stop();
    }
  }, 120_000);

  it('writes URLs without their password and the config file as its hash', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-config-audit-file-'));
    try {
      const file = path.join(dir, 'lotbridge.config.json');
      fs.writeFileSync(file, JSON.stringify({ connectors: [] }));
      const c = auditableConfig(loadConfig({ DATABASE_URL: 'postgres://lotbridge:s3cret@db.internal:5432/lotbridge', REDIS_URL: 'redis://:r3dis@cache:6379/2', LOTBRIDGE_CONFIG_FILE: file, LOTBRIDGE_PHI_KEY: randomBytes(32).toString('hex') }));
      expect(c.DATABASE_URL).toBe('postgres://lotbridge:***@db.internal:5432/lotbridge');
      expect(c.REDIS_URL).toBe('redis://:***@cache:6379/2');
      expect(c.LOTBRIDGE_PHI_KEY).toBe('set');
      expect(c.LOTBRIDGE_PHI_OLD_KEYS).toBe('unset');
      expect(c.LOTBRIDGE_CONFIG_FILE).toEqual({ path: file, sha256: createHash('sha256').update('{"connectors":[]}').digest('hex') });
      expect(JSON.stringify(c)).not.toMatch(/s3cret|r3dis/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
