import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, ediVariant, postAndWait, postEdi, x12Segments } from '../../helpers/edi';

describe('x12 856 ASN: shipment, lots with expiry, serials, in-transit stock and the 997', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('maps an 856 with CR/LF after terminators, a pack level, SLN serials and REF/LIN lots, and answers a 997 accepting it', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'));
    expect(m.error).toBeNull();
    expect(m.status).toBe('processed');
    expect(m.messageType).toBe('856');
    expect(m.controlId).toBe('000004711');
    expect(m.ack).toMatchObject({ type: '997', status: 'accepted', controlNumber: '000000001' });
    expect(Object.keys(m.ack).sort()).toEqual(['controlNumber', 'messageId', 'raw', 'status', 'type']);
    const segs = x12Segments(m.ack.raw);
    expect(segs.map((s) => s[0])).toEqual(['ISA', 'TA1', 'GS', 'ST', 'AK1', 'AK2', 'AK5', 'AK9', 'SE', 'GE', 'IEA']);
    expect(segs[0][6].trim()).toBe('ACMEDEVICES');
    expect(segs[0][8].trim()).toBe('MEDSUPPLY01');
    expect(segs[1]).toEqual(['TA1', '000004711', '260302', '0930', 'A', '000']);
    expect(segs[4]).toEqual(['AK1', 'SH', '4711', '005010']);
    expect(segs[5]).toEqual(['AK2', '856', '0001']);
    expect(segs[7]).toEqual(['AK9', 'A', '1', '1', '1']);
    expect(segs[8]).toEqual(['SE', '6', '0001']);

    const stent = (await h.api('GET', '/api/v1/lots?gtin=04012345000016&lot=S2603A')).json;
    expect(stent.expiry).toBe('2028-02-29');
    expect(stent.provisional).toBe(true);
    expect(stent.manufacturedAt).toBe('2026-01-15');
    const bal = stent.balances.find((b: any) => b.stockState === 'in_transit');
    expect(bal).toMatchObject({ quantity: 3 });
    const cath = (await h.api('GET', '/api/v1/lots?gtin=04012345000023&lot=C7F-2602')).json;
    expect(cath.expiry).toBe('2027-08-31');
    expect(await h.lotTotal('04012345000023', 'C7F-2602')).toBe(40);

    const db = h.hub.db;
    const ship = await db('shipments').where({ shipment_number: 'ASN-20260302-01', direction: 'inbound' }).first();
    expect(ship).toMatchObject({ status: 'in_transit', carrier: 'UPSN', purpose: 'original', ship_to: '0614141000012' });
    expect(ship.expected_at.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    expect(ship.shipped_at.toISOString()).toBe('2026-03-02T09:15:00.000Z');
    const lines = await db('shipment_lines').where({ shipment_id: ship.id }).orderBy('line_no');
    expect(lines.map((l: any) => [l.lot_number, l.serial_number, Number(l.quantity_shipped), l.uom, l.sscc, l.po_number])).toEqual([
      ['S2603A', 'SN-0001', 1, 'EA', '006141410000000017', 'PO-88120'],
      ['S2603A', 'SN-0002', 1, 'EA', '006141410000000017', 'PO-88120'],
      ['S2603A', 'SN-0003', 1, 'EA', '006141410000000017', 'PO-88120'],
      ['C7F-2602', null, 40, 'EA', '006141410000000017', 'PO-88120'],
      ['GW-2512', null, 25, 'BX', null, 'PO-88120'],
    ]);
    expect(await db('serials').whereIn('serial_number', ['SN-0001', 'SN-0002', 'SN-0003']).count<{ count: string }[]>('* as count')).toEqual([{ count: 3 }]);
    const loc = await db('locations').where({ id: ship.to_location_id }).first();
    expect(loc).toMatchObject({ gln: '0614141000012', provisional: true });
    const out = await db('edi_outbound_messages').where({ inbound_message_id: m.id });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ id: m.ack.messageId, type: '997', status: 'accepted', control_number: '000000001', raw: m.ack.raw });
    const ev = await db('outbox_events').where({ source_message_id: m.id, type: 'edi.ack' });
    expect(ev).toHaveLength(1);
    expect(ev[0].payload).toMatchObject({ outboundMessageId: m.ack.messageId, ackType: '997', controlNumber: '000000001', status: 'accepted' });
    const alerts = await db('alerts').where({ type: 'edi_partner_provisional' });
    expect(alerts).toHaveLength(1);
  });

  it('answers a re-sent interchange as a duplicate with the first 997, and changes nothing', async () => {
    const before = await h.lotTotal('04012345000023', 'C7F-2602');
    const r = await postEdi(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'));
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('duplicate');
    expect(r.json.ack).toMatchObject({ type: '997', status: 'accepted', controlNumber: '000000001' });
    const dup = await h.waitForStatus(r.json.messageId);
    expect(dup.status).toBe('duplicate');
    expect(dup.ack.controlNumber).toBe('000000001');
    expect(await h.lotTotal('04012345000023', 'C7F-2602')).toBe(before);
    expect(await h.hub.db('edi_outbound_messages').count<{ count: string }[]>('* as count')).toEqual([{ count: 1 }]);
  });

  it('rejects a set whose SE01 count is off by one: 997 AK5 R 4, AK9 R, message rejected with LB_ERR_X12_SE_MISMATCH at SE01', async () => {
    const body = ediVariant('x12', '856-serials-sln-crlf.x12', [['SE*34*0001', 'SE*33*0001'], ['000004711', '000004712'], ['000004711', '000004712'], ['*4711*X*', '*4712*X*'], ['GE*1*4711', 'GE*1*4712']]);
    const m = await postAndWait(h, 'x12', body);
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code: 'LB_ERR_X12_SE_MISMATCH', location: { segment: 'SE', field: 'SE01', line: 36 } });
    expect(m.ack).toMatchObject({ type: '997', status: 'rejected', controlNumber: '000000002' });
    const segs = x12Segments(m.ack.raw);
    expect(segs.find((s) => s[0] === 'AK5')).toEqual(['AK5', 'R', '4']);
    expect(segs.find((s) => s[0] === 'AK9')).toEqual(['AK9', 'R', '1', '1', '0']);
    const ev = await h.hub.db('outbox_events').where({ source_message_id: m.id, type: 'edi.ack' });
    expect(ev).toHaveLength(1);
    expect(await h.hub.db('shipments').where({ source_message_id: m.id }).count<{ count: string }[]>('* as count')).toEqual([{ count: 0 }]);
  });
});
