import { createMllpClient } from '../../../src/transport/mllp';
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import {
  adtA01, countRows, hl7Fixture, hl7HubEnv, messagesOf, mllpFrame, mllpPortOf, mllpSend, parseAck, RawMllpPeer, singleImplantDft, waitStoredAck,
} from '../../helpers/hl7';

/*
 * An `hl7` instance with ackMode `processed` (configured in a connector config file): the ACK
 * is an application ACK sent after the canonical commit — AA when the message was mapped (or
 * routed), AE with the mapping error's code and location when it was refused.
 */
describe('hl7 over MLLP with ackMode processed', () => {
  let h: TestHub;
  let port: number;
  const cfg = hl7HubEnv([{ id: 'hl7-processed', kind: 'hl7', config: { mllp: { enabled: true, port: 0 }, ackMode: 'processed', ackTimeoutMs: 15000 } }]);

  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
    port = mllpPortOf(h, 'hl7-processed');
    expect(port).not.toBe(mllpPortOf(h)); // the built-in hl7-mllp (ack on store) listens too
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  it('answers AA only after the canonical commit: the moment the ACK arrives the message is processed and its usage row exists', async () => {
    const { payload, controlId } = singleImplantDft(1, { controlIdPrefix: 'PROC' });
    const peer = await RawMllpPeer.connect(port);
    let atAck: Promise<{ status: string[]; usages: number }> | undefined;
    peer.onAnswer(() => {
      atAck ??= (async () => {
        const rows = await h.hub.db('inbound_messages').where({ control_id: controlId }).select('id', 'status');
        const usages = Number((await h.hub.db('device_usages').whereIn('source_message_id', rows.map((r) => r.id)).count<Array<{ count: string }>>('* as count'))[0].count);
        return { status: rows.map((r) => r.status as string), usages };
      })();
    });
    await peer.write(mllpFrame(payload));
    const [answer] = await peer.waitAnswers(1);
    peer.destroy();
    expect(await atAck).toEqual({ status: ['processed'], usages: 1 });
    const ack = parseAck(answer);
    expect(ack).toMatchObject({ code: 'AA', controlId });
    expect(ack.errs).toEqual([]);
    const [row] = await messagesOf(h, controlId);
    expect(row.connector_id).toBe('hl7-processed');
    expect(await waitStoredAck(h, row.id)).toMatchObject({ code: 'AA', raw: answer.toString('latin1') });
  });

  it('answers AE with the mapping error (code, table 0357 207, location FT1-7) when the mapping refuses the message, stored rejected with that code and location', async () => {
    const msg = hl7Fixture('transport/dft-p03-v282-item-not-identified.hl7');
    const [answer] = await mllpSend(port, msg);
    const ack = parseAck(answer);
    expect(ack.code).toBe('AE');
    expect(ack.controlId).toBe('ORIS-20260315-001007');
    expect(ack.errs).toHaveLength(1);
    expect(ack.errs[0]).toMatchObject({ lbCode: 'LB_ERR_HL7_ITEM_UNIDENTIFIED', hl7Code: '207', severity: 'E' });
    expect(ack.errs[0].location.slice(0, 3)).toEqual(['FT1', '1', '7']);
    expect(ack.errs[0].userMessage).toContain('SUP-DRP');
    const [row] = await messagesOf(h, 'ORIS-20260315-001007');
    expect(row).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_HL7_ITEM_UNIDENTIFIED' });
    expect(row.error_location).toMatchObject({ segment: 'FT1', field: '7' });
    expect(await countRows(h, 'device_usages', { source_message_id: row.id })).toBe(0);
    expect(await waitStoredAck(h, row.id)).toMatchObject({ code: 'AE', raw: answer.toString('latin1') });
  });

  it.each([
    ['dft-p03-bad-date-2024-13-45.hl7', 'ORIS-20260315-000418', 'LB_ERR_HL7_DATE', '102', ['PRT', '2', '18'], { segment: 'PRT', field: '18' }],
    ['dft-p03-truncated-segment.hl7', 'ORIS-20260315-000420', 'LB_ERR_HL7_SEGMENT_INVALID', '100', [''], { line: 6 }],
  ])('answers %s with AE naming the error and where it is, stored rejected alike', async (fixture, controlId, code, hl7Code, ackLocation, storedLocation) => {
    const [answer] = await mllpSend(port, hl7Fixture(fixture));
    const ack = parseAck(answer);
    expect(ack).toMatchObject({ code: 'AE', controlId });
    expect(ack.errs[0]).toMatchObject({ lbCode: code, hl7Code, severity: 'E' });
    expect(ack.errs[0].location.slice(0, ackLocation.length)).toEqual(ackLocation);
    const [row] = await messagesOf(h, controlId);
    expect(row).toMatchObject({ status: 'rejected', error_code: code });
    expect(row.error_location).toMatchObject(storedLocation);
  });

  it('answers AA for a routed message (ADT: stored and handed to flows, no mapping) once it is routed', async () => {
    const { payload, controlId } = adtA01(1, 'PROC-ADT');
    const [answer] = await mllpSend(port, payload);
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId });
    const [row] = await messagesOf(h, controlId);
    expect(row.status).toBe('routed');
  });

  it('answers every copy of a resend storm with the one application ACK, sent after processing, with one effect', async () => {
    const { payload, controlId } = singleImplantDft(2, { controlIdPrefix: 'PROC-STORM' });
    const answers = (
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const client = createMllpClient({ host: '127.0.0.1', port, timeoutMs: 20000 });
          try {
            return await Promise.all(Array.from({ length: 5 }, () => client.send(payload)));
          } finally {
            await client.close();
          }
        }),
      )
    ).flat();
    expect(answers).toHaveLength(20);
    expect(new Set(answers.map((a) => a.toString('latin1'))).size).toBe(1);
    expect(parseAck(answers[0])).toMatchObject({ code: 'AA', controlId });
    const rows = await messagesOf(h, controlId);
    expect(rows.filter((r) => r.status === 'processed')).toHaveLength(1);
    expect(rows.filter((r) => r.status === 'duplicate')).toHaveLength(19);
    expect(Number((await h.hub.db('device_usages').whereIn('source_message_id', rows.map((r) => r.id)).count<Array<{ count: string }>>('* as count'))[0].count)).toBe(1);
  });

  it('answers a message that cannot be read with AR at once (nothing to wait for)', async () => {
    const started = Date.now();
    const [answer] = await mllpSend(port, hl7Fixture('adt-a01-unknown-version-2.99.hl7'));
    expect(parseAck(answer)).toMatchObject({ code: 'AR', controlId: 'HIS-A01-99001' });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
