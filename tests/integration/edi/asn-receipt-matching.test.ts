import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, postAndWait } from '../../helpers/edi';

async function receive(h: TestHub, records: Array<Record<string, unknown>>): Promise<any> {
  const r = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify(records), { 'content-type': 'application/json' });
  expect(r.status).toBe(202);
  return h.waitForStatus(r.json.messageId);
}

const rec = (id: string, fields: Record<string, unknown>): Record<string, unknown> => ({
  movementId: id, type: 'receive', occurredAt: '2026-03-06T10:00:00Z', location: 'DOCK-1', stockState: 'pending_inspection', reference: { asn: 'ASN-20260302-01' }, ...fields,
});

describe('ASN-vs-receipt matching: a WMS receipt against an 856 opens the expected discrepancy alerts', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
    expect((await postAndWait(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'))).status).toBe('processed');
    expect((await postAndWait(h, 'x12', ediFixture('x12', '856-short-dated-lot.x12'))).status).toBe('processed');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const alertsOf = async (asn: string): Promise<Array<{ type: string; kind: string; status: string; details: any }>> => {
    const s = await h.hub.db('shipments').where({ shipment_number: asn }).first();
    const rows = await h.hub.db('alerts').where({ subject_id: s.id }).orderBy('opened_at');
    return rows.map((a: any) => ({ type: a.type, kind: a.details?.kind, status: a.status, details: a.details }));
  };

  it('flags a missing serial (short), an unexpected serial, an over-received lot, a wrong lot and the late arrival; moves in-transit stock', async () => {
    const m = await receive(h, [
      rec('RCV-1', { gtin: '04012345000016', lot: 'S2603A', serial: 'SN-0001', quantity: 1, uom: 'EA' }),
      rec('RCV-2', { gtin: '04012345000016', lot: 'S2603A', serial: 'SN-0002', quantity: 1, uom: 'EA' }),
      rec('RCV-3', { gtin: '04012345000016', lot: 'S2603A', serial: 'SN-0009', quantity: 1, uom: 'EA' }),
      rec('RCV-4', { gtin: '04012345000023', lot: 'C7F-2602', quantity: 42, uom: 'EA' }),
      rec('RCV-5', { gtin: '04012345000023', lot: 'C7F-9999', quantity: 3, uom: 'EA' }),
      rec('RCV-6', { gtin: '04012345000030', lot: 'GW-2512', quantity: 25, uom: 'BX' }),
    ]);
    expect(m.status).toBe('processed');
    const alerts = await alertsOf('ASN-20260302-01');
    const kinds = alerts.map((a) => `${a.type}:${a.kind ?? ''}`).sort();
    expect(kinds).toEqual([
      'asn_discrepancy:over', 'asn_discrepancy:short', 'asn_discrepancy:unexpected_serial', 'asn_discrepancy:wrong_lot', 'shipment_late:',
    ]);
    expect(alerts.find((a) => a.kind === 'short')?.details).toMatchObject({ lotNumber: 'S2603A', announced: 3, received: 2 });
    expect(alerts.find((a) => a.kind === 'over')?.details).toMatchObject({ lotNumber: 'C7F-2602', announced: 40, received: 42 });
    expect(alerts.find((a) => a.kind === 'unexpected_serial')?.details).toMatchObject({ serial: 'SN-0009' });
    expect(alerts.find((a) => a.kind === 'wrong_lot')?.details).toMatchObject({ lotNumber: 'C7F-9999' });
    const ship = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260302-01' }).first();
    expect(ship.status).toBe('delivered');
    expect(ship.delivered_at.toISOString()).toBe('2026-03-06T10:00:00.000Z');
    // in transit: what was announced and not yet received; the received stock sits at the dock
    const cath = (await h.api('GET', '/api/v1/lots?gtin=04012345000023&lot=C7F-2602')).json;
    expect(cath.balances.map((b: any) => [b.location, b.stockState, b.quantity]).sort()).toEqual([
      ['DOCK-1', 'pending_inspection', 42],
    ]);
    const ledger = await h.hub.db('inventory_ledger as g').join('lots as t', 't.id', 'g.lot_id').where({ 't.lot_number': 'C7F-2602', 'g.stock_state': 'in_transit' }).orderBy('g.id').select('g.delta');
    expect(ledger.map((x: any) => Number(x.delta))).toEqual([40, -40]);
    // three units of S2603A arrived (one with a serial the ASN does not list): the lot is no longer in transit
    const stent = (await h.api('GET', '/api/v1/lots?gtin=04012345000016&lot=S2603A')).json;
    expect(stent.balances.map((b: any) => [b.location, b.stockState, b.quantity])).toEqual([['DOCK-1', 'pending_inspection', 3]]);
  });

  it('closes the short alert when a later receipt completes the lot, and marks the shipment received once every line is', async () => {
    await receive(h, [rec('RCV-7', { gtin: '04012345000016', lot: 'S2603A', serial: 'SN-0003', quantity: 1, uom: 'EA' })]);
    const alerts = await alertsOf('ASN-20260302-01');
    expect(alerts.find((a) => a.kind === 'short')?.status).toBe('closed');
    const ship = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260302-01' }).first();
    expect(ship.status).toBe('received');
  });

  it('flags a lot that arrives already expired', async () => {
    await receive(h, [rec('RCV-8', { gtin: '04012345000047', lot: 'DR-2402', quantity: 100, uom: 'EA', reference: { asn: 'ASN-20260220-EXP' } })]);
    const alerts = await alertsOf('ASN-20260220-EXP');
    expect(alerts.map((a) => `${a.type}:${a.kind ?? ''}`).sort()).toEqual(['asn_discrepancy:expired_on_arrival', 'shipment_late:']);
    expect(alerts.find((a) => a.kind === 'expired_on_arrival')?.details).toMatchObject({ lotNumber: 'DR-2402', expiry: '2026-02-28' });
  });

  it('changes nothing for a receipt that names an ASN LotBridge has not seen', async () => {
    const m = await receive(h, [rec('RCV-9', { gtin: '04012345000047', lot: 'DR-2402', quantity: 5, uom: 'EA', reference: { asn: 'ASN-NOT-SEEN' } })]);
    expect(m.status).toBe('processed');
    expect(await h.hub.db('alerts').where({ type: 'asn_discrepancy' }).whereRaw("details->>'asnNumber' = 'ASN-NOT-SEEN'")).toHaveLength(0);
  });
});
