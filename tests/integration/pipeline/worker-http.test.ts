import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../../src/config/config';
import { startHub, type RunningHub } from '../../../src/hub';
import { silentLogger } from '../../../src/logging/logger';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { TEST_REDIS_URL } from '../../helpers/test-redis';
import { GTIN, seedLocation, seedMaterial } from '../wms/wms-test-data';

jest.setTimeout(60000);

/**
 * A `lotbridge worker` process with LOTBRIDGE_WORKER_HTTP_PORT serves /healthz, /readyz and
 * /metrics (its own pipeline outcomes), nothing else, without a key. Real PostgreSQL and Redis:
 * an intake-only hub stores the message, the worker hub maps it.
 */
describe('lotbridge worker: health and metrics over HTTP', () => {
  let intake: TestHub;
  let worker: RunningHub;
  let workerUrl: string;

  beforeAll(async () => {
    intake = await startTestHub({ workers: false });
    await seedMaterial(intake.hub.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
    await seedLocation(intake.hub.db, { code: 'WH1-A01' });
    const config = loadConfig({
      DATABASE_URL: intake.databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      LOTBRIDGE_QUEUE_PREFIX: intake.prefix,
      LOTBRIDGE_DATA_DIR: intake.dataDir,
      LOTBRIDGE_HTTP_HOST: '127.0.0.1',
      LOTBRIDGE_WORKER_HTTP_PORT: '0',
      LOTBRIDGE_WORKER_THREADS: '0',
      LOTBRIDGE_NODERED_ENABLED: 'false',
      LOTBRIDGE_CONFIG_FILE: '',
    });
    worker = await startHub(config, silentLogger(), { mode: 'worker', stalledIntervalMs: 1000, lockDurationMs: 3000 });
    workerUrl = `http://127.0.0.1:${(worker.app!.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await worker?.stop();
    await intake?.stop();
  });

  it('is live and ready, naming PostgreSQL, Redis and the migrations, with no connectors of its own', async () => {
    expect(await (await fetch(`${workerUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const r = await fetch(`${workerUrl}/readyz`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; queueBackend: string; dependencies: Record<string, { state: string }>; connectors: Record<string, unknown> };
    expect(body.status).toBe('ready');
    expect(body.queueBackend).toBe('redis');
    expect(Object.fromEntries(Object.entries(body.dependencies).map(([k, v]) => [k, v.state]))).toEqual({ postgres: 'up', redis: 'up', migrations: 'up' });
    expect(body.connectors).toEqual({});
  });

  it('counts the messages it mapped in /metrics, and serves nothing but the probes', async () => {
    const post = await intake.api(
      'POST',
      '/api/v1/ingest/wms',
      JSON.stringify({ movementId: 'WRK-HTTP-1', type: 'receive', occurredAt: '2026-03-01T10:00:00Z', location: 'WH1-A01', gtin: GTIN.eachA, lot: 'L-WRK-1', quantity: 12 }),
      { 'content-type': 'application/json' },
    );
    expect(post.status).toBe(202);
    expect((await intake.waitForStatus(post.json.messageId)).status).toBe('processed');
    const text = await (await fetch(`${workerUrl}/metrics`)).text();
    const processed = /^lotbridge_pipeline_outcomes_total\{status="processed"\} (\d+)/m.exec(text);
    expect(Number(processed?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^lotbridge_db_pool_connections\{pool="pipeline",state="free"\} \d+/m);
    expect(text).toMatch(/^lotbridge_process_nodejs_eventloop_lag_seconds /m);
    expect((await fetch(`${workerUrl}/api/v1/lots?gtin=${GTIN.eachA}&lot=L-WRK-1`)).status).toBe(404);
    expect((await fetch(`${workerUrl}/api/v1/ingest/wms`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
