import { createApiKey } from '../../../src/security/api-keys';
import { startTestHub, type TestHub } from '../../helpers/start-hub';

const movement = (id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    movementId: id, type: 'receive', occurredAt: '2026-03-01T10:15:00Z', location: 'WH1-COLD-A01',
    barcode: '(01)09506000134352(17)270331(10)L2403A', quantity: 20, uom: 'EA', stockState: 'pending_inspection', ...extra,
  });
const json = { 'content-type': 'application/json' };

describe.each(['redis', 'postgres'] as const)('intake and pipeline on the %s queue backend', (backend) => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ queue: backend });
  }, 60000);
  afterAll(async () => {
    await h?.stop();
  });

  it('says which queue backend is in use in /readyz', async () => {
    const r = await fetch(`${h.url}/readyz`);
    const body = (await r.json()) as { status: string; queueBackend: string; dependencies: Record<string, { state: string }> };
    expect(r.status).toBe(200);
    expect(body.queueBackend).toBe(backend);
    expect(body.dependencies[backend === 'redis' ? 'redis' : 'queue_postgres'].state).toBe('up');
    expect(body.dependencies.postgres.state).toBe('up');
    expect(body.dependencies.migrations.state).toBe('up');
  });

  it('turns a WMS movement into a lot with a balance, and links the rows back to the message', async () => {
    const r = await h.api('POST', '/api/v1/ingest/wms', movement(`MV-${backend}-1`), json);
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ messageId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'accepted' });
    expect(r.headers.get('lotbridge-message-id')).toBe(r.json.messageId);
    const m = await h.waitForStatus(r.json.messageId);
    expect(m).toMatchObject({ status: 'processed', connectorId: 'wms', format: 'json', attempts: 1, error: null });
    expect(m.canonical.map((c: { table: string }) => c.table)).toEqual(expect.arrayContaining(['trace_events', 'inventory_ledger']));
    const lot = await h.api('GET', '/api/v1/lots?gtin=09506000134352&lot=L2403A');
    expect(lot.status).toBe(200);
    expect(lot.json.expiry).toBe('2027-03-31');
    expect(lot.json.balances).toEqual([expect.objectContaining({ location: 'WH1-COLD-A01', stockState: 'pending_inspection', quantity: 20 })]);
  });

  it('answers a resend as a duplicate of the first message, stores it, and applies nothing twice', async () => {
    const first = await h.api('POST', '/api/v1/ingest/wms', movement(`MV-${backend}-dup`, { barcode: '(01)09506000134352(17)270331(10)LDUP' }), json);
    await h.waitForStatus(first.json.messageId);
    const again = await h.api('POST', '/api/v1/ingest/wms', movement(`MV-${backend}-dup`, { barcode: '(01)09506000134352(17)270331(10)LDUP' }), json);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ messageId: expect.any(String), status: 'duplicate', duplicateOf: first.json.messageId });
    const stored = await h.api('GET', `/api/v1/messages/${again.json.messageId}`);
    expect(stored.json).toMatchObject({ status: 'duplicate', duplicateOf: first.json.messageId });
    const lot = await h.api('GET', '/api/v1/lots?gtin=09506000134352&lot=LDUP');
    expect(lot.json.totalQuantity ?? lot.json.balances[0].quantity).toBe(20);
  });

  it('stores an unreadable body and answers 422 with the code and the line and column', async () => {
    const r = await h.api('POST', '/api/v1/ingest/wms', '{"movementId": "X",\n  "type": ', json);
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ status: 'rejected', messageId: expect.any(String), error: { code: 'LB_ERR_WMS_JSON_SYNTAX', location: { line: 2 } } });
    const m = await h.api('GET', `/api/v1/messages/${r.json.messageId}`);
    expect(m.json).toMatchObject({ status: 'rejected', error: { code: 'LB_ERR_WMS_JSON_SYNTAX' }, payloadStored: true });
    const raw = await h.api('GET', `/api/v1/messages/${r.json.messageId}/payload`);
    expect(raw.text).toBe('{"movementId": "X",\n  "type": ');
  });

  it('rejects an empty body with LB_ERR_INGEST_EMPTY, stored', async () => {
    const r = await h.api('POST', '/api/v1/ingest/wms', '', json);
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('LB_ERR_INGEST_EMPTY');
    expect((await h.api('GET', `/api/v1/messages/${r.json.messageId}`)).json.status).toBe('rejected');
  });

  it('answers an over-size body 413 and keeps a metadata-only row', async () => {
    const big = Buffer.alloc(h.config.maxBodyBytes + 1024 * 1024, 0x20);
    const r = await h.api('POST', '/api/v1/ingest/wms', big, json);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('LB_ERR_INGEST_TOO_LARGE');
    const m = await h.api('GET', `/api/v1/messages/${r.json.messageId}`);
    expect(m.json).toMatchObject({ status: 'rejected', sizeBytes: big.length, payloadStored: false });
  });

  it('refuses requests without a valid key (401), with the wrong role (403), to unknown connectors (404)', async () => {
    const noKey = await fetch(`${h.url}/api/v1/ingest/wms`, { method: 'POST', body: movement('A1'), headers: json });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { code: string } }).error.code).toBe('LB_ERR_AUTH_MISSING');
    const wrong = await fetch(`${h.url}/api/v1/ingest/wms`, { method: 'POST', body: movement('A1'), headers: { ...json, authorization: 'Bearer nope-nope' } });
    expect(wrong.status).toBe(401);
    const auditor = await createApiKey(h.hub.db, { name: 'qa-auditor', role: 'auditor' });
    const forbidden = await fetch(`${h.url}/api/v1/ingest/wms`, { method: 'POST', body: movement('A1'), headers: { ...json, authorization: `Bearer ${auditor.key}` } });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe('LB_ERR_AUTH_FORBIDDEN');
    const unknown = await h.api('POST', '/api/v1/ingest/no-such-connector', 'x', json);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('LB_ERR_CONNECTOR_NOT_FOUND');
    const count = await h.hub.db('inbound_messages').where({ connector_id: 'no-such-connector' }).count<Array<{ count: number }>>('* as count');
    expect(Number(count[0].count)).toBe(0);
  });

  it('reprocesses a processed message without changing any balance', async () => {
    const r = await h.api('POST', '/api/v1/ingest/wms', movement(`MV-${backend}-re`, { barcode: '(01)09506000134352(17)270331(10)LRE' }), json);
    await h.waitForStatus(r.json.messageId);
    const re = await h.api('POST', `/api/v1/messages/${r.json.messageId}/reprocess`);
    expect(re.status).toBe(202);
    expect(re.json).toMatchObject({ status: 'queued', previousStatus: 'processed' });
    const m = await h.waitForStatus(r.json.messageId);
    expect(m.status).toBe('processed');
    expect(await h.lotTotal('09506000134352', 'LRE')).toBe(20);
    const events = await h.hub.db('trace_events').where({ source_message_id: r.json.messageId });
    expect(events).toHaveLength(1);
  });

  it('maps EDIFACT, deduplicated by UNB sender + recipient + 0020, and keeps its CONTRL on the message', async () => {
    const partner = await h.api('POST', '/api/v1/partners', JSON.stringify({ standard: 'edifact', interchangeId: 'SUPPLIER1', name: 'Supplier 1' }), { 'content-type': 'application/json' });
    expect(partner.status).toBe(201);
    const edi = "UNB+UNOC:3+SUPPLIER1:14+ACME:14+260301:1015+C77'UNH+1+DESADV:D:96A:UN'BGM+351+ASN-77+9'LIN+1++09506000134352:SRV'QTY+12:4:PCE'GIN+BX+L77'UNT+6+1'UNZ+1+C77'";
    const r = await h.api('POST', '/api/v1/ingest/edifact', edi, { 'content-type': 'application/edifact' });
    expect(r.status).toBe(202);
    const m = await h.waitForStatus(r.json.messageId);
    expect(m).toMatchObject({ status: 'processed', messageType: 'DESADV', controlId: 'C77', ack: { type: 'CONTRL', status: 'accepted' } });
    const again = await h.api('POST', '/api/v1/ingest/edifact', edi, { 'content-type': 'application/edifact' });
    expect(again.json).toMatchObject({ status: 'duplicate', duplicateOf: r.json.messageId, ack: { type: 'CONTRL', controlNumber: m.ack.controlNumber } });
    expect(await h.lotTotal('09506000134352', 'L77')).toBe(4);
  });

});
