import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { countRows, hl7Fixture, hl7HubEnv, messagesOf, mllpFrame, mllpPortOf, parseAck, payloadOf, RawMllpPeer, setHl7Field } from '../../helpers/hl7';

/** POST /api/v1/ingest/hl7 with the hub's admin key. */
async function post(h: TestHub, body: Buffer, contentType: string | undefined): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${h.url}/api/v1/ingest/hl7`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${h.key}`, ...(contentType ? { 'content-type': contentType } : {}) },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** The BOM fixture with its own MSH-10 (set on the bytes after the BOM; setHl7Field's latin1 round trip keeps the UTF-8 bytes). */
const bomAdt = (controlId: string): Buffer => Buffer.concat([BOM, setHl7Field(hl7Fixture('transport/adt-a01-utf8-bom-msh18-unicode.hl7').subarray(3), 'MSH', 10, controlId)]);

/*
 * Review findings: a UTF-8 byte-order mark in front of a message or batch file, and HL7 media
 * types that are not ER7. Real sockets, real PostgreSQL/Redis through startTestHub.
 */
describe('HL7: byte-order marks and media types', () => {
  let h: TestHub;
  const cfg = hl7HubEnv([
    // a site whose engines write Latin-1 without MSH-18; one of its systems writes UTF-8 files with a BOM and says so in MSH-18
    { id: 'hl7-latin1', kind: 'hl7', config: { mllp: { enabled: true, port: 0 }, defaultCharset: '8859/1' } },
  ]);

  beforeAll(async () => {
    h = await startTestHub({ env: cfg.env });
  });
  afterAll(async () => {
    await h?.stop();
    cfg.cleanup();
  });

  it('accepts a UTF-8 message with a byte-order mark whose MSH-18 says UNICODE UTF-8 on an instance whose default charset is 8859/1 (MLLP)', async () => {
    const msg = bomAdt('BOM-MLLP-0001');
    expect(msg.subarray(0, 3)).toEqual(BOM);
    const peer = await RawMllpPeer.connect(mllpPortOf(h, 'hl7-latin1'));
    await peer.write(mllpFrame(msg));
    const [answer] = await peer.waitAnswers(1);
    peer.destroy();
    const ack = parseAck(answer);
    // MSH-18 names the charset; the default is for messages without MSH-18 only
    expect(ack.errs.map((e) => e.lbCode)).toEqual([]);
    expect(ack).toMatchObject({ code: 'AA', controlId: 'BOM-MLLP-0001' });
    const [row] = await messagesOf(h, 'BOM-MLLP-0001');
    expect(row).toMatchObject({ encoding: 'UNICODE UTF-8' });
    expect((await h.waitForStatus(row.id)).status).toBe('routed');
  });

  it('accepts the same over HTTP when the Content-Type names charset=ISO-8859-1 (MSH-18 wins over the default)', async () => {
    const res = await post(h, bomAdt('BOM-HTTP-0001'), 'text/plain; charset=ISO-8859-1');
    expect(res.status).toBe(200);
    const ack = parseAck(res.body);
    expect(ack.errs.map((e) => e.lbCode)).toEqual([]);
    expect(ack).toMatchObject({ code: 'AA', controlId: 'BOM-HTTP-0001' });
    expect(res.headers.get('lotbridge-status')).toBe('accepted');
  });

  it('splits a UTF-8 batch file that starts with a byte-order mark over HTTP, as it does over MLLP: three messages, three ACKs', async () => {
    const file = hl7Fixture('transport/batch-fhs-bhs-utf8-bom.hl7');
    expect(file.subarray(0, 3)).toEqual(BOM);
    const res = await post(h, file, 'x-application/hl7-v2+er7');
    expect(res.status).toBe(200);
    const msas = res.body.toString('latin1').split('\r').filter((l) => l.startsWith('MSA|'));
    expect(msas).toEqual(['MSA|AA|BOMB-0001', 'MSA|AA|BOMB-0002', 'MSA|AA|BOMB-0003']);
    expect(res.headers.get('lotbridge-message-id')!.split(',')).toHaveLength(3);
    for (const id of ['BOMB-0001', 'BOMB-0002', 'BOMB-0003']) {
      const rows = await messagesOf(h, id);
      expect(rows).toHaveLength(1);
      expect((await h.waitForStatus(rows[0].id)).status).toBe('routed');
    }
    const [second] = await messagesOf(h, 'BOMB-0002');
    expect((await payloadOf(h, second.id)).bytes.toString('utf8')).toContain('Zähler^Bernd');
  });

  it('refuses HL7 v2 XML (application/hl7-v2+xml) with 415 and stores nothing, as for every media type it does not take', async () => {
    const before = await countRows(h, 'inbound_messages');
    const xml = Buffer.from('<?xml version="1.0"?><ADT_A01 xmlns="urn:hl7-org:v2xml"><MSH><MSH.1>|</MSH.1></MSH></ADT_A01>', 'utf8');
    const res = await post(h, xml, 'application/hl7-v2+xml');
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ error: { code: 'LB_ERR_INGEST_UNSUPPORTED_MEDIA' } });
    expect(await countRows(h, 'inbound_messages')).toBe(before);
  });
});
