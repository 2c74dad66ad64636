import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { buildTestApi, type TestApi } from '../../helpers/api-app';
import { GenealogyFixture } from '../../helpers/genealogy-fixture';
import type { RecallImpact } from '../../../src/trace/recall-impact';
import { recallPatientsOf } from '../../../src/trace/recall-patients';

/**
 * A recall's impact numbers where stock, usages and shipments do not add up plainly: a hospital
 * usage booked against stock the hospital never received (a negative balance), a usage credited
 * back, an open shipment with lines in two units of measure; and the patients export's choice of
 * party when one party's code is another's GLN.
 */
describe('recall impact: negative balances, credits, units of measure', () => {
  let t: TestDatabase;
  let api: TestApi;
  const post = async (body: unknown) => api.request({ method: 'POST', url: '/api/v1/recalls', headers: api.auth('operator'), payload: body });
  beforeAll(async () => {
    t = await createTestDatabase();
    api = await buildTestApi(t);
  });
  afterAll(async () => {
    await api.close();
    await t.destroy();
  });

  it('counts positive stock on hand only: the -1 a hospital usage leaves at a location that never received stock is a usage, not stock', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('FG-A', { kind: 'implant' });
    await g.lot('A', 'FG-A', 'A-1');
    await g.party('HOSP', 'hospital', 'Hosp', '4012345000047');
    await g.location('WH', {});
    await g.location('HOSP/OR', { kind: 'operating_room', party: 'HOSP' });
    await g.balance('A', 'WH', 'finished', 10);
    await g.balance('A', 'HOSP/OR', 'finished', -1); // what the HL7 DFT^P03 mapping books for one usage there
    await g.usage('A', 'FG-A', 'HOSP/OR', 'HOSP', 1, '2026-03-05T09:30:00Z');
    const r = await post({ lots: [{ material: 'FG-A', lot: 'A-1' }], reason: 'negative balance' });
    expect(r.statusCode).toBe(201);
    const impact = r.json<{ impact: RecallImpact }>().impact;
    expect(impact.unitsByLocation.map((b) => [b.location, b.stockState, b.units])).toEqual([['WH', 'finished', 10]]);
    expect([impact.totals.unitsOnHand, impact.totals.unitsConsumed, impact.totals.hospitals]).toEqual([10, 1, 1]);
  });

  it('leaves out a hospital whose only usage was credited back (CD, -1), and lists both usages', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('FG-B', { kind: 'implant' });
    await g.lot('B', 'FG-B', 'B-1');
    await g.party('HOSP2', 'hospital', 'Hosp2', '4012345000054');
    await g.party('HOSP3', 'hospital', 'Hosp3', '4012345000085');
    await g.location('HOSP2/OR', { kind: 'operating_room', party: 'HOSP2' });
    await g.location('HOSP3/OR', { kind: 'operating_room', party: 'HOSP3' });
    await g.usage('B', 'FG-B', 'HOSP2/OR', 'HOSP2', 1, '2026-03-05T09:30:00Z');
    await g.usage('B', 'FG-B', 'HOSP2/OR', 'HOSP2', -1, '2026-03-05T09:45:00Z');
    await g.usage('B', 'FG-B', 'HOSP3/OR', 'HOSP3', 2, '2026-03-06T10:00:00Z');
    await g.usage('B', 'FG-B', 'HOSP3/OR', 'HOSP3', -1, '2026-03-06T10:30:00Z');
    const r = await post({ lots: [{ material: 'FG-B', lot: 'B-1' }], reason: 'credits' });
    const impact = r.json<{ impact: RecallImpact }>().impact;
    expect(impact.consumedByHospital.map((h) => [h.hospital, h.units, h.usages, h.firstUsedAt, h.lastUsedAt])).toEqual([
      ['4012345000085', 1, 1, '2026-03-06T10:00:00.000Z', '2026-03-06T10:00:00.000Z'],
    ]);
    expect([impact.totals.hospitals, impact.totals.unitsConsumed]).toEqual([1, 1]);
    expect(impact.consumption.map((c) => [c.hospital, c.quantity])).toEqual([
      ['4012345000054', 1], ['4012345000054', -1], ['4012345000085', 2], ['4012345000085', -1],
    ]);
  });

  it('gives an open shipment and a customer to notify their units per unit of measure, not one mixed sum', async () => {
    const g = new GenealogyFixture(t.db);
    await g.material('RAW-C', { kind: 'raw', uom: 'KG' });
    await g.material('FG-C', { kind: 'implant' });
    await g.lot('RC', 'RAW-C', 'RC-1');
    await g.lot('FC', 'FG-C', 'FC-1');
    await g.link('RC', 'FC', 1);
    await g.party('CUST-C', 'distributor', 'Cust C', '4012345000061');
    await g.shipment('SC-1', 'outbound', 'CUST-C', 'shipped');
    await g.shipLine('SC-1', 'FC', 'FG-C', 10);
    await g.shipLine('SC-1', 'RC', 'RAW-C', 2);
    await t.db('shipment_lines').where({ lot_id: g.lots.get('RC') }).update({ uom: 'KG' });
    const r = await post({ lots: [{ material: 'RAW-C', lot: 'RC-1' }], reason: 'units' });
    const a = r.json<{ id: string; impact: RecallImpact }>();
    expect(a.impact.unitsByCustomer.map((c) => `${c.units} ${c.uom}`)).toEqual(['10 EA', '2 KG']);
    expect(a.impact.openShipments.map((s) => [s.shipmentNumber, s.units, s.quantities, s.lots])).toEqual([['SC-1', null, [{ units: 10, uom: 'EA' }, { units: 2, uom: 'KG' }], ['FG-C / FC-1', 'RAW-C / RC-1']]]);
    // one shipment to stop, though its lines are in two units
    expect(a.impact.totals.openShipments).toBe(1);
    // the totals per unit of measure; unitsShipped adds them together
    expect(a.impact.totals.unitsByUom).toEqual([{ uom: 'EA', onHand: 0, shipped: 10, consumed: 0 }, { uom: 'KG', onHand: 0, shipped: 2, consumed: 0 }]);
    expect(a.impact.totals.unitsShipped).toBe(12);
    const ev = await t.db('outbox_events').where({ type: 'recall.opened' }).whereRaw(`payload->>'recallId' = ?`, [a.id]).first();
    expect(ev.payload.impact.customers.map((c: any) => [c.code, c.units, c.quantities])).toEqual([['CUST-C', null, [{ units: 10, uom: 'EA' }, { units: 2, uom: 'KG' }]]]);
    // the CSV export: one open_shipment row per unit of measure
    const csv = await api.request({ url: `/api/v1/recalls/${a.id}/export?format=csv`, headers: api.auth('operator') });
    expect(csv.statusCode).toBe(200);
    const header = csv.body.split(/\r?\n/)[0].split(',');
    const open = csv.body.split(/\r?\n/).filter((l: string) => l.startsWith('open_shipment,')).map((l: string) => l.split(','));
    expect(open.map((cols: string[]) => [cols[header.indexOf('shipment')], cols[header.indexOf('units')], cols[header.indexOf('uom')]])).toEqual([['SC-1', '10', 'EA'], ['SC-1', '2', 'KG']]);
  });

  it("patients export: a party whose GLN is the key wins over another party whose code is the same text", async () => {
    const g = new GenealogyFixture(t.db);
    await g.party('4012345000078', 'customer', 'code-only party'); // no GLN
    await g.party('STX', 'hospital', 'the hospital', '4012345000078');
    const rec = { id: '00000000-0000-7000-8000-000000000000', recallNumber: 'RC-X', class: null, reason: 'x' };
    const x = await recallPatientsOf(t.db, {} as never, rec, '4012345000078');
    expect(x.hospital.name).toBe('the hospital');
  });
});
