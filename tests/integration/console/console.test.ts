import fs from 'node:fs';
import path from 'node:path';
import { QUEUES } from '../../../src/pipeline/queues';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { consoleLogin, createConsoleUser, type ConsoleClient } from '../../helpers/console-client';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/console', name));
const hl7Fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/hl7', name));

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 20000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('support console: login, search, message view, actions', () => {
  let h: TestHub;
  let operator: ConsoleClient;
  let auditor: ConsoleClient;

  const ingest = async (connector: string, body: Buffer | string, contentType: string): Promise<string> => {
    const r = await h.api('POST', `/api/v1/ingest/${connector}`, body, { 'content-type': contentType });
    expect([200, 202, 400, 422]).toContain(r.status);
    return (r.json?.messageId ?? r.headers.get('lotbridge-message-id')) as string;
  };

  beforeAll(async () => {
    h = await startTestHub();
    await createConsoleUser(h.hub.db, 'olga', 'operator');
    await createConsoleUser(h.hub.db, 'aldo', 'auditor');
    await createConsoleUser(h.hub.db, 'ines', 'ingest');
    operator = await consoleLogin(h.url, 'olga', 'correct horse battery');
    auditor = await consoleLogin(h.url, 'aldo', 'correct horse battery');
  });
  afterAll(async () => {
    await h.stop();
  });

  it('sends anonymous requests to the login page (pages) or answers 401 (actions, JSON), never the content', async () => {
    for (const p of ['/console', '/console/dead-letters', '/admin/queues', '/dashboard', '/console/messages/0195f1c2-7a00-7000-8000-000000000000']) {
      const r = await fetch(h.url + p, { redirect: 'manual' });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe(`/console/login?next=${encodeURIComponent(p)}`);
    }
    const json = await fetch(`${h.url}/admin/queues/api/queues`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(401);
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe('LB_ERR_CONSOLE_SESSION');
    const action = await fetch(`${h.url}/console/reprocess-search`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'status=failed' });
    expect(action.status).toBe(401);
    const forged = await fetch(`${h.url}/console`, { headers: { cookie: 'lb_console=forged-session-value' }, redirect: 'manual' });
    expect(forged.status).toBe(302);
  });

  it('logs in with a user of the spine, sets a HttpOnly SameSite=Strict cookie, and refuses wrong passwords and ingest users', async () => {
    const ok = await fetch(`${h.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=olga&password=correct+horse+battery&next=%2Fadmin%2Fqueues' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin/queues');
    expect(ok.headers.get('set-cookie')).toMatch(/^lb_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const offsite = await fetch(`${h.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=olga&password=correct+horse+battery&next=https%3A%2F%2Fevil.example%2F' });
    expect(offsite.headers.get('location')).toBe('/console');
    for (const [u, p] of [['olga', 'wrong'], ['nobody', 'x'], ['ines', 'correct horse battery']]) {
      const bad = await fetch(`${h.url}/console/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ username: u, password: p }).toString() });
      expect(bad.status).toBe(401);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('LB_ERR_CONSOLE_LOGIN_FAILED');
    }
    const audit = await h.hub.db('audit_log').whereIn('action', ['console.login', 'console.login_failed']).select('action', 'actor');
    expect(audit).toEqual(expect.arrayContaining([{ action: 'console.login', actor: 'console:olga' }, { action: 'console.login_failed', actor: 'console:ines' }]));
  });

  it('locks a user name for an address after 5 failed logins', async () => {
    await createConsoleUser(h.hub.db, 'tina', 'operator');
    const attempt = (password: string): Promise<Response> => fetch(`${h.url}/console/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ username: 'tina', password }).toString() });
    for (let i = 0; i < 5; i++) expect((await attempt('nope')).status).toBe(401);
    const locked = await attempt('correct horse battery');
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe('LB_ERR_CONSOLE_LOGIN_THROTTLED');
  });

  it('counts parallel guesses one by one, in the database every hub process shares; a success clears the count', async () => {
    await createConsoleUser(h.hub.db, 'uma', 'operator');
    const attempt = (password: string): Promise<Response> => fetch(`${h.url}/console/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams({ username: 'uma', password }).toString() });
    // two failures, then the right password: the count starts again
    for (let i = 0; i < 2; i++) expect((await attempt('nope')).status).toBe(401);
    expect((await h.hub.db('console_login_attempts').where({ username_key: 'uma' }).first()).attempts).toBe(2);
    expect((await attempt('correct horse battery')).status).toBe(200);
    expect(await h.hub.db('console_login_attempts').where({ username_key: 'uma' }).first()).toBeUndefined();
    // 12 guesses at once: only 5 reach the password check (each counted before it), the rest are refused
    const statuses = (await Promise.all(Array.from({ length: 12 }, () => attempt('guess')))).map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
    const failed = await h.hub.db('audit_log').where({ action: 'console.login_failed', actor: 'console:uma' }).count<{ count: string }[]>('* as count');
    expect(Number(failed[0].count)).toBe(2 + 5);
  });

  it('finds a rejected message, shows its raw text with the error line highlighted, and its parsed tree', async () => {
    const id = await ingest('wms', fixture('wms-receive-stray-comma-line9.json'), 'application/json');
    const m = await h.waitForStatus(id);
    expect(m.status).toBe('rejected');
    expect(m.error.location.line).toBe(9);
    const list = await operator.get('/console?status=rejected&connector=wms', 'application/json');
    expect(list.status).toBe(200);
    expect(list.json().items.map((x: { id: string }) => x.id)).toContain(id);
    const page = await operator.get(`/console/messages/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<tr class="errline" id="L9"><td class="ln">9<\/td><td class="seg"><\/td><td class="code">  &#34;quantity&#34;: 12,,<\/td><\/tr>/);
    expect(page.text).toContain(m.error.code);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('treats quotes, %, _, unicode and SQL fragments in search fields as plain text', async () => {
    const id = await ingest('wms', JSON.stringify({ movementId: "Q'5%_ü; DROP TABLE lots;--", type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-Q', quantity: 1, uom: 'EA' }), 'application/json');
    await h.waitForStatus(id);
    const search = async (q: Record<string, string>): Promise<string[]> => {
      const r = await operator.get(`/console?${new URLSearchParams(q).toString()}`, 'application/json');
      expect(r.status).toBe(200);
      return r.json().items.map((x: { id: string }) => x.id);
    };
    expect(await search({ control: "Q'5%_ü; DROP TABLE lots;--" })).toEqual([id]);
    expect(await search({ control: "Q'5%*" })).toEqual([id]);
    expect(await search({ control: 'Q_5*' })).toEqual([]); // _ is not a wildcard
    expect(await search({ control: '%' })).toEqual([]);
    expect(await search({ control: '%*' })).toEqual([]); // % is not a wildcard either
    expect(await search({ sender: "' OR 1=1 --" })).toEqual([]);
    expect(await search({ type: '"; SELECT pg_sleep(5); --' })).toEqual([]);
    expect(await search({ lot: "L-Q' OR '1'='1" })).toEqual([]);
    expect(await search({ lot: 'L-Q' })).toContain(id);
    expect(Number((await h.hub.db('lots').count<Array<{ count: string }>>('* as count'))[0].count)).toBeGreaterThan(0);
    const bad = await operator.get('/console?status=lost', 'application/json');
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'LB_ERR_CONSOLE_SEARCH_INVALID', location: { path: 'query/status' } });
    const badTime = await operator.get('/console?from=yesterday', 'application/json');
    expect(badTime.json().error.code).toBe('LB_ERR_CONSOLE_SEARCH_INVALID');
    const badCursor = await operator.get("/console?before=1'--", 'application/json');
    expect(badCursor.status).toBe(400);
  });

  it('pages with a cursor, newest first, and filters by time range', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await ingest('wms', JSON.stringify({ movementId: `PAGE-${i}`, type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-PAGE', quantity: 1, uom: 'EA' }), 'application/json'));
    }
    const first = (await operator.get('/console?control=PAGE-*&limit=2', 'application/json')).json();
    expect(first.items.map((x: { id: string }) => x.id)).toEqual([ids[4], ids[3]]);
    const second = (await operator.get(`/console?control=PAGE-*&limit=2&before=${first.next}`, 'application/json')).json();
    expect(second.items.map((x: { id: string }) => x.id)).toEqual([ids[2], ids[1]]);
    const third = (await operator.get(`/console?control=PAGE-*&limit=2&before=${second.next}`, 'application/json')).json();
    expect(third.items.map((x: { id: string }) => x.id)).toEqual([ids[0]]);
    expect(third.next).toBeNull();
    const future = (await operator.get(`/console?control=PAGE-*&from=${new Date(Date.now() + 60000).toISOString()}`, 'application/json')).json();
    expect(future.items).toEqual([]);
    const past = (await operator.get(`/console?control=PAGE-*&from=${new Date(Date.now() - 600000).toISOString()}&to=${new Date(Date.now() + 1000).toISOString()}`, 'application/json')).json();
    expect(past.items).toHaveLength(5);
  });

  it('refuses actions without the CSRF token (403), with another session\'s token, from another site, and by an auditor (403)', async () => {
    const id = await ingest('wms', fixture('wms-receive-stray-comma-line9.json').toString('utf8').replace('CON-RCV-0042', 'CON-RCV-CSRF'), 'application/json');
    await h.waitForStatus(id);
    const none = await operator.post(`/console/messages/${id}/reprocess`, {}, { csrf: false, accept: 'application/json' });
    expect(none.status).toBe(403);
    expect(none.json().error.code).toBe('LB_ERR_CONSOLE_CSRF');
    const other = await operator.post(`/console/messages/${id}/reprocess`, {}, { csrf: auditor.csrf, accept: 'application/json' });
    expect(other.status).toBe(403);
    const cross = await operator.post(`/console/messages/${id}/reprocess`, {}, { origin: 'https://evil.example', accept: 'application/json' });
    expect(cross.status).toBe(403);
    const byAuditor = await auditor.post(`/console/messages/${id}/reprocess`, {}, { accept: 'application/json' });
    expect(byAuditor.status).toBe(403);
    expect(byAuditor.json().error.code).toBe('LB_ERR_AUTH_FORBIDDEN');
    expect((await auditor.post(`/console/messages/${id}/resolve`, {}, { accept: 'application/json' })).status).toBe(403);
    expect((await auditor.get(`/console/messages/${id}/edit`)).status).toBe(403);
    expect((await h.hub.db('inbound_messages').where({ id }).first()).status).toBe('rejected');
  });

  it('reprocesses one message (audited) and marks a message resolved', async () => {
    const id = await ingest('wms', fixture('wms-receive-stray-comma-line9.json').toString('utf8').replace('CON-RCV-0042', 'CON-RCV-RE'), 'application/json');
    await h.waitForStatus(id);
    const r = await operator.post(`/console/messages/${id}/reprocess`);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(`/console/messages/${id}`);
    const after = await h.waitForStatus(id);
    expect(after.status).toBe('rejected'); // the bytes are still broken
    expect(await h.hub.db('audit_log').where({ action: 'message.reprocess', entity_id: id }).first('actor')).toEqual({ actor: 'console:olga' });
    const res = await operator.post(`/console/messages/${id}/resolve`, { note: 'sender resent it fixed' });
    expect(res.status).toBe(303);
    const row = await h.hub.db('inbound_messages').where({ id }).first();
    expect(row).toMatchObject({ resolved_by: 'olga', resolution_note: 'sender resent it fixed', status: 'rejected' });
    const dead = (await operator.get('/console/dead-letters?status=rejected', 'application/json')).json();
    const all = (await operator.get('/console/dead-letters?status=rejected&resolved=all', 'application/json')).json();
    const count = (g: { groups: Array<{ code: string; count: number }> }): number => g.groups.find((x) => x.code === row.error_code)?.count ?? 0;
    expect(count(all)).toBe(count(dead) + 1);
  });

  it('edit-and-reprocess stores a linked new message, never changes the original, and the copy is processed', async () => {
    const original = fixture('wms-receive-stray-comma-line9.json').toString('utf8').replace('CON-RCV-0042', 'CON-RCV-EDIT');
    const id = await ingest('wms', original, 'application/json');
    await h.waitForStatus(id);
    const before = await h.hub.db('inbound_messages').where({ id }).first();
    const form = await operator.get(`/console/messages/${id}/edit`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('&#34;quantity&#34;: 12,,');
    const r = await operator.post(`/console/messages/${id}/edit`, { payload: original.replace('12,,', '12,').replace(/\n/g, '\r\n'), reason: 'stray comma' }, { accept: 'application/json' });
    expect(r.status).toBe(202);
    const copyId = r.json().messageId as string;
    expect(copyId).not.toBe(id);
    const copy = await h.waitForStatus(copyId);
    expect(copy.status).toBe('processed');
    const after = await h.hub.db('inbound_messages').where({ id }).first();
    expect(after.payload.equals(before.payload)).toBe(true);
    expect(after.sha256).toBe(before.sha256);
    expect(after.status).toBe('rejected');
    const copyRow = await h.hub.db('inbound_messages').where({ id: copyId }).first();
    expect(copyRow).toMatchObject({ edit_of: id, transport: 'console', control_id: 'CON-RCV-EDIT' });
    expect(copyRow.payload.toString('utf8')).toBe(original.replace('12,,', '12,'));
    expect(await h.hub.db('audit_log').where({ action: 'message.edit_reprocess', entity_id: id }).first('reason', 'actor')).toEqual({ reason: 'stray comma', actor: 'console:olga' });
    const page = await operator.get(`/console/messages/${id}`);
    expect(page.text).toContain(`href="/console/messages/${copyId}"`);
    expect(await h.lotTotal('09506000134352', 'L-CON-42')).toBe(12);
    // an identical second edit is a duplicate of the first edit, not of anything else
    const again = await operator.post(`/console/messages/${id}/edit`, { payload: original.replace('12,,', '12,') }, { accept: 'application/json' });
    expect(again.json().receipt).toMatchObject({ status: 'duplicate', duplicateOf: copyId });
  });

  it('reprocesses all messages matching a search as a job with progress, and can cancel a job', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(await ingest('wms', JSON.stringify({ movementId: `BULK-${i}`, type: 'teleport', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-BULK', quantity: 1, uom: 'EA' }), 'application/json'));
    }
    for (const id of ids) await h.waitForStatus(id);
    const r = await operator.post('/console/reprocess-search', { control: 'BULK-*', status: 'rejected' });
    expect(r.status).toBe(303);
    const jobUrl = r.headers.get('location')!;
    expect(jobUrl).toMatch(/^\/console\/jobs\/[0-9a-f-]{36}$/);
    const job = await until('the job to finish', async () => {
      const j = (await operator.get(jobUrl, 'application/json')).json();
      return j.status === 'done' ? j : undefined;
    });
    expect(job).toMatchObject({ total: 7, done: 7, skipped: 0, createdBy: 'console:olga' });
    expect(Number((await h.hub.db('audit_log').where({ action: 'message.reprocess' }).whereIn('entity_id', ids).count<Array<{ count: string }>>('* as count'))[0].count)).toBe(7);
    expect((await operator.get(jobUrl)).text).toContain('<progress id="job-progress" max="100" value="100">');
    const empty = await operator.post('/console/reprocess-search', {}, { accept: 'application/json' });
    expect(empty.status).toBe(400);
    const byAuditor = await auditor.post('/console/reprocess-search', { status: 'rejected' }, { accept: 'application/json' });
    expect(byAuditor.status).toBe(403);
    // cancel: a job whose cancellation is asked before it runs stops without reprocessing anything
    const created = (await operator.post('/console/reprocess-search', { control: 'NOTHING-MATCHES-*' }, { accept: 'application/json' })).json();
    const cancelled = await operator.post(`/console/jobs/${created.id}/cancel`, {}, { accept: 'application/json' });
    expect(cancelled.status).toBe(200);
    const end = await until('the cancelled job to stop', async () => {
      const j = (await operator.get(`/console/jobs/${created.id}`, 'application/json')).json();
      return j.status === 'cancelled' || j.status === 'done' ? j : undefined;
    });
    expect(end.done).toBe(0);
  });

  it('masks PHI in the raw view and parsed tree until an operator reveals it (audited); an auditor cannot reveal', async () => {
    const id = await ingest('hl7', hl7Fixture('adt-a01.hl7'), 'x-application/hl7-v2+er7');
    await h.waitForStatus(id);
    const masked = await operator.get(`/console/messages/${id}`);
    expect(masked.status).toBe(200);
    for (const phi of ['Muster', 'Erika', 'PAT0049211', '19680412', 'Hauptstr', 'D-2233445', 'V-998877']) {
      expect(masked.text).not.toContain(phi);
    }
    expect(masked.text).toContain('M***r^E***a');
    expect(masked.text).toContain('Reveal PHI');
    expect(Number((await h.hub.db('audit_log').where({ action: 'message.phi_reveal', entity_id: id }).count<Array<{ count: string }>>('* as count'))[0].count)).toBe(0);
    const byAuditor = await auditor.post(`/console/messages/${id}/reveal`, {}, { accept: 'application/json' });
    expect(byAuditor.status).toBe(403);
    const auditorPage = await auditor.get(`/console/messages/${id}`);
    expect(auditorPage.text).not.toContain('Muster');
    const revealed = await operator.post(`/console/messages/${id}/reveal`);
    expect(revealed.status).toBe(200);
    expect(revealed.text).toContain('Muster^Erika');
    expect(revealed.text).toContain('PHI revealed (audited)');
    expect(await h.hub.db('audit_log').where({ action: 'message.phi_reveal', entity_id: id }).first('actor')).toEqual({ actor: 'console:olga' });
  });

  it('shows bytes that are not valid UTF-8 as escaped \\xNN', async () => {
    const id = await ingest('wms', fixture('wms-receive-latin1-byte-no-charset.json'), 'application/json');
    await h.waitForStatus(id);
    const page = await operator.get(`/console/messages/${id}`);
    expect(page.text).toContain('L-Caf\\xE9');
    expect(page.text).toContain('1 invalid byte shown as \\xNN');
  });

  it('finds messages by lot, GTIN and serial through lineage', async () => {
    const id = await ingest('wms', JSON.stringify({ movementId: 'LIN-1', type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-LINEAGE-1', quantity: 3, uom: 'EA' }), 'application/json');
    expect((await h.waitForStatus(id)).status).toBe('processed');
    const find = async (q: string): Promise<string[]> => (await operator.get(`/console?${q}`, 'application/json')).json().items.map((x: { id: string }) => x.id);
    expect(await find('lot=L-LINEAGE-1')).toEqual([id]);
    const page = await operator.get(`/console/messages/${id}`);
    expect(page.text).toMatch(/<td>trace_events<\/td><td>ObjectEvent OBSERVE · receiving · 2026-03-01 10:15:00Z · lot <a href="\/console\?lot=L-LINEAGE-1"/);
    expect(await find('lot=L-LINEAGE-1&gtin=9506000134352')).toEqual([id]);
    expect(await find('gtin=09506000134352')).toContain(id);
    expect(await find('lot=L-LINEAGE-1&gtin=04012345000009')).toEqual([]);
    expect(await find('serial=NO-SUCH-SERIAL')).toEqual([]);
  });

  it('serves the queue dashboard with every LotBridge queue to a logged-in user; an auditor may not change jobs', async () => {
    const page = await operator.get('/admin/queues');
    expect(page.status).toBe(200);
    const queues = (await operator.get('/admin/queues/api/queues?activeQueue=ingest&page=1', 'application/json')).json();
    // every queue named in src/pipeline/queues.ts
    expect(queues.queues.map((q: { name: string }) => q.name).sort()).toEqual(Object.values(QUEUES).sort());
    expect(Object.values(QUEUES)).toEqual(expect.arrayContaining(['console', 'ingest', 'maintenance']));
    const retry = await fetch(`${h.url}/admin/queues/api/queues/ingest/retry/failed`, { method: 'PUT', headers: { cookie: auditor.cookie, accept: 'application/json' } });
    expect(retry.status).toBe(403);
  });

  it('shows the outbound deliveries a message caused (the deliveries table of the delivery module), without their encrypted request', async () => {
    const id = await ingest('wms', JSON.stringify({ movementId: 'DLV-1', type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1', gtin: '09506000134352', lot: 'L-DLV', quantity: 1, uom: 'EA' }), 'application/json');
    await h.waitForStatus(id);
    const db = h.hub.db;
    // the table as the delivery module's migration makes it (created here only when that module is not installed)
    await db.raw(`CREATE TABLE IF NOT EXISTS deliveries (
      id uuid PRIMARY KEY, idempotency_key text UNIQUE, event_id uuid, event_type text, source_message_id uuid, ordinal integer,
      origin text NOT NULL, kind text NOT NULL, destination_key text NOT NULL, destination jsonb NOT NULL, request bytea NOT NULL,
      status text NOT NULL DEFAULT 'queued', attempts integer NOT NULL DEFAULT 0, max_attempts integer NOT NULL, ack jsonb,
      error_code text, error_message text, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), delivered_at timestamptz)`);
    await db('deliveries').insert([
      { id: '0195f1c2-7a00-7000-8000-0000000000d1', source_message_id: id, origin: 'flow:n1', kind: 'http', destination_key: 'http://erp.example:443', destination: JSON.stringify({ url: 'https://erp.example/stock' }), request: Buffer.from('SECRET-REQUEST-BLOB'), status: 'delivered', attempts: 2, max_attempts: 5, ack: JSON.stringify({ httpStatus: 200 }), delivered_at: new Date() },
      { id: '0195f1c2-7a00-7000-8000-0000000000d2', source_message_id: id, origin: 'flow:n2', kind: 'mllp', destination_key: 'mllp://his:2575', destination: JSON.stringify({ host: 'his', port: 2575 }), request: Buffer.from('SECRET-REQUEST-BLOB'), status: 'failed', attempts: 5, max_attempts: 5, error_code: 'LB_ERR_MLLP_TIMEOUT', error_message: 'no answer within 10000 ms' },
    ]);
    const page = await operator.get(`/console/messages/${id}`);
    expect(page.text).toContain('https://erp.example/stock');
    expect(page.text).toContain('<span class="badge st-delivered">delivered</span>');
    expect(page.text).toContain('<code>LB_ERR_MLLP_TIMEOUT</code> no answer within 10000 ms');
    expect(page.text).toContain('<td>5 / 5</td>');
    expect(page.text).not.toContain('SECRET-REQUEST-BLOB');
    expect(page.text).not.toContain(Buffer.from('SECRET-REQUEST-BLOB').toString('hex'));
  });

  it('logs out: the session no longer opens pages', async () => {
    const c = await consoleLogin(h.url, 'olga', 'correct horse battery');
    const r = await c.post('/console/logout');
    expect(r.status).toBe(303);
    expect((await c.get('/console')).status).toBe(302);
  });
});
