import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type ApiErrorBody, type TestApi } from '../../helpers/api-app';
import { buildKneeGenealogy, GTIN, GenealogyFixture } from '../../helpers/genealogy-fixture';
import type { RecallImpact } from '../../../src/trace/recall-impact';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log';

interface RecallAnswer {
  id: string;
  recallNumber: string;
  created: boolean;
  status: string;
  class: string;
  message: string;
  alreadyRecalled: Array<{ material: string; lot: string | null; serial?: string; byLot?: true; recallId: string | null; recallNumber: string | null }>;
  impact: RecallImpact;
  links: { csv: string; json: string };
}

/**
 * Recalls over HTTP on the hand-built knee genealogy (tests/helpers/genealogy-fixture.ts). The
 * expected impact of recalling raw lot R1 (RAW-TI TI-001), computed by hand:
 * - lots: R1 named → recalled; C1, C2 (quarantine), F1, F2, K1 derived → on_hold (6 lots)
 * - shipped per customer: CUST-A = SH-1 (F1 10 + F1 serial 1 + K1 2) + SH-3 (F2 1) = 14 EA in 2 shipments;
 *   CUST-B = SH-2 (F2 4 + F1 6) = 10 EA in 1 shipment; SH-9 (U1, unrelated) not counted → 24 shipped
 * - on hand at WH1: raw 100 KG (R1), component 40 (C2; C1 has 0), finished 20 + 7 + 3 = 30, pending_shipment 5 → 175
 * - consumed at St. Anna (GLN 4012345000016): F1 1 + 1, K1 1 = 3 units in 3 usages (U1's 4 not counted)
 * - open shipments to stop: SH-2 (shipped, 10) and SH-3 (planned, 1); SH-1 is delivered
 */
describe('recall API', () => {
  let t: TestDatabase;
  let api: TestApi;
  let f: GenealogyFixture;
  const post = async (body: unknown, role: 'operator' | 'admin' | 'auditor' = 'operator') => api.request({ method: 'POST', url: '/api/v1/recalls', headers: api.auth(role), payload: body });
  const statusOf = async (key: string): Promise<string> => (await t.db('lots').where({ id: f.lots.get(key) }).first<{ status: string }>('status'))!.status;

  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
    f = await buildKneeGenealogy(t.db);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  let first: RecallAnswer;

  it('recalls the named lot, holds every derived lot and snapshots the impact in one transaction (numbers as computed by hand)', async () => {
    const auditBefore = Number((await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' }))[0].n);
    const r = await post({ lots: [{ material: 'RAW-TI', lot: 'TI-001' }], reason: 'titanium rod lot failed fatigue test', class: 'II' });
    expect(r.statusCode).toBe(201);
    first = r.json<RecallAnswer>();
    expect(first).toEqual(expect.objectContaining({ created: true, status: 'open', class: 'II', alreadyRecalled: [] }));
    expect(first.recallNumber).toMatch(/^RC-\d{4}-\d{5}$/);
    expect(first.message).toBe(`recall ${first.recallNumber} opened: 1 lot(s) recalled; 5 derived lot(s) put on hold`);

    const im = first.impact;
    // on hand 40 + 30 + 5 EA and 100 KG of the raw lot (the list below): 175 mixed, per uom apart
    expect(im.totals).toEqual({
      lots: 6, namedLots: 1, derivedLots: 5, serials: 0, unitsOnHand: 175, unitsShipped: 24, unitsConsumed: 3, customers: 2, hospitals: 1, openShipments: 2,
      unitsByUom: [{ uom: 'EA', onHand: 75, shipped: 24, consumed: 3 }, { uom: 'KG', onHand: 100, shipped: 0, consumed: 0 }],
    });
    expect(im.lots.map((l) => `${l.material}/${l.lot} ${l.role} d${l.depth} ${l.previousStatus}→${l.newStatus}`)).toEqual([
      'RAW-TI/TI-001 named d0 released→recalled',
      'CMP-STEM/ST-1 derived d1 released→on_hold',
      'CMP-STEM/ST-2 derived d1 quarantine→on_hold',
      'FG-KNEE/FG-1 derived d2 released→on_hold',
      'FG-KNEE/FG-2 derived d2 released→on_hold',
      'KIT-KNEE/K-1 derived d3 released→on_hold',
    ]);
    expect(im.unitsByCustomer).toEqual([
      { customer: 'CUST-A', gln: '4012345000016', name: 'St. Anna Hospital', uom: 'EA', units: 14, shipments: 2, lots: 3 },
      { customer: 'CUST-B', gln: '4012345000023', name: 'MedDistri GmbH', uom: 'EA', units: 10, shipments: 1, lots: 2 },
    ]);
    expect(im.unitsByLocation.map((b) => `${b.location} ${b.stockState} ${b.units} ${b.uom} (${b.lots} lots)`)).toEqual([
      'WH1 component 40 EA (1 lots)', 'WH1 finished 30 EA (3 lots)', 'WH1 pending_shipment 5 EA (1 lots)', 'WH1 raw 100 KG (1 lots)',
    ]);
    expect(im.consumedByHospital).toEqual([
      { hospital: '4012345000016', gln: '4012345000016', name: 'St. Anna Hospital', uom: 'EA', units: 3, usages: 3, firstUsedAt: '2026-03-05T09:30:00.000Z', lastUsedAt: '2026-03-07T08:15:00.000Z' },
    ]);
    expect(im.consumption.map((c) => `${c.lot} ${c.serial ?? '-'} ${c.procedureRef}`)).toEqual(['FG-1 SN-0001 hmac-proc-aaa', 'FG-1 - hmac-proc-bbb', 'K-1 - hmac-proc-ccc']);
    expect(im.openShipments.map((s) => `${s.shipmentNumber} ${s.status} ${s.customer} ${s.units} [${s.lots.join(', ')}]`)).toEqual([
      'SH-2 shipped CUST-B 10 [FG-KNEE / FG-1, FG-KNEE / FG-2]',
      'SH-3 planned CUST-A 1 [FG-KNEE / FG-2]',
    ]);

    // the database says the same
    expect(await statusOf('R1')).toBe('recalled');
    for (const k of ['C1', 'C2', 'F1', 'F2', 'K1']) expect(await statusOf(k)).toBe('on_hold');
    for (const k of ['R2', 'I1', 'R3', 'C3', 'U1']) expect(await statusOf(k)).toBe('released');
    const audit = await t.db('audit_log').where({ chain: 'recall' }).orderBy('chain_seq').select('action', 'entity_id', 'before', 'after', 'reason', 'actor');
    expect(audit.map((a) => a.action)).toEqual(['recall.opened', 'lot.recalled', 'lot.on_hold', 'lot.on_hold', 'lot.on_hold', 'lot.on_hold', 'lot.on_hold']);
    expect(audit[1]).toEqual(expect.objectContaining({ entity_id: f.lots.get('R1'), before: { status: 'released' }, reason: 'titanium rod lot failed fatigue test', actor: 'operator:test-operator' }));
    expect(audit.find((a) => a.entity_id === f.lots.get('C2'))!.before).toEqual({ status: 'quarantine' });
    // the recall rows plus one anchor row (chain audit:anchor) written right after it
    expect(Number((await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(auditBefore + 7 + 1);
    const outbox = await t.db('outbox_events').where({ type: 'recall.opened' }).select('payload');
    expect(outbox).toHaveLength(1);
    expect(outbox[0].payload).toEqual(expect.objectContaining({ recallId: first.id, recallNumber: first.recallNumber, class: 'II', namedLots: [{ material: 'RAW-TI', gtin: null, lot: 'TI-001' }], openShipments: ['SH-2', 'SH-3'] }));
    expect(outbox[0].payload.totals).toEqual(im.totals);
    // the shape the default Node-RED flow "recall → notify customers" reads: impact.customers with lots
    expect(outbox[0].payload.impact.customers).toEqual([
      { partyId: f.parties.get('CUST-A'), code: 'CUST-A', gln: '4012345000016', name: 'St. Anna Hospital', units: 14, quantities: [{ units: 14, uom: 'EA' }],
        lots: expect.arrayContaining([{ material: 'FG-KNEE', lot: 'FG-1' }, { material: 'FG-KNEE', lot: 'FG-2' }, { material: 'KIT-KNEE', lot: 'K-1' }]) },
      { partyId: f.parties.get('CUST-B'), code: 'CUST-B', gln: '4012345000023', name: 'MedDistri GmbH', units: 10, quantities: [{ units: 10, uom: 'EA' }],
        lots: expect.arrayContaining([{ material: 'FG-KNEE', lot: 'FG-1' }, { material: 'FG-KNEE', lot: 'FG-2' }]) },
    ]);
    const rl = await t.db('recall_lots').where({ recall_id: first.id }).select('role', 'new_status');
    expect(rl.filter((x) => x.role === 'derived')).toHaveLength(5);
    expect((await verifyAuditLog(t.db)).ok).toBe(true);
  });

  it('shows the recall by id and by number, and exports the impact as JSON and CSV', async () => {
    for (const key of [first.id, first.recallNumber]) {
      const r = await api.request({ url: `/api/v1/recalls/${key}`, headers: api.auth('auditor') });
      expect(r.statusCode).toBe(200);
      expect(r.json<RecallAnswer>().impact).toEqual(first.impact);
    }
    const json = await api.request({ url: first.links.json, headers: api.auth('auditor') });
    expect(json.headers['content-disposition']).toContain(`${first.recallNumber}-impact.json`);
    expect(json.json<{ impact: RecallImpact }>().impact.totals.unitsShipped).toBe(24);
    const csv = await api.request({ url: first.links.csv, headers: api.auth('operator') });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe('section,material,lot,role,depth,previousStatus,newStatus,party,partyName,location,stockState,shipment,status,date,units,uom,count,reference,serial,gln');
    expect(lines.filter((l) => l.startsWith('lot,'))).toHaveLength(6);
    expect(lines).toContain('customer,,,,,,,CUST-A,St. Anna Hospital,,,,,,14,EA,2,,,4012345000016');
    expect(lines).toContain('on_hand,,,,,,,,Main warehouse,WH1,raw,,,,100,KG,1,,,');
    expect(lines.filter((l) => l.startsWith('open_shipment,'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('consumption,'))).toHaveLength(3);
    const list = await api.request({ url: '/api/v1/recalls', headers: api.auth('auditor') });
    expect(list.json<{ items: Array<{ id: string; lots: number }> }>().items).toEqual([expect.objectContaining({ id: first.id, lots: 6 })]);
  });

  it('is idempotent for lots already recalled: 200, the earlier recall, says so, changes nothing', async () => {
    const auditBefore = Number((await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' }))[0].n);
    const r = await post({ lots: [{ material: 'RAW-TI', lot: 'TI-001' }], reason: 'again', class: 'II' });
    expect(r.statusCode).toBe(200);
    const a = r.json<RecallAnswer>();
    expect(a.created).toBe(false);
    expect(a.id).toBe(first.id);
    expect(a.alreadyRecalled).toEqual([{ material: 'RAW-TI', lot: 'TI-001', recallId: first.id, recallNumber: first.recallNumber }]);
    expect(a.message).toBe(`already recalled: RAW-TI / TI-001 (recall ${first.recallNumber}); nothing changed`);
    expect(Number((await t.db('audit_log').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(auditBefore);
    expect(Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(1);
    expect(Number((await t.db('outbox_events').where({ type: 'recall.opened' }).count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(1);
  });

  it('recalls the new lots of a mixed request, names the ones already recalled, holds only what is not yet held', async () => {
    const r = await post({ lots: [{ material: 'RAW-TI', lot: 'TI-001' }, { material: 'RAW-PE', lot: 'PE-001' }], reason: 'PE resin contamination', class: 'I' });
    expect(r.statusCode).toBe(201);
    const a = r.json<RecallAnswer>();
    expect(a.alreadyRecalled.map((x) => `${x.material}/${x.lot} ${x.recallNumber}`)).toEqual([`RAW-TI/TI-001 ${first.recallNumber}`]);
    // R2 → I1 → F1, F2 → K1: I1 newly held; F1, F2, K1 were held by the first recall already
    expect(a.impact.lots.map((l) => `${l.lot} ${l.previousStatus}→${l.newStatus}`)).toEqual(['PE-001 released→recalled', 'IN-1 released→on_hold', 'FG-1 on_hold→on_hold', 'FG-2 on_hold→on_hold', 'K-1 on_hold→on_hold']);
    expect(a.message).toContain('1 lot(s) recalled; 1 derived lot(s) put on hold; already recalled before: RAW-TI / TI-001');
    const audit = await t.db('audit_log').where({ chain: 'recall' }).whereIn('entity_id', [f.lots.get('R2')!, f.lots.get('I1')!, f.lots.get('F1')!]).select('action', 'entity_id');
    expect(audit.map((x) => x.action).sort()).toEqual(['lot.on_hold', 'lot.on_hold', 'lot.recalled']); // F1's earlier hold only
  });

  it('recalls a single serial: the unit is recalled, the kit made from it held, its lot untouched', async () => {
    const r = await post({ serials: [{ gtin: GTIN.KNEE, serial: 'SN-0002' }], reason: 'unit dropped in sterile field' });
    expect(r.statusCode).toBe(201);
    const a = r.json<RecallAnswer>();
    expect(a.impact.serials).toEqual([expect.objectContaining({ material: 'FG-KNEE', serial: 'SN-0002', lot: 'FG-1', previousStatus: 'active' })]);
    expect(a.impact.lots.map((l) => `${l.lot} ${l.role}`)).toEqual(['K-1 derived']);
    expect((await t.db('serials').where({ id: f.serials.get('S2') }).first())!.status).toBe('recalled');
    const again = await post({ serials: ['SN-0002'], reason: 'again' });
    expect([again.statusCode, again.json<RecallAnswer>().created, again.json<RecallAnswer>().id]).toEqual([200, false, a.id]);
  });

  it('counts a recalled unit\'s own shipments, open shipments and hospital usages in the impact (previewed the same), once when its lot is named too', async () => {
    // lot HP-1 of a hip stem: serial HS-1 shipped alone to CUST-H (SHH-1, planned: still to stop) and
    // implanted at St. Vitus; serial HS-2 in the same planned shipment; 5 more units of the lot in SHH-2 (delivered)
    const g = new GenealogyFixture(t.db);
    await g.material('FG-HIP', { kind: 'implant' });
    await g.lot('H1', 'FG-HIP', 'HP-1');
    await g.party('CUST-H', 'hospital', 'St. Vitus Hospital', '4012345000030');
    await g.location('HOSP-H-OR2', { kind: 'operating_room', party: 'CUST-H', name: 'St. Vitus OR 2' });
    await g.serial('HS1', 'FG-HIP', 'H1', 'HS-1', 'HOSP-H-OR2');
    await g.serial('HS2', 'FG-HIP', 'H1', 'HS-2');
    await g.shipment('SHH-1', 'outbound', 'CUST-H', 'planned');
    await g.shipLine('SHH-1', 'H1', 'FG-HIP', 1, 'HS1');
    await g.shipLine('SHH-1', 'H1', 'FG-HIP', 1, 'HS2');
    await g.shipment('SHH-2', 'outbound', 'CUST-H', 'delivered');
    await g.shipLine('SHH-2', 'H1', 'FG-HIP', 5);
    await g.usage('H1', 'FG-HIP', 'HOSP-H-OR2', 'CUST-H', 1, '2026-03-09T10:00:00Z', { serial: 'HS1', procedureRef: 'hmac-proc-hip' });
    await g.usage('H1', 'FG-HIP', 'HOSP-H-OR2', 'CUST-H', 1, '2026-03-10T10:00:00Z', { procedureRef: 'hmac-proc-other' });

    // by hand, serial HS-1 alone: 1 unit shipped to CUST-H in 1 shipment (SHH-1, open), 1 used at St. Vitus
    const preview = await api.request({ url: '/api/v1/trace/recall-impact?material=FG-HIP&serial=HS-1', headers: api.auth('operator') });
    expect(preview.statusCode).toBe(200);
    const r = await post({ serials: [{ material: 'FG-HIP', serial: 'HS-1' }], reason: 'unit sterility breach', class: 'II' });
    expect(r.statusCode).toBe(201);
    const a = r.json<RecallAnswer>();
    for (const im of [preview.json<RecallImpact>(), a.impact]) {
      expect(im.totals).toEqual({
        lots: 0, namedLots: 0, derivedLots: 0, serials: 1, unitsOnHand: 0, unitsShipped: 1, unitsConsumed: 1, customers: 1, hospitals: 1, openShipments: 1,
        unitsByUom: [{ uom: 'EA', onHand: 0, shipped: 1, consumed: 1 }],
      });
      expect(im.unitsByCustomer).toEqual([{ customer: 'CUST-H', gln: '4012345000030', name: 'St. Vitus Hospital', uom: 'EA', units: 1, shipments: 1, lots: 1 }]);
      expect(im.consumedByHospital).toEqual([expect.objectContaining({ hospital: '4012345000030', units: 1, usages: 1, firstUsedAt: '2026-03-09T10:00:00.000Z' })]);
      expect(im.consumption).toEqual([expect.objectContaining({ location: 'HOSP-H-OR2', material: 'FG-HIP', lot: 'HP-1', serial: 'HS-1', quantity: 1, procedureRef: 'hmac-proc-hip' })]);
      expect(im.openShipments).toEqual([expect.objectContaining({ shipmentNumber: 'SHH-1', status: 'planned', customer: 'CUST-H', units: 1, lots: ['FG-HIP / HP-1'] })]);
    }
    const event = await t.db('outbox_events').where({ type: 'recall.opened' }).whereRaw("payload->>'recallId' = ?", [a.id]).first<{ payload: any }>('payload');
    expect(event!.payload.impact.customers).toEqual([{ partyId: g.parties.get('CUST-H'), code: 'CUST-H', gln: '4012345000030', name: 'St. Vitus Hospital', units: 1, quantities: [{ units: 1, uom: 'EA' }], lots: [{ material: 'FG-HIP', lot: 'HP-1' }] }]);
    expect(event!.payload.openShipments).toEqual(['SHH-1']);
    // the CSV keeps the implanted unit's serial beside its procedure reference, and the customer's GLN
    const csv = (await api.request({ url: a.links.csv, headers: api.auth('auditor') })).body.trim().split('\r\n');
    expect(csv[0]).toBe('section,material,lot,role,depth,previousStatus,newStatus,party,partyName,location,stockState,shipment,status,date,units,uom,count,reference,serial,gln');
    expect(csv).toContain('consumption,FG-HIP,HP-1,,,,,4012345000030,,HOSP-H-OR2,,,0SRC0J9,2026-03-09T10:00:00.000Z,1,EA,,hmac-proc-hip,HS-1,');
    expect(csv).toContain('customer,,,,,,,CUST-H,St. Vitus Hospital,,,,,,1,EA,1,,,4012345000030');
    expect(csv).toContain('serial,FG-HIP,HP-1,,,active,recalled,,,HOSP-H-OR2,,,,,,,,HS-1,HS-1,');

    // the lot and its other serial at once: the lot's lines and usages already hold HS-2's, nothing twice
    const both = await post({ lots: [{ material: 'FG-HIP', lot: 'HP-1' }], serials: [{ material: 'FG-HIP', serial: 'HS-2' }], reason: 'lot sterility breach' });
    expect(both.statusCode).toBe(201);
    expect(both.json<RecallAnswer>().impact.totals).toEqual(expect.objectContaining({ unitsShipped: 7, unitsConsumed: 2, openShipments: 1, serials: 1 }));
    expect(both.json<RecallAnswer>().impact.openShipments).toEqual([expect.objectContaining({ shipmentNumber: 'SHH-1', units: 2 })]);

    // a serial recalled before is named as such, in a mixed request and when nothing is new
    await g.lot('H2', 'FG-HIP', 'HP-2');
    const mixed = await post({ lots: [{ material: 'FG-HIP', lot: 'HP-2' }], serials: [{ material: 'FG-HIP', serial: 'HS-1' }], reason: 'second lot' });
    expect(mixed.statusCode).toBe(201);
    const m = mixed.json<RecallAnswer>();
    expect(m.alreadyRecalled).toEqual([{ material: 'FG-HIP', lot: 'HP-1', serial: 'HS-1', recallId: a.id, recallNumber: a.recallNumber }]);
    expect(m.message).toBe(`recall ${m.recallNumber} opened: 1 lot(s) recalled; 0 derived lot(s) put on hold; already recalled before: FG-HIP serial HS-1 (${a.recallNumber})`);
    expect(m.impact.serials).toEqual([]);
    const none = await post({ lots: [{ material: 'FG-HIP', lot: 'HP-1' }], serials: [{ material: 'FG-HIP', serial: 'HS-1' }], reason: 'again' });
    expect([none.statusCode, none.json<RecallAnswer>().created, none.json<RecallAnswer>().id]).toEqual([200, false, both.json<RecallAnswer>().id]);
    expect(none.json<RecallAnswer>().alreadyRecalled).toEqual([
      { material: 'FG-HIP', lot: 'HP-1', recallId: both.json<RecallAnswer>().id, recallNumber: both.json<RecallAnswer>().recallNumber },
      { material: 'FG-HIP', lot: 'HP-1', serial: 'HS-1', recallId: a.id, recallNumber: a.recallNumber },
    ]);
    expect(none.json<RecallAnswer>().message).toBe(`already recalled: FG-HIP / HP-1 (recall ${both.json<RecallAnswer>().recallNumber}), FG-HIP serial HS-1 (recall ${a.recallNumber}); nothing changed`);

    // a unit of the recalled lot HP-1 that no recall named: recalled with its lot, so named alone it
    // is already recalled (by the lot's recall) and nothing changes; named beside a new lot it is
    // listed as such and the new recall leaves it out
    await g.serial('HS3', 'FG-HIP', 'H1', 'HS-3');
    const recallsBefore = Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n);
    const unit = await post({ serials: [{ material: 'FG-HIP', serial: 'HS-3' }], reason: 'unit of a recalled lot' });
    expect([unit.statusCode, unit.json<RecallAnswer>().created, unit.json<RecallAnswer>().id]).toEqual([200, false, both.json<RecallAnswer>().id]);
    const byLot = { material: 'FG-HIP', lot: 'HP-1', serial: 'HS-3', byLot: true, recallId: both.json<RecallAnswer>().id, recallNumber: both.json<RecallAnswer>().recallNumber };
    expect(unit.json<RecallAnswer>().alreadyRecalled).toEqual([byLot]);
    expect(unit.json<RecallAnswer>().message).toBe(`already recalled: FG-HIP serial HS-3 of recalled lot HP-1 (recall ${both.json<RecallAnswer>().recallNumber}); nothing changed`);
    expect(Number((await t.db('recalls').count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(recallsBefore);
    expect((await t.db('serials').where({ serial_number: 'HS-3' }).first())!.status).toBe('active');
    await g.lot('H3', 'FG-HIP', 'HP-3');
    const withNew = await post({ lots: [{ material: 'FG-HIP', lot: 'HP-3' }], serials: [{ material: 'FG-HIP', serial: 'HS-3' }], reason: 'third lot' });
    expect(withNew.statusCode).toBe(201);
    expect(withNew.json<RecallAnswer>().alreadyRecalled).toEqual([byLot]);
    expect(withNew.json<RecallAnswer>().impact.serials).toEqual([]);
    expect(withNew.json<RecallAnswer>().message).toContain(`already recalled before: FG-HIP serial HS-3 of recalled lot HP-1 (${both.json<RecallAnswer>().recallNumber})`);
  });

  it('leaves cancelled outbound shipments out of the units per customer and the customers to notify (the units never left)', async () => {
    // lot VL-1: 4 units delivered to CUST-V1; 6 units on a shipment to CUST-V2 that was cancelled (its only one)
    const g = new GenealogyFixture(t.db);
    await g.material('FG-VAL', { kind: 'implant' });
    await g.lot('V', 'FG-VAL', 'VL-1');
    await g.party('CUST-V1', 'hospital', 'Valley Clinic', '4012345000054');
    await g.party('CUST-V2', 'distributor', 'Vale Distribution', '4012345000061');
    await g.shipment('SV-1', 'outbound', 'CUST-V1', 'delivered');
    await g.shipLine('SV-1', 'V', 'FG-VAL', 4);
    await g.shipment('SV-2', 'outbound', 'CUST-V2', 'cancelled');
    await g.shipLine('SV-2', 'V', 'FG-VAL', 6);
    const preview = await api.request({ url: '/api/v1/trace/recall-impact?material=FG-VAL&lot=VL-1', headers: api.auth('auditor') });
    const r = await post({ lots: [{ material: 'FG-VAL', lot: 'VL-1' }], reason: 'valve leak', class: 'I' });
    expect(r.statusCode).toBe(201);
    const a = r.json<RecallAnswer>();
    for (const im of [preview.json<RecallImpact>(), a.impact]) {
      expect(im.unitsByCustomer).toEqual([{ customer: 'CUST-V1', gln: '4012345000054', name: 'Valley Clinic', uom: 'EA', units: 4, shipments: 1, lots: 1 }]);
      expect(im.totals).toEqual(expect.objectContaining({ unitsShipped: 4, customers: 1, openShipments: 0 }));
    }
    const event = await t.db('outbox_events').where({ type: 'recall.opened' }).whereRaw("payload->>'recallId' = ?", [a.id]).first<{ payload: any }>('payload');
    expect(event!.payload.impact.customers.map((c: { code: string; units: number }) => `${c.code} ${c.units}`)).toEqual(['CUST-V1 4']);
  });

  it('holds every derived lot at any depth: a repack chain 70 levels deep is held to its end (no silent depth cut)', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('RP-DEEP');
    for (let i = 0; i <= 70; i++) await g.lot(`D${i}`, 'RP-DEEP', `RP-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < 70; i++) await g.link(`D${i}`, `D${i + 1}`);
    const preview = await api.request({ url: '/api/v1/trace/recall-impact?material=RP-DEEP&lot=RP-000', headers: api.auth('operator') });
    expect(preview.json<RecallImpact>().totals).toEqual(expect.objectContaining({ lots: 71, derivedLots: 70 }));
    const r = await post({ lots: [{ material: 'RP-DEEP', lot: 'RP-000' }], reason: 'seal defect in the first lot of a repack chain' });
    expect(r.statusCode).toBe(201);
    const a = r.json<RecallAnswer>();
    expect(a.impact.totals).toEqual(expect.objectContaining({ lots: 71, namedLots: 1, derivedLots: 70 }));
    expect(a.impact.lots[70]).toEqual(expect.objectContaining({ lot: 'RP-070', depth: 70, newStatus: 'on_hold' }));
    expect(await t.db('lots').where({ id: g.lots.get('D70') }).first('status')).toEqual({ status: 'on_hold' });
  });

  it('opens one recall when the same request arrives twice at once (the second waits on the lot lock, then answers 200)', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('RAW-CO');
    await g.material('CMP-CO');
    await g.lot('A', 'RAW-CO', 'CO-1');
    await g.lot('B', 'CMP-CO', 'CB-1');
    await g.link('A', 'B');
    const body = { lots: [{ material: 'RAW-CO', lot: 'CO-1' }], reason: 'cobalt contamination', class: 'I' };
    const [a, b] = await Promise.all([post(body), post(body)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 201]);
    expect(a.json<RecallAnswer>().id).toBe(b.json<RecallAnswer>().id);
    expect(Number((await t.db('recall_lots').where({ lot_id: g.lots.get('B') }).count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(1);
    expect(Number((await t.db('audit_log').where({ action: 'lot.recalled', entity_id: g.lots.get('A') }).count<Array<{ n: number }>>({ n: '*' }))[0].n)).toBe(1);
  });

  it('keeps a lot an earlier recall recalled as recalled when a later recall reaches it as a derived lot (not downgraded to on_hold)', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('RAW-SQ');
    await g.material('CMP-SQ');
    await g.material('FG-SQ');
    await g.lot('R', 'RAW-SQ', 'SQ-R');
    await g.lot('C', 'CMP-SQ', 'SQ-C');
    await g.lot('F', 'FG-SQ', 'SQ-F');
    await g.link('R', 'C');
    await g.link('C', 'F');
    const first = await post({ lots: [{ material: 'CMP-SQ', lot: 'SQ-C' }], reason: 'component crack', class: 'I' });
    expect(first.json<RecallAnswer>().message).toBe(`recall ${first.json<RecallAnswer>().recallNumber} opened: 1 lot(s) recalled; 1 derived lot(s) put on hold`);
    const preview = await api.request({ url: '/api/v1/trace/recall-impact?material=RAW-SQ&lot=SQ-R', headers: api.auth('operator') });
    const second = await post({ lots: [{ material: 'RAW-SQ', lot: 'SQ-R' }], reason: 'raw material contamination', class: 'I' });
    expect(second.statusCode).toBe(201);
    for (const lots of [preview.json<RecallImpact>().lots, second.json<RecallAnswer>().impact.lots]) {
      expect(lots.map((l) => `${l.lot} ${l.role} ${l.previousStatus}→${l.newStatus}`)).toEqual(['SQ-R named released→recalled', 'SQ-C derived recalled→recalled', 'SQ-F derived on_hold→on_hold']);
    }
    expect(second.json<RecallAnswer>().message).toBe(`recall ${second.json<RecallAnswer>().recallNumber} opened: 1 lot(s) recalled; 0 derived lot(s) put on hold`);
    expect(await t.db('lots').where({ id: g.lots.get('C') }).first('status')).toEqual({ status: 'recalled' });
    expect(await t.db('audit_log').where({ entity_id: g.lots.get('C'), action: 'lot.on_hold' }).count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('opens two recalls of overlapping genealogies at once without a deadlock (a raw lot and a component made from it)', async () => {
    // recall A names raw lot R and so holds C and its 30 products; recall B names C itself. Both lock
    // lots: without one order between recalls, A (holding R, locking C's products) and B (holding C)
    // deadlocked and one of them failed with 503 about one time in three
    const answers: number[] = [];
    for (let round = 0; round < 10; round++) {
      const g = new GenealogyFixture(t.db);
      await g.material(`RAW-OV${round}`);
      await g.material(`CMP-OV${round}`);
      await g.material(`FG-OV${round}`);
      await g.lot('R', `RAW-OV${round}`, 'OV-R');
      await g.lot('C', `CMP-OV${round}`, 'OV-C');
      await g.link('R', 'C');
      const products = Array.from({ length: 30 }, (_, i) => ({ id: randomUUID(), material_id: g.materials.get(`FG-OV${round}`), lot_number: `OV-F${i}`, status: 'released', source_message_id: g.messageId, ordinal: 100 + i }));
      await t.db('lots').insert(products);
      await t.db('lot_links').insert(products.map((p, i) => ({ input_lot_id: g.lots.get('C'), output_lot_id: p.id, quantity: 1, uom: 'EA', source_message_id: g.messageId, ordinal: 200 + i })));
      const [a, b] = await Promise.all([
        post({ lots: [{ material: `RAW-OV${round}`, lot: 'OV-R' }], reason: 'raw material contamination', class: 'I' }),
        post({ lots: [{ material: `CMP-OV${round}`, lot: 'OV-C' }], reason: 'component crack', class: 'I' }),
      ]);
      answers.push(a.statusCode, b.statusCode);
      const statuses = await t.db('lots').whereIn('id', [g.lots.get('R')!, g.lots.get('C')!, ...products.map((p) => p.id)]).select('status');
      expect(statuses.map((x) => x.status).sort()).toEqual([...Array(30).fill('on_hold'), 'recalled', 'recalled']);
    }
    expect(answers).toEqual(Array(20).fill(201));
  });

  it('follows the lot status rules: a rejected named lot is recalled; derived lots that are rejected or expired keep their status', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('RAW-NI');
    await g.material('CMP-NI');
    await g.lot('RAW', 'RAW-NI', 'NI-1', 'rejected');
    await g.lot('REJ', 'CMP-NI', 'NC-REJ', 'rejected');
    await g.lot('EXP', 'CMP-NI', 'NC-EXP', 'expired');
    await g.lot('QUA', 'CMP-NI', 'NC-QUA', 'quarantine');
    for (const out of ['REJ', 'EXP', 'QUA']) await g.link('RAW', out);
    const r = await post({ lots: [{ material: 'RAW-NI', lot: 'NI-1' }], reason: 'nickel release out of spec', class: 'II' });
    expect(r.statusCode).toBe(201);
    expect(r.json<RecallAnswer>().impact.lots.map((l) => `${l.lot} ${l.role} ${l.previousStatus}→${l.newStatus}`)).toEqual([
      'NI-1 named rejected→recalled',
      'NC-EXP derived expired→expired',
      'NC-QUA derived quarantine→on_hold',
      'NC-REJ derived rejected→rejected',
    ]);
    const statuses = await t.db('lots').whereIn('id', ['RAW', 'REJ', 'EXP', 'QUA'].map((k) => g.lots.get(k)!)).orderBy('lot_number').select('lot_number', 'status');
    expect(statuses).toEqual([
      { lot_number: 'NC-EXP', status: 'expired' },
      { lot_number: 'NC-QUA', status: 'on_hold' },
      { lot_number: 'NC-REJ', status: 'rejected' },
      { lot_number: 'NI-1', status: 'recalled' },
    ]);
  });

  describe('bad input', () => {
    it('answers 404 naming the unknown lot (nothing changes), 400 for a body that does not match the schema', async () => {
      const before = await t.db('lots').select('id', 'status').orderBy('id');
      const r = await post({ lots: [{ material: 'RAW-TI', lot: 'TI-999' }, { material: 'FG-KNEE', lot: 'NOPE' }], reason: 'x' });
      expect(r.statusCode).toBe(404);
      expect(r.json<ApiErrorBody>().error).toEqual(expect.objectContaining({ code: 'LB_ERR_LOT_NOT_FOUND', location: { path: '/lots/1' } }));
      expect(r.json<ApiErrorBody>().error.message).toBe('lots[1]: no lot NOPE of material FG-KNEE');
      expect(await t.db('lots').select('id', 'status').orderBy('id')).toEqual(before);
      for (const [body, path] of [
        [{ lots: [{ material: 'RAW-TI', lot: 'TI-999' }] }, '/reason'],
        [{ lots: [{ lot: 'TI-999' }], reason: 'x' }, '/lots/0/gtin'],
        [{ lots: [{ material: 'RAW-TI', lot: 'TI-999' }], reason: 'x', class: 'IV' }, '/class'],
        [{ reason: 'x' }, '/lots'],
        [{ lots: [], reason: 'x' }, '/lots'],
      ] as const) {
        const b = await post(body);
        expect({ body, status: b.statusCode, code: b.json<ApiErrorBody>().error.code }).toEqual({ body, status: 400, code: 'LB_ERR_API_BAD_REQUEST' });
        expect(b.json<ApiErrorBody>().error.location?.path).toBe(path);
      }
      const notFound = await api.request({ url: '/api/v1/recalls/00000000-0000-0000-0000-000000000000', headers: api.auth('operator') });
      expect([notFound.statusCode, notFound.json<ApiErrorBody>().error.code]).toEqual([404, 'LB_ERR_RECALL_NOT_FOUND']);
    });

    it('treats SQL-ish strings as plain values and lets auditors read but not recall', async () => {
      const r = await post({ lots: [{ material: "RAW-TI' OR '1'='1", lot: "x'; UPDATE lots SET status='recalled'; --" }], reason: "'; DROP TABLE recalls; --" });
      expect(r.statusCode).toBe(404);
      expect(await statusOf('U1')).toBe('released');
      const byId = await api.request({ url: `/api/v1/recalls/${encodeURIComponent("' OR 1=1 --")}`, headers: api.auth('operator') });
      expect(byId.statusCode).toBe(404);
      const auditor = await post({ lots: [{ material: 'RAW-TI', lot: 'TI-999' }], reason: 'x' }, 'auditor');
      expect([auditor.statusCode, auditor.json<ApiErrorBody>().error.code]).toEqual([403, 'LB_ERR_AUTH_FORBIDDEN']);
    });
  });
});
