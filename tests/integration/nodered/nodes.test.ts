/**
 * Each LotBridge node in a real mini-flow with node-red-node-test-helper 0.3.6 (promise form of
 * startServer), against a real hub (PostgreSQL, Redis, deliver queue, intake) reached through the
 * same bridge the embedded runtime gives the nodes.
 */
import path from 'node:path';
import fs from 'node:fs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper') as any;
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { TEST_REDIS_URL } from '../../helpers/test-redis';
import { captureServer, waitUntil } from '../../helpers/nodered';
import { QueueKit } from '../../../src/pipeline/queue-kit';
import { RouteConsumer } from '../../../src/nodered/route-consumer';
import { createBridge, installFlowErrorHooks } from '../../../src/nodered/nodered-host';
import { createPhiProtector } from '../../../src/security/phi';
import { silentLogger } from '../../../src/logging/logger';
import eventNode from '../../../src/nodered/nodes/lotbridge-event';
import deliverNode from '../../../src/nodered/nodes/lotbridge-deliver';
import doneNode from '../../../src/nodered/nodes/lotbridge-done';
import ingestNode from '../../../src/nodered/nodes/lotbridge-ingest';
import traceNode from '../../../src/nodered/nodes/lotbridge-trace';
import configNode from '../../../src/nodered/nodes/lotbridge-config';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const functionNode = require('@node-red/nodes/core/function/10-function.js');
const ROOT = path.resolve(__dirname, '..', '..', '..');

helper.init(require.resolve('node-red'));

describe('LotBridge nodes in mini-flows (node-red-node-test-helper)', () => {
  let h: TestHub;
  let routes: RouteConsumer;
  let bridge: ReturnType<typeof createBridge>;
  let removeHooks: () => void;
  let sink: Awaited<ReturnType<typeof captureServer>>;

  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
    const kit = new QueueKit({ kind: 'redis', url: TEST_REDIS_URL, prefix: h.prefix });
    const phi = createPhiProtector({ dataDir: h.dataDir, logger: silentLogger() });
    routes = new RouteConsumer({ db: h.hub.db, kit, phi, logger: silentLogger(), concurrency: 4, isOpen: () => true });
    await routes.start();
    bridge = createBridge({ db: h.hub.db, deliveries: h.hub.deliveries, ingest: h.hub.ingest, connectorIds: () => [...h.hub.connectors.keys()] }, routes);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    removeHooks = installFlowErrorHooks({ hooks: require('@node-red/util').hooks }, routes);
    sink = await captureServer();
    await helper.startServer();
  }, 60_000);
  afterEach(async () => {
    await helper.unload();
  });
  afterAll(async () => {
    await helper.stopServer();
    removeHooks?.();
    await routes?.close();
    await sink?.close();
    await h?.stop();
  });

  const load = async (nodes: unknown[], flow: unknown[], settings: Record<string, unknown> = { lotbridge: bridge }, credentials: Record<string, unknown> = {}): Promise<void> => {
    helper.settings(settings);
    await helper.load(nodes, flow, credentials);
  };
  const addRouteJob = async (id: string, type: string, payload: Record<string, unknown>, attempts = 1): Promise<void> => {
    await routes.queue.add(type, { eventId: id, type, payload, sourceMessageId: null, ordinal: null, createdAt: new Date().toISOString() }, { jobId: id, attempts, backoff: { type: 'fixed', delay: 50 }, removeOnComplete: true });
  };
  const jobState = async (id: string): Promise<string | undefined> => {
    const j = await routes.queue.getJob(id);
    return j ? ((j as unknown as { getState(): Promise<string> }).getState()) : undefined;
  };

  it('lotbridge-event hands an event to the flow and lotbridge-done completes its route job', async () => {
    await load([eventNode, doneNode], [
      { id: 'ev', type: 'lotbridge-event', events: 'lot.*', connector: '', messageType: '', timeout: 10, wires: [['probe', 'done']] },
      { id: 'probe', type: 'helper' },
      { id: 'done', type: 'lotbridge-done' },
    ]);
    const got = new Promise<any>((r) => helper.getNode('probe').on('input', r));
    await addRouteJob('00000000-0000-7000-8000-0000000000a1', 'lot.released', { lot: 'L1' });
    const msg = await got;
    expect(msg).toMatchObject({ topic: 'lot.released', eventId: '00000000-0000-7000-8000-0000000000a1', payload: { lot: 'L1' }, event: { attempt: 1 } });
    expect(msg._lotbridge.token).toMatch(/\/1\/ev$/);
    await waitUntil('job completed', async () => (await jobState('00000000-0000-7000-8000-0000000000a1')) === undefined);
  });

  it('lotbridge-event refuses a bad type pattern and shows it', async () => {
    await load([eventNode], [{ id: 'ev', type: 'lotbridge-event', events: 'lot..released', timeout: 10, wires: [[]] }]);
    const n = helper.getNode('ev');
    await waitUntil('error logged', () => (n.error as any).called === true || (helper.log().args as unknown[][]).some((a) => JSON.stringify(a).includes('is not an event type pattern')), 5000);
    expect(routes.subscribers).toBe(0);
  });

  it('a function node that throws fails the attempt (onComplete hook) and the job retries, then fails', async () => {
    await load([eventNode, functionNode], [
      { id: 'ev', type: 'lotbridge-event', events: 'test.throw', timeout: 10, wires: [['fn']] },
      { id: 'fn', type: 'function', func: "throw new Error('no ERP mapping for lot ' + msg.payload.lot);", outputs: 1, wires: [[]] },
    ]);
    await addRouteJob('00000000-0000-7000-8000-0000000000a2', 'test.throw', { lot: 'L9' }, 2);
    await waitUntil('job failed', async () => (await jobState('00000000-0000-7000-8000-0000000000a2')) === 'failed', 15_000);
    const j = (await routes.queue.getJob('00000000-0000-7000-8000-0000000000a2')) as any;
    expect(j.attemptsMade).toBe(2);
    expect(j.failedReason).toContain('no ERP mapping for lot L9');
  });

  it('lotbridge-deliver queues an HTTP delivery with the credentials, completes the event, and reports delivered on output 1', async () => {
    await load([eventNode, deliverNode], [
      { id: 'ev', type: 'lotbridge-event', events: 'test.deliver', timeout: 10, wires: [['dl']] },
      { id: 'dl', type: 'lotbridge-deliver', kind: 'http', url: `${sink.url}/hook`, method: 'PUT', headers: '', attempts: 2, backoff: 0.05, timeout: 5, concurrency: 2, wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper' },
      { id: 'bad', type: 'helper' },
    ], { lotbridge: bridge }, { dl: { token: 'erp-token-123' } });
    const ok = new Promise<any>((r) => helper.getNode('ok').on('input', r));
    await addRouteJob('00000000-0000-7000-8000-0000000000a3', 'test.deliver', { lot: 'L3' });
    const msg = await ok;
    expect(msg.delivery).toMatchObject({ status: 'delivered', attempts: 1, ack: { status: 200 } });
    const req = sink.requests.find((r) => r.url === '/hook')!;
    expect(req).toMatchObject({ method: 'PUT', body: '{"lot":"L3"}' });
    expect(req.headers.authorization).toBe('Bearer erp-token-123');
    const row = await h.hub.db('deliveries').where({ id: msg.delivery.id }).first();
    expect(row.request.toString('latin1')).not.toContain('erp-token-123'); // secrets only encrypted
    await waitUntil('job completed', async () => (await jobState('00000000-0000-7000-8000-0000000000a3')) === undefined);
  });

  it('lotbridge-deliver with a bad destination fails the msg with LB_ERR_DELIVERY_INVALID', async () => {
    await load([deliverNode, functionNode], [
      { id: 'dl', type: 'lotbridge-deliver', kind: 'mllp', host: 'lis.example', port: '99999', wires: [[], []] },
      { id: 'c', type: 'catch', scope: null, uncaught: false, wires: [['probe']] },
      { id: 'probe', type: 'helper' },
    ]);
    const caught = new Promise<any>((r) => helper.getNode('probe').on('input', r));
    helper.getNode('dl').receive({ payload: 'MSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5' });
    const m = await caught;
    expect(m.error.message).toContain('destination port: 99999 is not a port number');
  });

  it('lotbridge-ingest stores a message through intake (accepted on output 1, rejected on output 2)', async () => {
    await load([ingestNode], [
      { id: 'in', type: 'lotbridge-ingest', connector: 'wms', format: '', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper' },
      { id: 'bad', type: 'helper' },
    ]);
    const ok = new Promise<any>((r) => helper.getNode('ok').on('input', r));
    helper.getNode('in').receive({ payload: JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/fixtures/wms/movement-receive-barcode.json'), 'utf8')), filename: 'sftp/wms-000123.json' });
    const a = await ok;
    expect(a.receipt).toMatchObject({ status: 'accepted', messageId: expect.any(String) });
    const stored = await h.hub.db('inbound_messages').where({ id: a.receipt.messageId }).first();
    expect(stored.transport).toBe('flow');
    const bad = new Promise<any>((r) => helper.getNode('bad').on('input', r));
    helper.getNode('in').receive({ payload: fs.readFileSync(path.join(ROOT, 'tests/fixtures/wms/invalid-json-trailing-comma.json'), 'utf8') });
    const b = await bad;
    expect(b.receipt.status).toBe('rejected');
    expect(b.receipt.error.code).toMatch(/^LB_ERR_/);
    expect(await h.hub.db('inbound_messages').where({ id: b.receipt.messageId }).first()).toMatchObject({ status: 'rejected' });
  });

  it('lotbridge-trace looks a lot up, sends an unknown lot to output 2, and refuses a missing lot number (traces: trace-node.test.ts)', async () => {
    await load([traceNode, functionNode], [
      { id: 'tr', type: 'lotbridge-trace', direction: 'lot', wires: [['probe'], ['missing']] },
      { id: 'probe', type: 'helper' },
      { id: 'missing', type: 'helper' },
      { id: 'c', type: 'catch', scope: null, uncaught: false, wires: [['err']] },
      { id: 'err', type: 'helper' },
    ]);
    // the lot from the ingest test above, once mapped
    const found = await waitUntil('lot mapped', async () => {
      // not mapped yet: output 2 (not found)
      const p = new Promise<any>((r) => {
        const seen = (m: any): void => {
          helper.getNode('probe').removeListener('input', seen);
          helper.getNode('missing').removeListener('input', seen);
          r(m);
        };
        helper.getNode('probe').on('input', seen);
        helper.getNode('missing').on('input', seen);
      });
      helper.getNode('tr').receive({ payload: { gtin: '09506000134352', lot: 'L2403A' } });
      const m = await p;
      return m.found ? m : undefined;
    }, 20_000, 200);
    expect(found.traceMode).toBe('lot');
    expect(JSON.stringify(found.payload)).toContain('L2403A');
    const none = new Promise<any>((r) => helper.getNode('missing').once('input', r));
    helper.getNode('tr').receive({ payload: { gtin: '09506000134352', lot: 'NO-SUCH-LOT' } });
    expect(await none).toMatchObject({ found: false, error: { code: 'LB_ERR_LOT_NOT_FOUND' }, payload: { lot: 'NO-SUCH-LOT' } });
    const err = new Promise<any>((r) => helper.getNode('err').on('input', r));
    helper.getNode('tr').receive({ payload: { gtin: '09506000134352' } });
    expect((await err).error.message).toContain('no lot number');
  });

  it('lotbridge-config lets lotbridge-ingest post to a hub over HTTP in a stand-alone Node-RED (no bridge)', async () => {
    await load([configNode, ingestNode], [
      { id: 'hub', type: 'lotbridge-config', url: h.url },
      { id: 'in', type: 'lotbridge-ingest', connector: 'wms', hub: 'hub', wires: [['ok'], []] },
      { id: 'ok', type: 'helper' },
    ], {}, { hub: { apiKey: h.key } });
    const ok = new Promise<any>((r) => helper.getNode('ok').on('input', r));
    helper.getNode('in').receive({ payload: { movementId: 'WMS-SA-1', type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1-COLD-A01', barcode: '(01)09506000134352(17)270331(10)L2403B', quantity: 5, uom: 'EA' } });
    expect((await ok).receipt).toMatchObject({ status: 'accepted' });
  });
});
