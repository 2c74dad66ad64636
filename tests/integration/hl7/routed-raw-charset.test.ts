import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { TEST_REDIS_URL } from '../../helpers/test-redis';
import { hl7Fixture, mllpPortOf, mllpSend, messagesOf, parseAck, setHl7Field, waitFor } from '../../helpers/hl7';
import { QueueKit } from '../../../src/pipeline/queue-kit';
import { RouteConsumer } from '../../../src/nodered/route-consumer';
import { createPhiProtector } from '../../../src/security/phi';
import { silentLogger } from '../../../src/logging/logger';
import { decodeWindows1252 } from '../../../src/parsers/windows-1252';

/*
 * Review finding: a routed HL7 message (ADT, … — "stored, acknowledged and routed to flows as it
 * is") reaches a lotbridge-event node with "attach the stored message" as msg.raw. The stored
 * `encoding` of an HL7 message is its MSH-18 (`8859/1`), which the route consumer did not know:
 * it read the ISO-8859-1 bytes as UTF-8, so Müller became M\uFFFDller in msg.raw (and in every
 * pass-through delivery a flow makes of it).
 */
describe('HL7: msg.raw of a routed HL7 message keeps its charset', () => {
  let h: TestHub;
  let routes: RouteConsumer;
  let kit: QueueKit;

  beforeAll(async () => {
    h = await startTestHub({ env: { LOTBRIDGE_MLLP_PORT: '0' } });
    kit = new QueueKit({ kind: 'redis', url: TEST_REDIS_URL, prefix: h.prefix });
    const phi = createPhiProtector({ dataDir: h.dataDir, logger: silentLogger() });
    routes = new RouteConsumer({ db: h.hub.db, kit, phi, logger: silentLogger(), concurrency: 2, isOpen: () => true });
    await routes.start();
  });
  afterAll(async () => {
    await routes?.close();
    await h?.stop();
  });

  it.each([
    ['8859/1', 'adt-a01-iso-8859-1-umlauts.hl7', 'RAW-L1-0001', 'Müller^Jürgen', (b: Buffer) => b.toString('latin1')],
    // Node 20's TextDecoder('windows-1252') gave C1 controls for 0x80–0x9F (Š as U+008A)
    ['WINDOWS-1252', 'adt-a01-windows-1252.hl7', 'RAW-W1-0001', '\u0160imkov\u00e1^\u201cJana\u201d', decodeWindows1252],
  ])('gives msg.raw of an MSH-18 %s message (received over MLLP) as the text it is', async (_cs, fixture, controlId, name, decode) => {
    const payload = setHl7Field(hl7Fixture(fixture), 'MSH', 10, controlId);
    const [answer] = await mllpSend(mllpPortOf(h), payload);
    expect(parseAck(answer)).toMatchObject({ code: 'AA', controlId });
    const [row] = await messagesOf(h, controlId);
    expect((await h.waitForStatus(row.id)).status).toBe('routed');

    const got: Array<Record<string, unknown>> = [];
    const unsubscribe = routes.subscribe({
      id: `raw-${controlId}`, patterns: ['test.raw'], connector: '', messageType: '', includeRaw: true, timeoutMs: 10_000,
      emit: (msg) => {
        got.push(msg);
        routes.complete(msg._lotbridge as never, { ok: true, by: `raw-${controlId}` });
      },
      status: () => undefined,
    });
    try {
      const eventId = `00000000-0000-7000-8000-${Buffer.from(controlId).toString('hex').slice(-12).padStart(12, '0')}`;
      await routes.queue.add('test.raw', { eventId, type: 'test.raw', payload: { messageId: row.id, connectorId: 'hl7-mllp', messageType: 'ADT^A01' }, sourceMessageId: row.id, ordinal: null, createdAt: new Date().toISOString() }, { jobId: eventId, removeOnComplete: true });
      const msg = await waitFor('the event in the flow', () => got[0]);
      expect(String(msg.raw)).toContain(name);
      expect(String(msg.raw)).toBe(decode(payload));
    } finally {
      unsubscribe();
    }
  });
});
