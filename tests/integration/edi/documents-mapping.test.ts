import { v7 as uuidv7 } from 'uuid';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, postAndWait } from '../../helpers/edi';

/** Our own purchase order to the supplier (as the reorder flow writes it). */
async function outboundPo(h: TestHub, number: string, lines: Array<[number, number]>): Promise<string> {
  const id = uuidv7();
  await h.hub.db('purchase_orders').insert({ id, po_number: number, direction: 'outbound', status: 'open', origin: 'reorder' });
  for (const [lineNo, qty] of lines) await h.hub.db('po_lines').insert({ po_id: id, line_no: lineNo, quantity: qty, uom: 'EA' });
  return id;
}

describe('EDI documents into the canonical model: 850/ORDERS, 855/ORDRSP, 810/INVOIC, 846/INVRPT, 861/RECADV', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
    expect((await postAndWait(h, 'x12', ediFixture('x12', '856-serials-sln-crlf.x12'))).status).toBe('processed');
    expect((await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-unoc-release-serials.edi'))).status).toBe('processed');
    // our shipment SHP-OUT-9 to St. Mary (a WMS ship movement)
    const ship = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify({ movementId: 'SHIP-9', type: 'ship', occurredAt: '2026-03-09T12:00:00Z', location: 'DOCK-1', gtin: '04012345000023', lot: 'C7F-2602', quantity: 10, uom: 'EA', shipTo: '0614141000029', reference: { shipment: 'SHP-OUT-9' } }), { 'content-type': 'application/json' });
    expect((await h.waitForStatus(ship.json.messageId)).status).toBe('processed');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('850: a customer order becomes an inbound purchase order with its lines (unknown GTIN kept on the line)', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '850-customer-order-two-lines.x12'));
    expect(m.status).toBe('processed');
    expect(m.ack).toMatchObject({ type: '997', status: 'accepted' });
    const po = await h.hub.db('purchase_orders').where({ po_number: 'HOSP-PO-5531', direction: 'inbound' }).first();
    expect(po).toMatchObject({ status: 'open', origin: 'edi' });
    const buyer = await h.hub.db('parties').where({ id: po.buyer_party_id }).first();
    expect(buyer.gln).toBe('0614141000029');
    const lines = await h.hub.db('po_lines').where({ po_id: po.id }).orderBy('line_no');
    expect(lines.map((l: any) => [l.line_no, Number(l.quantity), l.uom, l.unit_price === null ? null : Number(l.unit_price), l.gtin, l.material_id !== null])).toEqual([
      [1, 12, 'EA', 412.5, '04012345000016', true],
      [2, 30, 'EA', null, '04012345000054', false],
    ]);
    expect(String(lines[0].requested_at).slice(0, 10)).toBe('2026-03-17');
    const ev = await h.hub.db('outbox_events').where({ source_message_id: m.id, type: 'edi.document' }).first();
    expect(ev.payload.kind).toBe('order');
  });

  it('ORDERS: the same from EDIFACT, with a comma decimal price', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'orders-customer-order.edi'));
    expect(m.status).toBe('processed');
    const po = await h.hub.db('purchase_orders').where({ po_number: 'HOSP-ORD-77', direction: 'inbound' }).first();
    const lines = await h.hub.db('po_lines').where({ po_id: po.id }).orderBy('line_no');
    expect(lines.map((l: any) => [Number(l.quantity), l.unit_price === null ? null : Number(l.unit_price), l.vendor_part])).toEqual([[6, 95, null], [10, null, 'GW-035']]);
  });

  it('855 / ORDRSP: the supplier answer marks our purchase order acknowledged with confirmed quantities per line', async () => {
    const po100 = await outboundPo(h, 'PO-OUT-100', [[1, 50], [2, 20]]);
    expect((await postAndWait(h, 'x12', ediFixture('x12', '855-po-ack-line-changed.x12'))).status).toBe('processed');
    expect(await h.hub.db('purchase_orders').where({ id: po100 }).first()).toMatchObject({ status: 'acknowledged', response_code: 'AC' });
    expect((await h.hub.db('po_lines').where({ po_id: po100 }).orderBy('line_no')).map((l: any) => [Number(l.quantity_confirmed), l.line_status])).toEqual([[50, 'IA'], [15, 'IQ']]);
    const po200 = await outboundPo(h, 'PO-OUT-200', [[1, 50], [2, 20], [3, 5]]);
    expect((await postAndWait(h, 'edifact', ediFixture('edifact', 'ordrsp-po-partly-accepted.edi'))).status).toBe('processed');
    expect((await h.hub.db('po_lines').where({ po_id: po200 }).orderBy('line_no')).map((l: any) => [Number(l.quantity_confirmed), l.line_status])).toEqual([[50, '5'], [12, '3'], [0, '7']]);
  });

  it('810 / INVOIC: invoices linked to their purchase order and ASN', async () => {
    const po = await h.hub.db('purchase_orders').where({ po_number: 'PO-88120' }).first();
    expect(po).toBeUndefined(); // the PO of this ASN is not in LotBridge: the invoice keeps its number
    const m = await postAndWait(h, 'x12', ediFixture('x12', '810-invoice-linked-po-asn.x12'));
    expect(m.status).toBe('processed');
    const inv = await h.hub.db('invoices').where({ invoice_number: 'INV-2026-0441' }).first();
    const asn = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260302-01' }).first();
    expect(inv).toMatchObject({ po_number: 'PO-88120', asn_number: 'ASN-20260302-01', shipment_id: asn.id, currency: 'EUR', po_id: null });
    expect(Number(inv.total)).toBe(8150);
    expect(inv.lines).toHaveLength(2);
    const m2 = await postAndWait(h, 'edifact', ediFixture('edifact', 'invoic-linked-desadv.edi'));
    expect(m2.status).toBe('processed');
    const inv2 = await h.hub.db('invoices').where({ invoice_number: 'INV-DE-991' }).first();
    const des = await h.hub.db('shipments').where({ shipment_number: 'DES-77120' }).first();
    expect(inv2).toMatchObject({ shipment_id: des.id, currency: 'EUR' });
    expect(Number(inv2.total)).toBe(1425);
  });

  it('846 / INVRPT: supplier and consignment stock snapshots per lot (our balances untouched)', async () => {
    const before = await h.lotTotal('04012345000016', 'S2603A');
    expect((await postAndWait(h, 'x12', ediFixture('x12', '846-consignment-stock-lots.x12'))).status).toBe('processed');
    expect((await postAndWait(h, 'edifact', ediFixture('edifact', 'invrpt-supplier-stock.edi'))).status).toBe('processed');
    const rows = await h.hub.db('supplier_stock_snapshots').orderBy('id');
    expect(rows.map((r: any) => [r.report_number, r.gtin, r.lot_number, r.qualifier, Number(r.quantity), r.expiry === null ? null : String(r.expiry).slice(0, 10)])).toEqual([
      ['INV-ADV-0310', '04012345000016', 'S2603A', '33', 4, '2028-02-29'],
      ['INV-ADV-0310', '04012345000023', 'C7F-2602', '33', 18, null],
      ['INV-ADV-0310', '04012345000023', 'C7F-2602', '17', 20, null],
      ['INVRPT-88', '04012345000016', 'S2603A', '145', 120, '2028-02-29'],
    ]);
    expect(rows.every((r: any) => r.material_id !== null)).toBe(true);
    expect(await h.lotTotal('04012345000016', 'S2603A')).toBe(before);
  });

  it('861 / RECADV: the customer receipt closes our shipment; discrepancy reasons become receiving-inspection findings', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '861-receipt-with-discrepancy.x12'));
    expect(m.status).toBe('processed');
    const ship = await h.hub.db('shipments').where({ shipment_number: 'SHP-OUT-9', direction: 'outbound' }).first();
    expect(ship.status).toBe('received');
    const lines = await h.hub.db('shipment_lines').where({ shipment_id: ship.id });
    expect(lines.map((l: any) => Number(l.quantity_received))).toEqual([8]);
    const m2 = await postAndWait(h, 'edifact', ediFixture('edifact', 'recadv-batch-expiry-discrepancy.edi'));
    expect(m2.status).toBe('processed');
    const lot = await h.hub.db('lots').where({ lot_number: 'C7F-2602' }).first();
    const findings = await h.hub.db('quality_results').where({ lot_id: lot.id, test_code: 'receiving_advice' }).orderBy('inspected_at');
    expect(findings.map((f: any) => [f.result, f.value])).toEqual([['fail', 'TD'], ['fail', 'BP/AV']]);
  });
});
