import type { TestHub } from '../../helpers/start-hub';
import { ediVariant, postAndWait, setCaseSize, startEdiHubWithCaseMaterials } from '../../helpers/edi';

/**
 * ASN-vs-receipt matching in base units: the 856 announces lot K4-2603 as 2 cases of a case GTIN
 * (10 each) plus two serials of the each GTIN, and 12 drapes by part number only; receipts count in
 * base units (whatever GTIN the receiving dock scans), so 22 knee implants received is the lot
 * complete, not "20 over".
 */
describe('ASN-vs-receipt matching in base units (an ASN line in cases, receipts in eaches)', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startEdiHubWithCaseMaterials();
    expect((await postAndWait(h, 'x12', ediVariant('x12', '856-case-gtin-no-gtin-line.x12', []))).status).toBe('processed');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const receive = async (records: Array<Record<string, unknown>>): Promise<any> => {
    const r = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify(records.map((x) => ({
      type: 'receive', occurredAt: '2026-03-11T09:00:00Z', location: 'DOCK-1', stockState: 'pending_inspection', reference: { asn: 'ASN-20260310-07' }, ...x,
    }))), { 'content-type': 'application/json' });
    expect(r.status).toBe(202);
    return h.waitForStatus(r.json.messageId);
  };
  const discrepancies = async (): Promise<Array<[string, string, number, number]>> => {
    const s = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260310-07' }).first();
    const rows = await h.hub.db('alerts').where({ subject_id: s.id, type: 'asn_discrepancy', status: 'open' }).orderBy('opened_at');
    return rows.map((a: any) => [a.details.kind, a.details.lotNumber, a.details.announced, a.details.received]);
  };

  it('counts one case scanned at the dock as 10 of the 22 announced (short, not over)', async () => {
    const m = await receive([{ movementId: 'RU-1', gtin: '19506000134359', lot: 'K4-2603', quantity: 1, uom: 'CA' }]);
    expect([m.status, m.error]).toEqual(['processed', null]);
    expect(await discrepancies()).toEqual(expect.arrayContaining([['short', 'K4-2603', 22, 10]]));
    expect((await discrepancies()).filter(([k]) => k === 'over')).toEqual([]);
  });

  it('closes the lot when the rest arrives as eaches and serials (the shipment stays delivered: the drapes are short)', async () => {
    const m = await receive([
      { movementId: 'RU-2', gtin: '09506000134352', lot: 'K4-2603', quantity: 10, uom: 'EA' },
      { movementId: 'RU-3', gtin: '09506000134352', lot: 'K4-2603', serial: 'K4-SN-0101', quantity: 1, uom: 'EA' },
      { movementId: 'RU-4', gtin: '09506000134352', lot: 'K4-2603', serial: 'K4-SN-0102', quantity: 1, uom: 'EA' },
    ]);
    expect([m.status, m.error]).toEqual(['processed', null]);
    // the drapes (named by part number only) are still outstanding
    expect(await discrepancies()).toEqual([['short', 'DR-2603', 12, 0]]);
    const lot = (await h.api('GET', '/api/v1/lots?gtin=09506000134352&lot=K4-2603')).json;
    expect(lot.balances.map((b: any) => [b.location, b.stockState, b.quantity]).sort()).toEqual([['DOCK-1', 'pending_inspection', 22]]);
    const lines = await h.hub.db('shipment_lines as l').join('shipments as s', 's.id', 'l.shipment_id').where('s.shipment_number', 'ASN-20260310-07').orderBy('l.line_no')
      .select('l.lot_number', 'l.serial_number', 'l.quantity_shipped', 'l.uom', 'l.quantity_received');
    expect(lines.map((l: any) => [l.lot_number, l.serial_number, Number(l.quantity_shipped), l.uom, l.quantity_received === null ? null : Number(l.quantity_received)])).toEqual([
      // quantity_received counts base units: 20 eaches against 2 cases of 10
      ['K4-2603', null, 2, 'CA', 20],
      ['K4-2603', 'K4-SN-0101', 1, 'EA', 1],
      ['K4-2603', 'K4-SN-0102', 1, 'EA', 1],
      ['DR-2603', null, 12, 'EA', null],
    ]);
    expect((await h.hub.db('shipments').where({ shipment_number: 'ASN-20260310-07' }).first()).status).toBe('delivered');
  });
});

/**
 * The same ASN with cases of 12, and the case size changed to 10 in master data after the ASN came:
 * receipts count with the factor the ASN was booked with (its shipping event's items), and eaches
 * that do not divide into cases (3 × 8 against 2 cases of 12) leave no remainder on another line.
 */
describe('ASN-vs-receipt matching with the factor the ASN was booked with (cases of 12)', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startEdiHubWithCaseMaterials(12);
    expect((await postAndWait(h, 'x12', ediVariant('x12', '856-case-gtin-no-gtin-line.x12', []))).status).toBe('processed');
    await setCaseSize(h, 10);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('completes lot K4-2603 with 3 × 8 eaches and the two serials (2 × 12 + 2 = 26)', async () => {
    const r = await h.api('POST', '/api/v1/ingest/wms', JSON.stringify([
      { movementId: 'R12-1', quantity: 8 },
      { movementId: 'R12-2', quantity: 8 },
      { movementId: 'R12-3', quantity: 8 },
      { movementId: 'R12-4', serial: 'K4-SN-0101', quantity: 1 },
      { movementId: 'R12-5', serial: 'K4-SN-0102', quantity: 1 },
    ].map((x) => ({
      type: 'receive', occurredAt: '2026-03-11T09:00:00Z', location: 'DOCK-1', stockState: 'pending_inspection', reference: { asn: 'ASN-20260310-07' },
      gtin: '09506000134352', lot: 'K4-2603', uom: 'EA', ...x,
    }))), { 'content-type': 'application/json' });
    expect(r.status).toBe(202);
    const m = await h.waitForStatus(r.json.messageId);
    expect([m.status, m.error]).toEqual(['processed', null]);
    const s = await h.hub.db('shipments').where({ shipment_number: 'ASN-20260310-07' }).first();
    const open = await h.hub.db('alerts').where({ subject_id: s.id, type: 'asn_discrepancy', status: 'open' }).orderBy('opened_at');
    expect(open.map((a: any) => [a.details.kind, a.details.lotNumber, a.details.announced, a.details.received])).toEqual([['short', 'DR-2603', 12, 0]]);
    const lines = await h.hub.db('shipment_lines').where({ shipment_id: s.id }).orderBy('line_no').select('serial_number', 'quantity_received');
    expect(lines.map((l: any) => [l.serial_number, l.quantity_received === null ? null : Number(l.quantity_received)])).toEqual([
      [null, 24], ['K4-SN-0101', 1], ['K4-SN-0102', 1], [null, null],
    ]);
    // the in-transit stock the ASN booked (2 × 12 + 2) is all taken back
    const lot = (await h.api('GET', '/api/v1/lots?gtin=09506000134352&lot=K4-2603')).json;
    expect(lot.balances.map((b: any) => [b.stockState, b.quantity]).sort()).toEqual([['pending_inspection', 26]]);
  });
});
