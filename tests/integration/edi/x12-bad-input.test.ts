import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { ediFixture, postAndWait, postEdi, x12Segments } from '../../helpers/edi';

const seg = (raw: string, id: string): string[] | undefined => x12Segments(raw).find((s) => s[0] === id);
const segs = (raw: string, id: string): string[][] => x12Segments(raw).filter((s) => s[0] === id);

describe('x12 bad input: stored, rejected with a code and location, answered with TA1 or 997 as the standard says', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_EDI_UNKNOWN_PARTNERS: 'accept' } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it.each([
    ['856-isa-short-sender-padding.x12', 'LB_ERR_X12_ISA_LENGTH', { segment: 'ISA', field: 'ISA06', line: 1 }, '022'],
    ['856-separators-collide.x12', 'LB_ERR_X12_SEPARATORS', { segment: 'ISA', field: 'ISA16', line: 1 }, '027'],
    ['856-iea-count-wrong.x12', 'LB_ERR_X12_IEA_MISMATCH', { segment: 'IEA', field: 'IEA01' }, '021'],
    ['856-truncated-no-iea.x12', 'LB_ERR_X12_TRUNCATED', { segment: 'DTM', line: 13 }, '023'],
  ])('%s: rejected with %s and a TA1 R with note %s', async (file, code, location, note) => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', file));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code, location });
    expect(m.ack).toMatchObject({ type: 'TA1', status: 'rejected' });
    const ta1 = seg(m.ack.raw, 'TA1');
    expect(ta1?.[4]).toBe('R');
    expect(ta1?.[5]).toBe(note);
    expect(seg(m.ack.raw, 'GS')).toBeUndefined();
    expect(await h.hub.db('outbox_events').where({ source_message_id: m.id, type: 'edi.ack' })).toHaveLength(1);
  });

  it.each([
    ['856-bsn-missing.x12', 'LB_ERR_X12_SEGMENT_MISSING', { segment: 'BSN', path: 'set segment 2' }, ['AK3', 'BSN', '2', '', '3'], undefined, '5'],
    ['856-hl-parent-missing.x12', 'LB_ERR_X12_HL_HIERARCHY', { segment: 'HL', field: 'HL02', line: 10 }, ['AK3', 'HL', '8', 'HL', '8'], ['AK4', '2', '', '7', '7'], '5'],
    ['856-hl-skips-order-level.x12', 'LB_ERR_X12_HL_HIERARCHY', { segment: 'HL', field: 'HL02', line: 10 }, ['AK3', 'HL', '8', 'HL', '8'], ['AK4', '2', '', '7', '1'], '5'],
    ['856-quantity-not-numeric.x12', 'LB_ERR_X12_NUMBER', { segment: 'SN1', field: 'SN102', line: 12 }, ['AK3', 'SN1', '10', '', '8'], ['AK4', '2', '', '6', 'ten'], '5'],
    ['856-expiry-date-invalid.x12', 'LB_ERR_X12_DATE', { segment: 'DTM', field: 'DTM02', line: 13 }, ['AK3', 'DTM', '11', '', '8'], ['AK4', '2', '', '8', '20241345'], '5'],
  ])('%s: rejected with %s and a 997 naming the segment (AK3) and element (AK4)', async (file, code, location, ak3, ak4, ak5) => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', file));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code, location });
    expect(m.ack).toMatchObject({ type: '997', status: 'rejected' });
    expect(seg(m.ack.raw, 'AK3')).toEqual(ak3);
    if (ak4) expect(seg(m.ack.raw, 'AK4')).toEqual(ak4);
    else expect(seg(m.ack.raw, 'AK4')).toBeUndefined();
    expect(seg(m.ack.raw, 'AK5')).toEqual(['AK5', 'R', ak5]);
    expect(seg(m.ack.raw, 'AK9')).toEqual(['AK9', 'R', '1', '1', '0']);
  });

  it('rejects a group whose GE02 does not match GS06: AK9 R with code 4', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-ge-control-mismatch.x12'));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code: 'LB_ERR_X12_GE_MISMATCH', location: { segment: 'GE', field: 'GE02' } });
    expect(seg(m.ack.raw, 'AK5')).toEqual(['AK5', 'A']);
    expect(seg(m.ack.raw, 'AK9')).toEqual(['AK9', 'R', '1', '1', '0', '4']);
  });

  it('takes the 856 and rejects the unsupported 940 of one group: 997 AK9 P, message processed with a record error', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-and-940-unsupported-set.x12'));
    expect(m.status).toBe('processed');
    expect(m.messageType).toBe('856,940');
    expect(m.recordErrors).toEqual([expect.objectContaining({ code: 'LB_ERR_X12_SET_UNSUPPORTED', location: expect.objectContaining({ segment: 'ST', field: 'ST01' }) })]);
    expect(m.ack).toMatchObject({ type: '997', status: 'partial' });
    expect(segs(m.ack.raw, 'AK2')).toEqual([['AK2', '856', '0001'], ['AK2', '940', '0002']]);
    expect(segs(m.ack.raw, 'AK5')).toEqual([['AK5', 'A'], ['AK5', 'R', '1']]);
    expect(seg(m.ack.raw, 'AK9')).toEqual(['AK9', 'P', '2', '2', '1']);
    expect(await h.hub.db('shipments').where({ shipment_number: 'ASN-PARTIAL-1' })).toHaveLength(1);
  });

  it('stores each interchange of a file that holds two as its own message, each with its own 997', async () => {
    const r = await postEdi(h, 'x12', ediFixture('x12', '856-two-interchanges-one-file.x12'));
    expect(r.status).toBe(202);
    expect(r.json.interchanges).toBe(2);
    const ids = r.json.receipts.map((x: any) => x.messageId);
    const ms = await Promise.all(ids.map((id: string) => h.waitForStatus(id)));
    expect(ms.map((m) => [m.status, m.controlId, m.ack.type, m.ack.status])).toEqual([
      ['processed', '000005011', '997', 'accepted'],
      ['processed', '000005012', '997', 'accepted'],
    ]);
    expect(ms[0].ack.controlNumber).not.toBe(ms[1].ack.controlNumber);
    expect(await h.lotTotal('04012345000030', 'GW-2604')).toBe(6);
  });

  it('reads a file with a UTF-8 BOM and non-breaking spaces in the ISA padding (with a warning), and puts the TA1 the ISA14 asks for in the 997', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-bom-nbsp-isa-padding.x12'));
    expect(m.status).toBe('processed');
    expect(m.result.warnings).toEqual([expect.stringContaining('non-breaking spaces')]);
    expect(seg(m.ack.raw, 'TA1')).toEqual(['TA1', '000005013', '260305', '1410', 'A', '000']);
    expect(m.ack.type).toBe('997');
    expect(await h.lotTotal('04012345000030', 'GW-2605')).toBe(12);
  });

  it('rejects an empty body at intake (422 LB_ERR_INGEST_EMPTY), stored', async () => {
    const r = await postEdi(h, 'x12', Buffer.alloc(0));
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('LB_ERR_INGEST_EMPTY');
    const m = (await h.api('GET', `/api/v1/messages/${r.json.messageId}`)).json;
    expect(m.status).toBe('rejected');
  });

  it('refuses a 50 MB file with 413 and keeps only its metadata (no out-of-memory)', async () => {
    const one = ediFixture('x12', '856-serials-sln-crlf.x12');
    const big = Buffer.alloc(50 * 1024 * 1024, 0x20);
    one.copy(big);
    const r = await postEdi(h, 'x12', big);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('LB_ERR_INGEST_TOO_LARGE');
    const m = (await h.api('GET', `/api/v1/messages/${r.json.messageId}`)).json;
    expect(m).toMatchObject({ status: 'rejected', payloadStored: false, sizeBytes: 50 * 1024 * 1024 });
  });

  it('answers a body that is no X12 with 422 LB_ERR_X12_NOT_X12', async () => {
    const r = await postEdi(h, 'x12', Buffer.from("UNB+UNOA:3+X+Y+260301:1200+1'"));
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({ code: 'LB_ERR_X12_NOT_X12', location: { line: 1 } });
  });
});

describe('x12 from an unknown sender (LOTBRIDGE_EDI_UNKNOWN_PARTNERS=reject, the default)', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('rejects it with LB_ERR_EDI_PARTNER_UNKNOWN and a TA1 006, maps nothing, and does not make the sender a partner', async () => {
    const m = await postAndWait(h, 'x12', ediFixture('x12', '856-unknown-sender.x12'));
    expect(m.status).toBe('rejected');
    expect(m.error).toMatchObject({ code: 'LB_ERR_EDI_PARTNER_UNKNOWN', location: { segment: 'ISA', field: 'ISA06' } });
    expect(m.ack).toMatchObject({ type: 'TA1', status: 'rejected' });
    expect(seg(m.ack.raw, 'TA1')).toEqual(['TA1', '000005014', '260305', '1410', 'R', '006']);
    expect(await h.hub.db('shipments').where({ shipment_number: 'ASN-UNKNOWN' })).toHaveLength(0);
    const rec = await h.hub.db('edi_partners').where({ interchange_id: 'STRANGER9' });
    expect(rec).toEqual([expect.objectContaining({ active: false })]);
    // a second interchange of the same sender is rejected too (the record is no partner)
    const again = await postAndWait(h, 'x12', Buffer.from(ediFixture('x12', '856-unknown-sender.x12').toString('latin1').replace(/5014/g, '5015')));
    expect(again.status).toBe('rejected');
  });
});
