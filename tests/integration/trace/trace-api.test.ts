import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import { buildKneeGenealogy, GTIN, GenealogyFixture } from '../../helpers/genealogy-fixture';
import { traceLots, traceLotsJson, type TracePage } from '../../../src/trace/trace-page';
import { resolveTraceSubject } from '../../../src/trace/trace-subject';

/**
 * Forward and backward traces over HTTP on a hand-built genealogy (see buildKneeGenealogy: diamonds
 * R1 → {C1, C2} → F2 and F1/F2 → K1, the shared component I1 in F1 and F2, an unrelated branch R3 →
 * C3 → U1). Every expected set and count below is computed by hand from that picture.
 */
describe('trace API', () => {
  let t: TestDatabase;
  let api: TestApi;
  let f: GenealogyFixture;
  const name = (id: string | null): string => (id === null ? 'unit' : [...f.lots.entries()].find(([, v]) => v === id)?.[0] ?? id);
  const get = async (path: string, role: 'operator' | 'auditor' | 'admin' | 'ingest' = 'operator') => api.request({ url: path, headers: api.auth(role) });

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    f = await buildKneeGenealogy(t.db);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  it('forward from a raw lot reaches every derived lot once, diamonds included, with depths and links', async () => {
    const r = await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001');
    expect(r.statusCode).toBe(200);
    const page = r.json<TracePage>();
    // pages order lots by (depth, id)
    const expected: Array<[string, number]> = [['R1', 0], ['C1', 1], ['C2', 1], ['F1', 2], ['F2', 2], ['K1', 3]];
    expect(page.tables.lots.map((l) => [name(l.lotId), l.depth])).toEqual(expected.sort((a, b) => a[1] - b[1] || byId(a[0], b[0])));
    expect(page.summary).toEqual({ lots: 6, links: 7, maxDepth: 3, depthLimited: false, revisits: 0, complete: true });
    const lotEdges = page.graph.edges.filter((e) => e.kind === 'derived').map((e) => `${name(e.from)}>${name(e.to)}`).sort();
    expect(lotEdges).toEqual(['C1>F1', 'C1>F2', 'C2>F2', 'F1>K1', 'F2>K1', 'R1>C1', 'R1>C2']);
    // F2 is reached through both C1 and C2 (the diamond), K1 through F1 and F2
    expect(page.tables.lots.find((l) => name(l.lotId) === 'F2')!.via.map(name).sort()).toEqual(['C1', 'C2']);
    expect(page.tables.lots.find((l) => name(l.lotId) === 'K1')!.via.map(name).sort()).toEqual(['F1', 'F2']);
    // nothing of the unrelated branch or of the other raw material
    expect(page.tables.lots.map((l) => name(l.lotId))).not.toEqual(expect.arrayContaining(['U1']));
    expect(page.tables.lots.map((l) => name(l.lotId))).not.toContain('I1');
    expect(page.page).toEqual({ limit: 1000, rows: 21, nextCursor: null });
  });

  it('forward lists stock per location and state, shipments with customers, hospital consumption with the pseudonymous procedure reference', async () => {
    const page = (await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001')).json<TracePage>();
    expect(page.tables.onHand.map((b) => `${name(b.lotId)} ${b.location} ${b.stockState} ${b.quantity} ${b.uom}`).sort()).toEqual([
      'C2 WH1 component 40 EA', 'F1 WH1 finished 20 EA', 'F1 WH1 pending_shipment 5 EA', 'F2 WH1 finished 7 EA', 'K1 WH1 finished 3 EA', 'R1 WH1 raw 100 KG',
    ]);
    expect(page.tables.shipments.map((s) => `${s.shipmentNumber} ${s.party?.code} ${name(s.lotId)} ${s.quantity}${s.serial ? ` ${s.serial}` : ''}`).sort()).toEqual([
      'SH-1 CUST-A F1 1 SN-0001', 'SH-1 CUST-A F1 10', 'SH-1 CUST-A K1 2', 'SH-2 CUST-B F1 6', 'SH-2 CUST-B F2 4', 'SH-3 CUST-A F2 1',
    ]);
    expect(page.tables.consumption.map((c) => `${name(c.lotId)} ${c.hospital?.gln} ${c.location} ${c.quantity} ${c.procedureRef} ${c.usedAt}`).sort()).toEqual([
      'F1 4012345000016 HOSP-A-OR1 1 hmac-proc-aaa 2026-03-05T09:30:00.000Z',
      'F1 4012345000016 HOSP-A-OR1 1 hmac-proc-bbb 2026-03-06T14:00:00.000Z',
      'K1 4012345000016 HOSP-A-OR1 1 hmac-proc-ccc 2026-03-07T08:15:00.000Z',
    ]);
    const kinds = new Set(page.graph.nodes.map((n) => n.kind));
    expect([...kinds].sort()).toEqual(['customer', 'hospital', 'location', 'lot']);
    expect(page.graph.edges.filter((e) => e.kind === 'shipped_to')).toHaveLength(6);
  });

  it('backward from the kit reaches every component and raw lot, with the supplier, the inbound shipment and QC results', async () => {
    const r = await get(`/api/v1/trace/backward?gtin=${GTIN.KIT}&lot=K-1`);
    expect(r.statusCode).toBe(200);
    const page = r.json<TracePage>();
    expect(page.tables.lots.map((l) => `${name(l.lotId)}@${l.depth}`).sort()).toEqual(['C1@2', 'C2@2', 'F1@1', 'F2@1', 'I1@2', 'K1@0', 'R1@3', 'R2@3']);
    expect(page.summary.links).toBe(10);
    expect(page.tables.shipments.map((s) => `${s.direction} ${s.shipmentNumber} ${s.party?.name} ${name(s.lotId)} ${s.quantity}`)).toEqual(['inbound IN-1 Titanium Works R1 100']);
    expect(page.tables.qc.map((q) => `${name(q.lotId)} ${q.test} ${q.result} ${q.value}`).sort()).toEqual(['C1 DIM fail 12.7', 'R1 TENSILE pass 950']);
    expect(page.graph.nodes.filter((n) => n.kind === 'supplier').map((n) => n.label)).toEqual(['Titanium Works']);
    expect(page.page.rows).toBe(8 + 1 + 2);
  });

  it('backward from a finished lot with a shared component stops at its own inputs', async () => {
    const page = (await get('/api/v1/trace/backward?material=FG-KNEE&lot=FG-1')).json<TracePage>();
    expect(page.tables.lots.map((l) => name(l.lotId)).sort()).toEqual(['C1', 'F1', 'I1', 'R1', 'R2']);
  });

  it('names the lot by GS1 barcode, and a serial by barcode or serial= (its own shipments, usages and what it went into)', async () => {
    const byBarcode = (await get(`/api/v1/trace/forward?barcode=${encodeURIComponent(`(01)${GTIN.KNEE}(10)FG-2`)}`)).json<TracePage>();
    expect(byBarcode.tables.lots.map((l) => name(l.lotId))).toEqual(['F2', 'K1']);
    const s1 = (await get(`/api/v1/trace/forward?barcode=${encodeURIComponent(`(01)${GTIN.KNEE}(21)SN-0001`)}`)).json<TracePage>();
    expect(s1.tables.lots.map((l) => name(l.lotId))).toEqual(['F1']);
    expect(s1.tables.shipments.map((s) => `${s.shipmentNumber} ${s.quantity} ${s.serial}`)).toEqual(['SH-1 1 SN-0001']);
    expect(s1.tables.consumption.map((c) => c.procedureRef)).toEqual(['hmac-proc-aaa']);
    expect(s1.tables.onHand).toEqual([]);
    const s2 = (await get('/api/v1/trace/forward?serial=SN-0002')).json<TracePage>();
    expect(s2.tables.lots.map((l) => `${name(l.lotId)}@${l.depth}`)).toEqual(['F1@0', 'K1@1']);
    expect(s2.tables.shipments.map((s) => `${s.shipmentNumber} ${name(s.lotId)}`)).toEqual(['SH-1 K1']);
  });

  it('writes every field of every table row as the fixture holds it (lots, stock, shipments, consumption, QC)', async () => {
    const fwd = (await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001')).json<TracePage>();
    const lot = (key: string) => fwd.tables.lots.find((l) => l.lotId === f.lots.get(key));
    expect({ ...lot('R1'), via: [] }).toEqual({
      lotId: f.lots.get('R1'), depth: 0, material: 'RAW-TI', description: 'RAW-TI (test)', gtin: null, lot: 'TI-001', status: 'released', expiry: '2030-12-31', provisional: false, via: [],
    });
    expect({ ...lot('C2'), via: [] }).toEqual({
      lotId: f.lots.get('C2'), depth: 1, material: 'CMP-STEM', description: 'CMP-STEM (test)', gtin: GTIN.STEM, lot: 'ST-2', status: 'quarantine', expiry: '2030-12-31', provisional: false, via: [],
    });
    expect(lot('K1')).toEqual(expect.objectContaining({ depth: 3, material: 'KIT-KNEE', gtin: GTIN.KIT, lot: 'K-1' }));
    expect(fwd.tables.onHand.find((b) => b.lotId === f.lots.get('R1'))).toEqual({
      lotId: f.lots.get('R1'), material: 'RAW-TI', lot: 'TI-001', location: 'WH1', locationName: 'Main warehouse', party: null, stockState: 'raw', quantity: 100, uom: 'KG',
    });
    expect(fwd.tables.shipments.find((s) => s.serial === 'SN-0001')).toEqual({
      lotId: f.lots.get('F1'), material: 'FG-KNEE', lot: 'FG-1', shipmentId: f.shipments.get('SH-1'), shipmentNumber: 'SH-1', direction: 'outbound', status: 'delivered',
      party: { code: 'CUST-A', gln: '4012345000016', name: 'St. Anna Hospital' }, shipTo: 'CUST-A', serial: 'SN-0001', quantity: 1, uom: 'EA',
      shippedAt: '2026-03-02T08:00:00.000Z', deliveredAt: '2026-03-03T10:00:00.000Z',
    });
    expect(fwd.tables.shipments.find((s) => s.shipmentNumber === 'SH-3')).toEqual(expect.objectContaining({ status: 'planned', lot: 'FG-2', deliveredAt: null, serial: null }));
    const usage = fwd.tables.consumption.find((c) => c.procedureRef === 'hmac-proc-aaa');
    expect(usage).toEqual({
      lotId: f.lots.get('F1'), material: 'FG-KNEE', lot: 'FG-1', usageId: expect.stringMatching(/^[0-9a-f-]{36}$/), usedAt: '2026-03-05T09:30:00.000Z', usedAtOffset: '+00:00',
      hospital: { gln: '4012345000016', code: 'CUST-A', name: 'St. Anna Hospital' }, location: 'HOSP-A-OR1', serial: 'SN-0001', quantity: 1, uom: 'EA',
      procedureCode: '0SRC0J9', procedureRef: 'hmac-proc-aaa',
    });
    expect(fwd.graph.nodes).toEqual(expect.arrayContaining([
      { id: 'customer:4012345000016', kind: 'customer', label: 'St. Anna Hospital' },
      { id: 'location:WH1', kind: 'location', label: 'Main warehouse' },
      { id: 'hospital:4012345000016', kind: 'hospital', label: 'St. Anna Hospital' },
    ]));

    const back = (await get(`/api/v1/trace/backward?gtin=${GTIN.KIT}&lot=K-1`)).json<TracePage>();
    expect(back.tables.shipments).toEqual([{
      lotId: f.lots.get('R1'), material: 'RAW-TI', lot: 'TI-001', shipmentId: f.shipments.get('IN-1'), shipmentNumber: 'IN-1', direction: 'inbound', status: 'received',
      party: { code: 'SUP-TI', gln: '4012345000009', name: 'Titanium Works' }, shipTo: null, serial: null, quantity: 100, uom: 'EA',
      shippedAt: '2026-03-02T08:00:00.000Z', deliveredAt: null,
    }]);
    expect(back.tables.qc.find((q) => q.lotId === f.lots.get('C1'))).toEqual({
      lotId: f.lots.get('C1'), material: 'CMP-STEM', lot: 'ST-1', test: 'DIM', testName: 'DIM test', result: 'fail', value: '12.7', unit: null, disposition: 'reject',
      inspectedAt: '2026-02-20T09:00:00.000Z',
    });
  });

  it('names the owner of a location holding stock, and a customer without code, GLN or name by its ship-to', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('OWN-M');
    await g.lot('P1', 'OWN-M', 'OWN-1');
    await g.party('CONSIGN-H', 'hospital', 'Consignment Clinic');
    await g.location('CONSIGN-OR', { kind: 'operating_room', party: 'CONSIGN-H', name: 'Clinic OR' });
    await g.balance('P1', 'CONSIGN-OR', 'finished', 2);
    const anonymous = randomUUID();
    await t.db('parties').insert({ id: anonymous, code: null, gln: null, name: '', role: 'customer' });
    g.parties.set('ANON', anonymous);
    await g.shipment('SH-ANON', 'outbound', 'ANON', 'shipped');
    await t.db('shipments').where({ id: g.shipments.get('SH-ANON') }).update({ ship_to: 'Dock 7' });
    await g.shipLine('SH-ANON', 'P1', 'OWN-M', 3);
    const page = (await get('/api/v1/trace/forward?material=OWN-M&lot=OWN-1')).json<TracePage>();
    expect(page.tables.onHand).toEqual([{ lotId: g.lots.get('P1'), material: 'OWN-M', lot: 'OWN-1', location: 'CONSIGN-OR', locationName: 'Clinic OR', party: 'CONSIGN-H', stockState: 'finished', quantity: 2, uom: 'EA' }]);
    expect(page.tables.shipments).toEqual([expect.objectContaining({ shipmentNumber: 'SH-ANON', party: null, shipTo: 'Dock 7', quantity: 3, deliveredAt: null })]);
    expect(page.graph.nodes.filter((n) => n.kind !== 'lot')).toEqual([
      { id: 'customer:Dock 7', kind: 'customer', label: 'Dock 7' },
      { id: 'location:CONSIGN-OR', kind: 'location', label: 'Clinic OR' },
    ]);
    expect(page.page.rows).toBe(3);
  });

  it('pages through a trace with a cursor: every row once, in order, none lost', async () => {
    const full = (await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001')).json<TracePage>();
    const flat = (p: TracePage): string[] => [
      ...p.tables.lots.map((l) => `lot ${l.lotId}`), ...p.tables.onHand.map((b) => `bal ${b.lotId} ${b.location} ${b.stockState}`),
      ...p.tables.shipments.map((s) => `ship ${s.lotId} ${s.shipmentNumber} ${s.quantity} ${s.serial}`), ...p.tables.consumption.map((c) => `use ${c.usageId}`),
    ];
    // limits 1 and 2 resume inside a lot's shipments (F1 has three lines): nothing may be skipped there
    for (const limit of [1, 2, 4]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r = await get(`/api/v1/trace/forward?material=RAW-TI&lot=TI-001&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.statusCode).toBe(200);
        const p = r.json<TracePage>();
        expect(p.page.rows).toBeLessThanOrEqual(limit);
        seen.push(...flat(p));
        cursor = p.page.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      expect({ limit, pages }).toEqual({ limit, pages: Math.ceil(21 / limit) });
      expect(seen.sort()).toEqual(flat(full).sort());
      expect(new Set(seen).size).toBe(21);
    }
  });

  it('answers the same page inside a caller\'s transaction (JIT switched off there by SET LOCAL) and as the API\'s JSON text', async () => {
    const subject = await resolveTraceSubject(t.db, { material: 'RAW-TI', lot: 'TI-001' });
    const direct = await traceLots(t.db, subject, 'forward');
    const inTrx = await t.db.transaction(async (trx) => {
      const page = await traceLots(trx, subject, 'forward');
      const jit = (await trx.raw<{ rows: Array<{ jit: string }> }>("SELECT current_setting('jit') AS jit")).rows[0].jit;
      return { page, jit };
    });
    expect(inTrx.page).toEqual(direct);
    expect(inTrx.jit).toBe('off');
    expect(JSON.parse(await traceLotsJson(t.db, subject, 'forward'))).toEqual(direct);
    const http = await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001');
    expect(http.headers['content-type']).toMatch(/^application\/json/);
    expect(http.json()).toEqual(direct);
  });

  it('walks a huge trace only as deep as the page needs, and says the summary is partial', async () => {
    const subject = await resolveTraceSubject(t.db, { material: 'RAW-TI', lot: 'TI-001' });
    // eagerLots 0: no walking ahead for the summary (what a trace of thousands of lots does)
    const first = await traceLots(t.db, subject, 'forward', { limit: 1, eagerLots: 0 });
    expect(first.tables.lots.map((l) => name(l.lotId))).toEqual(['R1']);
    expect(first.summary).toEqual({ lots: 1, links: 0, maxDepth: 0, depthLimited: false, revisits: 0, complete: false });
    const deeper = await traceLots(t.db, subject, 'forward', { limit: 9, eagerLots: 0 });
    expect(deeper.summary.complete).toBe(false);
    expect(deeper.summary.lots).toBeLessThan(6);
    // pages walked lazily still give every row once
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 30; i++) {
      const p = await traceLots(t.db, subject, 'forward', { limit: 3, eagerLots: 0, cursor });
      seen.push(...p.tables.lots.map((l) => name(l.lotId)));
      if (!p.page.nextCursor) {
        expect(p.summary).toEqual(expect.objectContaining({ lots: 6, complete: true }));
        break;
      }
      cursor = p.page.nextCursor;
    }
    expect(seen.sort()).toEqual(['C1', 'C2', 'F1', 'F2', 'K1', 'R1']);
  });

  it('gives the same pages when the walk-ahead runs beside the page statement (first walk of 1–3 lots, extended or not), on the pool and in a transaction', async () => {
    const subject = await resolveTraceSubject(t.db, { material: 'RAW-TI', lot: 'TI-001' });
    for (const direction of ['forward', 'backward'] as const) {
      // smallFrontier 0: the first walk stops at firstWalkLots and the rest runs beside the page;
      // 1 and 2: it goes on while its last level is that small, then the rest runs beside
      const combos = [1, 2, 3, 5, 1000].flatMap((l) => [1, 2, 3].flatMap((f) => [0, 1, 2].map((sf) => [l, f, sf])));
      for (const [limit, firstWalkLots, smallFrontier] of combos) {
        let cursor: string | undefined;
        let pages = 0;
        do {
          const whole = await traceLots(t.db, subject, direction, { limit, cursor });
          const beside = await traceLots(t.db, subject, direction, { limit, cursor, firstWalkLots, smallFrontier });
          const inTrx = await t.db.transaction((trx) => traceLots(trx, subject, direction, { limit, cursor, firstWalkLots, smallFrontier }));
          expect(beside).toEqual(whole);
          expect(inTrx).toEqual(whole);
          cursor = whole.page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 30);
        expect(cursor).toBeUndefined();
      }
    }
    // the first page of the whole forward trace: complete totals, although the walk went on beside it
    const first = await traceLots(t.db, subject, 'forward', { firstWalkLots: 1, smallFrontier: 0 });
    expect(first.summary).toEqual(expect.objectContaining({ lots: 6, complete: true }));
    expect(first.tables.lots.map((l) => name(l.lotId))).toEqual((await traceLots(t.db, subject, 'forward')).tables.lots.map((l) => name(l.lotId)));
  });

  it('walks on past the first walk in the same statement while the last level is small, instead of a walk-ahead statement', async () => {
    const subject = await resolveTraceSubject(t.db, { material: 'RAW-TI', lot: 'TI-001' });
    // the walk's statements of one first page (the recursive walk; a walk-ahead is a second one)
    const walks = async (opts: { firstWalkLots: number; smallFrontier?: number }): Promise<{ statements: number; page: Awaited<ReturnType<typeof traceLots>> }> => {
      let statements = 0;
      const onQuery = (q: { sql: string }): void => {
        if (q.sql.startsWith('WITH RECURSIVE w(')) statements++;
      };
      t.db.on('query', onQuery);
      try {
        const page = await traceLots(t.db, subject, 'forward', opts);
        return { statements, page };
      } finally {
        t.db.off('query', onQuery);
      }
    };
    const apart = await walks({ firstWalkLots: 2, smallFrontier: 0 });
    const extended = await walks({ firstWalkLots: 2 });
    expect(apart.statements).toBe(2); // the first walk stopped at 2 lots; the rest beside the page
    expect(extended.statements).toBe(1); // every level of this trace is small: one statement to the end
    expect(extended.page).toEqual(apart.page);
    expect(extended.page.summary).toEqual(expect.objectContaining({ lots: 6, complete: true }));
  });

  it('guards a cycle in bad genealogy data: each lot once, the walk ends', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('CYC');
    await g.lot('X', 'CYC', 'X-1');
    await g.lot('Y', 'CYC', 'Y-1');
    await g.lot('Z', 'CYC', 'Z-1');
    await g.link('X', 'Y');
    await g.link('Y', 'Z');
    await g.link('Z', 'X');
    const page = (await get('/api/v1/trace/forward?material=CYC&lot=Y-1')).json<TracePage>();
    expect(page.tables.lots.map((l) => l.lot)).toEqual(['Y-1', 'Z-1', 'X-1']);
    expect(page.summary).toEqual(expect.objectContaining({ lots: 3, links: 3, revisits: 1 }));
    const limited = (await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001&maxDepth=1')).json<TracePage>();
    expect(limited.summary).toEqual(expect.objectContaining({ lots: 3, depthLimited: true }));
  });

  describe('a serial without a lot (serials.lot_id null, as EDI ASNs bring serialized devices without a batch)', () => {
    // SN-NL-1 (FG-KNEE, no lot): shipped to St. Anna (SH-L1), implanted there, and put into the kit
    // lot KL (KIT-KNEE K-NL1) by a kitting event; KL: 1 on hand at WH1, 2 shipped to MedDistri (SH-L2),
    // and packed into the lot KB (KIT-KNEE K-NL-BOX, no rows of its own).
    // SN-NL-2 (FG-KNEE, no lot): received from Titanium Works (IN-L1).
    let g: GenealogyFixture;
    beforeAll(async () => {
      g = new GenealogyFixture(t.db);
      for (const m of ['FG-KNEE', 'KIT-KNEE']) g.materials.set(m, f.materials.get(m)!);
      for (const p of ['CUST-A', 'CUST-B', 'SUP-TI']) g.parties.set(p, f.parties.get(p)!);
      for (const l of ['WH1', 'HOSP-A-OR1']) g.locations.set(l, f.locations.get(l)!);
      await g.lot('KL', 'KIT-KNEE', 'K-NL1');
      await g.lot('KB', 'KIT-KNEE', 'K-NL-BOX');
      await g.link('KL', 'KB');
      await g.serial('NL1', 'FG-KNEE', null, 'SN-NL-1', 'HOSP-A-OR1');
      await g.serial('NL2', 'FG-KNEE', null, 'SN-NL-2', 'WH1');
      await g.shipment('SH-L1', 'outbound', 'CUST-A', 'delivered', { from: 'WH1' });
      await g.shipLine('SH-L1', null, 'FG-KNEE', 1, 'NL1');
      await g.usage(null, 'FG-KNEE', 'HOSP-A-OR1', 'CUST-A', 1, '2026-04-02T10:45:00Z', { serial: 'NL1', procedureRef: 'hmac-proc-nl1' });
      await g.transformation([{ lot: null, material: 'FG-KNEE', quantity: 1, serial: 'NL1' }], [{ lot: 'KL', material: 'KIT-KNEE', quantity: 1 }], { location: 'WH1' });
      await g.balance('KL', 'WH1', 'finished', 1);
      await g.shipment('SH-L2', 'outbound', 'CUST-B', 'shipped', { from: 'WH1' });
      await g.shipLine('SH-L2', 'KL', 'KIT-KNEE', 2);
      await g.shipment('IN-L1', 'inbound', 'SUP-TI', 'received');
      await g.shipLine('IN-L1', null, 'FG-KNEE', 1, 'NL2');
    });

    it('forward lists the unit\'s own shipment and implant (lotId null), and what was made of it at depth 1', async () => {
      for (const q of ['serial=SN-NL-1', `gtin=${GTIN.KNEE}&serial=SN-NL-1`, `barcode=${encodeURIComponent(`(01)${GTIN.KNEE}(21)SN-NL-1`)}`]) {
        const r = await get(`/api/v1/trace/forward?${q}`);
        expect(r.statusCode).toBe(200);
        const page = r.json<TracePage>();
        expect(page.subject).toEqual(expect.objectContaining({ serial: 'SN-NL-1', lotIds: [], serialId: g.serials.get('NL1') }));
        expect(page.tables.shipments).toEqual([
          {
            lotId: null, material: 'FG-KNEE', lot: null, shipmentId: g.shipments.get('SH-L1'), shipmentNumber: 'SH-L1', direction: 'outbound', status: 'delivered',
            party: { code: 'CUST-A', gln: '4012345000016', name: 'St. Anna Hospital' }, shipTo: 'CUST-A', serial: 'SN-NL-1', quantity: 1, uom: 'EA',
            shippedAt: '2026-03-02T08:00:00.000Z', deliveredAt: '2026-03-03T10:00:00.000Z',
          },
          expect.objectContaining({ lotId: g.lots.get('KL'), material: 'KIT-KNEE', lot: 'K-NL1', shipmentNumber: 'SH-L2', party: expect.objectContaining({ code: 'CUST-B' }), quantity: 2, serial: null }),
        ]);
        expect(page.tables.consumption).toEqual([{
          lotId: null, material: 'FG-KNEE', lot: null, usageId: expect.stringMatching(/^[0-9a-f-]{36}$/), usedAt: '2026-04-02T10:45:00.000Z', usedAtOffset: '+00:00',
          hospital: { gln: '4012345000016', code: 'CUST-A', name: 'St. Anna Hospital' }, location: 'HOSP-A-OR1', serial: 'SN-NL-1', quantity: 1, uom: 'EA',
          procedureCode: '0SRC0J9', procedureRef: 'hmac-proc-nl1',
        }]);
        expect(page.tables.lots).toEqual([{
          lotId: g.lots.get('KL'), depth: 1, material: 'KIT-KNEE', description: 'KIT-KNEE (test)', gtin: GTIN.KIT, lot: 'K-NL1', status: 'released', expiry: '2030-12-31', provisional: false,
          via: ['serial:SN-NL-1'],
        }, expect.objectContaining({ lotId: g.lots.get('KB'), depth: 2, lot: 'K-NL-BOX', via: [g.lots.get('KL')] })]);
        expect(page.tables.onHand.map((b) => `${b.lot} ${b.location} ${b.quantity}`)).toEqual(['K-NL1 WH1 1']);
        expect(page.summary).toEqual({ lots: 2, links: 2, maxDepth: 2, depthLimited: false, revisits: 0, complete: true });
        expect(page.page).toEqual({ limit: 1000, rows: 6, nextCursor: null });
        expect(page.graph.nodes).toEqual(expect.arrayContaining([
          { id: 'serial:SN-NL-1', kind: 'serial', label: 'FG-KNEE / serial SN-NL-1', depth: 0, status: 'active' },
          { id: 'customer:4012345000016', kind: 'customer', label: 'St. Anna Hospital' },
          { id: 'hospital:4012345000016', kind: 'hospital', label: 'St. Anna Hospital' },
          expect.objectContaining({ id: g.lots.get('KL'), kind: 'lot', depth: 1 }),
        ]));
        expect(page.graph.edges).toEqual(expect.arrayContaining([
          { from: 'serial:SN-NL-1', to: 'customer:4012345000016', kind: 'shipped_to', quantity: 1, uom: 'EA' },
          { from: 'serial:SN-NL-1', to: 'hospital:4012345000016', kind: 'consumed_at', quantity: 1, uom: 'EA' },
          { from: 'serial:SN-NL-1', to: g.lots.get('KL'), kind: 'derived', quantity: 1, uom: 'EA' },
          { from: g.lots.get('KL'), to: g.lots.get('KB'), kind: 'derived', quantity: 1, uom: 'EA' },
        ]));
      }
      // maxDepth counts from the unit: 1 is the lots made of it, and the walk says it stopped with links left
      const shallow = (await get('/api/v1/trace/forward?serial=SN-NL-1&maxDepth=1')).json<TracePage>();
      expect(shallow.tables.lots.map((l) => `${l.lot}@${l.depth}`)).toEqual(['K-NL1@1']);
      expect(shallow.summary).toEqual({ lots: 1, links: 1, maxDepth: 1, depthLimited: true, revisits: 0, complete: true });
    });

    it('backward lists the unit\'s inbound line with its supplier', async () => {
      const r = await get('/api/v1/trace/backward?serial=SN-NL-2');
      expect(r.statusCode).toBe(200);
      const page = r.json<TracePage>();
      expect(page.tables.shipments).toEqual([{
        lotId: null, material: 'FG-KNEE', lot: null, shipmentId: g.shipments.get('IN-L1'), shipmentNumber: 'IN-L1', direction: 'inbound', status: 'received',
        party: { code: 'SUP-TI', gln: '4012345000009', name: 'Titanium Works' }, shipTo: null, serial: 'SN-NL-2', quantity: 1, uom: 'EA',
        shippedAt: '2026-03-02T08:00:00.000Z', deliveredAt: null,
      }]);
      expect(page.tables.lots).toEqual([]);
      expect(page.tables.qc).toEqual([]);
      expect(page.summary).toEqual({ lots: 0, links: 0, maxDepth: 0, depthLimited: false, revisits: 0, complete: true });
      expect(page.page).toEqual({ limit: 1000, rows: 1, nextCursor: null });
      expect(page.graph).toEqual({
        nodes: [{ id: 'serial:SN-NL-2', kind: 'serial', label: 'FG-KNEE / serial SN-NL-2', depth: 0, status: 'active' }, { id: 'supplier:4012345000009', kind: 'supplier', label: 'Titanium Works' }],
        edges: [{ from: 'supplier:4012345000009', to: 'serial:SN-NL-2', kind: 'supplied', quantity: 1, uom: 'EA' }],
      });
      // the unit that was shipped and implanted came from no supplier: nothing backward
      const nl1 = (await get('/api/v1/trace/backward?serial=SN-NL-1')).json<TracePage>();
      expect([nl1.tables.shipments, nl1.tables.lots, nl1.page.rows]).toEqual([[], [], 0]);
    });

    it('pages a lotless serial\'s trace with a cursor: every row once, limit honoured, a cursor of another trace refused', async () => {
      const full = (await get('/api/v1/trace/forward?serial=SN-NL-1')).json<TracePage>();
      const flat = (p: TracePage): string[] => [
        ...p.tables.lots.map((l) => `lot ${l.lotId}`), ...p.tables.onHand.map((b) => `bal ${b.lotId} ${b.location}`),
        ...p.tables.shipments.map((s) => `ship ${s.lotId} ${s.shipmentNumber}`), ...p.tables.consumption.map((c) => `use ${c.usageId}`),
      ];
      // limit 1 and 2 end pages inside the unit's rows, 2 exactly at their end (the lots on the next page), 3 and 4 inside the lots
      for (const limit of [1, 2, 3, 4, 6]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const r = await get(`/api/v1/trace/forward?serial=SN-NL-1&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
          expect(r.statusCode).toBe(200);
          const p = r.json<TracePage>();
          expect(p.page.rows).toBeLessThanOrEqual(limit);
          expect(p.summary).toEqual(full.summary);
          seen.push(...flat(p));
          cursor = p.page.nextCursor;
          pages++;
        } while (cursor && pages < 20);
        expect({ limit, pages }).toEqual({ limit, pages: Math.ceil(6 / limit) });
        expect(seen.sort()).toEqual(flat(full).sort());
        expect(new Set(seen).size).toBe(6);
      }
      const p = (await get('/api/v1/trace/forward?serial=SN-NL-1&limit=1')).json<TracePage>();
      for (const other of ['/api/v1/trace/forward?material=RAW-TI&lot=TI-001', '/api/v1/trace/backward?serial=SN-NL-1', '/api/v1/trace/forward?serial=SN-NL-2']) {
        const r = await get(`${other}&cursor=${p.page.nextCursor}`);
        expect([other, r.statusCode, r.json<ApiErrorBody>().error.code]).toEqual([other, 400, 'LB_ERR_TRACE_CURSOR_INVALID']);
      }
      const lotCursor = (await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001&limit=1')).json<TracePage>().page.nextCursor;
      const r = await get(`/api/v1/trace/forward?serial=SN-NL-1&cursor=${lotCursor}`);
      expect([r.statusCode, r.json<ApiErrorBody>().error.code]).toEqual([400, 'LB_ERR_TRACE_CURSOR_INVALID']);
    });

    it('agrees with the serial\'s recall impact: the same customer shipment and the same hospital usage', async () => {
      type Impact = {
        unitsByCustomer: Array<{ gln: string | null; units: number; shipments: number }>;
        consumption: Array<{ hospital: string; location: string; usedAt: string; serial: string | null; quantity: number; procedureRef: string | null }>;
      };
      const impact = (await get('/api/v1/trace/recall-impact?serial=SN-NL-1')).json<Impact & { lots: Array<{ lot: string; role: string; depth: number; newStatus: string }> }>();
      const page = (await get('/api/v1/trace/forward?serial=SN-NL-1')).json<TracePage>();
      // what was made of the unit is in the impact too (the kit lot and the box it went into), as in the trace
      expect(impact.lots.map((l) => `${l.lot} ${l.role} d${l.depth} → ${l.newStatus}`)).toEqual(['K-NL1 derived d1 → on_hold', 'K-NL-BOX derived d2 → on_hold']);
      expect(page.tables.lots.map((l) => `${l.lot} d${l.depth}`)).toEqual(['K-NL1 d1', 'K-NL-BOX d2']);
      // per customer: the unit's own shipment (St. Anna) and the kit lot's (MedDistri), as the trace lists them
      expect(impact.unitsByCustomer.map((c) => ({ gln: c.gln, units: c.units, shipments: c.shipments })).sort((a, b) => String(a.gln).localeCompare(String(b.gln)))).toEqual(
        page.tables.shipments.map((s) => ({ gln: s.party?.gln, units: s.quantity, shipments: 1 })).sort((a, b) => String(a.gln).localeCompare(String(b.gln))),
      );
      expect(impact.consumption.map((c) => ({ hospital: c.hospital, location: c.location, usedAt: c.usedAt, serial: c.serial, quantity: c.quantity, procedureRef: c.procedureRef }))).toEqual(
        page.tables.consumption.map((c) => ({ hospital: c.hospital?.gln, location: c.location, usedAt: c.usedAt, serial: c.serial, quantity: c.quantity, procedureRef: c.procedureRef })),
      );
      expect(impact.consumption).toHaveLength(1);
    });

    it('a recall of the unit holds what was made of it, at any depth (its own rows in the impact)', async () => {
      const r = await api.request({ method: 'POST', url: '/api/v1/recalls', headers: api.auth('operator'), payload: { serials: ['SN-NL-1'], reason: 'unit SN-NL-1: weld crack', class: 'I' } });
      expect(r.statusCode).toBe(201);
      const rc = r.json<{ message: string; impact: { lots: Array<{ lot: string; role: string; depth: number; previousStatus: string; newStatus: string }>; serials: Array<{ serial: string; lot: string | null }>; totals: Record<string, number> } }>();
      expect(rc.message).toMatch(/^recall RC-\d{4}-\d{5} opened: 0 lot\(s\) recalled; 2 derived lot\(s\) put on hold; 1 serial\(s\) recalled$/);
      expect(rc.impact.lots.map((l) => `${l.lot} ${l.role} d${l.depth} ${l.previousStatus}→${l.newStatus}`)).toEqual(['K-NL1 derived d1 released→on_hold', 'K-NL-BOX derived d2 released→on_hold']);
      expect(rc.impact.serials.map((x) => [x.serial, x.lot])).toEqual([['SN-NL-1', null]]);
      expect(rc.impact.totals).toEqual(expect.objectContaining({ customers: 2, hospitals: 1, unitsConsumed: 1 }));
      const statuses = await t.db('lots').whereIn('id', [g.lots.get('KL')!, g.lots.get('KB')!]).orderBy('lot_number').select('lot_number', 'status');
      expect(statuses).toEqual([{ lot_number: 'K-NL-BOX', status: 'on_hold' }, { lot_number: 'K-NL1', status: 'on_hold' }]);
      expect((await t.db('serials').where({ id: g.serials.get('NL1')! }).first<{ status: string }>('status'))?.status).toBe('recalled');
    });
  });

  describe('bad input', () => {
    it('answers 404 with a code for an unknown lot, material, GTIN and serial', async () => {
      for (const [q, code] of [
        ['material=RAW-TI&lot=NOPE', 'LB_ERR_LOT_NOT_FOUND'],
        ['material=NOPE&lot=TI-001', 'LB_ERR_LOT_NOT_FOUND'],
        ['gtin=09506000134383&lot=FG-1', 'LB_ERR_LOT_NOT_FOUND'],
        ['serial=SN-9999', 'LB_ERR_SERIAL_NOT_FOUND'],
      ] as const) {
        for (const dir of ['forward', 'backward']) {
          const r = await get(`/api/v1/trace/${dir}?${q}`);
          expect({ q, status: r.statusCode, code: r.json<ApiErrorBody>().error.code }).toEqual({ q, status: 404, code });
        }
      }
    });

    it('rejects a malformed barcode with an error naming the AI', async () => {
      const cases: Array<[string, string, string]> = [
        [`(01)09506000134353(10)FG-1`, 'LB_ERR_GS1_CHECK_DIGIT', '(01)'],
        [`(01)${GTIN.KNEE}(17)261332(10)FG-1`, 'LB_ERR_GS1_DATE', '(17)'],
        [`(01)${GTIN.KNEE}(99x)A`, 'LB_ERR_GS1_UNKNOWN_AI', ''],
        [`(01)${GTIN.KNEE}(10)FG 1`, 'LB_ERR_GS1_CHARSET', '(10)'],
        [`(01)${GTIN.KNEE}`, 'LB_ERR_API_BAD_REQUEST', '(10)'],
      ];
      for (const [barcode, code, ai] of cases) {
        const r = await get(`/api/v1/trace/forward?barcode=${encodeURIComponent(barcode)}`);
        const e = r.json<ApiErrorBody>().error;
        expect({ barcode, code: e.code }).toEqual({ barcode, code });
        expect(r.statusCode).toBeGreaterThanOrEqual(400);
        expect(r.statusCode).toBeLessThan(500);
        expect(e.message).toMatch(/^barcode: /);
        if (ai) {
          expect(e.message).toContain(`AI ${ai}`);
          expect(e.location?.path).toBe(`barcode ${ai}`);
        }
      }
    });

    it('treats SQL-ish strings in every parameter as plain values (no injection, no 500)', async () => {
      const evil = ["' OR '1'='1", "x'; DROP TABLE lots; --", '1) UNION SELECT id FROM api_keys --', '%27%3B--', '\\x00'];
      for (const s of evil) {
        const e = encodeURIComponent(s);
        for (const q of [`material=${e}&lot=TI-001`, `material=RAW-TI&lot=${e}`, `gtin=${e}&lot=TI-001`, `serial=${e}`, `barcode=${e}`, `material=RAW-TI&lot=TI-001&cursor=${e}`]) {
          const r = await get(`/api/v1/trace/forward?${q}`);
          expect({ q, status: r.statusCode < 500 && r.statusCode >= 400 }).toEqual({ q, status: true });
          expect(r.json<ApiErrorBody>().error.code).toMatch(/^LB_ERR_/);
        }
      }
      const r = await get(`/api/v1/trace/forward?material=RAW-TI&lot=TI-001&limit=${encodeURIComponent('1; DELETE FROM lots')}`);
      expect(r.statusCode).toBe(400);
      expect(Number((await t.db('lots').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBeGreaterThanOrEqual(11);
      expect(await t.db.schema.hasTable('lots')).toBe(true);
    });

    it('rejects a cursor of another trace, a forged cursor, unknown parameters and a missing lot name', async () => {
      const p = (await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001&limit=2')).json<TracePage>();
      const other = await get(`/api/v1/trace/forward?material=RAW-PE&lot=PE-001&cursor=${p.page.nextCursor}`);
      expect([other.statusCode, other.json<ApiErrorBody>().error.code]).toEqual([400, 'LB_ERR_TRACE_CURSOR_INVALID']);
      const back = await get(`/api/v1/trace/backward?material=RAW-TI&lot=TI-001&cursor=${p.page.nextCursor}`);
      expect(back.json<ApiErrorBody>().error.code).toBe('LB_ERR_TRACE_CURSOR_INVALID');
      const forged = await get(`/api/v1/trace/forward?material=RAW-TI&lot=TI-001&cursor=${Buffer.from('{"v":1}').toString('base64url')}`);
      expect(forged.json<ApiErrorBody>().error.code).toBe('LB_ERR_TRACE_CURSOR_INVALID');
      // a real cursor of this trace with a field edited: 400, never a 500 from the key's cast
      const real = JSON.parse(Buffer.from(p.page.nextCursor!, 'base64url').toString('utf8')) as Record<string, unknown>;
      for (const edit of [{ x: 'abc' }, { x: "1' OR '1'='1" }, { x: '99999999999999999999999' }, { x: '-1' }, { x: 12 }, { k: 99 }, { k: 1.5 }, { k: -1 }, { k: 3, x: 'abc' }, { l: 'not-a-uuid' }]) {
        const cursor = Buffer.from(JSON.stringify({ ...real, ...edit })).toString('base64url');
        const r = await get(`/api/v1/trace/forward?material=RAW-TI&lot=TI-001&limit=2&cursor=${cursor}`);
        expect({ edit, status: r.statusCode, code: r.json<ApiErrorBody>().error.code }).toEqual({ edit, status: 400, code: 'LB_ERR_TRACE_CURSOR_INVALID' });
      }
      const unknown = await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001&depth=2');
      expect([unknown.statusCode, unknown.json<ApiErrorBody>().error.code]).toEqual([400, 'LB_ERR_API_BAD_REQUEST']);
      const noLot = await get('/api/v1/trace/forward?material=RAW-TI');
      expect([noLot.statusCode, noLot.json<ApiErrorBody>().error.location?.path]).toEqual([400, 'lot']);
      const tooBig = await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001&limit=1001');
      expect(tooBig.statusCode).toBe(400);
    });

    it('lets operators and auditors trace, not ingest keys', async () => {
      expect((await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001', 'auditor')).statusCode).toBe(200);
      const r = await get('/api/v1/trace/forward?material=RAW-TI&lot=TI-001', 'ingest');
      expect([r.statusCode, r.json<ApiErrorBody>().error.code]).toEqual([403, 'LB_ERR_AUTH_FORBIDDEN']);
    });
  });

  function byId(a: string, b: string): number {
    const ia = f.lots.get(a)!;
    const ib = f.lots.get(b)!;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  }
});
