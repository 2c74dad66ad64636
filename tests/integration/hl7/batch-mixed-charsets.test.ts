import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { hl7Fixture, hl7HubEnv, messagesOf, mllpPortOf, mllpSend } from '../../helpers/hl7';

/*
 * Review finding: each message of a batch file is "decoded on its own" by its own MSH-18 (the first
 * message's MSH-18 is only the default for messages without one), but every message was stored with
 * the first message's charset as its `encoding`. A UTF-8 message (MSH-18 UNICODE UTF-8) after an
 * 8859/1 one was stored as `8859/1`, so whatever reads the stored bytes by that column (the console's
 * raw view, a flow's msg.raw) shows it as mojibake.
 */
describe('HL7: a batch file whose messages declare different charsets', () => {
  let h: TestHub;
  const cfg = hl7HubEnv([]);
  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  it('stores each message with the charset its own MSH-18 names', async () => {
    const [answer] = await mllpSend(mllpPortOf(h), hl7Fixture('transport/batch-bhs-mixed-8859-1-then-utf8.hl7'));
    expect(answer.toString('latin1').split('\r').filter((l) => l.startsWith('MSA|'))).toEqual(['MSA|AA|MIX-0307-1', 'MSA|AA|MIX-0307-2']);
    const [first] = await messagesOf(h, 'MIX-0307-1');
    const [second] = await messagesOf(h, 'MIX-0307-2');
    expect(first.encoding).toBe('8859/1');
    expect(second.encoding).toBe('UNICODE UTF-8');
    const m = await h.waitForStatus(second.id);
    expect(m.status).toBe('routed');
    expect(m.result).toMatchObject({ charset: 'UNICODE UTF-8' });
  });
});
