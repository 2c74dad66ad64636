import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { hl7HubEnv, messagesOf, mllpFrame, mllpPortOf, parseAck, RawMllpPeer, singleImplantDft, waitStoredAck } from '../../helpers/hl7';

const MAX_MESSAGE_BYTES = 4096;

/*
 * Review finding: a message refused for its size (MLLP frame over maxMessageBytes, or an HTTP body
 * over LOTBRIDGE_MAX_BODY_BYTES) is answered with an AR whose MSA-2 names its MSH-10 (read from the
 * first 64 KiB), but its stored record had no control id, sender or type: support staff asked
 * about "the AR for ORIS-…" could not find it by control id. Its payload is still not kept.
 */
describe('HL7: an oversize message can be found by its control id', () => {
  let h: TestHub;
  const cfg = hl7HubEnv([{ id: 'hl7-mllp', kind: 'hl7', config: { mllp: { enabled: true, maxMessageBytes: MAX_MESSAGE_BYTES } } }], { LOTBRIDGE_MAX_BODY_BYTES: String(64 * 1024) });
  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  const bigDft = (n: number, prefix: string, lines: number): { payload: Buffer; controlId: string } => {
    const base = singleImplantDft(n, { controlIdPrefix: prefix });
    const notes = Array.from({ length: lines }, (_, i) => `NTE|${i + 1}|L|Implant documentation line ${i + 1}: positioned under fluoroscopy, torque 4.5 Nm, no complications`).join('\r');
    return { payload: Buffer.concat([base.payload, Buffer.from(`${notes}\r`, 'latin1')]), controlId: base.controlId };
  };

  it('stores an MLLP frame over maxMessageBytes with the control id, sender and type its AR names', async () => {
    const { payload, controlId } = bigDft(1, 'BIGFIND', 60);
    expect(payload.length).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const peer = await RawMllpPeer.connect(mllpPortOf(h));
    await peer.write(mllpFrame(payload));
    const [answer] = await peer.waitAnswers(1);
    peer.destroy();
    expect(parseAck(answer)).toMatchObject({ code: 'AR', controlId });
    const rows = await messagesOf(h, controlId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_MLLP_FRAME_TOO_LARGE' });
    const m = (await h.api('GET', `/api/v1/messages/${rows[0].id}`)).json;
    expect(m).toMatchObject({ messageType: 'DFT^P03', payloadStored: false });
    expect(await waitStoredAck(h, rows[0].id)).toMatchObject({ code: 'AR' });
  });

  it('stores an HTTP body over LOTBRIDGE_MAX_BODY_BYTES with the control id its AR names', async () => {
    const { payload, controlId } = bigDft(2, 'BIGHTTP', 800);
    expect(payload.length).toBeGreaterThan(64 * 1024);
    const res = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body: payload, headers: { authorization: `Bearer ${h.key}`, 'content-type': 'x-application/hl7-v2+er7' } });
    expect(res.status).toBe(200);
    expect(parseAck(Buffer.from(await res.arrayBuffer()))).toMatchObject({ code: 'AR', controlId });
    const rows = await messagesOf(h, controlId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'rejected', error_code: 'LB_ERR_INGEST_TOO_LARGE' });
  });
});
