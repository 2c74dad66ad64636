import { startTestHub, type TestHub } from '../../helpers/start-hub';

/**
 * ACK on store (the default): an error found while mapping comes after the commit ACK. The message
 * is `rejected` with code and location, flows get `message.failed`, and a sender that asked for
 * application ACKs (MSH-16 AL/ER) gets an AE as outbox event `hl7.application_ack`; on success, one
 * that asked for them (MSH-16 AL/SU) gets an AA the same way.
 */
const msg = (controlId: string, msh16: string, date: string): string =>
  [
    `MSH|^~\\&|ORIS|STMARYS|LOTBRIDGE|ACME|20260301101500||DFT^P03^DFT_P03|${controlId}|P|2.8.2|||AL|${msh16}`,
    'EVN|P03|20260301101500',
    'PID|1||MRN1^^^STMARYS^MR||DOE^JANE',
    'PV1|1|O|OR3^^^STMARYS',
    `FT1|1|||${date}||CG|09506000134352^Knee^GTIN|||1`,
  ].join('\r') + '\r';

describe('HL7 application ACKs after the commit ACK', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
  });
  afterAll(async () => {
    await h.stop();
  });

  async function post(body: string): Promise<{ id: string; ack: string }> {
    const r = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body, headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
    expect(r.status).toBe(200);
    return { id: r.headers.get('lotbridge-message-id') as string, ack: await r.text() };
  }

  it('answers CA at once, then rejects the message, tells flows and queues an AE for a sender with MSH-16 ER', async () => {
    const { id, ack } = await post(msg('APPACK-1', 'ER', '20241345'));
    expect(ack).toMatch(/\rMSA\|CA\|APPACK-1/);
    const m = await h.waitForStatus(id);
    expect(m).toMatchObject({ status: 'rejected', error: { code: 'LB_ERR_HL7_DATE', location: { segment: 'FT1', field: '4' } } });
    const events = await h.hub.db('outbox_events').where({ source_message_id: id }).orderBy('ordinal').select('type', 'payload');
    expect(events.map((e: { type: string }) => e.type)).toEqual(['message.failed', 'hl7.application_ack']);
    expect(events[0].payload).toMatchObject({ status: 'rejected', code: 'LB_ERR_HL7_DATE' });
    const raw = String(events[1].payload.raw);
    expect(raw).toMatch(/^MSH\|\^~\\&\|LOTBRIDGE\|ACME\|ORIS\|STMARYS\|/); // sender and receiver swapped
    expect(raw).toMatch(/\rMSA\|AE\|APPACK-1/);
    expect(raw).toMatch(/\rERR\|\|FT1\^1\^4[^\r]*\|102\^/); // ERR-2 location FT1-4, ERR-3 102 data type error
    expect(events[1].payload).toMatchObject({ to: 'ORIS|STMARYS', acknowledges: 'APPACK-1', code: 'AE' });
  });

  it('queues no AE when the sender asked for none (MSH-16 NE)', async () => {
    const { id } = await post(msg('APPACK-2', 'NE', '20241345'));
    await h.waitForStatus(id);
    const types = (await h.hub.db('outbox_events').where({ source_message_id: id }).select('type')).map((e: { type: string }) => e.type);
    expect(types).toEqual(['message.failed']);
  });

  // success, when the sender asked for application ACKs on success (MSH-16 AL / SU)
  const appAcks = async (id: string): Promise<Array<{ payload: Record<string, unknown> }>> =>
    h.hub.db('outbox_events').where({ source_message_id: id, type: 'hl7.application_ack' }).select('payload');

  it.each(['AL', 'SU'])('queues an AA once the message is processed, for MSH-16 %s', async (msh16) => {
    const { id, ack } = await post(msg(`APPOK-${msh16}`, msh16, '20260301'));
    expect(ack).toMatch(new RegExp(`\\rMSA\\|CA\\|APPOK-${msh16}`));
    expect(await h.waitForStatus(id)).toMatchObject({ status: 'processed' });
    const acks = await appAcks(id);
    expect(acks).toHaveLength(1);
    expect(acks[0].payload).toMatchObject({ to: 'ORIS|STMARYS', acknowledges: `APPOK-${msh16}`, code: 'AA', connectorId: 'hl7' });
    const raw = String(acks[0].payload.raw);
    expect(raw).toMatch(/^MSH\|\^~\\&\|LOTBRIDGE\|ACME\|ORIS\|STMARYS\|/);
    expect(raw).toMatch(new RegExp(`\\rMSA\\|AA\\|APPOK-${msh16}(\\r|\\|)`));
    expect(raw).not.toMatch(/\rERR\|/);
  });

  it('queues no AA on success when the sender asked for errors only (ER) or none (NE)', async () => {
    for (const msh16 of ['ER', 'NE']) {
      const { id, ack } = await post(msg(`APPOK-${msh16}`, msh16, '20260301'));
      expect(ack).toMatch(new RegExp(`\\rMSA\\|CA\\|APPOK-${msh16}`));
      expect(await h.waitForStatus(id)).toMatchObject({ status: 'processed' });
      expect(await appAcks(id)).toHaveLength(0);
    }
  });

  it('queues no second AA when an operator reprocesses a message that already got its AA', async () => {
    const { id } = await post(msg('APPOK-RE', 'AL', '20260301'));
    expect(await h.waitForStatus(id)).toMatchObject({ status: 'processed' });
    const r = await h.api('POST', `/api/v1/messages/${id}/reprocess`);
    expect(r.status).toBeLessThan(300);
    // the re-run has happened once the message has a second message.processed event
    const processedEvents = async (): Promise<number> => (await h.hub.db('outbox_events').where({ source_message_id: id, type: 'message.processed' })).length;
    for (let i = 0; i < 100 && (await processedEvents()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await processedEvents()).toBe(2);
    expect(await appAcks(id)).toHaveLength(1);
  });
});

describe('HL7 resend of a message rejected after its commit ACK', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('is a duplicate answered with the first ACK: no second rejection, no second AE (the HL7 key covers the content)', async () => {
    const body = msg('APPACK-3', 'ER', '20241345');
    const send = async (): Promise<{ id: string; ack: string; status: string | null }> => {
      const r = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body, headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
      return { id: r.headers.get('lotbridge-message-id') as string, status: r.headers.get('lotbridge-status'), ack: await r.text() };
    };
    const first = await send();
    expect(await h.waitForStatus(first.id)).toMatchObject({ status: 'rejected' });
    const again = await send();
    expect(again.status).toBe('duplicate');
    expect(again.ack).toBe(first.ack);
    const m = await h.api('GET', `/api/v1/messages/${first.id}`);
    expect(m.json.ack).toMatchObject({ type: 'ACK', code: 'CA', requestedBySender: true });
    const aes = await h.hub.db('outbox_events').where({ type: 'hl7.application_ack' }).whereRaw("payload->>'acknowledges' = ?", ['APPACK-3']);
    expect(aes).toHaveLength(1);
  });
});
