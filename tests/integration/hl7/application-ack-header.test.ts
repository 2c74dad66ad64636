import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { hl7Fixture, hl7HubEnv, parseAck, waitFor } from '../../helpers/hl7';

/*
 * Review finding: application ACKs (outbox `hl7.application_ack`, MSH-16) are documented as built
 * like the accept ACKs, but the handler built them without the instance's zone, ackApplication
 * and ackFacility: MSH-7 in UTC and MSH-3/4 `LOTBRIDGE`/empty when the inbound MSH-5/6 are empty,
 * while the CA the same message got a moment earlier says the instance's own names and zone.
 */
const msg = (controlId: string, msh16: string, date: string): string =>
  [
    // MSH-5/MSH-6 left empty (many engines do): our ACKs name us by ackApplication/ackFacility
    `MSH|^~\\&|ORIS|STMARYS|||20261115101500||DFT^P03^DFT_P03|${controlId}|P|2.8.2|||AL|${msh16}`,
    'EVN|P03|20261115101500',
    'PID|1||MRN1^^^STMARYS^MR||DOE^JANE',
    'PV1|1|O|OR3^^^STMARYS',
    `FT1|1|||${date}||CG|09506000134352^Knee^GTIN|||1`,
  ].join('\r') + '\r';

describe('HL7: application ACK header is built like the accept ACK', () => {
  let h: TestHub;
  const cfg = hl7HubEnv([{ id: 'hl7-berlin', kind: 'hl7', config: { timezone: 'Europe/Berlin', ackApplication: 'LBHUB', ackFacility: 'MEDTECH' } }]);
  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  async function post(body: string): Promise<{ id: string; ack: string }> {
    const r = await fetch(`${h.url}/api/v1/ingest/hl7-berlin`, { method: 'POST', body, headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
    expect(r.status).toBe(200);
    return { id: r.headers.get('lotbridge-message-id') as string, ack: await r.text() };
  }
  const appAck = (id: string): Promise<string> =>
    waitFor(`the application ACK of ${id}`, async () => {
      const e = await h.hub.db('outbox_events').where({ source_message_id: id, type: 'hl7.application_ack' }).first('payload');
      return e ? String(e.payload.raw) : undefined;
    });
  /** Berlin is UTC+01:00 in November, UTC+02:00 in summer: either way not +0000. */
  const berlinOffset = (): string => {
    const part = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', timeZoneName: 'longOffset' }).formatToParts(new Date()).find((p) => p.type === 'timeZoneName')!.value;
    return part.replace('GMT', '').replace(':', '');
  };

  it.each([
    ['an AE for a message the pipeline rejects (MSH-16 ER)', 'APPHDR-AE', 'ER', '20241345', 'AE'],
    ['an AA for a message processed (MSH-16 AL)', 'APPHDR-AA', 'AL', '20261115', 'AA'],
  ])('%s: MSH-3/4 ackApplication/ackFacility and MSH-7 in the instance zone, as in its CA', async (_what, controlId, msh16, date, code) => {
    const { id, ack } = await post(msg(controlId, msh16, date));
    const accept = parseAck(ack);
    expect(accept).toMatchObject({ code: 'CA', controlId });
    expect(accept.msh.slice(3, 7)).toEqual(['LBHUB', 'MEDTECH', 'ORIS', 'STMARYS']);
    expect(accept.msh[7]).toMatch(new RegExp(`\\${berlinOffset()}$`));

    const app = parseAck(await appAck(id));
    expect(app).toMatchObject({ code, controlId });
    expect(app.msh.slice(3, 7)).toEqual(['LBHUB', 'MEDTECH', 'ORIS', 'STMARYS']);
    expect(app.msh[7]).toMatch(new RegExp(`\\${berlinOffset()}$`));
  });

  it('answers a batch file that holds no message with an AR in the instance zone naming ackFacility, like every other AR', async () => {
    const r = await fetch(`${h.url}/api/v1/ingest/hl7-berlin`, {
      method: 'POST', body: hl7Fixture('transport/batch-fhs-bhs-no-messages.hl7'), headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` },
    });
    expect(r.status).toBe(200);
    const ar = parseAck(await r.text());
    expect(ar.code).toBe('AR');
    expect(ar.msh[4]).toBe('MEDTECH');
    expect(ar.msh[7]).toMatch(new RegExp(`\\${berlinOffset()}$`));
  });
});
