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
