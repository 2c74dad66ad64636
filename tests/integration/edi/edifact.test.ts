import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, ediVariant, postAndWait, postEdi } from '../../helpers/edi';

/** Segments of an EDIFACT text (terminator ', release ?), each as elements of components. */
function edifactSegments(raw: string): string[][] {
  return raw.replace(/^UNA.{6}\n?/, '').split(/(?<!\?)'\n?/).filter((s) => s.length > 0).map((s) => s.split(/(?<!\?)\+/));
}
const segOf = (raw: string, tag: string): string[] | undefined => edifactSegments(raw).find((s) => s[0] === tag);
const segsOf = (raw: string, tag: string): string[][] => edifactSegments(raw).filter((s) => s[0] === tag);

describe('edifact DESADV: envelope, charsets, release characters, mapping and CONTRL', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('maps a UNOC DESADV with a released "+" in a name, CPS/GIN SSCC, GIN batches and serials, and answers a CONTRL accepting it', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-unoc-release-serials.edi'));
    expect(m.error).toBeNull();
    expect(m.status).toBe('processed');
    expect(m.messageType).toBe('DESADV');
    expect(m.controlId).toBe('DSP00017');
    expect(m.ack).toMatchObject({ type: 'CONTRL', status: 'accepted', controlNumber: '000000001' });
    expect(segOf(m.ack.raw, 'UNB')).toEqual(['UNB', 'UNOC:3', '0614141000012:14', '4012345000009:14', expect.stringMatching(/^\d{6}:\d{4}$/), '000000001', '', 'CONTRL']);
    expect(segOf(m.ack.raw, 'UNH')).toEqual(['UNH', '1', 'CONTRL:2:2:UN']);
    expect(segOf(m.ack.raw, 'UCI')).toEqual(['UCI', 'DSP00017', '4012345000009:14', '0614141000012:14', '7']);
    expect(segOf(m.ack.raw, 'UCM')).toEqual(['UCM', '1', 'DESADV:D:96A:UN:EAN005', '7']);
    expect(segOf(m.ack.raw, 'UNT')).toEqual(['UNT', '4', '1']);

    const stent = (await h.api('GET', '/api/v1/lots?gtin=04012345000016&lot=S2603B')).json;
    expect(stent.expiry).toBe('2028-01-31');
    const cath = (await h.api('GET', '/api/v1/lots?gtin=04012345000023&lot=C7F-2603X')).json;
    expect(cath.expiry).toBe('2027-09-30');
    expect(cath.balances).toEqual([expect.objectContaining({ stockState: 'in_transit', quantity: 15 })]);
    const db = h.hub.db;
    const ship = await db('shipments').where({ shipment_number: 'DES-77120', direction: 'inbound' }).first();
    expect(ship).toMatchObject({ status: 'in_transit', carrier: 'DHLDE', ship_to: '0614141000012' });
    expect(ship.shipped_at.toISOString()).toBe('2026-03-06T08:00:00.000Z');
    expect(ship.expected_at.toISOString()).toBe('2026-03-09T00:00:00.000Z');
    const lines = await db('shipment_lines').where({ shipment_id: ship.id }).orderBy('line_no');
    expect(lines.map((l: any) => [l.lot_number, l.serial_number, Number(l.quantity_shipped), l.sscc, l.po_number])).toEqual([
      ['S2603B', 'SN-1001', 1, '340123450000000018', 'PO-77001'],
      ['S2603B', 'SN-1002', 1, '340123450000000018', 'PO-77001'],
      ['C7F-2603X', null, 15, '340123450000000018', 'PO-77001'],
    ]);
    const supplier = await db('parties').where({ gln: '4012345000009' }).first();
    expect(supplier).toBeDefined();
    expect(ship.from_party_id).toBe(supplier.id);
  });

  it('decodes a UNOE (ISO-8859-5) interchange with a comma decimal mark and no line breaks', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-unoe-cyrillic-comma-decimal.edi'));
    expect(m.status).toBe('processed');
    expect(m.result).toMatchObject({ syntax: 'UNOE:3', charset: 'iso-8859-5' });
    expect(await h.lotTotal('04012345000030', 'GW-2606')).toBe(12);
    const party = await h.hub.db('parties').where({ gln: '4600000000008' }).first();
    expect(party).toBeDefined();
    expect(m.ack.raw.startsWith("UNA:+,? '")).toBe(true);
  });

  it('reads serials given as repetitions (syntax 4, UNA repetition separator *) in a UNOW interchange', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-syntax4-repetition.edi'));
    expect(m.status).toBe('processed');
    const ship = await h.hub.db('shipments').where({ shipment_number: 'DES-V4-01' }).first();
    const serials = (await h.hub.db('shipment_lines').where({ shipment_id: ship.id }).orderBy('line_no')).map((l: any) => l.serial_number);
    expect(serials).toEqual(['SN-2001', 'SN-2002', 'SN-2003']);
    expect(segOf(m.ack.raw, 'UNH')).toEqual(['UNH', '1', 'CONTRL:4:1:UN']);
  });

  it('answers a re-sent interchange as a duplicate with the first CONTRL and no second effect', async () => {
    const r = await postEdi(h, 'edifact', ediFixture('edifact', 'desadv-unoc-release-serials.edi'));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'duplicate', ack: { type: 'CONTRL', controlNumber: '000000001' } });
    expect(await h.lotTotal('04012345000023', 'C7F-2603X')).toBe(15);
  });

  it('takes the same control reference from the same sender id under another qualifier as another interchange, not a duplicate', async () => {
    // the fixture's sender 4012345000009 as a GLN (qualifier 14) sent DSP00017 above; as a mutually defined id (ZZZ) it is another party
    await postEdi(h, 'edifact', ediFixture('edifact', 'desadv-unoc-release-serials.edi')); // taken, or a duplicate when the test above ran
    const other = ediVariant('edifact', 'desadv-unoc-release-serials.edi', [['UNB+UNOC:3+4012345000009:14+', 'UNB+UNOC:3+4012345000009:ZZZ+']]);
    const r = await postEdi(h, 'edifact', other);
    expect(r.status).toBe(202);
    expect(r.json.status).not.toBe('duplicate');
    // and its own re-send is its duplicate
    const again = await postEdi(h, 'edifact', other);
    expect(again.json.status).toBe('duplicate');
  });

  it('rejects a UNT count off by one: CONTRL UCI 4, UCM 4 with 29 and UCS/UCD at the UNT', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-unt-count-off-by-one.edi'));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code: 'LB_ERR_EDIFACT_UNT_MISMATCH', location: { segment: 'UNT', field: '0074' } });
    expect(m.ack).toMatchObject({ type: 'CONTRL', status: 'rejected' });
    expect(segOf(m.ack.raw, 'UCI')?.[4]).toBe('4');
    expect(segOf(m.ack.raw, 'UCM')).toEqual(['UCM', '1', 'DESADV:D:96A:UN:EAN005', '4', '29']);
    expect(segOf(m.ack.raw, 'UCS')).toEqual(['UCS', '8']);
    expect(segOf(m.ack.raw, 'UCD')).toEqual(['UCD', '29', '1']);
  });

  it.each([
    ['desadv-bgm-missing.edi', 'LB_ERR_EDIFACT_SEGMENT_MISSING', { segment: 'BGM', path: 'message segment 2' }, ['UCS', '2', '13'], undefined],
    ['desadv-quantity-not-numeric.edi', 'LB_ERR_EDIFACT_NUMBER', { segment: 'QTY', line: 8 }, ['UCS', '6'], ['UCD', '37', '1:2']],
    ['desadv-expiry-date-invalid.edi', 'LB_ERR_EDIFACT_DATE', { segment: 'DTM', line: 10 }, ['UCS', '8'], ['UCD', '12', '1:2']],
  ])('%s: rejected with %s and a CONTRL naming the segment (UCS) and element (UCD)', async (file, code, location, ucs, ucd) => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', file));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code, location });
    expect(m.ack).toMatchObject({ type: 'CONTRL', status: 'rejected' });
    expect(segOf(m.ack.raw, 'UCS')).toEqual(ucs);
    if (ucd) expect(segOf(m.ack.raw, 'UCD')).toEqual(ucd);
  });

  it('rejects a UNZ whose reference differs from the UNB: UCI 4 with code 28', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-unz-reference-mismatch.edi'));
    expect(m.status).toBe('rejected');
    expect(m.error.code).toBe('LB_ERR_EDIFACT_UNZ_MISMATCH');
    expect(segOf(m.ack.raw, 'UCI')).toEqual(['UCI', 'BAD00008', '4012345000009:14', '0614141000012:14', '4', '28', 'UNZ', '2']);
    expect(segOf(m.ack.raw, 'UCM')).toBeUndefined();
  });

  it('takes the DESADV and rejects the unsupported IFTMIN of one interchange: CONTRL partial', async () => {
    const m = await postAndWait(h, 'edifact', ediFixture('edifact', 'desadv-and-iftmin-unsupported.edi'));
    expect(m.status).toBe('processed');
    expect(m.recordErrors).toEqual([expect.objectContaining({ code: 'LB_ERR_EDIFACT_MESSAGE_UNSUPPORTED' })]);
    expect(m.ack.status).toBe('partial');
    expect(segsOf(m.ack.raw, 'UCM').map((s) => [s[1], s[3], s[4]])).toEqual([['1', '7', undefined], ['2', '4', '14']]);
  });

  it('rejects a release character at the end of the data at intake (LB_ERR_EDIFACT_RELEASE), stored', async () => {
    const r = await postEdi(h, 'edifact', ediFixture('edifact', 'desadv-release-at-end-of-data.edi'));
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({ code: 'LB_ERR_EDIFACT_RELEASE', location: { segment: 'UNZ', line: 11 } });
    const m = (await h.api('GET', `/api/v1/messages/${r.json.messageId}`)).json;
    expect(m.status).toBe('rejected');
  });

  it('stores each interchange of a file with two as its own message', async () => {
    const r = await postEdi(h, 'edifact', ediFixture('edifact', 'desadv-two-interchanges-one-file.edi'));
    expect(r.status).toBe(202);
    expect(r.json.interchanges).toBe(2);
    const ms = await Promise.all(r.json.receipts.map((x: any) => h.waitForStatus(x.messageId)));
    expect(ms.map((m: any) => [m.status, m.controlId, m.ack.status])).toEqual([
      ['processed', 'TWO00001', 'accepted'],
      ['processed', 'TWO00002', 'accepted'],
    ]);
  });

  it('answers an empty body 422 LB_ERR_INGEST_EMPTY and a body that is no EDIFACT 422 LB_ERR_EDIFACT_NOT_EDIFACT', async () => {
    expect((await postEdi(h, 'edifact', Buffer.alloc(0))).json.error.code).toBe('LB_ERR_INGEST_EMPTY');
    const r = await postEdi(h, 'edifact', Buffer.from('ISA*00*'));
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('LB_ERR_EDIFACT_NOT_EDIFACT');
  });
});
