/**
 * What connectors answer partners goes out through the deliver queue (src/delivery/connector-outbound.ts),
 * end to end on a real hub: an HL7 application ACK (AE for a message rejected after its commit ACK,
 * MSH-16 ER) to the sender's MLLP listener named in the connector's `applicationAckDestinations`, an
 * X12 997 and an outbound 850 to the partner's `outboundDestination` over HTTP. Each is retried
 * through a first bad answer and its outcome is on the source message.
 */
import { startTestHub, type TestHub } from '../../helpers/start-hub';
import { hl7HubEnv } from '../../helpers/hl7';
import { ediFixture, ediVariant, postEdi } from '../../helpers/edi';
import { captureServer, waitUntil } from '../../helpers/nodered';
import { createMllpServer } from '../../../src/transport/mllp';
import { silentLogger } from '../../../src/logging/logger';
import { v7 as uuidv7 } from 'uuid';

const dft = (controlId: string, sendingApp: string, msh16: string): string =>
  [
    `MSH|^~\\&|${sendingApp}|STMARYS|LOTBRIDGE|ACME|20260301101500||DFT^P03^DFT_P03|${controlId}|P|2.8.2|||AL|${msh16}`,
    'EVN|P03|20260301101500',
    'PID|1||MRN1^^^STMARYS^MR||DOE^JANE',
    'PV1|1|O|OR3^^^STMARYS',
    'FT1|1|||20241345||CG|09506000134352^Knee^GTIN|||1', // month 13: rejected after the commit ACK
  ].join('\r') + '\r';

describe('connector deliveries: HL7 application ACKs and EDI acks/documents through the deliver queue', () => {
  let h: TestHub;
  let cleanup: () => void;
  const frames: string[] = [];
  let lis: ReturnType<typeof createMllpServer>;
  let sink: Awaited<ReturnType<typeof captureServer>>;

  beforeAll(async () => {
    // the sender's MLLP listener: the first frame is answered with something that is not an ACK (retried), then CA
    lis = createMllpServer({
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger(),
      onFrame: async (payload: Buffer) => {
        const text = payload.toString('latin1');
        frames.push(text);
        if (frames.length === 1) return Buffer.from('NOT AN ACK', 'latin1');
        const ctl = text.split('\r')[0].split('|')[9];
        return Buffer.from(`MSH|^~\\&|ORIS|STMARYS|LOTBRIDGE|ACME|20260301101600||ACK|R${ctl}|P|2.8.2\rMSA|CA|${ctl}\r`, 'latin1');
      },
    });
    const port = await lis.start();
    // the EDI partner's gateway: 500 first (retried), then 200
    sink = await captureServer((_r, n) => (n === 1 ? { status: 500, body: 'gateway busy' } : { status: 200, body: 'ok' }));
    const conf = hl7HubEnv([
      {
        id: 'hl7',
        kind: 'hl7',
        config: {
          applicationAckDestinations: [
            { sender: 'PHARM|*', destination: { kind: 'mllp', host: '127.0.0.1', port: 1 } },
            { sender: 'ORIS|*', destination: { kind: 'mllp', host: '127.0.0.1', port }, policy: { attempts: 4, backoffMs: 100, timeoutMs: 3000 } },
          ],
        },
      },
    ]);
    cleanup = conf.cleanup;
    h = await startTestHub({ env: conf.env });
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
    await lis?.stop();
    await sink?.close();
    cleanup?.();
  });

  const messageView = async (id: string): Promise<any> => (await h.api('GET', `/api/v1/messages/${id}`)).json;
  /** The message view once its first delivery has `status` (or any delivery, with `status` undefined). */
  const firstDelivery = (id: string, status: string | undefined, what: string, ms = 30_000): Promise<any> =>
    waitUntil(what, async () => {
      const v = await messageView(id);
      return (status === undefined ? v.deliveries?.length : v.deliveries?.[0]?.status === status) ? v : undefined;
    }, ms, 100);

  it('sends the AE of a message rejected after its commit ACK to the sender\'s MLLP listener, retried through a bad answer; the outcome is on the message', async () => {
    const r = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body: dft('APPACK-D1', 'ORIS', 'ER'), headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
    const id = r.headers.get('lotbridge-message-id') as string;
    expect(await h.waitForStatus(id)).toMatchObject({ status: 'rejected' });
    const m = await firstDelivery(id, 'delivered', 'AE delivered');
    expect(m.deliveries).toHaveLength(1);
    expect(m.deliveries[0]).toMatchObject({ kind: 'mllp', status: 'delivered', attempts: 2, origin: 'connector:hl7', sourceMessageId: id, ack: { code: 'CA' } });
    expect(frames).toHaveLength(2);
    expect(frames[1]).toBe(frames[0]); // the same AE again
    expect(frames[1]).toMatch(/^MSH\|\^~\\&\|LOTBRIDGE\|ACME\|ORIS\|STMARYS\|/);
    expect(frames[1]).toMatch(/\rMSA\|AE\|APPACK-D1/);
    const ev = await h.hub.db('outbox_events').where({ source_message_id: id, type: 'hl7.application_ack' }).first();
    expect(m.deliveries[0].eventId).toBe(ev.event_id);
  });

  it('sends the AE to an ISO-8859-1 sender (MSH-18 8859/1) in ISO-8859-1, as its MSH-18 says', async () => {
    const latin1 = Buffer.from(
      [
        'MSH|^~\\&|ORIS|STMARYS|LOTBRIDGE|ACME|20260301111500||DFT^P03^DFT_P03|APPACK-L1|P|2.8.2|||AL|ER||8859/1',
        'EVN|P03|20260301111500',
        'PID|1||MRN2^^^STMARYS^MR||M\u00fcller^J\u00fcrgen',
        'PV1|1|O|OR3^^^STMARYS',
        'FT1|1|||13.03.2024 fr\u00fch||CG|09506000134352^Knee^GTIN|||1', // a date as a German clerk writes it: rejected after the commit ACK
      ].join('\r') + '\r',
      'latin1',
    );
    const before = frames.length;
    const r = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body: latin1, headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
    const id = r.headers.get('lotbridge-message-id') as string;
    expect(await h.waitForStatus(id)).toMatchObject({ status: 'rejected', error: { code: 'LB_ERR_HL7_DATE' } });
    await firstDelivery(id, 'delivered', 'AE delivered');
    const sent = frames.slice(before).find((f) => f.includes('APPACK-L1'));
    expect(sent).toBeDefined();
    expect(sent!.split('\r')[0].split('|')[17]).toBe('8859/1');
    // the quoted value is in the sender's charset: ü is the single byte 0xFC, not UTF-8's C3 BC
    expect(sent).toContain('"13.03.2024 fr\u00fch"');
  });

  it('records the AE of a sender no entry names as a skipped delivery with the reason, and sends nothing', async () => {
    const before = frames.length;
    const r = await fetch(`${h.url}/api/v1/ingest/hl7`, { method: 'POST', body: dft('APPACK-D2', 'RADIS', 'AL'), headers: { 'content-type': 'x-application/hl7-v2+er7', authorization: `Bearer ${h.key}` } });
    const id = r.headers.get('lotbridge-message-id') as string;
    await h.waitForStatus(id);
    const m = await firstDelivery(id, undefined, 'skipped', 20_000);
    expect(m.deliveries[0]).toMatchObject({ status: 'skipped', kind: 'mllp', attempts: 0 });
    const row = await h.hub.db('deliveries').where({ id: m.deliveries[0].id }).first();
    expect(row.error_message).toContain('no applicationAckDestinations entry for sender RADIS|STMARYS');
    expect(frames.length).toBe(before);
  });

  it('sends the 997 for an inbound 850 and an outbound 850 to the partner\'s HTTP outboundDestination (retried through a 500)', async () => {
    const p = await h.api('POST', '/api/v1/partners', JSON.stringify({
      standard: 'x12', qualifier: 'ZZ', interchangeId: 'STMARYHOSP', name: 'St. Mary', ourId: 'ACMEDEVICES',
      outboundDestination: { type: 'http', url: `${sink.url}/edi/in`, policy: { attempts: 3, backoffMs: 100, timeoutMs: 3000 } },
    }), { 'content-type': 'application/json' });
    expect(p.status).toBe(201);
    const posted = await postEdi(h, 'x12', ediFixture('x12', '850-customer-order-two-lines.x12'));
    const id = posted.json.messageId as string;
    expect((await h.waitForStatus(id)).status).toBe('processed');
    const m = await firstDelivery(id, 'delivered', '997 delivered');
    expect(m.deliveries[0]).toMatchObject({ kind: 'http', status: 'delivered', attempts: 2, origin: 'edi:997', ack: { status: 200 } });
    expect(sink.requests.map((r) => r.body)).toEqual([m.ack.raw, m.ack.raw]); // 500, then 200: the same 997 twice
    expect(sink.requests[1].headers['content-type']).toBe('application/edi-x12');
    expect(m.ack.raw).toMatch(/ST\*997\*/);

    // our own 850 to the partner: edi.outbound
    const po = uuidv7();
    await h.hub.db('purchase_orders').insert({ id: po, po_number: 'PO-OUT-D1', direction: 'outbound', status: 'open', origin: 'reorder', ordered_at: new Date('2026-03-10T00:00:00Z') });
    await h.hub.db('po_lines').insert({ po_id: po, line_no: 1, quantity: 24, uom: 'EA', gtin: '04012345000016' });
    const out = await h.api('POST', `/api/v1/partners/${p.json.id}/outbound`, JSON.stringify({ type: '850', poId: po }), { 'content-type': 'application/json' });
    expect(out.status).toBe(201);
    const d = await waitUntil('850 delivered', async () => {
      const row = await h.hub.db('deliveries').where({ event_type: 'edi.outbound', status: 'delivered' }).first();
      return row ?? undefined;
    }, 30_000, 100);
    expect(d).toMatchObject({ origin: 'edi:850', attempts: 1, kind: 'http' });
    expect(sink.requests[2].body).toBe(out.json.raw);
  });
  it('sends a partner\'s secret headers with its acks, kept encrypted: the API shows their names only, the rows and the audit never the value', async () => {
    const secret = 'Bearer lab-gw-7f3a9c';
    const bad = await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'x12', qualifier: 'ZZ', interchangeId: 'STMARYLAB', outboundSecrets: { headers: { 'Bad Header': 'x' } } }), { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'LB_ERR_API_BAD_REQUEST', location: { path: 'outboundSecrets.headers.Bad Header' } });

    const p = await h.api('POST', '/api/v1/partners', JSON.stringify({
      standard: 'x12', qualifier: 'ZZ', interchangeId: 'STMARYLAB', name: 'St. Mary Lab', ourId: 'ACMEDEVICES',
      outboundDestination: { type: 'http', url: `${sink.url}/edi/lab`, policy: { attempts: 3, backoffMs: 100, timeoutMs: 3000 } },
      outboundSecrets: { headers: { Authorization: secret, 'X-Gateway-Tenant': 'stmary' } },
    }), { 'content-type': 'application/json' });
    expect(p.status).toBe(201);
    expect(p.json.outboundSecrets).toEqual({ headers: ['authorization', 'x-gateway-tenant'] });
    expect(p.text).not.toContain(secret);
    expect((await h.api('GET', `/api/v1/partners/${p.json.id}`)).text).not.toContain(secret);

    const body = ediVariant('x12', '850-customer-order-two-lines.x12', [[/STMARYHOSP     /, 'STMARYLAB      '], [/\*STMARYHOSP\*/, '*STMARYLAB*']]);
    const posted = await postEdi(h, 'x12', body);
    const id = posted.json.messageId as string;
    expect((await h.waitForStatus(id)).status).toBe('processed');
    const m = await firstDelivery(id, 'delivered', '997 delivered with the secret headers');
    const sent = sink.requests.filter((r) => r.url === '/edi/lab');
    expect(sent).toHaveLength(1);
    expect(sent[0].headers.authorization).toBe(secret);
    expect(sent[0].headers['x-gateway-tenant']).toBe('stmary');
    expect(sent[0].body).toBe(m.ack.raw);
    expect(JSON.stringify(m)).not.toContain(secret);

    // at rest: the partner row, the delivery row and the audit rows hold no clear text of it
    const clear = async (sql: string, binds: string[]): Promise<number> => (await h.hub.db.raw(sql, binds)).rows.length;
    expect(await clear(`SELECT 1 FROM edi_partners WHERE id = ? AND position(convert_to(?, 'UTF8') in outbound_secrets) > 0`, [p.json.id, 'lab-gw-7f3a9c'])).toBe(0);
    expect(await clear(`SELECT 1 FROM edi_partners WHERE id = ? AND outbound_secrets IS NOT NULL`, [p.json.id])).toBe(1);
    expect(await clear(`SELECT 1 FROM deliveries WHERE row_to_json(deliveries)::text LIKE ?`, ['%lab-gw-7f3a9c%'])).toBe(0);
    expect(await clear(`SELECT 1 FROM audit_log WHERE entity_id = ? AND (coalesce(before::text, '') || coalesce(after::text, '')) LIKE ?`, [p.json.id, '%lab-gw-7f3a9c%'])).toBe(0);
    expect(await clear(`SELECT 1 FROM audit_log WHERE entity_id = ? AND after::text LIKE '%outbound_secret_headers%'`, [p.json.id])).toBe(1);

    // secrets that cannot be opened (damaged, or sealed with a key this hub lacks): the ack is not sent without them
    await h.hub.db('edi_partners').where({ id: p.json.id }).update({ outbound_secrets: Buffer.from('01deadbeef00112233445566778899aabbccddeeff', 'hex') });
    const again = await postEdi(h, 'x12', ediVariant('x12', '850-customer-order-two-lines.x12', [[/STMARYHOSP     /, 'STMARYLAB      '], [/\*STMARYHOSP\*/, '*STMARYLAB*'], [/000006001/g, '000006002'], [/\*6001\*/, '*6002*'], [/\*6001~/, '*6002~']]));
    const id2 = again.json.messageId as string;
    expect((await h.waitForStatus(id2)).status).toBe('processed');
    const skipped = await firstDelivery(id2, 'skipped', '997 skipped', 20_000);
    const srow = await h.hub.db('deliveries').where({ id: skipped.deliveries[0].id }).first();
    expect(srow.error_message).toMatch(/secret headers cannot be opened/);
    expect(sink.requests.filter((r) => r.url === '/edi/lab')).toHaveLength(1);

    // null removes them
    const cleared = await h.api('PUT', `/api/v1/partners/${p.json.id}`, JSON.stringify({ outboundSecrets: null }), { 'content-type': 'application/json' });
    expect(cleared.status).toBe(200);
    expect(cleared.json.outboundSecrets).toBeNull();
    expect(await clear(`SELECT 1 FROM edi_partners WHERE id = ? AND outbound_secrets IS NULL AND outbound_secret_headers IS NULL`, [p.json.id])).toBe(1);
  });
});
