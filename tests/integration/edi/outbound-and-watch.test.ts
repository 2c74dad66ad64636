import { v7 as uuidv7 } from 'uuid';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, postAndWait } from '../../helpers/edi';
import { runEdiMonitor } from '../../../src/model/edi/edi-monitor';
import { readX12Message } from '../../../src/parsers/x12/x12-read';

describe('outbound 850/856 to a partner, their 997 back, and the EDI watch (partner_ack_missing, shipment_late)', () => {
  let h: TestHub;
  let partnerId: string;
  beforeAll(async () => {
    h = await startTestHub();
    const p = await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x12', qualifier: 'ZZ', interchangeId: 'MEDSUPPLY01', name: 'MedSupply', ourId: 'ACMEDEVICES', ackOverdueMinutes: 60, outboundDestination: { type: 'file', dir: '/srv/edi/out/medsupply' } }), { 'content-type': 'application/json' });
    expect(p.status).toBe(201);
    partnerId = p.json.id;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('builds an 850 from a purchase order with the partner’s next control numbers, stored and handed to routing', async () => {
    const po = uuidv7();
    await h.hub.db('purchase_orders').insert({ id: po, po_number: 'PO-OUT-900', direction: 'outbound', status: 'open', origin: 'reorder', ordered_at: new Date('2026-03-10T00:00:00Z') });
    await h.hub.db('po_lines').insert({ po_id: po, line_no: 1, quantity: 24, uom: 'EA', gtin: '04012345000016' });
    const r = await h.api('POST', `/api/v1/partners/${partnerId}/outbound`, JSON.stringify({ type: '850', poId: po }), { 'content-type': 'application/json' });
    expect(r.status).toBe(201);
    expect(r.json.controlNumber).toBe('000000001');
    const back = readX12Message(Buffer.from(r.json.raw));
    expect(back.ic.envelopeError).toBeUndefined();
    expect(back.ic).toMatchObject({ senderId: 'ACMEDEVICES', receiverId: 'MEDSUPPLY01' });
    expect(back.sets[0].doc).toMatchObject({ poNumber: 'PO-OUT-900', lines: [{ lineNo: 1, quantity: 24, gtin: '04012345000016' }] });
    const ev = await h.hub.db('outbox_events').where({ type: 'edi.outbound' }).first();
    expect(ev.payload).toMatchObject({ outboundMessageId: r.json.outboundMessageId, type: '850', destination: { type: 'file', dir: '/srv/edi/out/medsupply' } });
  });

  it('marks the 850 acknowledged when the partner’s 997 names its group, and sends no 997 for a 997', async () => {
    const out = await h.hub.db('edi_outbound_messages').where({ type: '850' }).first();
    const fa = [
      'ISA*00*          *00*          *ZZ*MEDSUPPLY01    *ZZ*ACMEDEVICES    *260310*0900*^*00501*000007001*0*P*>~',
      'GS*FA*MEDSUPPLY01*ACMEDEVICES*20260310*0900*7001*X*005010~', 'ST*997*0001~', `AK1*PO*${out.group_control_number}*005010~`, 'AK2*850*0001~', 'AK5*A~', 'AK9*A*1*1*1~', 'SE*6*0001~',
      'GE*1*7001~', 'IEA*1*000007001~',
    ].join('\r\n');
    const m = await postAndWait(h, 'x12', Buffer.from(fa));
    expect(m.status).toBe('processed');
    expect(m.ack).toBeNull();
    const after = await h.hub.db('edi_outbound_messages').where({ id: out.id }).first();
    expect(after.acknowledged_at).not.toBeNull();
    expect(after.acknowledged_by).toBe('accepted:A');
  });

  it('builds an 856 from a WMS ship movement’s shipment, and the watch alerts when the partner does not acknowledge it in time', async () => {
    expect((await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x12', qualifier: 'ZZ', interchangeId: 'STMARYHOSP', ourId: 'ACMEDEVICES', ackOverdueMinutes: 30 }), { 'content-type': 'application/json' })).status).toBe(201);
    const hosp = (await h.api('GET', '/api/v1/partners')).json.items.find((p: any) => p.interchangeId === 'STMARYHOSP');
    const ship = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify([
      { movementId: 'SHIP-77-1', type: 'ship', occurredAt: '2026-03-10T12:00:00Z', location: 'DOCK-1', gtin: '04012345000016', lot: 'S2603A', expiry: '2028-02-29', serial: 'SN-0001', quantity: 1, uom: 'EA', shipTo: '0614141000029', reference: { shipment: 'SHP-OUT-77' } },
      { movementId: 'SHIP-77-2', type: 'ship', occurredAt: '2026-03-10T12:00:00Z', location: 'DOCK-1', gtin: '04012345000023', lot: 'C7F-2602', quantity: 10, uom: 'EA', shipTo: '0614141000029', reference: { shipment: 'SHP-OUT-77' } },
    ]), { 'content-type': 'application/json' });
    expect((await h.waitForStatus(ship.json.messageId)).status).toBe('processed');
    const s = await h.hub.db('shipments').where({ shipment_number: 'SHP-OUT-77', direction: 'outbound' }).first();
    const r = await h.api('POST', `/api/v1/partners/${hosp.id}/outbound`, JSON.stringify({ type: '856', shipmentId: s.id }), { 'content-type': 'application/json' });
    expect(r.status).toBe(201);
    const doc = readX12Message(Buffer.from(r.json.raw)).sets[0].doc as any;
    expect(doc).toMatchObject({ asnNumber: 'SHP-OUT-77', shipTo: { gln: '0614141000029' } });
    expect(doc.items.map((i: any) => [i.gtin, i.lot, i.quantity, i.serials])).toEqual([['04012345000016', 'S2603A', 1, ['SN-0001']], ['04012345000023', 'C7F-2602', 10, []]]);

    expect(await runEdiMonitor(h.hub.db, new Date(Date.now() + 10 * 60_000))).toEqual({ ackMissing: 0, late: 0 });
    expect(await runEdiMonitor(h.hub.db, new Date(Date.now() + 31 * 60_000))).toEqual({ ackMissing: 1, late: 0 });
    expect(await runEdiMonitor(h.hub.db, new Date(Date.now() + 32 * 60_000))).toEqual({ ackMissing: 0, late: 0 });
    const alert = await h.hub.db('alerts').where({ type: 'partner_ack_missing', status: 'open' }).first();
    expect(alert).toMatchObject({ subject_id: hosp.id });
    expect(alert.details).toMatchObject({ type: '856', controlNumber: r.json.controlNumber });
  });

  it('opens shipment_late for an inbound ASN still in transit after its expected delivery date', async () => {
    await h.api('PUT', `/api/v1/partners/${partnerId}`, JSON.stringify({ name: 'MedSupply GmbH' }), { 'content-type': 'application/json' });
    expect((await postAndWait(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'))).status).toBe('processed');
    expect((await runEdiMonitor(h.hub.db, new Date('2026-03-04T23:00:00Z'))).late).toBe(0);
    expect((await runEdiMonitor(h.hub.db, new Date('2026-03-05T08:00:00Z'))).late).toBe(1);
    const a = await h.hub.db('alerts').where({ type: 'shipment_late' }).first();
    expect(a.message).toBe('ASN ASN-20260302-01 expected 2026-03-04 has not arrived');
  });
});
