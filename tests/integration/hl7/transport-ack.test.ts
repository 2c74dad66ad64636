import { createHash } from 'node:crypto';
import { createMllpClient } from '../../../src/transport/mllp';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import {
  adtA01, countRows, hl7Fixture, hl7HubEnv, messagesOf, mllpFrame, mllpPortOf, mllpSend, parseAck, payloadOf, RawMllpPeer, replaceAll, setHl7Field, singleImplantDft, waitFor, waitStoredAck,
} from '../../helpers/hl7';

/*
 * HL7 over MLLP on a whole hub (real sockets, PostgreSQL, Redis, workers): ACK after store,
 * resends, control-id reuse, delimiters, charsets, enhanced mode, batches, vanishing clients.
 */
describe('hl7 over MLLP: acknowledgements', () => {
  let h: TestHub;
  let port: number;
  const cfg = hl7HubEnv();

  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
    port = mllpPortOf(h);
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  it('answers AA with MSA-2 = MSH-10 only once the message row is committed, keeps that ACK on the message and maps the usage once', async () => {
    const { payload, controlId, serial } = singleImplantDft(1, { controlIdPrefix: 'AFTER-STORE' });
    const peer = await RawMllpPeer.connect(port);
    // read the database the moment the ACK is decoded, before anything else runs
    let rowsAtAck: Promise<Array<{ id: string; status: string; sha256: string }>> | undefined;
    peer.onAnswer(() => {
      rowsAtAck ??= h.hub.db('inbound_messages').where({ control_id: controlId }).select('id', 'status', 'sha256');
    });
    await peer.write(mllpFrame(payload));
    const [answer] = await peer.waitAnswers(1);
    peer.destroy();
    const rows = await rowsAtAck!;
    expect(rows).toHaveLength(1);
    expect(['queued', 'processed']).toContain(rows[0].status);
    expect(rows[0].sha256).toBe(createHash('sha256').update(payload).digest('hex'));

    const ack = parseAck(answer);
    expect(ack.code).toBe('AA');
    expect(ack.controlId).toBe(controlId);
    expect(ack.errs).toEqual([]);
    expect(ack.msh[9]).toBe('ACK^P03^ACK');
    expect(ack.msh[12]).toBe('2.8.2');
    // sender and receiver swapped
    expect([ack.msh[3], ack.msh[4], ack.msh[5], ack.msh[6]]).toEqual(['LOTBRIDGE', 'MEDTECH', 'ORIS', 'STMARY']);

    const m = await h.waitForStatus(rows[0].id);
    expect(m.status).toBe('processed');
    expect(m.transport).toBe('mllp');
    expect(m.connectorId).toBe('hl7-mllp');
    const kept = await waitStoredAck(h, rows[0].id);
    expect(kept).toMatchObject({ type: 'ACK', code: 'AA', controlId: ack.msh[10], raw: answer.toString('latin1') });
    expect(Number.isNaN(Date.parse(kept.sentAt as string))).toBe(false);
    expect(await countRows(h, 'device_usages', { source_message_id: rows[0].id })).toBe(1);
    expect(await countRows(h, 'trace_events', { source_message_id: rows[0].id })).toBe(1);
    expect(await countRows(h, 'serials', { serial_number: serial })).toBe(1);
  });

  it('answers a resend storm (50 copies over 5 connections, half of them with a re-stamped MSH-7) with the very same ACK, storing one processed and 49 duplicates with one effect', async () => {
    const { payload, controlId } = singleImplantDft(2, { controlIdPrefix: 'STORM' });
    const restamped = setHl7Field(payload, 'MSH', 7, '20260315143959+0100');
    const connections = 5;
    const perConnection = 10;
    const answers = (
      await Promise.all(
        Array.from({ length: connections }, async (_, c) => {
          const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs: 20000 });
          try {
            return await Promise.all(Array.from({ length: perConnection }, (_, i) => client.send((c * perConnection + i) % 2 === 0 ? payload : restamped)));
          } finally {
            await client.close();
          }
        }),
      )
    ).flat();
    expect(answers).toHaveLength(50);
    const distinct = new Set(answers.map((a) => a.toString('latin1')));
    expect(distinct.size).toBe(1);
    const ack = parseAck(answers[0]);
    expect(ack.code).toBe('AA');
    expect(ack.controlId).toBe(controlId);

    const rows = await waitFor('50 rows settled', async () => {
      const r = await messagesOf(h, controlId);
      return r.length === 50 && r.every((x) => x.status === 'processed' || x.status === 'duplicate') && r;
    });
    const processed = rows.filter((r) => r.status === 'processed');
    expect(processed).toHaveLength(1);
    const dups = rows.filter((r) => r.status === 'duplicate');
    expect(dups).toHaveLength(49);
    expect(new Set(dups.map((d) => d.duplicate_of))).toEqual(new Set([processed[0].id]));
    const ids = rows.map((r) => r.id);
    expect(Number((await h.hub.db('device_usages').whereIn('source_message_id', ids).count<Array<{ count: string }>>('* as count'))[0].count)).toBe(1);
    expect(Number((await h.hub.db('trace_events').whereIn('source_message_id', ids).count<Array<{ count: string }>>('* as count'))[0].count)).toBe(1);
    // each duplicate keeps the ACK it was answered with: the first one, marked as resent
    const firstAck = await waitStoredAck(h, processed[0].id);
    expect(firstAck.raw).toBe(answers[0].toString('latin1'));
    const dupAck = await waitStoredAck(h, dups[0].id);
    expect(dupAck).toMatchObject({ code: 'AA', raw: firstAck.raw, resentFor: processed[0].id });
  });

  it('treats a resend with a re-stamped MSH-7 as a duplicate answered with the first ACK, but stores a different message that reuses the MSH-10 as its own message with its own AA', async () => {
    const first = hl7Fixture('transport/dft-p03-v282-single-implant.hl7');
    const resend = hl7Fixture('transport/dft-p03-v282-single-implant-resend-new-msh7.hl7');
    const other = hl7Fixture('transport/dft-p03-v282-control-id-reused-other-content.hl7');
    const controlId = 'ORIS-20260315-001001';
    const [a1] = await mllpSend(port, first);
    const firstId = (await messagesOf(h, controlId))[0].id;
    expect((await h.waitForStatus(firstId)).status).toBe('processed');
    await waitStoredAck(h, firstId);
    const [a2, a3] = await mllpSend(port, [resend, other]);
    expect(parseAck(a1)).toMatchObject({ code: 'AA', controlId });
    expect(a2.toString('latin1')).toBe(a1.toString('latin1'));
    const third = parseAck(a3);
    expect(third).toMatchObject({ code: 'AA', controlId });
    expect(third.msh[10]).not.toBe(parseAck(a1).msh[10]); // its own ACK, not the first one's

    const rows = await waitFor('3 rows settled', async () => {
      const r = await messagesOf(h, controlId);
      return r.length === 3 && r.every((x) => !['received', 'queued'].includes(x.status)) && r;
    });
    expect(rows[1]).toMatchObject({ status: 'duplicate', duplicate_of: rows[0].id });
    expect(rows[2].status).not.toBe('duplicate');
    expect(rows[2].duplicate_of).toBeNull();
    expect(await countRows(h, 'device_usages', { source_message_id: rows[0].id })).toBe(1);
    expect(await countRows(h, 'device_usages', { source_message_id: rows[1].id })).toBe(0);
  });

  it('processes a different message that reuses an MSH-10 and raises control_id_collision naming both', async () => {
    const controlId = 'ORIS-COLLISION-0001';
    const first = setHl7Field(replaceAll(hl7Fixture('transport/dft-p03-v282-single-implant.hl7'), 'S001001', 'S003001'), 'MSH', 10, controlId);
    const other = setHl7Field(replaceAll(hl7Fixture('transport/dft-p03-v282-control-id-reused-other-content.hl7'), 'S001077', 'S003077'), 'MSH', 10, controlId);
    const [a1] = await mllpSend(port, first);
    await h.waitForStatus((await messagesOf(h, controlId))[0].id);
    const [a2] = await mllpSend(port, other);
    expect([parseAck(a1).code, parseAck(a2).code]).toEqual(['AA', 'AA']);
    const rows = await waitFor('2 rows settled', async () => {
      const r = await messagesOf(h, controlId);
      return r.length === 2 && r.every((x) => !['received', 'queued'].includes(x.status)) && r;
    });
    expect(rows.map((r) => [r.status, r.error_code])).toEqual([['processed', null], ['processed', null]]);
    const alerts = await h.hub.db('alerts').where({ type: 'control_id_collision', subject_id: rows[1].id }).select('subject_id', 'details');
    expect(alerts).toHaveLength(1);
    expect(alerts[0].details).toMatchObject({ controlId, first: rows[0].id, second: rows[1].id });
    expect(await countRows(h, 'device_usages', { source_message_id: rows[1].id })).toBe(1);
  });

  it('flags only the later of two messages sharing an MSH-10 when both arrive before either is processed, and not the first on its reprocess', async () => {
    const controlId = 'ORIS-COLLISION-0002';
    const first = setHl7Field(replaceAll(hl7Fixture('transport/dft-p03-v282-single-implant.hl7'), 'S001001', 'S004001'), 'MSH', 10, controlId);
    const other = setHl7Field(replaceAll(hl7Fixture('transport/dft-p03-v282-control-id-reused-other-content.hl7'), 'S001077', 'S004077'), 'MSH', 10, controlId);
    // one connection, both frames at once: both are stored before the pipeline takes either
    const answers = await mllpSend(port, [first, other]);
    expect(answers.map((a) => parseAck(a).code)).toEqual(['AA', 'AA']);
    const rows = await waitFor('2 rows settled', async () => {
      const r = await messagesOf(h, controlId);
      return r.length === 2 && r.every((x) => !['received', 'queued'].includes(x.status)) && r;
    });
    expect(rows.map((r) => r.status)).toEqual(['processed', 'processed']);
    const collisions = (): Promise<Array<{ subject_id: string; details: Record<string, unknown> }>> =>
      h.hub.db('alerts').where({ type: 'control_id_collision' }).whereIn('subject_id', rows.map((r) => r.id)).select('subject_id', 'details');
    expect(await collisions()).toEqual([{ subject_id: rows[1].id, details: expect.objectContaining({ controlId, first: rows[0].id, second: rows[1].id }) }]);
    expect((await h.api('GET', `/api/v1/messages/${rows[0].id}`)).json.result?.controlIdCollisionWith).toBeUndefined();

    // an operator reprocesses the first message: it is still the first, not a reuse of the second's MSH-10
    expect((await h.api('POST', `/api/v1/messages/${rows[0].id}/reprocess`)).status).toBeLessThan(300);
    // the re-run has happened once the message has a second message.processed event
    await waitFor('the reprocess to finish', async () => (await countRows(h, 'outbox_events', { source_message_id: rows[0].id, type: 'message.processed' })) >= 2);
    expect(await collisions()).toHaveLength(1);
    expect((await h.api('GET', `/api/v1/messages/${rows[0].id}`)).json.result?.controlIdCollisionWith).toBeUndefined();
  });

  it('answers a custom-delimiter message (MSH#$*@!, MSH-15 AL) with a CA in its own delimiters and maps it', async () => {
    const msg = hl7Fixture('dft-p03-custom-delimiters.hl7');
    const [answer] = await mllpSend(port, msg);
    const text = answer.toString('latin1');
    expect(text.startsWith('MSH#$*@!#')).toBe(true);
    const ack = parseAck(answer);
    expect(ack.delimiters).toEqual({ field: '#', component: '$', repetition: '*', escape: '@', subcomponent: '!' });
    expect(ack.code).toBe('CA');
    expect(ack.controlId).toBe('ORIS-CUSTOM-0001');
    expect(ack.msh[9]).toBe('ACK$P03$ACK');
    expect(ack.segments.every((s) => !s.includes('|'))).toBe(true);
    const [row] = await messagesOf(h, 'ORIS-CUSTOM-0001');
    const m = await h.waitForStatus(row.id);
    expect(m.status).toBe('processed');
    expect(m.sender).toBe('ORIS|STMARY');
    expect(m.messageType).toBe('DFT^P03');
    expect(await countRows(h, 'device_usages', { source_message_id: row.id })).toBe(1);
  });

  it('keeps an ISO-8859-1 message (MSH-18 8859/1) byte for byte: charset stored, ACK in Latin-1, umlauts intact through the payload route and the mapping', async () => {
    const msg = hl7Fixture('transport/dft-p03-v282-iso-8859-1-umlauts.hl7');
    expect(msg.includes(Buffer.from([0xfc]))).toBe(true); // ü as one Latin-1 byte
    const adt = hl7Fixture('adt-a01-iso-8859-1-umlauts.hl7');
    const [answer, adtAnswer] = await mllpSend(port, [msg, adt]);
    const ack = parseAck(answer);
    expect(ack).toMatchObject({ code: 'AA', controlId: 'KS-DFT-2201' });
    expect(ack.msh[18]).toBe('8859/1');
    expect(parseAck(adtAnswer)).toMatchObject({ code: 'AA', controlId: 'KS-A01-5521' });

    const [row] = await messagesOf(h, 'KS-DFT-2201');
    expect(row.encoding).toBe('8859/1');
    const m = await h.waitForStatus(row.id);
    expect(m.status).toBe('processed');
    const p = await payloadOf(h, row.id);
    expect(p.status).toBe(200);
    expect(Buffer.compare(p.bytes, msg)).toBe(0);
    const text = p.bytes.toString('latin1');
    expect(text).toContain('Müller^Jürgen');
    expect(text).toContain('Größenweg 12^^Düsseldorf');
    // the raw row is encrypted at rest: the plain text is not in the stored bytes
    const stored = await h.hub.db('inbound_messages').where({ id: row.id }).first('payload');
    expect((stored.payload as Buffer).includes(Buffer.from('Müller', 'latin1'))).toBe(false);

    const [adtRow] = await messagesOf(h, 'KS-A01-5521');
    expect((await h.waitForStatus(adtRow.id)).status).toBe('routed');
    expect((await payloadOf(h, adtRow.id)).bytes.toString('latin1')).toContain('Größenweg 12^^Düsseldorf');
  });

  it('writes a Latin-1 ACK with only Latin-1 characters: a v2.4 AR whose MSA-3 is cut to 80 characters keeps its delimiters intact', async () => {
    const msg = hl7Fixture('transport/adt-a08-v24-latin1-msh9-empty.hl7');
    const [answer] = await mllpSend(port, msg);
    const ack = parseAck(answer);
    expect(ack.code).toBe('AR');
    expect(ack.controlId).toBe('HIS-A08-40211');
    expect(ack.msh[18]).toBe('8859/1');
    // MSA-3 is ST: no component or subcomponent separator may appear in it
    expect(ack.text3.length).toBeLessThanOrEqual(80);
    expect(ack.text3).toMatch(/^LB_ERR_HL7_REQUIRED_FIELD: /);
    expect(ack.text3).not.toMatch(/[&^~]/);
    // ERR-1 (v2.4): segment ^ sequence ^ field ^ code & text & HL70357 & our code & message & 99LB
    const err1 = ack.errs[0].legacy.split('^');
    expect(err1.slice(0, 3)).toEqual(['MSH', '1', '9']);
    expect(err1[3].split('&')).toHaveLength(6);
    // every byte of the answer is a Latin-1 character as sent: the text read back as Latin-1 is the ACK kept on the message
    const [row] = await messagesOf(h, 'HIS-A08-40211');
    expect((await waitStoredAck(h, row.id)).raw).toBe(answer.toString('latin1'));
  });

  it('honours enhanced mode: MSH-15 AL gets CA, NE gets no answer, ER gets none when accepted and CR when rejected — each message stored', async () => {
    const always = hl7Fixture('transport/dft-p03-v282-enhanced-accept-always.hl7');
    const never = hl7Fixture('transport/dft-p03-v282-enhanced-accept-never.hl7');
    const onError = hl7Fixture('transport/dft-p03-v282-enhanced-accept-on-error.hl7');
    const onErrorBadVersion = setHl7Field(setHl7Field(onError, 'MSH', 12, '2.99'), 'MSH', 10, 'ORIS-20260315-001099');
    const peer = await RawMllpPeer.connect(port);
    // answers pair with frames in order, so a missing answer shows as the next frame's answer coming first
    await peer.write(Buffer.concat([mllpFrame(never), mllpFrame(onError), mllpFrame(onErrorBadVersion), mllpFrame(always)]));
    const answers = await peer.waitAnswers(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.answers).toHaveLength(2);
    peer.destroy();
    const cr = parseAck(answers[0]);
    expect(cr.code).toBe('CR');
    expect(cr.controlId).toBe('ORIS-20260315-001099');
    expect(cr.errs[0]).toMatchObject({ hl7Code: '203', lbCode: 'LB_ERR_HL7_VERSION', severity: 'E' });
    expect(cr.errs[0].location.slice(0, 3)).toEqual(['MSH', '1', '12']);
    expect(parseAck(answers[1])).toMatchObject({ code: 'CA', controlId: 'ORIS-20260315-001006' });

    for (const id of ['ORIS-20260315-001004', 'ORIS-20260315-001005', 'ORIS-20260315-001006']) {
      const rows = await messagesOf(h, id);
      expect(rows).toHaveLength(1);
      expect((await h.waitForStatus(rows[0].id)).status).toBe('processed');
    }
    const [rejected] = await messagesOf(h, 'ORIS-20260315-001099');
    expect(rejected).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_HL7_VERSION' });

    // a resend of the NE message is a duplicate and still gets no answer
    const again = await RawMllpPeer.connect(port);
    await again.write(Buffer.concat([mllpFrame(never), mllpFrame(always)]));
    const [only] = await again.waitAnswers(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.answers).toHaveLength(1);
    again.destroy();
    expect(parseAck(only).controlId).toBe('ORIS-20260315-001006');
    expect((await messagesOf(h, 'ORIS-20260315-001004')).map((r) => r.status)).toEqual(['processed', 'duplicate']);
  });

  it('stores and routes an ACK a hospital sends to the listener, and does not acknowledge it (an ACK of an ACK loops)', async () => {
    const peer = await RawMllpPeer.connect(port);
    await peer.write(mllpFrame(hl7Fixture('transport/ack-p03-v282-from-hospital.hl7')));
    await peer.write(mllpFrame(hl7Fixture('transport/batch-bhs-two-acks-from-hospital.hl7')));
    // a message after them is still answered, and first: nothing was due before it
    const after = adtA01(1, 'AFTER-ACKS');
    await peer.write(mllpFrame(after.payload));
    const [answer] = await peer.waitAnswers(1);
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId: after.controlId });
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.answers).toHaveLength(1);
    peer.destroy();
    for (const id of ['ORIS-ACK-000417', 'HIS-ACK-0316-1', 'HIS-ACK-0316-2']) {
      const [row] = await messagesOf(h, id);
      const m = await h.waitForStatus(row.id);
      expect([m.status, m.messageType]).toEqual(['routed', id.startsWith('ORIS') ? 'ACK^P03' : `ACK^${id.endsWith('1') ? 'A01' : 'A08'}`]);
      // the ACK that was built is kept, marked as not asked for (nothing went out)
      expect(await waitStoredAck(h, row.id)).toMatchObject({ requestedBySender: false });
    }
  });

  it('stores a message exactly once when its client disconnects before reading the ACK, and answers the resend with the ACK it would have got', async () => {
    const { payload, controlId } = singleImplantDft(3, { controlIdPrefix: 'GONE' });
    const peer = await RawMllpPeer.connect(port);
    await peer.write(mllpFrame(payload));
    peer.destroy();
    await peer.closed;
    const [row] = await waitFor('the message stored', async () => {
      const r = await messagesOf(h, controlId);
      return r.length > 0 && r;
    });
    expect((await h.waitForStatus(row.id)).status).toBe('processed');
    const kept = await waitStoredAck(h, row.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(await messagesOf(h, controlId)).toHaveLength(1);

    const [again] = await mllpSend(port, payload);
    expect(again.toString('latin1')).toBe(kept.raw);
    const rows = await messagesOf(h, controlId);
    expect(rows.map((r) => r.status)).toEqual(['processed', 'duplicate']);
    expect(await countRows(h, 'device_usages', { source_message_id: row.id })).toBe(1);
  });

  it('takes the messages of a batch file cut short (BTS-1 says 3, two arrived, no FTS) and says so in BTS-2 of the batch of ACKs', async () => {
    const file = hl7Fixture('transport/batch-fhs-bhs-cut-short.hl7');
    const [answer] = await mllpSend(port, file);
    const lines = answer.toString('latin1').split('\r').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('MSA|'))).toEqual(['MSA|AA|CUT-0309-1', 'MSA|AA|CUT-0309-2']);
    expect(lines[0].split('|')[11]).toBe('BATCH-0309-1');
    const bts = lines[lines.length - 1].split('|');
    expect(bts[0]).toBe('BTS');
    expect(bts[1]).toBe('2');
    expect(bts[2]).toMatch(/^LB_ERR_HL7_BATCH: BTS-1 says 3 but batch 1 holds 2 messages/);
    expect(bts[2].length).toBeLessThanOrEqual(80);
    for (const id of ['CUT-0309-1', 'CUT-0309-2']) {
      expect((await messagesOf(h, id)).map((r) => r.status)).not.toContain('rejected');
    }
  });

  it('stores each message of an ISO-8859-2 batch with its own bytes from the file, read back as ISO-8859-2', async () => {
    const file = hl7Fixture('transport/batch-bhs-iso-8859-2-polish.hl7');
    const [answer] = await mllpSend(port, file);
    expect(answer.toString('latin1').split('\r').filter((l) => l.startsWith('MSA|'))).toEqual(['MSA|AA|PL-0306-1', 'MSA|AA|PL-0306-2']);
    const text = file.toString('latin1');
    for (const id of ['PL-0306-1', 'PL-0306-2']) {
      const [row] = await messagesOf(h, id);
      expect(row.encoding).toBe('8859/2');
      const start = text.indexOf(`MSH|^~\\&|HIS|SZPITAL-KRAKOW|LOTBRIDGE|MEDTECH|`, text.indexOf(id) - 80);
      const end = text.indexOf('\rMSH|', start + 1) >= 0 ? text.indexOf('\rMSH|', start + 1) : text.indexOf('\rBTS|');
      const own = file.subarray(start, end);
      expect(own.includes(Buffer.from([0xb3])) || own.includes(Buffer.from([0xbf]))).toBe(true);
      expect(Buffer.compare((await payloadOf(h, row.id)).bytes, own)).toBe(0);
      expect((await h.waitForStatus(row.id)).status).toBe('routed');
    }
  });

  it('refuses only the message of a UTF-8 batch that holds an invalid byte, stores the others with their bytes and answers them AA', async () => {
    const file = hl7Fixture('transport/batch-bhs-utf8-one-latin1-byte.hl7');
    const [answer] = await mllpSend(port, file);
    const msas = answer.toString('latin1').split('\r').filter((l) => l.startsWith('MSA|'));
    expect(msas).toEqual(['MSA|AA|U8-0307-1', 'MSA|AR|U8-0307-2', 'MSA|AA|U8-0307-3']);
    const [bad] = await messagesOf(h, 'U8-0307-2');
    expect(bad).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_INGEST_ENCODING' });
    expect((await payloadOf(h, bad.id)).bytes.includes(Buffer.from('Br\xfcck', 'latin1'))).toBe(true);
    const [good] = await messagesOf(h, 'U8-0307-3');
    expect((await payloadOf(h, good.id)).bytes.includes(Buffer.from('Straße^Ölaf', 'utf8'))).toBe(true);
  });

  it('splits a batch file (FHS/BHS, 3 messages, BTS/FTS) sent in one frame: each message stored on its own, answered with a batch of 3 ACKs', async () => {
    const batch = hl7Fixture('batch-fhs-bhs-3-messages.hl7');
    const [answer] = await mllpSend(port, batch);
    const lines = answer.toString('latin1').split('\r').filter(Boolean);
    // the batch of ACKs names the batch it answers (BHS-12 = its BHS-11) and swaps sender and receiver
    const bhs = lines[0].split('|');
    expect(bhs.slice(0, 7)).toEqual(['BHS', '^~\\&', 'LOTBRIDGE', '', 'HIS', 'STMARY', expect.stringMatching(/^\d{14}[+-]\d{4}$/)]);
    // bhs[k] is BHS-(k+1): BHS-1 is the separator itself
    expect(bhs[10]).toMatch(/^LB[0-9A-Z]{18}$/);
    expect(bhs[11]).toBe('BATCH-0303-1');
    expect(lines[lines.length - 1]).toBe('BTS|3');
    const msas = lines.filter((l) => l.startsWith('MSA|'));
    expect(msas).toEqual(['MSA|AA|B-0001', 'MSA|AA|B-0002', 'MSA|AA|B-0003']);
    expect(lines.filter((l) => l.startsWith('MSH|'))).toHaveLength(3);
    for (const [i, id] of ['B-0001', 'B-0002', 'B-0003'].entries()) {
      const rows = await messagesOf(h, id);
      expect(rows).toHaveLength(1);
      const m = await h.waitForStatus(rows[0].id);
      expect(m.messageType).toBe(['ADT^A01', 'ADT^A08', 'DFT^P03'][i]);
      const p = await payloadOf(h, rows[0].id);
      expect(p.bytes.toString('latin1').startsWith(`MSH|^~\\&|HIS|STMARY|LOTBRIDGE|MEDTECH|`)).toBe(true);
      expect(p.bytes.toString('latin1')).not.toContain('BHS');
      const env = await h.hub.db('inbound_messages').where({ id: rows[0].id }).first('envelope');
      expect(env.envelope).toMatchObject({ batchIndex: String(i + 1), batchFile: 'FHS' });
    }
    // the same batch again: the ADTs are duplicates answered with their first ACKs (B-0003 was
    // rejected by the mapping, which frees its dedup key in the pipeline, so it is taken again)
    const firstAcks = await Promise.all(['B-0001', 'B-0002'].map(async (id) => (await waitStoredAck(h, (await messagesOf(h, id))[0].id)).raw));
    const [again] = await mllpSend(port, batch);
    expect(again.toString('latin1').split('\r').filter((l) => l.startsWith('MSA|'))).toEqual(msas);
    for (const [i, id] of ['B-0001', 'B-0002'].entries()) {
      const rows = await messagesOf(h, id);
      expect(rows.map((r) => r.status)).toEqual(['routed', 'duplicate']);
      expect(again.toString('latin1')).toContain(firstAcks[i].replace(/\r$/, ''));
    }
  });
});
