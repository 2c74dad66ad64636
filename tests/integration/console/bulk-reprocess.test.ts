import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { consoleLogin, createConsoleUser, type ConsoleClient } from '../../helpers/console-client';

const N = 100_000;

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 120000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

jest.setTimeout(300000);

/*
 * Bad input of the issue: "a reprocess of 100,000 messages (runs as a job, cancellable, doesn't
 * block the UI)". 100,000 rejected WMS messages (a truncated JSON body) are stored directly in
 * PostgreSQL; the console starts a job over them, answers other pages while it runs, and cancels it.
 */
describe('bulk reprocess of 100,000 messages', () => {
  let h: TestHub;
  let operator: ConsoleClient;

  beforeAll(async () => {
    h = await startTestHub();
    await h.hub.db.raw(
      `INSERT INTO inbound_messages (id, connector_id, connector_kind, format, transport, message_type, control_id, dedup_key, sha256, size_bytes,
         payload, content_type, envelope, received_at, status, error_code, error_message, error_location, processed_at)
       SELECT ('01960000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'wms', 'wms', 'json', 'http', NULL, NULL, 'bulk-test:' || i,
              md5(i::text) || md5(i::text), 22, convert_to('{"movementId": "BULK-' || i, 'UTF8'), 'application/json', '{}'::jsonb,
              now() - interval '1 hour' + i * interval '1 millisecond', 'rejected', 'LB_ERR_WMS_JSON_SYNTAX', 'unexpected end of JSON', '{"line":1}'::jsonb, now()
         FROM generate_series(1, ?) AS i`,
      [N],
    );
    await createConsoleUser(h.hub.db, 'olga', 'operator');
    operator = await consoleLogin(h.url, 'olga', 'correct horse battery');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('runs as a job with progress, keeps the console answering, and stops when cancelled', async () => {
    const created = await operator.post('/console/reprocess-search', { connector: 'wms', status: 'rejected', error: 'LB_ERR_WMS_JSON_SYNTAX' }, { accept: 'application/json' });
    expect(created.status).toBe(202);
    const id = created.json().id as string;
    const running = await until('the job to make progress', async () => {
      const j = (await operator.get(`/console/jobs/${id}`, 'application/json')).json();
      return j.status === 'running' && j.done >= 1000 ? j : undefined;
    });
    expect(running.total).toBe(N);
    // the console keeps answering while the job works
    const page = await operator.get('/console?connector=wms&status=rejected&limit=5', 'application/json');
    expect(page.status).toBe(200);
    expect(page.json().items).toHaveLength(5);
    expect((await operator.get('/console/dead-letters?status=rejected')).status).toBe(200);
    expect((await operator.get(`/console/jobs/${id}`)).text).toContain('<progress id="job-progress"');

    expect((await operator.post(`/console/jobs/${id}/cancel`, {}, { accept: 'application/json' })).json().cancelRequested).toBe(true);
    const end = await until('the job to stop', async () => {
      const j = (await operator.get(`/console/jobs/${id}`, 'application/json')).json();
      return j.status === 'cancelled' ? j : undefined;
    });
    expect(end.done).toBeGreaterThanOrEqual(1000);
    expect(end.done).toBeLessThan(N);
    const audited = Number((await h.hub.db('audit_log').where({ action: 'message.reprocess', actor: 'console:olga' }).count<Array<{ count: string }>>('* as count'))[0].count);
    expect(audited).toBe(end.done);
    // nothing more is reprocessed after the cancellation
    await new Promise((r) => setTimeout(r, 1500));
    expect(Number((await h.hub.db('audit_log').where({ action: 'message.reprocess', actor: 'console:olga' }).count<Array<{ count: string }>>('* as count'))[0].count)).toBe(end.done);
    expect(await h.hub.db('audit_log').where({ action: 'console_job.cancel', entity_id: id }).first('actor')).toEqual({ actor: 'console:olga' });
  });
});
