/**
 * The README's walkthrough as a test: the trace and the recall on what real feeds wrote, not on a
 * hand-built genealogy. A hospital's DFT^P03 over MLLP (it comes first: the stem's material and lot
 * are created provisionally), the stem's and the bar's master data over HTTP, a WMS goods receipt
 * of the titanium bar, and the MES production report that machined stem lot L2506A from bar lot
 * TI-24-0117; then forward and backward trace over HTTP and a recall of the bar lot.
 *
 * Expected, by hand: the bar received 50 KG, 18.4 KG consumed → 31.6 KG raw at RM-01; 3 stems
 * produced into FG-01; serial S001001 implanted at STMARY/OR3 (1 EA used at hospital STMARY, its
 * balance there −1 as nothing was booked to the hospital first). Recalling the bar: 2 lots, the
 * bar recalled, the stem lot on hold; on hand 31.6 KG + 2 EA (3 − 1); 1 EA consumed at 1 hospital.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hl7Fixture, mllpPortOf, mllpSend, parseAck, waitAllSettled } from '../../helpers/hl7';
import { startTestHub, type TestHub } from '../../helpers/start-hub';

const B2MML = fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'b2mml', 'production-performance-v0700-hip-stem-readme.xml'));

describe('from the feeds to a recall (the README walkthrough)', () => {
  let h: TestHub;

  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
  });

  const json = (body: unknown): [string, Record<string, string>] => [JSON.stringify(body), { 'content-type': 'application/json' }];

  it('feeds in README order: HL7 first, then master data, WMS and MES; every message processed', async () => {
    const [ack] = await mllpSend(mllpPortOf(h), hl7Fixture('transport/dft-p03-v282-single-implant.hl7'));
    expect(parseAck(ack)).toEqual(expect.objectContaining({ code: 'AA', controlId: 'ORIS-20260315-001001' }));
    await waitAllSettled(h);

    const stem = await h.api('POST', '/api/v1/materials', ...json({
      code: 'HIP-STEM-12', description: 'Hip stem, cementless, size 12', kind: 'implant', baseUom: 'EA', serialControlled: true, implantable: true, riskClass: 'III',
      identifiers: [{ scheme: 'gtin', value: '04012345000115' }],
    }));
    expect(stem.status).toBe(200); // the provisional material the HL7 message created, adopted
    expect(stem.json).toEqual(expect.objectContaining({ code: 'HIP-STEM-12', provisional: false }));
    const bar = await h.api('POST', '/api/v1/materials', ...json({
      code: 'RAW-TI6AL4V-BAR', description: 'Titanium alloy bar Ti-6Al-4V, 40 mm', kind: 'raw', baseUom: 'KG', identifiers: [{ scheme: 'gtin', value: '04012345000207' }],
    }));
    expect(bar.status).toBe(201);
    const receipt = await h.api('POST', '/api/v1/ingest/wms', ...json({
      movementId: 'WMS-000201', type: 'receive', occurredAt: '2025-05-20T09:00:00Z', location: 'RM-01', gtin: '04012345000207', lot: 'TI-24-0117', quantity: 50, uom: 'KG',
    }));
    expect(receipt.status).toBe(202);
    const mes = await h.api('POST', '/api/v1/ingest/mes', B2MML, { 'content-type': 'application/xml' });
    expect(mes.status).toBe(202);
    await waitAllSettled(h);
    const statuses = await h.hub.db('inbound_messages').select('connector_id', 'status').orderBy('id');
    expect(statuses.map((m: { connector_id: string; status: string }) => `${m.connector_id} ${m.status}`)).toEqual(['hl7-mllp processed', 'wms processed', 'mes processed']);
  }, 60_000);

  it('forward from the bar lot reaches the stem lot, its stock and the implant at St Mary; backward from the implanted unit reaches the bar', async () => {
    const fwd = await h.api('GET', '/api/v1/trace/forward?gtin=04012345000207&lot=TI-24-0117');
    expect(fwd.status).toBe(200);
    const f = fwd.json as any;
    expect(f.summary).toEqual(expect.objectContaining({ lots: 2, links: 1, maxDepth: 1, complete: true }));
    expect(f.tables.lots.map((l: any) => `${l.material}/${l.lot} d${l.depth} ${l.status}`)).toEqual(['RAW-TI6AL4V-BAR/TI-24-0117 d0 released', 'HIP-STEM-12/L2506A d1 released']);
    expect(f.tables.lots[1]).toEqual(expect.objectContaining({ gtin: '04012345000115', expiry: '2030-05-31', via: [f.tables.lots[0].lotId] }));
    expect(f.tables.onHand.map((b: any) => `${b.lot} ${b.location} ${b.stockState} ${b.quantity} ${b.uom}`).sort()).toEqual([
      'L2506A FG-01 finished 3 EA', 'L2506A STMARY/OR3 finished -1 EA', 'TI-24-0117 RM-01 raw 31.6 KG',
    ]);
    expect(f.tables.consumption).toHaveLength(1);
    expect(f.tables.consumption[0]).toEqual(expect.objectContaining({
      lot: 'L2506A', serial: 'S001001', quantity: 1, uom: 'EA', location: 'STMARY/OR3', usedAt: '2026-03-15T09:15:00.000Z',
      hospital: expect.objectContaining({ code: 'STMARY' }),
    }));
    // pseudonymous: a keyed HMAC, never the encounter number of PV1-19 or the MRN of PID-3
    expect(f.tables.consumption[0].procedureRef).toMatch(/^[0-9a-f]{64}$/);
    expect(fwd.text).not.toMatch(/V-998877|PAT0049211/);

    const bwd = await h.api('GET', `/api/v1/trace/backward?barcode=${encodeURIComponent('(01)04012345000115(10)L2506A(21)S001001')}`);
    expect(bwd.status).toBe(200);
    const b = bwd.json as any;
    expect(b.tables.lots.map((l: any) => `${l.material}/${l.lot} d${l.depth}`)).toEqual(['HIP-STEM-12/L2506A d0', 'RAW-TI6AL4V-BAR/TI-24-0117 d1']);
    expect(b.graph.edges).toEqual([expect.objectContaining({ kind: 'derived', from: b.tables.lots[1].lotId, to: b.tables.lots[0].lotId, quantity: 18.4 })]);
  });

  it('recalling the bar lot holds the stem lot and names the hospital; the audit chain is intact', async () => {
    const r = await h.api('POST', '/api/v1/recalls', ...json({ lots: [{ gtin: '04012345000207', lot: 'TI-24-0117' }], reason: 'bar lot TI-24-0117 failed the supplier fatigue test', class: 'II' }));
    expect(r.status).toBe(201);
    const rc = r.json as any;
    expect(rc.message).toBe(`recall ${rc.recallNumber} opened: 1 lot(s) recalled; 1 derived lot(s) put on hold`);
    expect(rc.impact.totals).toEqual(expect.objectContaining({ lots: 2, namedLots: 1, derivedLots: 1, unitsConsumed: 1, hospitals: 1, customers: 0, openShipments: 0 }));
    // stock on hand: positive balances only (the -1 the implant's use left at STMARY/OR3, which never
    // received it, is the usage counted under consumedByHospital)
    expect(rc.impact.unitsByLocation.map((x: any) => `${x.location} ${x.stockState} ${x.units} ${x.uom}`)).toEqual([
      'FG-01 finished 3 EA', 'RM-01 raw 31.6 KG',
    ]);
    expect(rc.impact.consumedByHospital).toEqual([expect.objectContaining({ hospital: 'STMARY', units: 1, uom: 'EA', usages: 1 })]);
    const lots = await h.hub.db('lots').join('materials', 'materials.id', 'lots.material_id').orderBy('materials.code').select('materials.code', 'lots.lot_number', 'lots.status');
    expect(lots.map((l: any) => `${l.code}/${l.lot_number} ${l.status}`)).toEqual(['HIP-STEM-12/L2506A on_hold', 'RAW-TI6AL4V-BAR/TI-24-0117 recalled']);

    const again = await h.api('POST', '/api/v1/recalls', ...json({ lots: [{ material: 'RAW-TI6AL4V-BAR', lot: 'TI-24-0117' }], reason: 'again', class: 'II' }));
    expect(again.status).toBe(200);
    expect((again.json as any).message).toBe(`already recalled: RAW-TI6AL4V-BAR / TI-24-0117 (recall ${rc.recallNumber}); nothing changed`);

    const v = await h.api('GET', '/api/v1/audit/verify');
    expect(v.status).toBe(200);
    expect(v.json).toEqual({ ok: true, rows: expect.any(Number) });
    expect((v.json as any).rows).toBeGreaterThan(10);
  });
});
