import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../src/logging/logger';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { hl7HubEnv, mllpPortOf, mllpSend, singleImplantDft } from '../../helpers/hl7';
import { consoleLogin, createConsoleUser } from '../../helpers/console-client';

const hl7Fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/hl7', name));

/** The value of one sample of a Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{([^}]*)\})? ([0-9.eE+-]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 2, -1)];
    }));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return 0;
}

describe('observability: metrics move with traffic, logs carry no PHI, readiness names its reasons', () => {
  let h: TestHub;
  const lines: string[] = [];
  const cfg = hl7HubEnv();

  beforeAll(async () => {
    // the production logger (its redaction list) at debug level, writing into memory
    const logger = createLogger('debug', { write: (s: string) => { lines.push(s); } });
    h = await startTestHub({ env: cfg.env, logger });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  const metrics = async (): Promise<string> => (await fetch(`${h.url}/metrics`)).text();

  it('counts received, acked and rejected messages per connector, pipeline outcomes and job durations', async () => {
    const before = await metrics();
    const ok = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify({ movementId: 'OBS-1', type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-OBS', quantity: 2, uom: 'EA' }), { 'content-type': 'application/json' });
    const dup = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify({ movementId: 'OBS-1', type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-OBS', quantity: 2, uom: 'EA' }), { 'content-type': 'application/json' });
    const empty = await h.api('POST', '/api/v1/ingest/wms', '', { 'content-type': 'application/json' });
    expect([ok.status, dup.status, empty.status]).toEqual([202, 200, 422]);
    await h.waitForStatus(ok.json.messageId);
    const after = await metrics();
    const delta = (name: string, labels: Record<string, string>): number => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('lotbridge_messages_received_total', { connector: 'wms' })).toBe(3);
    expect(delta('lotbridge_messages_acked_total', { connector: 'wms' })).toBe(2);
    expect(delta('lotbridge_messages_rejected_total', { connector: 'wms' })).toBe(1);
    expect(delta('lotbridge_pipeline_outcomes_total', { status: 'processed' })).toBeGreaterThanOrEqual(1);
    expect(delta('lotbridge_pipeline_job_seconds_count', { outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(delta('lotbridge_ingest_store_seconds_count', { connector: 'wms' })).toBe(3);
    for (const name of ['lotbridge_queue_jobs', 'lotbridge_db_pool_connections', 'lotbridge_queue_oldest_waiting_seconds', 'lotbridge_process_nodejs_eventloop_lag_seconds']) {
      expect(after).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'));
    }
    expect(sample(after, 'lotbridge_db_pool_connections', { pool: 'api', state: 'free' }) + sample(after, 'lotbridge_db_pool_connections', { pool: 'api', state: 'used' })).toBeGreaterThan(0);
  });

  it('writes no PID-5 (nor other patient field) value to the logs, over HTTP, MLLP, rejections and the console', async () => {
    lines.length = 0;
    const a = await h.api('POST', '/api/v1/ingest/hl7', hl7Fixture('adt-a01.hl7'), { 'content-type': 'x-application/hl7-v2+er7' });
    const bad = await h.api('POST', '/api/v1/ingest/hl7', hl7Fixture('dft-p03-bad-quantity-abc.hl7'), { 'content-type': 'x-application/hl7-v2+er7' });
    const truncated = await h.api('POST', '/api/v1/ingest/hl7', hl7Fixture('dft-p03-truncated-segment.hl7'), { 'content-type': 'x-application/hl7-v2+er7' });
    await mllpSend(mllpPortOf(h), [singleImplantDft(1, { controlIdPrefix: 'OBS' }).payload, hl7Fixture('dft-p03-bad-quantity-abc.hl7')]);
    for (const r of [a, bad, truncated]) await h.waitForStatus(r.headers.get('lotbridge-message-id')!);
    await createConsoleUser(h.hub.db, 'obs', 'operator');
    const c = await consoleLogin(h.url, 'obs', 'correct horse battery');
    const id = bad.headers.get('lotbridge-message-id')!;
    expect((await c.post(`/console/messages/${id}/reveal`)).text).toContain('Muster');
    expect((await c.get(`/console/messages/${id}/edit`)).status).toBe(200);
    await c.post(`/console/messages/${id}/reprocess`);
    await h.waitForStatus(id);
    await new Promise((r) => setTimeout(r, 300));
    expect(lines.length).toBeGreaterThan(5);
    const all = lines.join('');
    expect(all).toMatch(/messages? stored/); // the lines are there …
    // … one info line per intake flush names the messages it stored
    const flushes = lines.map((x) => JSON.parse(x) as { msg?: string; level: number; messageIds?: string[] }).filter((l) => l.msg === 'messages stored');
    expect(flushes.every((l) => l.level === 30)).toBe(true);
    expect(flushes.flatMap((l) => l.messageIds ?? [])).toContain(a.headers.get('lotbridge-message-id'));
    for (const phi of ['Muster', 'Erika', 'PAT0049211', '19680412', 'D-2233445', 'Hauptstr', 'V-998877']) {
      expect(all).not.toContain(phi); // … the patient is not
    }
    // no raw payload at info or above
    for (const l of lines.map((x) => JSON.parse(x) as { level: number; [k: string]: unknown })) {
      if (l.level >= 30) expect(JSON.stringify(l)).not.toMatch(/MSH\|\^~\\\\&/);
    }
  });

  it('answers /readyz with each dependency and the reason of the one that is down', async () => {
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; dependencies: Record<string, { state: string; reason?: string }> };
    expect(body.status).toBe('ready');
    expect(body.dependencies).toMatchObject({ postgres: { state: 'up' }, redis: { state: 'up' }, migrations: { state: 'up' } });
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    // a migration the database lacks: not ready, and the reason names it
    const last = await h.hub.db('knex_migrations').orderBy('id', 'desc').first('id', 'name');
    await h.hub.db('knex_migrations').where({ id: last.id }).delete();
    try {
      const notReady = await fetch(`${h.url}/readyz`);
      expect(notReady.status).toBe(503);
      const nb = (await notReady.json()) as { status: string; dependencies: Record<string, { state: string; reason?: string }> };
      expect(nb.status).toBe('not_ready');
      expect(nb.dependencies.migrations).toEqual({ state: 'down', reason: `pending: ${last.name}` });
      expect(nb.dependencies.postgres.state).toBe('up');
    } finally {
      await h.hub.db('knex_migrations').insert({ id: last.id, name: last.name, batch: 1, migration_time: new Date() });
    }
  });

  it('serves the OpenAPI JSON at /api/docs/json with the route schemas, and Swagger UI at /api/docs', async () => {
    const doc = (await (await fetch(`${h.url}/api/docs/json`)).json()) as { openapi: string; paths: Record<string, Record<string, { parameters?: Array<{ name: string; schema: Record<string, unknown> }> }>> };
    expect(doc.openapi).toMatch(/^3\.1/);
    const limit = doc.paths['/api/v1/messages'].get.parameters!.find((p) => p.name === 'limit');
    expect(limit?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 500, default: 50 });
    const ui = await fetch(`${h.url}/api/docs`, { headers: { accept: 'text/html' } });
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await ui.text()).toContain('/api/docs/static/swagger-ui-bundle.js');
    expect((await fetch(`${h.url}/api/docs/static/swagger-ui-bundle.js`)).status).toBe(200);
    expect(((await (await fetch(`${h.url}/api/docs`)).json()) as { openapi: string }).openapi).toMatch(/^3\.1/);
  });
});
