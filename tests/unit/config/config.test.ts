import path from 'node:path';
import { loadConfig, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '../../../src/config/config';
import { LotBridgeError } from '../../../src/errors';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      databaseUrl: DEFAULT_DATABASE_URL, databaseUrlExplicit: false, redisUrl: DEFAULT_REDIS_URL, redisUrlExplicit: false,
      httpPort: 8080, mllpPort: 2575, queuePrefix: 'lotbridge', timezone: 'UTC', maxBodyBytes: 10 * 1024 * 1024, intakeFlushes: 2,
    });
    expect(c.dataDir).toBe(path.resolve('./data'));
  });

  it('reads every variable and marks explicit database and Redis URLs', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@db:5432/x', REDIS_URL: 'redis://r:6380', LOTBRIDGE_HTTP_PORT: '9000', LOTBRIDGE_QUEUE_PREFIX: 'hub_b',
      LOTBRIDGE_TIMEZONE: 'Europe/Berlin', LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: 'a-very-long-bootstrap-key', LOTBRIDGE_INTAKE_FLUSHES: '1',
    });
    expect(c).toMatchObject({ databaseUrlExplicit: true, redisUrlExplicit: true, httpPort: 9000, queuePrefix: 'hub_b', timezone: 'Europe/Berlin', bootstrapAdminKey: 'a-very-long-bootstrap-key', intakeFlushes: 1 });
    expect(() => loadConfig({ LOTBRIDGE_INTAKE_FLUSHES: '0' })).toThrow(/LOTBRIDGE_INTAKE_FLUSHES/);
  });

  it('lists every problem at once, naming the environment variable', () => {
    let err: unknown;
    try {
      loadConfig({ LOTBRIDGE_HTTP_PORT: 'eighty', LOTBRIDGE_TIMEZONE: 'Mars/Olympus', DATABASE_URL: 'mysql://x', LOTBRIDGE_QUEUE_PREFIX: 'bad prefix!' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LotBridgeError);
    const e = err as LotBridgeError;
    expect(e.code).toBe('LB_ERR_CONFIG_INVALID');
    expect(e.message).toContain('LOTBRIDGE_HTTP_PORT="eighty" is not an integer');
    expect(e.message).toContain('LOTBRIDGE_TIMEZONE: "Mars/Olympus" is not an IANA time zone');
    expect(e.message).toContain('DATABASE_URL');
    expect(e.message).toContain('LOTBRIDGE_QUEUE_PREFIX');
    expect((e.details?.problems as string[]).length).toBe(4);
  });
});
