import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { countRows, hl7HubEnv, mllpPortOf, RawMllpPeer, replaceAll, singleImplantDft, waitFor } from '../../helpers/hl7';

/*
 * Review finding: an MLLP frame cut off by the sender (VT and part of a message, then FIN) is stored
 * `rejected` LB_ERR_MLLP_FRAME_TRUNCATED with the bytes that came, and answered AR so the sender
 * resends it. POST /api/v1/messages/{id}/reprocess accepted it and the pipeline mapped the part:
 * cut at a segment boundary it parses, so the first FT1's implant was booked. The sender's resend
 * (the whole message: another digest, another message) then books that implant a second time.
 * A frame the transport never saw end is not a message: reprocessing it must not map it.
 */
describe('HL7: reprocessing a truncated MLLP frame', () => {
  let h: TestHub;
  const cfg = hl7HubEnv([]);
  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  it('does not map the part of a message that a cut frame holds', async () => {
    // two implants: the single-implant fixture plus a second FT1 + PRT with another serial
    const { payload, controlId } = singleImplantDft(1, { controlIdPrefix: 'CUT' });
    const text = payload.toString('latin1');
    const block = text.slice(text.indexOf('FT1|'));
    const second = replaceAll(Buffer.from(block.replace(/^FT1\|1\|/, 'FT1|2|'), 'latin1'), 'SN0000001', 'SN0000002').toString('latin1');
    const whole = Buffer.from(text + second, 'latin1');
    const cutAt = text.length; // right after the first PRT's CR: every segment that came is whole

    const peer = await RawMllpPeer.connect(mllpPortOf(h));
    await peer.write(Buffer.concat([Buffer.from([0x0b]), whole.subarray(0, cutAt)]));
    peer.end();
    await peer.waitAnswers(1);
    await peer.closed;

    const row: { id: string; status: string } = await waitFor('the truncated frame stored', async () =>
      (await h.hub.db('inbound_messages').where({ control_id: controlId, error_code: 'LB_ERR_MLLP_FRAME_TRUNCATED' }).first('id', 'status')) as { id: string; status: string } | undefined);
    expect(row.status).toBe('rejected');

    const res = await h.api('POST', `/api/v1/messages/${row.id}/reprocess`);
    if (res.status === 202 || res.status === 200) {
      const m = await h.waitForStatus(row.id);
      expect(m.status).not.toBe('processed');
    } else {
      expect(res.status).toBe(409);
    }
    expect(await countRows(h, 'device_usages', { source_message_id: row.id })).toBe(0);
  });
});
