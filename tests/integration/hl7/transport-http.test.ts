import { startTestHub, type TestHub } from '../../helpers/start-hub';
import {
  countRows, hl7Fixture, hl7HubEnv, messagesOf, mllpPortOf, mllpSend, parseAck, payloadOf, setHl7Field, singleImplantDft, waitStoredAck,
} from '../../helpers/hl7';

const MAX_BODY_BYTES = 64 * 1024;

/** POST /api/v1/ingest/hl7 with the hub's admin key (which has the ingest role). */
async function post(h: TestHub, body: Buffer, contentType: string | undefined): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${h.url}/api/v1/ingest/hl7`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${h.key}`, ...(contentType ? { 'content-type': contentType } : {}) },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/*
 * HL7 over HTTP (the built-in `hl7` instance): 200 with the ACK as the body whatever its code, the
 * receipt in LotBridge-Message-Id / LotBridge-Status; 415 for a body that is not HL7 by its type.
 */
describe('hl7 over HTTP: POST /api/v1/ingest/hl7', () => {
  let h: TestHub;
  const cfg = hl7HubEnv([], { LOTBRIDGE_MAX_BODY_BYTES: String(MAX_BODY_BYTES) });

  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  it.each([
    ['x-application/hl7-v2+er7', 1],
    ['text/plain', 2],
    ['text/plain; charset=utf-8', 3],
  ])('answers %s with 200, the ACK (AA, MSA-2 = MSH-10) as body and the receipt in the headers', async (contentType, n) => {
    const { payload, controlId } = singleImplantDft(n, { controlIdPrefix: 'HTTP' });
    const res = await post(h, payload, contentType);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^x-application\/hl7-v2\+er7; charset=UTF-8/i);
    const ack = parseAck(res.body);
    expect(ack).toMatchObject({ code: 'AA', controlId });
    expect(ack.errs).toEqual([]);
    const [row] = await messagesOf(h, controlId);
    expect(res.headers.get('lotbridge-message-id')).toBe(row.id);
    expect(res.headers.get('lotbridge-status')).toBe('accepted');
    expect(row.connector_id).toBe('hl7');
    const m = await h.waitForStatus(row.id);
    expect(m).toMatchObject({ status: 'processed', transport: 'http', messageType: 'DFT^P03' });
    expect(await waitStoredAck(h, row.id)).toMatchObject({ code: 'AA', raw: res.body.toString('latin1') });
    expect(await countRows(h, 'device_usages', { source_message_id: row.id })).toBe(1);
  });

  it('answers a resend with 200, LotBridge-Status duplicate and the first ACK, over HTTP and across transports (MLLP then HTTP)', async () => {
    const { payload, controlId } = singleImplantDft(10, { controlIdPrefix: 'HTTP' });
    const first = await post(h, payload, 'x-application/hl7-v2+er7');
    const [firstRow] = await messagesOf(h, controlId);
    await waitStoredAck(h, firstRow.id);
    const again = await post(h, payload, 'text/plain');
    expect(again.status).toBe(200);
    expect(again.headers.get('lotbridge-status')).toBe('duplicate');
    expect(again.body.toString('latin1')).toBe(first.body.toString('latin1'));

    // one sender, two transports: the MLLP copy's ACK is the one the HTTP resend gets
    const other = singleImplantDft(11, { controlIdPrefix: 'HTTP' });
    const [viaMllp] = await mllpSend(mllpPortOf(h), other.payload);
    const [mllpRow] = await messagesOf(h, other.controlId);
    await waitStoredAck(h, mllpRow.id);
    const viaHttp = await post(h, other.payload, 'x-application/hl7-v2+er7');
    expect(viaHttp.headers.get('lotbridge-status')).toBe('duplicate');
    expect(viaHttp.body.toString('latin1')).toBe(viaMllp.toString('latin1'));
    expect((await h.waitForStatus(mllpRow.id)).status).toBe('processed');
    const rows = await messagesOf(h, other.controlId);
    expect(rows.map((r) => [r.connector_id, r.status, r.duplicate_of])).toEqual([['hl7-mllp', 'processed', null], ['hl7', 'duplicate', mllpRow.id]]);
    expect(await countRows(h, 'device_usages', { source_message_id: rows[1].id })).toBe(0);
  });

  it('answers an unreadable message (no MSH) with 200 and an AR carrying the error, and stores it rejected', async () => {
    const msg = hl7Fixture('missing-msh.hl7');
    const res = await post(h, msg, 'x-application/hl7-v2+er7');
    expect(res.status).toBe(200);
    expect(res.headers.get('lotbridge-status')).toBe('rejected');
    const ack = parseAck(res.body);
    expect(ack.code).toBe('AR');
    expect(ack.errs[0]).toMatchObject({ lbCode: 'LB_ERR_HL7_MSH_MISSING', hl7Code: '100', severity: 'E' });
    const id = res.headers.get('lotbridge-message-id')!;
    const m = (await h.api('GET', `/api/v1/messages/${id}`)).json;
    expect(m).toMatchObject({ status: 'rejected', transport: 'http', error: { code: 'LB_ERR_HL7_MSH_MISSING', location: { segment: 'MSH' } } });
  });

  it('answers a batch file that holds no message with 200 and one AR, and stores it rejected', async () => {
    const file = hl7Fixture('transport/batch-fhs-bhs-no-messages.hl7');
    const res = await post(h, file, 'x-application/hl7-v2+er7');
    expect(res.status).toBe(200);
    expect(res.headers.get('lotbridge-status')).toBe('rejected');
    const ack = parseAck(res.body);
    expect(ack.code).toBe('AR');
    expect(ack.errs.map((e) => e.lbCode)).toEqual(['LB_ERR_HL7_MSH_MISSING']);
    const m = (await h.api('GET', `/api/v1/messages/${res.headers.get('lotbridge-message-id')}`)).json;
    expect(m).toMatchObject({ status: 'rejected', transport: 'http', error: { code: 'LB_ERR_HL7_MSH_MISSING' } });
  });

  it('answers an unknown version with AR whose ERR points at MSH-12', async () => {
    const res = await post(h, hl7Fixture('adt-a01-unknown-version-2.99.hl7'), 'text/plain');
    expect(res.status).toBe(200);
    const ack = parseAck(res.body);
    expect(ack).toMatchObject({ code: 'AR', controlId: 'HIS-A01-99001' });
    expect(ack.errs[0]).toMatchObject({ lbCode: 'LB_ERR_HL7_VERSION', hl7Code: '203' });
    expect(ack.errs[0].location.slice(0, 3)).toEqual(['MSH', '1', '12']);
    expect(res.headers.get('lotbridge-status')).toBe('rejected');
  });

  it.each([['application/json'], ['application/xml'], ['image/png']])('refuses Content-Type %s with 415 and stores nothing', async (contentType) => {
    const before = await countRows(h, 'inbound_messages');
    const res = await post(h, singleImplantDft(20, { controlIdPrefix: 'HTTP-415' }).payload, contentType);
    expect(res.status).toBe(415);
    const body = JSON.parse(res.body.toString('utf8')) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('LB_ERR_INGEST_UNSUPPORTED_MEDIA');
    expect(body.error.message).toContain(contentType);
    expect(await countRows(h, 'inbound_messages')).toBe(before);
  });

  it('answers a batch file with 200 and a batch of ACKs, each message stored on its own and named in the headers', async () => {
    const batch = setHl7Field(setHl7Field(hl7Fixture('batch-fhs-bhs-3-messages.hl7'), 'FHS', 11, 'FILE-0303-HTTP'), 'BHS', 11, 'BATCH-0303-HTTP');
    const res = await post(h, batch, 'x-application/hl7-v2+er7');
    expect(res.status).toBe(200);
    const lines = res.body.toString('latin1').split('\r').filter(Boolean);
    expect(lines[0].startsWith('BHS|')).toBe(true);
    expect(lines[lines.length - 1]).toBe('BTS|3');
    expect(lines.filter((l) => l.startsWith('MSA|'))).toEqual(['MSA|AA|B-0001', 'MSA|AA|B-0002', 'MSA|AA|B-0003']);
    const ids = res.headers.get('lotbridge-message-id')!.split(',');
    expect(ids).toHaveLength(3);
    expect(res.headers.get('lotbridge-status')).toBe('accepted,accepted,accepted');
    for (const [i, id] of ids.entries()) {
      const m = (await h.api('GET', `/api/v1/messages/${id}`)).json;
      expect(m).toMatchObject({ controlId: `B-000${i + 1}`, transport: 'http', connectorId: 'hl7' });
    }
  });

  it('keeps an ISO-8859-1 message intact and answers in ISO-8859-1', async () => {
    const msg = setHl7Field(hl7Fixture('transport/dft-p03-v282-iso-8859-1-umlauts.hl7'), 'MSH', 10, 'KS-DFT-HTTP-1');
    const res = await post(h, msg, 'text/plain; charset=ISO-8859-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/charset=ISO-8859-1/i);
    expect(parseAck(res.body)).toMatchObject({ code: 'AA', controlId: 'KS-DFT-HTTP-1' });
    const id = res.headers.get('lotbridge-message-id')!;
    expect((await payloadOf(h, id)).bytes.toString('latin1')).toContain('Müller^Jürgen');
    expect((await h.waitForStatus(id)).status).toBe('processed');
  });

  it('reads a message without MSH-18 sent with charset=windows-1252 in that code page, and answers in it', async () => {
    // “ ” – € Š as windows-1252 bytes 0x93 0x94 0x96 0x80 0x8A (not C1 controls)
    const msg = Buffer.concat([
      Buffer.from('MSH|^~\\&|ORIS|KLINIKUM-SUED|LOTBRIDGE|MEDTECH|20260316091500+0100||ADT^A01^ADT_A01|KS-CP1252-1|P|2.5.1\rEVN|A01|20260316091500+0100\rPID|1||K-1^^^KSUED^MR||', 'latin1'),
      Buffer.from([0x8a, 0x69, 0x6d, 0x6b, 0x6f, 0x76, 0xe1, 0x5e, 0x93, 0x4a, 0x61, 0x6e, 0x61, 0x94, 0x20, 0x96, 0x20, 0x80]),
      Buffer.from('\rPV1|1|I|CHIR2^214^1^KSUED\r', 'latin1'),
    ]);
    const res = await post(h, msg, 'x-application/hl7-v2+er7; charset=windows-1252');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/charset=windows-1252/i);
    expect(parseAck(res.body)).toMatchObject({ code: 'AA', controlId: 'KS-CP1252-1' });
    const [row] = await messagesOf(h, 'KS-CP1252-1');
    expect(row.encoding).toBe('WINDOWS-1252');
    expect((await payloadOf(h, row.id)).bytes.equals(msg)).toBe(true);
    expect((await h.waitForStatus(row.id)).status).toBe('routed');
  });

  it('reads a batch file without MSH-18 in the charset its Content-Type names, as it does a single message', async () => {
    const file = hl7Fixture('transport/batch-bhs-latin1-without-msh18.hl7');
    const res = await post(h, file, 'x-application/hl7-v2+er7; charset=ISO-8859-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('lotbridge-status')).toBe('accepted,accepted');
    expect(res.body.toString('latin1').split('\r').filter((l) => l.startsWith('MSA|'))).toEqual(['MSA|AA|SE-0308-1', 'MSA|AA|SE-0308-2']);
    const [row] = await messagesOf(h, 'SE-0308-2');
    expect(row.encoding).toBe('8859/1');
    expect((await payloadOf(h, row.id)).bytes.toString('latin1')).toContain('Schäfer^Käthe');
    expect((await h.waitForStatus(row.id)).status).toBe('routed');
  });

  it('always answers over HTTP, even when MSH-15 says NE (the HTTP response is the answer)', async () => {
    const res = await post(h, hl7Fixture('transport/dft-p03-v282-enhanced-accept-never.hl7'), 'x-application/hl7-v2+er7');
    expect(res.status).toBe(200);
    expect(parseAck(res.body)).toMatchObject({ code: 'CA', controlId: 'ORIS-20260315-001004' });
  });

  it('answers a body over LOTBRIDGE_MAX_BODY_BYTES with 200 and an AR, storing its metadata only', async () => {
    const big = Buffer.concat([singleImplantDft(30, { controlIdPrefix: 'HTTP-BIG' }).payload, Buffer.alloc(MAX_BODY_BYTES, 'NTE|1|L|padding\r')]);
    const res = await post(h, big, 'x-application/hl7-v2+er7');
    expect(res.status).toBe(200);
    expect(res.headers.get('lotbridge-status')).toBe('rejected');
    const ack = parseAck(res.body);
    expect(ack.code).toBe('AR');
    expect(ack.errs.map((e) => e.lbCode)).toContain('LB_ERR_INGEST_TOO_LARGE');
    const m = (await h.api('GET', `/api/v1/messages/${res.headers.get('lotbridge-message-id')}`)).json;
    expect(m).toMatchObject({ status: 'rejected', sizeBytes: big.length, payloadStored: false, error: { code: 'LB_ERR_INGEST_TOO_LARGE' } });
  });
});
