/**
 * The embedded Node-RED of a running hub (one runtime for the whole file: Node-RED is one per
 * process): admin auth, default flows, intake → flow → HTTP destination, at-least-once retries of
 * failing flows, delivery retries and refusals (HTTP 500, timeout, MLLP AE), deploys with missing
 * node types, and the editor in a real Chromium.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { Queue } from 'bullmq';
import { chromium } from 'playwright-core';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { TEST_REDIS_URL } from '../../helpers/test-redis';
import { adminToken, captureServer, deployFlows, ensureNodeRedNodes, insertOutboxEvent, tab, waitUntil } from '../../helpers/nodered';
import { createMllpServer } from '../../../src/transport/mllp';
import { silentLogger } from '../../../src/logging/logger';

const PASSWORD = 'flows-admin-pw-1';
const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('embedded Node-RED', () => {
  let h: TestHub;
  let token: string;
  let routeQueue: Queue;

  beforeAll(async () => {
    ensureNodeRedNodes();
    h = await startTestHub({
      env: {
        LOTBRIDGE_NODERED_ENABLED: 'true',
        LOTBRIDGE_MLLP_PORT: '0',
        LOTBRIDGE_ADMIN_PASSWORD: PASSWORD,
        LOTBRIDGE_OUTBOX_POLL_MS: '50',
        LOTBRIDGE_ROUTE_MAX_ATTEMPTS: '2',
      },
    });
    token = (await adminToken(h.url, PASSWORD)).token!;
    routeQueue = new Queue('route', { connection: { host: '127.0.0.1', port: Number(new URL(TEST_REDIS_URL).port || 6379) }, prefix: h.prefix });
  }, 120_000);

  afterAll(async () => {
    await routeQueue?.close();
    await h?.stop();
  });

  const readyz = async (): Promise<any> => (await fetch(`${h.url}/readyz`)).json();
  const deploy = async (flows: unknown[], eventNodes: number): Promise<void> => {
    expect(await deployFlows(h.url, token, flows)).toBe(204);
    await waitUntil('flows started', async () => {
      const r = await readyz();
      return r.dependencies.nodered.flows === 'started' && r.dependencies.nodered.eventNodes === eventNodes;
    });
  };
  const deliveriesOf = async (eventId: string): Promise<any[]> => h.hub.db('deliveries').where({ event_id: eventId }).orderBy('created_at');

  describe('start and login', () => {
    it('is ready once its flows started, and /readyz says so', async () => {
      const r = await readyz();
      expect(r.status).toBe('ready');
      expect(r.dependencies.nodered).toMatchObject({ state: 'up', flows: 'started', version: expect.stringMatching(/^4\.1\./) });
    });

    it('refuses the Admin API without a token (401) and with a wrong password', async () => {
      for (const p of ['/flows/flows', '/flows/nodes', '/flows/settings/user', '/flows/credentials/lotbridge-deliver/x']) {
        const res = await fetch(h.url + p);
        expect({ p, status: res.status }).toEqual({ p, status: 401 });
      }
      const deployAnon = await fetch(`${h.url}/flows/flows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
      expect(deployAnon.status).toBe(401);
      const wrong = await adminToken(h.url, 'not-the-password');
      expect(wrong.token).toBeUndefined();
      expect([401, 403]).toContain(wrong.status);
      const otherUser = await adminToken(h.url, PASSWORD, 'root');
      expect(otherUser.token).toBeUndefined();
    });

    it('serves the editor page and asks the editor to log in (adminAuth credentials)', async () => {
      const page = await fetch(`${h.url}/flows/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('LotBridge flows');
      const login = (await (await fetch(`${h.url}/flows/auth/login`)).json()) as { type: string };
      expect(login.type).toBe('credentials');
    });

    it('accepts the configured password and lists the LotBridge nodes in the palette', async () => {
      const res = await fetch(`${h.url}/flows/nodes`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
      expect(res.status).toBe(200);
      const nodes = (await res.json()) as Array<{ types: string[]; module: string; err?: string }>;
      const ours = nodes.filter((n) => n.module === 'lotbridge');
      expect(ours.flatMap((n) => n.types).sort()).toEqual(['lotbridge-config', 'lotbridge-deliver', 'lotbridge-done', 'lotbridge-event', 'lotbridge-ingest', 'lotbridge-trace']);
      expect(ours.filter((n) => n.err)).toEqual([]);
      const icon = await fetch(`${h.url}/flows/icons/lotbridge/lotbridge-event.svg`, { headers: { authorization: `Bearer ${token}` } });
      expect(icon.status).toBe(200);
    });

    it('copied the default flows into the data dir on first start, and they run with no destination configured', async () => {
      const flows = JSON.parse(fs.readFileSync(path.join(h.dataDir, 'node-red', 'flows.json'), 'utf8')) as Array<{ type: string; id: string }>;
      const defaults = fs.readdirSync(path.join(ROOT, 'flows')).filter((f) => f.endsWith('.json')).flatMap((f) => JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', f), 'utf8')) as Array<{ id: string }>);
      expect(flows.map((n) => n.id).sort()).toEqual(defaults.map((n) => n.id).sort());
      const res = await fetch(`${h.url}/flows/flows`, { headers: { authorization: `Bearer ${token}` } });
      const live = (await res.json()) as Array<{ type: string }>;
      expect(live.filter((n) => n.type === 'lotbridge-event')).toHaveLength(4);
      // a message.failed event reaches the alert flow, whose webhook is unset: recorded as skipped, the event completes
      const eventId = await insertOutboxEvent(h.hub.db, 'message.failed', { messageId: '00000000-0000-7000-8000-000000000001', connectorId: 'wms', error: { code: 'LB_ERR_INTERNAL', message: 'test' } });
      const [d] = await waitUntil('skipped delivery', async () => ((await deliveriesOf(eventId)).length ? deliveriesOf(eventId) : undefined));
      expect(d).toMatchObject({ status: 'skipped', origin: 'flow:lb.failed.deliver' });
      expect(d.error_message).toMatch(/no URL configured/);
      await waitUntil('route job completed', async () => (await routeQueue.getJob(eventId)) === undefined);
      // no secrets in the flow file: the credential key lives apart from it
      expect(fs.existsSync(path.join(h.dataDir, 'node-red', 'credential-secret.key'))).toBe(true);
    });
  });

  describe('events through a deployed flow', () => {
    let sink: Awaited<ReturnType<typeof captureServer>>;
    beforeAll(async () => {
      sink = await captureServer();
    });
    afterAll(async () => sink.close());

    it('takes a message posted to intake through a flow to an HTTP destination, and shows the delivery on the message', async () => {
      await deploy(
        tab('t.intake', [
          { id: 'in.ev', type: 'lotbridge-event', events: 'message.received', connector: 'wms', messageType: '', includeRaw: true, timeout: 30, wires: [['in.fn']] },
          { id: 'in.fn', type: 'function', func: 'msg.payload = { eventId: msg.eventId, messageId: msg.payload.messageId, type: msg.payload.messageType, raw: msg.raw };\nreturn msg;', outputs: 1, wires: [['in.dl']] },
          { id: 'in.dl', type: 'lotbridge-deliver', kind: 'http', url: `${sink.url}/erp/movements`, method: 'POST', headers: '{"x-flow":"intake-test"}', attempts: 3, backoff: 0.1, timeout: 5, concurrency: 2, wires: [['in.ok'], []] },
          { id: 'in.ok', type: 'debug', active: false, wires: [] },
        ]),
        1,
      );
      const body = fs.readFileSync(path.join(ROOT, 'tests/fixtures/wms/movement-receive-barcode.json'));
      const receipt = await h.api('POST', '/api/v1/ingest/wms', body, { 'content-type': 'application/json' });
      expect(receipt.status).toBe(202);
      const messageId = receipt.json.messageId as string;
      const req = await waitUntil('POST at the sink', () => sink.requests.find((r) => r.url === '/erp/movements' && JSON.parse(r.body).messageId === messageId));
      const sent = JSON.parse(req.body);
      expect(sent).toMatchObject({ messageId, type: 'movement:receive' });
      expect(JSON.parse(sent.raw)).toMatchObject({ movementId: 'WMS-000123' });
      expect(req.headers['x-flow']).toBe('intake-test');
      expect(req.headers['x-lotbridge-event-id']).toBe(sent.eventId);
      expect(req.headers['content-type']).toBe('application/json');
      const view = await waitUntil('delivered on the message', async () => {
        const m = (await h.api('GET', `/api/v1/messages/${messageId}`)).json;
        return m.deliveries?.[0]?.status === 'delivered' ? m : undefined;
      });
      expect(view.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 1, kind: 'http', eventId: sent.eventId, ack: { type: 'http', status: 200, body: 'ok' }, origin: 'flow:in.dl' });
      expect(view.canonical.some((c: { table: string }) => c.table === 'deliveries')).toBe(true);
      await waitUntil('route job completed', async () => (await routeQueue.getJob(sent.eventId)) === undefined);
    });

    it('retries an event whose flow throws (Catch sees it) and completes it on the next attempt', async () => {
      await deploy(
        tab('t.throw', [
          { id: 'th.ev', type: 'lotbridge-event', events: 'test.flaky', timeout: 30, wires: [['th.fn']] },
          { id: 'th.fn', type: 'function', func: "if (msg.event.attempt === 1) { throw new Error('ERP mapping table not loaded yet'); }\nreturn msg;", outputs: 1, wires: [['th.dl']] },
          { id: 'th.dl', type: 'lotbridge-deliver', kind: 'http', url: `${sink.url}/flaky`, wires: [[], []] },
          { id: 'th.catch', type: 'catch', scope: null, uncaught: false, wires: [['th.seen']] },
          { id: 'th.seen', type: 'function', func: "global.set('caught', (global.get('caught') || 0) + 1); return null;", outputs: 1, wires: [] },
        ]),
        1,
      );
      const eventId = await insertOutboxEvent(h.hub.db, 'test.flaky', { n: 1 });
      const req = await waitUntil('second attempt delivered', () => sink.requests.find((r) => r.url === '/flaky' && r.headers['x-lotbridge-event-id'] === eventId), 30_000);
      expect(JSON.parse(req.body).n).toBe(1);
      await waitUntil('route job completed', async () => (await routeQueue.getJob(eventId)) === undefined);
      expect(sink.requests.filter((r) => r.url === '/flaky')).toHaveLength(1);
    });

    it('fails an event for good after its attempts when the flow always throws, with the error in the failed job', async () => {
      await deploy(
        tab('t.always', [
          { id: 'al.ev', type: 'lotbridge-event', events: 'test.broken', timeout: 30, wires: [['al.fn']] },
          { id: 'al.fn', type: 'function', func: "throw new Error('customer master has no GLN ' + msg.payload.gln);", outputs: 1, wires: [[]] },
        ]),
        1,
      );
      const eventId = await insertOutboxEvent(h.hub.db, 'test.broken', { gln: '4012345000009' });
      const job = await waitUntil('failed route job', async () => {
        const j = await routeQueue.getJob(eventId);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      }, 30_000);
      expect(job.attemptsMade).toBe(2);
      expect(job.failedReason).toMatch(/LB_ERR_FLOW_FAILED|customer master has no GLN 4012345000009/);
      expect(job.failedReason).toContain('customer master has no GLN 4012345000009');
    });

    it('retries an event no node completes within the lotbridge-event timeout, then fails it with LB_ERR_FLOW_TIMEOUT', async () => {
      await deploy(
        tab('t.timeout', [
          { id: 'to.ev', type: 'lotbridge-event', events: 'test.dropped', timeout: 0.5, wires: [['to.fn']] },
          { id: 'to.fn', type: 'function', func: 'return null; // forgets to finish the event', outputs: 1, wires: [[]] },
        ]),
        1,
      );
      const eventId = await insertOutboxEvent(h.hub.db, 'test.dropped', {});
      const job = await waitUntil('failed route job', async () => {
        const j = await routeQueue.getJob(eventId);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      }, 30_000);
      expect(job.failedReason).toContain('no lotbridge-done or lotbridge-deliver finished event');
      expect(job.attemptsMade).toBe(2);
    });

    it('retries a destination that answers 500 with backoff until it answers 200', async () => {
      let n = 0;
      const flaky = await captureServer(() => (++n <= 2 ? { status: 500, body: 'db down' } : { status: 200, body: 'accepted' }));
      try {
        await deploy(
          tab('t.500', [
            { id: 'f5.ev', type: 'lotbridge-event', events: 'test.http500', timeout: 30, wires: [['f5.dl']] },
            { id: 'f5.dl', type: 'lotbridge-deliver', kind: 'http', url: `${flaky.url}/in`, attempts: 4, backoff: 0.05, timeout: 5, wires: [[], []] },
          ]),
          1,
        );
        const eventId = await insertOutboxEvent(h.hub.db, 'test.http500', { lot: 'L1' });
        const [d] = await waitUntil('delivered', async () => {
          const ds = await deliveriesOf(eventId);
          return ds[0]?.status === 'delivered' ? ds : undefined;
        }, 30_000);
        expect(d.attempts).toBe(3);
        expect(d.ack).toEqual({ type: 'http', status: 200, body: 'accepted' });
        expect(flaky.requests).toHaveLength(3);
        expect(new Set(flaky.requests.map((r) => r.headers['x-lotbridge-delivery-id']))).toEqual(new Set([d.id]));
      } finally {
        await flaky.close();
      }
    });

    it('fails a delivery whose destination never answers after its attempts (LB_ERR_DELIVERY_TIMEOUT) and writes delivery.failed', async () => {
      const slow = await captureServer(() => ({ status: 200, hang: true }));
      try {
        await deploy(
          tab('t.slow', [
            { id: 'sl.ev', type: 'lotbridge-event', events: 'test.slow', timeout: 30, wires: [['sl.dl']] },
            { id: 'sl.dl', type: 'lotbridge-deliver', kind: 'http', url: `${slow.url}/in`, attempts: 2, backoff: 0.05, timeout: 0.3, wires: [[], []] },
          ]),
          1,
        );
        const eventId = await insertOutboxEvent(h.hub.db, 'test.slow', {});
        const [d] = await waitUntil('failed', async () => {
          const ds = await deliveriesOf(eventId);
          return ds[0]?.status === 'failed' ? ds : undefined;
        }, 30_000);
        expect(d).toMatchObject({ attempts: 2, error_code: 'LB_ERR_DELIVERY_TIMEOUT' });
        const failed = await h.hub.db('outbox_events').where({ type: 'delivery.failed' }).whereRaw("payload->>'deliveryId' = ?", [d.id]).first();
        expect(failed.payload).toMatchObject({ origin: 'flow:sl.dl', error: { code: 'LB_ERR_DELIVERY_TIMEOUT' }, attempts: 2 });
      } finally {
        await slow.close();
      }
    });

    it('refuses an HTTP 4xx at once without retrying (LB_ERR_DELIVERY_HTTP_REJECTED), answer kept', async () => {
      const strict = await captureServer(() => ({ status: 422, body: '{"error":"unknown GTIN 09506000134352"}' }));
      try {
        await deploy(
          tab('t.422', [
            { id: 'r4.ev', type: 'lotbridge-event', events: 'test.http422', timeout: 30, wires: [['r4.dl']] },
            { id: 'r4.dl', type: 'lotbridge-deliver', kind: 'http', url: `${strict.url}/in`, attempts: 5, backoff: 0.05, wires: [[], []] },
          ]),
          1,
        );
        const eventId = await insertOutboxEvent(h.hub.db, 'test.http422', {});
        const [d] = await waitUntil('failed', async () => {
          const ds = await deliveriesOf(eventId);
          return ds[0]?.status === 'failed' ? ds : undefined;
        });
        expect(d).toMatchObject({ attempts: 1, error_code: 'LB_ERR_DELIVERY_HTTP_REJECTED', ack: { status: 422, body: '{"error":"unknown GTIN 09506000134352"}' } });
        expect(strict.requests).toHaveLength(1);
      } finally {
        await strict.close();
      }
    });

    it('fails an MLLP delivery answered AE with the ACK text, without retrying; AA is delivered', async () => {
      const lis = createMllpServer({
        port: 0,
        host: '127.0.0.1',
        logger: silentLogger(),
        onFrame: async (payload: Buffer) => {
          const text = payload.toString('latin1');
          const ctl = text.split('\r')[0].split('|')[9];
          const code = text.includes('PID|1||BAD') ? 'AE' : 'AA';
          const ack = `MSH|^~\\&|LIS|HOSP|LOTBRIDGE|HUB|20260301101500||ACK^A01|ACK${ctl}|P|2.5\rMSA|${code}|${ctl}|${code === 'AE' ? 'Unknown patient class' : ''}\r${code === 'AE' ? 'ERR|||207^Application internal error^HL70357|E||||PV1-2 Z is not a patient class\r' : ''}`;
          return Buffer.from(ack, 'latin1');
        },
      });
      const port = await lis.start();
      try {
        await deploy(
          tab('t.mllp', [
            { id: 'ml.ev', type: 'lotbridge-event', events: 'test.adt', timeout: 30, wires: [['ml.fn']] },
            { id: 'ml.fn', type: 'function', func: 'msg.payload = msg.payload.hl7; return msg;', outputs: 1, wires: [['ml.dl']] },
            { id: 'ml.dl', type: 'lotbridge-deliver', kind: 'mllp', host: '127.0.0.1', port: String(port), attempts: 4, backoff: 0.05, timeout: 5, wires: [[], []] },
          ]),
          1,
        );
        const good = await insertOutboxEvent(h.hub.db, 'test.adt', { hl7: 'MSH|^~\\&|HUB|LB|LIS|HOSP|20260301101500||ADT^A01|CTL-1|P|2.5\nPID|1||12345^^^HOSP^MR\nPV1|1|I' });
        const bad = await insertOutboxEvent(h.hub.db, 'test.adt', { hl7: 'MSH|^~\\&|HUB|LB|LIS|HOSP|20260301101500||ADT^A01|CTL-2|P|2.5\nPID|1||BAD^^^HOSP^MR\nPV1|1|Z' });
        const [ok] = await waitUntil('AA delivered', async () => {
          const ds = await deliveriesOf(good);
          return ds[0]?.status === 'delivered' ? ds : undefined;
        });
        expect(ok.ack).toMatchObject({ type: 'hl7-ack', code: 'AA', controlId: 'CTL-1' });
        const [nak] = await waitUntil('AE failed', async () => {
          const ds = await deliveriesOf(bad);
          return ds[0]?.status === 'failed' ? ds : undefined;
        });
        expect(nak).toMatchObject({ attempts: 1, error_code: 'LB_ERR_DELIVERY_NACK', ack: { code: 'AE', controlId: 'CTL-2', text: 'Unknown patient class' } });
        expect(nak.error_message).toContain('Unknown patient class');
        expect(nak.ack.errors[0]).toContain('PV1-2 Z is not a patient class');
      } finally {
        await lis.stop({ graceMs: 100 });
      }
    });

    it('writes a file destination atomically and does not write it twice for a re-delivered event', async () => {
      const dir = fs.mkdtempSync(path.join(h.dataDir, 'out-'));
      await deploy(
        tab('t.file', [
          { id: 'fi.ev', type: 'lotbridge-event', events: 'test.file', timeout: 30, wires: [['fi.dl']] },
          { id: 'fi.dl', type: 'lotbridge-deliver', kind: 'file', dir, fileName: 'lot-{eventId}.json', wires: [[], []] },
        ]),
        1,
      );
      const eventId = await insertOutboxEvent(h.hub.db, 'test.file', { lot: 'L2403A', status: 'released' });
      const file = path.join(dir, `lot-${eventId}.json`);
      await waitUntil('file written', () => fs.existsSync(file));
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ lot: 'L2403A', status: 'released' });
      // the same event again (as after a crash before the route job completed): the same delivery, no second file
      await routeQueue.add('test.file', { eventId, type: 'test.file', payload: { lot: 'L2403A', status: 'released' }, sourceMessageId: null, ordinal: null, createdAt: new Date().toISOString() }, { jobId: `${eventId}-again` });
      await waitUntil('second route job completed', async () => (await (await routeQueue.getJob(`${eventId}-again`))?.getState()) === 'completed');
      expect(await deliveriesOf(eventId)).toHaveLength(1);
      expect(fs.readdirSync(dir)).toEqual([`lot-${eventId}.json`]);
    });

    it('keeps a deploy that references a missing node type stopped and says so in /readyz, until a good deploy', async () => {
      expect(await deployFlows(h.url, token, tab('t.missing', [{ id: 'mi.x', type: 'sftp-in-not-installed', wires: [] }]))).toBe(204);
      const r = await waitUntil('waiting flows', async () => {
        const x = await readyz();
        return x.dependencies.nodered.flows === 'waiting' ? x : undefined;
      });
      expect(r.dependencies.nodered.missingTypes).toEqual(['sftp-in-not-installed']);
      expect(r.dependencies.nodered.reason).toContain('LB_ERR_FLOWS_MISSING_TYPE');
      await deploy(tab('t.ok', [{ id: 'ok.ev', type: 'lotbridge-event', events: 'test.none', wires: [[]] }]), 1);
      expect((await readyz()).dependencies.nodered.missingTypes).toBeUndefined();
    });

    it('writes every deploy into the audit log: who, the deployment type, the revision that runs, or the missing types of one that did not start', async () => {
      // the two deploys of the test above are the newest rows of the admin chain
      const rows = await waitUntil('audit rows of the two deploys', async () => {
        const r = await h.hub.db('audit_log').where({ chain: 'admin', action: 'nodered.flows.set' }).orderBy('seq', 'desc').limit(2).select('actor', 'entity_type', 'entity_id', 'after', 'reason');
        return r.length === 2 && r[0].after.started === true && r[1].after.started === false ? r.reverse() : undefined;
      });
      expect(rows[0]).toMatchObject({ actor: 'nodered:admin', entity_type: 'flows', after: { deploymentType: 'full', started: false, missingTypes: ['sftp-in-not-installed'] } });
      const live = (await (await fetch(`${h.url}/flows/flows`, { headers: { authorization: `Bearer ${token}`, 'node-red-api-version': 'v2' } })).json()) as { rev: string; flows: unknown[] };
      expect(rows[1]).toMatchObject({
        actor: 'nodered:admin', entity_type: 'flows', entity_id: live.rev, reason: 'Node-RED full deploy',
        after: { deploymentType: 'full', started: true, rev: live.rev, tabs: 1, nodes: live.flows.length },
      });
      // reads (the GET above, the palette list) and logins are not audited
      const reads = await h.hub.db('audit_log').where('action', 'like', 'nodered.%').whereNotIn('action', ['nodered.flows.set']).count<Array<{ n: string }>>({ n: '*' });
      expect(Number(reads[0].n)).toBe(0);
      const v = await h.api('GET', '/api/v1/audit/verify');
      expect(v.json).toEqual({ ok: true, rows: expect.any(Number) });
    });
  });

  describe('the editor in a browser (headless Chromium)', () => {
    it('logs into the editor with the admin password and finds the LotBridge nodes in the palette', async () => {
      const CHROMIUM = '/usr/bin/chromium';
      if (!fs.existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (never download a browser)`);
      }
      // the screenshot goes to docs/screenshots/ with UPDATE_SCREENSHOTS=1, else to a temporary folder
      const shots = process.env.UPDATE_SCREENSHOTS ? path.join(ROOT, 'docs', 'screenshots') : fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-shots-'));
      fs.mkdirSync(shots, { recursive: true });
      await deploy(JSON.parse(fs.readFileSync(path.join(ROOT, 'flows', '10-recall-notify-customers.json'), 'utf8')) as unknown[], 1);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
        await page.goto(`${h.url}/flows/`);
        await page.waitForSelector('#node-dialog-login-username', { timeout: 30_000 });
        await page.fill('#node-dialog-login-username', 'admin');
        await page.fill('#node-dialog-login-password', 'wrong-password');
        await page.click('.ui-dialog-buttonset button.primary, #node-dialog-login-submit');
        await page.waitForSelector('#node-dialog-login-failed', { state: 'visible', timeout: 10_000 });
        await page.fill('#node-dialog-login-password', PASSWORD);
        await page.click('.ui-dialog-buttonset button.primary, #node-dialog-login-submit');
        for (const t of ['lotbridge-event', 'lotbridge-deliver', 'lotbridge-ingest', 'lotbridge-trace', 'lotbridge-done']) {
          await page.waitForSelector(`.red-ui-palette-node[data-palette-type="${t}"]`, { timeout: 30_000 });
        }
        const labels = await page.$$eval('.red-ui-palette-node[data-palette-type^="lotbridge-"] .red-ui-palette-label', (els) => els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()));
        expect(labels).toEqual(expect.arrayContaining(['lotbridge event', 'lotbridge deliver', 'lotbridge ingest', 'lotbridge trace', 'lotbridge done']));
        // the deployed recall flow is drawn on the workspace
        await page.waitForSelector('.red-ui-flow-node-group', { timeout: 10_000 });
        await page.waitForTimeout(500);
        const file = path.join(shots, 'nodered-editor-palette.png');
        await page.screenshot({ path: file });
        expect(fs.statSync(file).size).toBeGreaterThan(20_000);
      } finally {
        await browser.close();
      }
    }, 120_000);
  });
});
