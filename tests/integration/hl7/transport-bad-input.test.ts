import { createHash } from 'node:crypto';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import {
  adtA01, countRows, hl7Fixture, hl7HubEnv, messagesOf, mllpFrame, mllpPortOf, mllpSend, parseAck, payloadOf, RawMllpPeer, setHl7Field, singleImplantDft, waitFor, waitStoredAck,
} from '../../helpers/hl7';

const MAX_MESSAGE_BYTES = 4096;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/*
 * Bad input over a real MLLP socket (issue 4 "Bad input"): every case gets an answer with a code
 * from the catalogue, is stored, and loses nothing; the connection stays usable. The built-in
 * `hl7-mllp` instance is configured through a connector config file with a small maxMessageBytes.
 */
describe('hl7 over MLLP: bad input and framing', () => {
  let h: TestHub;
  let port: number;
  const cfg = hl7HubEnv([
    { id: 'hl7-mllp', kind: 'hl7', config: { mllp: { enabled: true, maxMessageBytes: MAX_MESSAGE_BYTES } } },
    // a site whose engine writes Latin-1 without MSH-18, on a listener that closes idle connections quickly
    { id: 'hl7-latin1', kind: 'hl7', config: { mllp: { enabled: true, port: 0, idleTimeoutMs: 400 }, defaultCharset: '8859/1' } },
  ]);

  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
    port = mllpPortOf(h);
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  /** The rows stored for these exact bytes (sha256 of the plain payload). */
  const rowsOf = (bytes: Buffer): Promise<Array<{ id: string; status: string; error_code: string | null; error_message: string | null; error_location: Record<string, unknown> | null; size_bytes: number }>> =>
    h.hub.db('inbound_messages').where({ sha256: sha(bytes) }).orderBy('id').select('id', 'status', 'error_code', 'error_message', 'error_location', 'size_bytes');

  it('answers non-HL7 bytes inside a frame with AR + ERR (MSH missing) and stores them as rejected', async () => {
    const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: lotbridge\r\n\r\n', 'latin1');
    const peer = await RawMllpPeer.connect(port);
    await peer.write(mllpFrame(garbage));
    const [answer] = await peer.waitAnswers(1);
    const ack = parseAck(answer);
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe('');
    expect(ack.errs).toHaveLength(1);
    expect(ack.errs[0]).toMatchObject({ lbCode: 'LB_ERR_HL7_MSH_MISSING', hl7Code: '100', severity: 'E' });
    expect(ack.errs[0].location[0]).toBe('MSH');
    // the connection is still good
    const { payload, controlId } = adtA01(1, 'GARBAGE-AFTER');
    await peer.write(mllpFrame(payload));
    const [, next] = await peer.waitAnswers(2);
    expect(parseAck(next)).toMatchObject({ code: 'AA', controlId });
    peer.destroy();

    const [row] = await rowsOf(garbage);
    expect(row).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_HL7_MSH_MISSING' });
    expect(row.error_location).toMatchObject({ segment: 'MSH' });
    expect(await waitStoredAck(h, row.id)).toMatchObject({ type: 'ACK', code: 'AR', raw: answer.toString('latin1') });
    expect(Buffer.compare((await payloadOf(h, row.id)).bytes, garbage)).toBe(0);
  });

  it('answers unframed bytes on the socket (HL7 without VT) after a quiet moment with AR naming the MLLP error, stores them, and keeps the connection', async () => {
    const { payload, controlId } = adtA01(2, 'UNFRAMED');
    const peer = await RawMllpPeer.connect(port);
    await peer.write(payload); // no VT … FS CR
    const [answer] = await peer.waitAnswers(1);
    const ack = parseAck(answer);
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe(controlId); // the header could be read, so MSA-2 names it
    expect(ack.errs.map((e) => e.lbCode)).toContain('LB_ERR_MLLP_BYTES_OUTSIDE_FRAME');
    const good = adtA01(3, 'UNFRAMED');
    await peer.write(mllpFrame(good.payload));
    const [, next] = await peer.waitAnswers(2);
    expect(parseAck(next)).toMatchObject({ code: 'AA', controlId: good.controlId });
    peer.destroy();

    const [row] = await rowsOf(payload);
    expect(row).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', size_bytes: payload.length });
    expect(Buffer.compare((await payloadOf(h, row.id)).bytes, payload)).toBe(0);
    // a rejected message claims no dedup key: the same message sent framed is accepted
    expect((await messagesOf(h, controlId)).map((r) => r.status)).toEqual(['rejected']);
    const [framed] = await mllpSend(port, payload);
    expect(parseAck(framed)).toMatchObject({ code: 'AA', controlId });
  });

  it('stores stray bytes right before a frame as rejected but answers only the frame, so the sender reads its own ACK first', async () => {
    const { payload, controlId } = adtA01(4, 'PREFIXED');
    const junk = Buffer.from('\x00\x00KEEPALIVE', 'latin1');
    const before = (await h.hub.db('inbound_messages').where({ error_code: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME' }).count<Array<{ count: string }>>('* as count'))[0].count;
    const peer = await RawMllpPeer.connect(port);
    await peer.write(Buffer.concat([junk, mllpFrame(payload)]));
    const [answer] = await peer.waitAnswers(1);
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId });
    await new Promise((r) => setTimeout(r, 400));
    expect(peer.answers).toHaveLength(1);
    peer.destroy();
    const [row] = await rowsOf(junk);
    expect(row).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME', size_bytes: junk.length });
    const after = (await h.hub.db('inbound_messages').where({ error_code: 'LB_ERR_MLLP_BYTES_OUTSIDE_FRAME' }).count<Array<{ count: string }>>('* as count'))[0].count;
    expect(Number(after) - Number(before)).toBe(1);
  });

  it('answers a sender that ends its frames with FS CR LF (and sends blank lines between them) with one AA per message and nothing else', async () => {
    const a = singleImplantDft(1, { controlIdPrefix: 'FSCRLF' });
    const b = singleImplantDft(2, { controlIdPrefix: 'FSCRLF' });
    const before = await countRows(h, 'inbound_messages');
    const peer = await RawMllpPeer.connect(port);
    await peer.write(Buffer.concat([mllpFrame(a.payload), Buffer.from('\n')]));
    await peer.waitAnswers(1);
    // longer than the quiet period after which a garbage run is answered
    await new Promise((r) => setTimeout(r, 400));
    await peer.write(Buffer.concat([Buffer.from('\r\n'), mllpFrame(b.payload), Buffer.from('\n')]));
    await peer.waitAnswers(2);
    await new Promise((r) => setTimeout(r, 400));
    peer.destroy();
    expect(peer.answers.map((x) => [parseAck(x).code, parseAck(x).controlId])).toEqual([
      ['AA', a.controlId],
      ['AA', b.controlId],
    ]);
    // the two messages only: the line ends between frames are no rejected messages
    expect(await countRows(h, 'inbound_messages')).toBe(before + 2);
  });

  it.each([
    ['batch-fhs-bhs-no-messages.hl7', 'LB_ERR_HL7_MSH_MISSING'],
    ['batch-fhs-bad-encoding-characters.hl7', 'LB_ERR_HL7_ENCODING_CHARACTERS'],
  ])('answers a batch file that cannot be split (%s) with AR %s, stores it rejected, and keeps the connection', async (name, code) => {
    const file = hl7Fixture(`transport/${name}`);
    const peer = await RawMllpPeer.connect(port);
    await peer.write(mllpFrame(file));
    const [answer] = await peer.waitAnswers(1);
    const ack = parseAck(answer);
    expect(ack.code).toBe('AR');
    expect(ack.errs.map((e) => e.lbCode)).toEqual([code]);
    const good = adtA01(1, `BATCH-AFTER-${code}`);
    await peer.write(mllpFrame(good.payload));
    const [, next] = await peer.waitAnswers(2);
    expect(parseAck(next)).toMatchObject({ code: 'AA', controlId: good.controlId });
    peer.destroy();
    const rows = await rowsOf(file);
    expect(rows.map((r) => [r.status, r.error_code])).toEqual([['rejected', code]]);
    expect(Buffer.compare((await payloadOf(h, rows[0].id)).bytes, file)).toBe(0);
  });

  it('stores a frame cut off by the sender (VT and half a message, no FS, then FIN) as rejected truncated, and answers it AR', async () => {
    const whole = singleImplantDft(1, { controlIdPrefix: 'CUT' });
    const half = whole.payload.subarray(0, Math.floor(whole.payload.length / 2));
    const peer = await RawMllpPeer.connect(port);
    await peer.write(Buffer.concat([Buffer.from([0x0b]), half]));
    await new Promise((r) => setTimeout(r, 100));
    peer.end();
    const [answer] = await peer.waitAnswers(1);
    await peer.closed;
    const ack = parseAck(answer);
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe(whole.controlId);
    expect(ack.errs.map((e) => e.lbCode)).toContain('LB_ERR_MLLP_FRAME_TRUNCATED');

    const [row] = await waitFor('the truncated frame stored', async () => {
      const r = await rowsOf(half);
      return r.length > 0 && r;
    });
    expect(row).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_MLLP_FRAME_TRUNCATED', size_bytes: half.length });
    expect(row.error_message).toMatch(/no FS end byte/);
    expect(Buffer.compare((await payloadOf(h, row.id)).bytes, half)).toBe(0);
    // nothing of it reached the canonical model, and the full message sent later is accepted
    expect(await countRows(h, 'device_usages', { source_message_id: row.id })).toBe(0);
    const [full] = await mllpSend(port, whole.payload);
    expect(parseAck(full)).toMatchObject({ code: 'AA', controlId: whole.controlId });
  });

  it('refuses a message over maxMessageBytes with a clear AR, stores its metadata as rejected, and keeps the connection (the next message gets AA)', async () => {
    const base = singleImplantDft(2, { controlIdPrefix: 'BIG' });
    const notes = Array.from({ length: 60 }, (_, i) => `NTE|${i + 1}|L|Implant documentation line ${i + 1}: positioned under fluoroscopy, torque 4.5 Nm, no complications`).join('\r');
    const big = Buffer.concat([base.payload, Buffer.from(`${notes}\r`, 'latin1')]);
    expect(big.length).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const after = singleImplantDft(3, { controlIdPrefix: 'BIG' });
    const peer = await RawMllpPeer.connect(port);
    await peer.write(Buffer.concat([mllpFrame(big), mllpFrame(after.payload)]));
    const [tooBig, next] = await peer.waitAnswers(2);
    peer.destroy();
    const ack = parseAck(tooBig);
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe(base.controlId);
    const err = ack.errs.find((e) => e.lbCode === 'LB_ERR_MLLP_FRAME_TOO_LARGE');
    expect(err).toBeDefined();
    expect(err!.userMessage).toContain(String(big.length));
    expect(err!.userMessage).toContain(String(MAX_MESSAGE_BYTES));
    expect(parseAck(next)).toMatchObject({ code: 'AA', controlId: after.controlId });

    const rows = await h.hub.db('inbound_messages').where({ connector_id: 'hl7-mllp', status: 'rejected', error_code: 'LB_ERR_MLLP_FRAME_TOO_LARGE' }).select('id', 'size_bytes', 'error_message', 'control_id');
    expect(rows).toHaveLength(1);
    expect(rows[0].size_bytes).toBe(big.length);
    expect(rows[0].error_message).toContain(`maxFrameBytes ${MAX_MESSAGE_BYTES}`);
    const m = (await h.api('GET', `/api/v1/messages/${rows[0].id}`)).json;
    expect(m.payloadStored).toBe(false);
    expect(await waitStoredAck(h, rows[0].id)).toMatchObject({ code: 'AR', raw: tooBig.toString('latin1') });
    expect((await h.waitForStatus((await messagesOf(h, after.controlId))[0].id)).status).toBe('processed');
  });

  it.each([
    ['missing-msh.hl7', 'LB_ERR_HL7_MSH_MISSING', '100', ''],
    ['msh-short.hl7', 'LB_ERR_HL7_REQUIRED_FIELD', '101', ''],
    ['adt-a01-unknown-version-2.99.hl7', 'LB_ERR_HL7_VERSION', '203', 'HIS-A01-99001'],
  ])('answers %s with AR and an ERR segment (%s, table 0357 %s) and stores it rejected with that code and location', async (fixture, code, hl7Code, controlId) => {
    const msg = hl7Fixture(fixture);
    const [answer] = await mllpSend(port, msg);
    const ack = parseAck(answer);
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe(controlId);
    expect(ack.errs.length).toBeGreaterThanOrEqual(1);
    expect(ack.errs[0]).toMatchObject({ lbCode: code, hl7Code, severity: 'E' });
    expect(ack.errs[0].location[0]).toBe('MSH');
    expect(ack.errs[0].userMessage).toContain(code);
    const [row] = await rowsOf(msg);
    expect(row).toMatchObject({ status: 'rejected', error_code: code });
    expect(row.error_location).toMatchObject({ segment: 'MSH' });
    if (code === 'LB_ERR_HL7_VERSION') {
      expect(ack.errs[0].location.slice(0, 3)).toEqual(['MSH', '1', '12']);
      expect(row.error_location).toMatchObject({ segment: 'MSH', field: '12' });
      expect(ack.msh[12]).toBe('2.99');
    }
    const m = (await h.api('GET', `/api/v1/messages/${row.id}`)).json;
    expect(m.error).toMatchObject({ code });
    expect(await waitStoredAck(h, row.id)).toMatchObject({ code: 'AR', raw: answer.toString('latin1') });
  });

  it.each([
    ['Latin-1 bytes under MSH-18 UNICODE UTF-8', 'UNICODE UTF-8', 'CS-UTF8', 'LB_ERR_INGEST_ENCODING', '102', 'first-latin1-byte'],
    ['Latin-1 bytes without MSH-18 (default UTF-8)', '', 'CS-NONE', 'LB_ERR_INGEST_ENCODING', '102', 'first-latin1-byte'],
    ['an MSH-18 charset nobody knows', 'KLINGON', 'CS-UNKNOWN', 'LB_ERR_HL7_CHARSET', '103', { segment: 'MSH', field: '18' }],
  ])('answers %s with AR naming the byte or field, and stores it rejected (never decoded with replacement characters)', async (_case, charset, controlId, code, hl7Code, location) => {
    const msg = setHl7Field(setHl7Field(hl7Fixture('transport/dft-p03-v282-iso-8859-1-umlauts.hl7'), 'MSH', 18, charset), 'MSH', 10, controlId);
    const [answer] = await mllpSend(port, msg);
    const ack = parseAck(answer);
    expect(ack).toMatchObject({ code: 'AR', controlId });
    expect(ack.errs[0]).toMatchObject({ lbCode: code, hl7Code });
    const [row] = await messagesOf(h, controlId);
    expect(row).toMatchObject({ status: 'rejected', error_code: code });
    // the byte offset of the first byte that is not UTF-8 (ü as 0xFC), or the MSH-18 field
    expect(row.error_location).toMatchObject(location === 'first-latin1-byte' ? { position: msg.indexOf(0xfc) } : location);
    expect(Buffer.compare((await payloadOf(h, row.id)).bytes, msg)).toBe(0);
  });

  it("decodes a message without MSH-18 with the instance's configured default charset (8859/1)", async () => {
    const msg = setHl7Field(setHl7Field(hl7Fixture('transport/dft-p03-v282-iso-8859-1-umlauts.hl7'), 'MSH', 18, ''), 'MSH', 10, 'CS-DEFAULT-LATIN1');
    const [answer] = await mllpSend(mllpPortOf(h, 'hl7-latin1'), msg);
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId: 'CS-DEFAULT-LATIN1' });
    const [row] = await messagesOf(h, 'CS-DEFAULT-LATIN1');
    expect(row.encoding).toBe('8859/1');
    expect((await h.waitForStatus(row.id)).status).toBe('processed');
  });

  it('closes a connection left idle with half a frame, stores the half as rejected truncated (idle-timeout) and does not answer it', async () => {
    const whole = singleImplantDft(5, { controlIdPrefix: 'IDLE' });
    const half = whole.payload.subarray(0, 150);
    const peer = await RawMllpPeer.connect(mllpPortOf(h, 'hl7-latin1'));
    await peer.write(Buffer.concat([Buffer.from([0x0b]), half]));
    await peer.closed; // the server ends it after 400 ms without bytes
    expect(peer.answers).toEqual([]);
    const [row] = await waitFor('the half frame stored', async () => {
      const r = await rowsOf(half);
      return r.length > 0 && r;
    });
    expect(row).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_MLLP_FRAME_TRUNCATED', size_bytes: half.length });
    expect(row.error_message).toMatch(/idle/);
    expect((await messagesOf(h, whole.controlId)).map((r) => r.status)).toEqual(['rejected']);
  });

  it('reassembles a message sent one byte per TCP write (Nagle off) and answers AA once, storing it once', async () => {
    const { payload, controlId } = singleImplantDft(4, { controlIdPrefix: 'TRICKLE' });
    const peer = await RawMllpPeer.connect(port);
    await peer.trickle(mllpFrame(payload), 1);
    const [answer] = await peer.waitAnswers(1);
    peer.destroy();
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId });
    const rows = await messagesOf(h, controlId);
    expect(rows).toHaveLength(1);
    expect(Buffer.compare((await payloadOf(h, rows[0].id)).bytes, payload)).toBe(0);
    expect((await h.waitForStatus(rows[0].id)).status).toBe('processed');
  });

  it('answers 1,000 messages written in one TCP write with 1,000 ACKs in order, each stored exactly once', async () => {
    const n = 1000;
    const msgs = Array.from({ length: n }, (_, i) => adtA01(i, 'BULK'));
    const bytes = Buffer.concat(msgs.map((m) => mllpFrame(m.payload)));
    const peer = await RawMllpPeer.connect(port);
    await peer.write(bytes);
    const answers = await peer.waitAnswers(n, 40_000);
    peer.destroy();
    expect(peer.stray).toEqual([]);
    const acks = answers.map((a) => parseAck(a));
    expect(acks.map((a) => a.controlId)).toEqual(msgs.map((m) => m.controlId));
    expect(acks.every((a) => a.code === 'AA')).toBe(true);
    expect(new Set(acks.map((a) => a.msh[10])).size).toBe(n);
    const stored = await h.hub.db('inbound_messages').where('control_id', 'like', 'BULK-%').groupBy('control_id').select('control_id').count<Array<{ control_id: string; count: string }>>('* as count');
    expect(stored).toHaveLength(n);
    expect(stored.every((r) => Number(r.count) === 1)).toBe(true);
    expect(await h.hub.db('inbound_messages').where('control_id', 'like', 'BULK-%').whereNot({ status: 'queued' }).whereNotIn('status', ['routed', 'received']).count<Array<{ count: string }>>('* as count').then((r) => Number(r[0].count))).toBe(0);
  }, 60_000);
});

