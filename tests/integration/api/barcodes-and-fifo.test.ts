import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestHub, type TestHub } from '../../helpers/start-hub';

describe('barcode decoding over HTTP', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  }, 60000);
  afterAll(async () => {
    await h?.stop();
  });

  it('decodes raw scanner output with GS separators and a symbology identifier', async () => {
    const r = await h.api('POST', '/api/v1/barcodes/decode', `]d201095060001343521727033110L2403A\x1d21SN-0001`, { 'content-type': 'text/plain' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      scheme: 'gs1', symbology: ']d2', gtin: '09506000134352', expiry: '2027-03-31', lot: 'L2403A', serial: 'SN-0001',
      elements: [{ ai: '01', value: '09506000134352' }, { ai: '17', value: '270331' }, { ai: '10', value: 'L2403A' }, { ai: '21', value: 'SN-0001' }].map((e) => expect.objectContaining(e)),
    });
  });

  it('answers a bad check digit with 422, the code, the AI and the position', async () => {
    const r = await h.api('POST', '/api/v1/barcodes/decode', '(01)09506000134353(10)L1', { 'content-type': 'text/plain' });
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({ code: 'LB_ERR_GS1_CHECK_DIGIT', location: { path: '(01)', position: expect.any(Number) } });
    const unknownAi = await h.api('POST', '/api/v1/barcodes/decode', '(01)09506000134352(89)X', { 'content-type': 'text/plain' });
    expect(unknownAi.status).toBe(422);
    expect(unknownAi.json.error.code).toBe('LB_ERR_GS1_UNKNOWN_AI');
  });

  it('decodes HIBCC data: concatenated after ]C0, and a primary and a secondary symbol on two lines', async () => {
    const r = await h.api('POST', '/api/v1/barcodes/decode', ']C0+J123AQ3451/$$3231231BC34567/S4012R', { 'content-type': 'text/plain' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      scheme: 'hibcc', symbology: ']C0', structure: 'concatenated', lic: 'J123', product: 'AQ345', unitOfMeasure: 1, deviceIdentifier: 'J123AQ3451',
      lot: 'BC34567', expiry: '2023-12-31', expiryFormat: 'YYMMDD', serial: '4012', checkCharacter: 'R',
    });
    const linked = await h.api('POST', '/api/v1/barcodes/decode', '*+A123BJC5D6E71G*\r\n*+$$52001510X3GD*\r\n', { 'content-type': 'text/plain' });
    expect(linked.status).toBe(200);
    expect(linked.json).toMatchObject({ scheme: 'hibcc', structure: 'linked', lic: 'A123', lot: '10X3', expiry: '2020-01-15', linkCharacter: 'G' });
  });

  it('answers bad HIBCC data with 422, the code, the element and the position', async () => {
    const check = await h.api('POST', '/api/v1/barcodes/decode', '+A99912345/$$52001510X34', { 'content-type': 'text/plain' });
    expect(check.status).toBe(422);
    expect(check.json.error).toMatchObject({ code: 'LB_ERR_HIBCC_CHECK_CHARACTER', location: { position: 24, path: 'checkCharacter' }, details: { expected: '3', found: '4' } });
    const link = await h.api('POST', '/api/v1/barcodes/decode', '+A123BJC5D6E71G\n+$$52001510X3HE', { 'content-type': 'text/plain' });
    expect(link.status).toBe(422);
    expect(link.json.error).toMatchObject({ code: 'LB_ERR_HIBCC_LINK_CHARACTER', location: { position: 30, path: 'linkCharacter' } });
    const month = await h.api('POST', '/api/v1/barcodes/decode', '+A99912345/$$3261331LOT3', { 'content-type': 'text/plain' });
    expect(month.status).toBe(422);
    expect(month.json.error).toMatchObject({ code: 'LB_ERR_HIBCC_DATE', location: { position: 17, path: 'expiry' } });
    const julian = await h.api('POST', '/api/v1/barcodes/decode', '+A99912345/$$5264001LOT2', { 'content-type': 'text/plain' });
    expect(julian.json.error).toMatchObject({ code: 'LB_ERR_HIBCC_DATE', location: { position: 17, path: 'expiry' } });
    const structure = await h.api('POST', '/api/v1/barcodes/decode', '+A99912345/$10X3/17D20111231N', { 'content-type': 'text/plain' });
    expect(structure.json.error).toMatchObject({ code: 'LB_ERR_HIBCC_SYNTAX', location: { position: 18, path: 'supplementary' } });
  });
});

describe.each(['redis', 'postgres'] as const)('FIFO connectors on the %s queue backend', (backend) => {
  let h: TestHub;
  let configDir: string;
  beforeAll(async () => {
    configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-cfg-'));
    const file = path.join(configDir, 'lotbridge.config.json');
    fs.writeFileSync(file, JSON.stringify({ connectors: [{ id: 'wms-counts', kind: 'wms', config: { fifo: true, inbox: { enabled: false } } }] }));
    h = await startTestHub({ queue: backend, env: { LOTBRIDGE_CONFIG_FILE: file, LOTBRIDGE_WORKER_CONCURRENCY: '8' } });
  }, 60000);
  afterAll(async () => {
    await h?.stop();
    fs.rmSync(configDir, { recursive: true, force: true });
  });

  it('processes a FIFO connector sender by sender in receipt order, even with 8 workers', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const body = JSON.stringify({ movementId: `FIFO-${i}`, sender: i % 2 ? 'WH-A' : 'WH-B', type: i % 5 === 4 ? 'count' : 'receive', occurredAt: `2026-03-01T10:${String(i).padStart(2, '0')}:00Z`, location: 'WH1-F01', gtin: '09506000134352', lot: `LFIFO${i % 2}`, quantity: 3 });
      const r = await h.api('POST', '/api/v1/ingest/wms-counts', body, { 'content-type': 'application/json' });
      expect(r.status).toBe(202);
      ids.push(r.json.messageId);
    }
    for (const id of ids) {
      expect((await h.waitForStatus(id, 30000)).status).toBe('processed');
    }
    const rows = await h.hub.db('inbound_messages').whereIn('id', ids).orderBy([{ column: 'received_at' }, { column: 'id' }]).select('sender', 'processed_at');
    for (const sender of ['WH-A', 'WH-B']) {
      const times = rows.filter((r) => r.sender === sender).map((r) => new Date(r.processed_at).getTime());
      expect(times).toHaveLength(20);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
    }
  });
});
