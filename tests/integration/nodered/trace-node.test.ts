/**
 * lotbridge-trace in real mini-flows (node-red-node-test-helper 0.3.6) against a real hub on real
 * PostgreSQL holding the knee genealogy of the trace tests (buildKneeGenealogy: every expected set
 * and number below is the one computed by hand there and in tests/integration/trace/*): inside the
 * hub through the bridge the embedded runtime gives the nodes (createBridge), and stand-alone through
 * the hub's HTTP API with a lotbridge-config node and an API key.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper') as any;
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { buildKneeGenealogy, GTIN, type GenealogyFixture } from '../../helpers/genealogy-fixture';
import { createBridge } from '../../../src/nodered/nodered-host';
import { openRecall } from '../../../src/trace/open-recall';
import { createApiKey } from '../../../src/security/api-keys';
import type { TracePage } from '../../../src/trace/trace-page';
import type { RecallImpactPreview } from '../../../src/trace/recall-preview';
import traceNode from '../../../src/nodered/nodes/lotbridge-trace';
import configNode from '../../../src/nodered/nodes/lotbridge-config';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const functionNode = require('@node-red/nodes/core/function/10-function.js');

helper.init(require.resolve('node-red'));

describe('lotbridge-trace (forward, backward, recall impact, lot lookup)', () => {
  let h: TestHub;
  let f: GenealogyFixture;
  let bridge: ReturnType<typeof createBridge>;
  const name = (id: string | null): string => (id === null ? 'unit' : [...f.lots.entries()].find(([, v]) => v === id)?.[0] ?? id);

  beforeAll(async () => {
    h = await startTestHub();
    f = await buildKneeGenealogy(h.hub.db);
    // the trace node uses no route consumer: events are not part of these flows
    bridge = createBridge(
      { db: h.hub.db, deliveries: h.hub.deliveries, ingest: h.hub.ingest, connectorIds: () => [...h.hub.connectors.keys()] },
      { subscribe: () => () => undefined, complete: () => false },
    );
    await helper.startServer();
  }, 60_000);
  afterEach(async () => {
    await helper.unload();
  });
  afterAll(async () => {
    await helper.stopServer();
    await h?.stop();
  });

  /** A flow: trace node → answer probe (output 1) / not-found probe (output 2), and a Catch → error probe. */
  const flow = async (node: Record<string, unknown>, settings: Record<string, unknown>, credentials: Record<string, unknown> = {}, extra: unknown[] = []): Promise<void> => {
    helper.settings(settings);
    await helper.load([traceNode, configNode, functionNode], [
      { id: 'tr', type: 'lotbridge-trace', wires: [['ok'], ['missing']], ...node },
      { id: 'ok', type: 'helper' },
      { id: 'missing', type: 'helper' },
      { id: 'c', type: 'catch', scope: null, uncaught: false, wires: [['err']] },
      { id: 'err', type: 'helper' },
      ...extra,
    ], credentials);
  };
  const next = (probe: 'ok' | 'missing' | 'err'): Promise<any> => new Promise((r) => helper.getNode(probe).once('input', r));
  const ask = async (probe: 'ok' | 'missing' | 'err', msg: Record<string, unknown>): Promise<any> => {
    const p = next(probe);
    helper.getNode('tr').receive(msg);
    return p;
  };

  describe('inside the hub (bridge)', () => {
    const settings = (): Record<string, unknown> => ({ lotbridge: bridge });

    it('forward from a raw lot: every derived lot once (diamonds), customers, stock and consumption', async () => {
      await flow({ direction: 'forward' }, settings());
      const m = await ask('ok', { payload: { material: 'RAW-TI', lot: 'TI-001' } });
      const page = m.payload as TracePage;
      expect(m.traceMode).toBe('forward');
      expect(page.tables.lots.map((l) => `${name(l.lotId)}@${l.depth}`).sort()).toEqual(['C1@1', 'C2@1', 'F1@2', 'F2@2', 'K1@3', 'R1@0']);
      expect(page.summary).toEqual({ lots: 6, links: 7, maxDepth: 3, depthLimited: false, revisits: 0, complete: true });
      expect([...new Set(page.tables.shipments.map((s) => s.party?.code))].sort()).toEqual(['CUST-A', 'CUST-B']);
      expect(page.tables.consumption.map((c) => c.procedureRef).sort()).toEqual(['hmac-proc-aaa', 'hmac-proc-bbb', 'hmac-proc-ccc']);
      expect(page.page).toEqual({ limit: 1000, rows: 21, nextCursor: null });
      expect(m.nextCursor).toBeNull();
    });

    it('backward from a scanned barcode string (the msg names the subject, the mode comes from msg.mode)', async () => {
      await flow({ direction: 'forward' }, settings());
      const m = await ask('ok', { payload: `(01)${GTIN.KIT}(10)K-1`, mode: 'backward' });
      const page = m.payload as TracePage;
      expect(m.traceMode).toBe('backward');
      expect(page.tables.lots.map((l) => `${name(l.lotId)}@${l.depth}`).sort()).toEqual(['C1@2', 'C2@2', 'F1@1', 'F2@1', 'I1@2', 'K1@0', 'R1@3', 'R2@3']);
      expect(page.tables.qc.map((q) => `${name(q.lotId)} ${q.test} ${q.result}`).sort()).toEqual(['C1 DIM fail', 'R1 TENSILE pass']);
      expect(page.tables.shipments.map((s) => `${s.shipmentNumber} ${s.party?.name}`)).toEqual(['IN-1 Titanium Works']);
    });

    it('pages: limit 5 gives the 21 rows in 5 pages, fed back through msg.traceQuery, each row of one big page exactly once', async () => {
      // output 1 → a function that sends the msg back while there is a next page
      await flow({ direction: 'forward', material: 'RAW-TI', lot: 'TI-001', limit: '5', wires: [['ok', 'again'], ['missing']] }, settings(), {}, [
        { id: 'again', type: 'function', func: 'return msg.nextCursor ? msg : null;', outputs: 1, wires: [['tr']] },
      ]);
      const pages: TracePage[] = [];
      const all = new Promise<void>((resolve) => {
        helper.getNode('ok').on('input', (m: any) => {
          pages.push(m.payload);
          if (!m.nextCursor) resolve();
        });
      });
      helper.getNode('tr').receive({ payload: {} });
      await all;
      const rows = (p: TracePage): string[] => [
        ...p.tables.lots.map((l) => `lot ${name(l.lotId)}`),
        ...p.tables.onHand.map((b) => `onHand ${name(b.lotId)} ${b.stockState}`),
        ...p.tables.shipments.map((s) => `ship ${name(s.lotId)} ${s.shipmentNumber} ${s.quantity}`),
        ...p.tables.consumption.map((c) => `use ${name(c.lotId)} ${c.procedureRef}`),
      ];
      const paged = [...pages];
      expect(paged.map((p) => p.page.rows)).toEqual([5, 5, 5, 5, 1]);
      const one = (await ask('ok', { payload: { material: 'RAW-TI', lot: 'TI-001' }, limit: 1000 })).payload as TracePage;
      expect(one.page.rows).toBe(21);
      expect(paged.flatMap(rows).sort()).toEqual(rows(one).sort());
    });

    it('recall impact: a preview equal to what opening the recall then records, and nothing changes until then', async () => {
      await flow({ direction: 'recall-impact' }, settings());
      const before = await h.hub.db('lots').select('id', 'status').orderBy('id');
      const m = await ask('ok', { payload: { material: 'RAW-TI', lot: 'TI-001' } });
      const preview = m.payload as RecallImpactPreview;
      expect(preview.preview).toBe(true);
      // the numbers of the recall test (tests/integration/trace/recall-api.test.ts), computed by hand
      expect(preview.totals).toEqual({
        lots: 6, namedLots: 1, derivedLots: 5, serials: 0, unitsOnHand: 175, unitsShipped: 24, unitsConsumed: 3, customers: 2, hospitals: 1, openShipments: 2,
        unitsByUom: [{ uom: 'EA', onHand: 75, shipped: 24, consumed: 3 }, { uom: 'KG', onHand: 100, shipped: 0, consumed: 0 }],
      });
      expect(preview.lots.find((l) => l.role === 'named')).toMatchObject({ material: 'RAW-TI', lot: 'TI-001', previousStatus: 'released', newStatus: 'recalled' });
      expect(await h.hub.db('lots').select('id', 'status').orderBy('id')).toEqual(before);
      expect(Number((await h.hub.db('recalls').count<Array<{ n: string }>>({ n: '*' }))[0].n)).toBe(0);
      // opened for real, the recall records the same impact
      const opened = await openRecall(h.hub.db, { lots: [{ material: 'RAW-TI', lot: 'TI-001' }], reason: 'fatigue test failed' }, { name: 'test', role: 'operator' });
      const { takenAt: _a, ...real } = opened.recall.impact;
      const { takenAt: _b, preview: _p, subject: _s, ...previewed } = preview;
      expect(previewed).toEqual(real);
      // a second preview now shows the lots as they are after the recall
      const again = (await ask('ok', { payload: { material: 'RAW-TI', lot: 'TI-001' } })).payload as RecallImpactPreview;
      expect(again.lots.find((l) => l.role === 'named')).toMatchObject({ previousStatus: 'recalled', newStatus: 'recalled' });
    });

    it('recall impact of one serial: the unit, and the kit made from it', async () => {
      await flow({ direction: 'recall-impact' }, settings());
      const m = await ask('ok', { payload: { serial: 'SN-0002' } });
      const p = m.payload as RecallImpactPreview;
      expect(p.serials.map((s) => s.serial)).toEqual(['SN-0002']);
      expect(p.lots.map((l) => `${l.material}/${l.lot} ${l.role}`)).toEqual(['KIT-KNEE/K-1 derived']);
    });

    it('lot lookup by gtin + lot and by barcode', async () => {
      await flow({ direction: 'lot' }, settings());
      const a = await ask('ok', { payload: { gtin: GTIN.KNEE, lot: 'FG-2' } });
      expect(a).toMatchObject({ found: true, traceMode: 'lot', payload: { lotNumber: 'FG-2', totalQuantity: 7 } });
      const b = await ask('ok', { payload: { barcode: `(01)${GTIN.KNEE}(10)FG-2` } });
      expect(b.payload).toEqual(a.payload);
    });

    it('an unknown lot or serial leaves output 2 with the code; bad input goes to Catch', async () => {
      await flow({ direction: 'forward' }, settings());
      const lot = await ask('missing', { payload: { gtin: GTIN.KNEE, lot: 'NO-SUCH-LOT' } });
      expect(lot).toMatchObject({ found: false, traceMode: 'forward', error: { code: 'LB_ERR_LOT_NOT_FOUND' }, payload: { lot: 'NO-SUCH-LOT' } });
      expect(lot.error.message).toContain('NO-SUCH-LOT');
      const serial = await ask('missing', { payload: { serial: 'SN-NOPE' }, mode: 'recall-impact' });
      expect(serial.error.code).toBe('LB_ERR_SERIAL_NOT_FOUND');
      const lookup = await ask('missing', { payload: { material: 'FG-KNEE', lot: 'FG-404' }, mode: 'lot' });
      expect(lookup.error.code).toBe('LB_ERR_LOT_NOT_FOUND');
      expect((await ask('err', { payload: { lot: 'FG-1' } })).error.message).toMatch(/LB_ERR_API_BAD_REQUEST: .*gtin/);
      expect((await ask('err', { payload: `(01)${GTIN.KNEE}(17)261399(10)FG-1` })).error.message).toMatch(/LB_ERR_GS1_\w+: barcode:/);
      expect((await ask('err', { payload: { material: 'RAW-TI', lot: 'TI-001', cursor: 'bm90LWEtY3Vyc29y' } })).error.message).toMatch(/LB_ERR_TRACE_CURSOR_INVALID/);
      expect((await ask('err', { payload: { material: 'RAW-TI', lot: 'TI-001' }, mode: 'sideways' })).error.message).toContain('mode "sideways"');
      expect((await ask('err', { payload: {} })).error.message).toContain('nothing to trace');
    });
  });

  describe('stand-alone Node-RED (lotbridge-config: the hub over HTTP with an API key)', () => {
    const hubNode = (): Record<string, unknown> => ({ id: 'hub', type: 'lotbridge-config', url: h.url });
    let operatorKey: string;
    beforeAll(async () => {
      // the least role the trace routes take: auditor (read-only)
      operatorKey = (await createApiKey(h.hub.db, { name: 'nodered-trace', role: 'auditor' })).key;
    });

    it('forward, backward, recall impact and lot lookup answer what the bridge answers', async () => {
      for (const [mode, payload] of [
        ['forward', { material: 'RAW-PE', lot: 'PE-001' }],
        ['backward', { material: 'FG-KNEE', lot: 'FG-1' }],
        ['recall-impact', { gtin: GTIN.STEM, lot: 'ST-9' }],
        ['lot', { gtin: GTIN.STEM, lot: 'ST-9' }],
      ] as const) {
        await flow({ direction: mode, hub: 'hub' }, {}, { hub: { apiKey: operatorKey } }, [hubNode()]);
        const viaHttp = await ask('ok', { payload: { ...payload } });
        await helper.unload();
        await flow({ direction: mode }, { lotbridge: bridge });
        const viaBridge = await ask('ok', { payload: { ...payload } });
        await helper.unload();
        const strip = (x: any): unknown => (x && typeof x === 'object' && 'takenAt' in x ? { ...x, takenAt: 'x' } : x);
        expect({ mode, answer: strip(viaHttp.payload) }).toEqual({ mode, answer: strip(viaBridge.payload) });
        expect(viaHttp.traceMode).toBe(mode);
      }
    });

    it('unknown lot → output 2 with the hub\'s code; a wrong key → Catch with the hub\'s answer', async () => {
      await flow({ direction: 'backward', hub: 'hub' }, {}, { hub: { apiKey: operatorKey } }, [hubNode()]);
      expect((await ask('missing', { payload: { material: 'FG-KNEE', lot: 'FG-404' } })).error).toMatchObject({ code: 'LB_ERR_LOT_NOT_FOUND', message: expect.stringContaining('FG-404') });
      await helper.unload();
      await flow({ direction: 'backward', hub: 'hub' }, {}, { hub: { apiKey: 'wrong-key' } }, [hubNode()]);
      expect((await ask('err', { payload: { material: 'FG-KNEE', lot: 'FG-1' } })).error.message).toMatch(/LB_ERR_AUTH_\w+/);
    });
  });
});
