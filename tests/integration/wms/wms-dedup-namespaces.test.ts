import { wmsConnector } from '../../../connectors/wms/wms.connector';
import type { ConnectorAdapter, RawInbound } from '../../../src/connectors/types';
import { IngestService } from '../../../src/ingest/ingest-service';
import { silentLogger } from '../../../src/logging/logger';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';

describe('WMS intake: a movement and a temperature reading with the same id', () => {
  let t: TestDatabase;
  let ingest: IngestService;
  const raw = (body: unknown): RawInbound => ({
    format: 'json',
    payload: Buffer.from(JSON.stringify(body)),
    contentType: 'application/json',
    receivedAt: new Date(),
    transport: 'http',
    envelope: {},
  });

  beforeAll(async () => {
    t = await createTestDatabase();
    const adapter = wmsConnector.create({ id: 'wms', config: { inbox: { enabled: false } } }, { logger: silentLogger(), signal: new AbortController().signal, dataDir: '/nonexistent', timezone: 'UTC' });
    ingest = new IngestService({ db: t.db, logger: silentLogger(), connectors: new Map<string, ConnectorAdapter>([['wms', adapter]]), enqueue: () => Promise.resolve(), maxBodyBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('are two messages (their ids are separate namespaces, as in their source keys); a resend of either is a duplicate', async () => {
    const move = { movementId: '1001', type: 'receive', occurredAt: '2026-03-01T10:00:00Z', location: 'A1', gtin: '09506000134352', lot: 'L1', quantity: 1, warehouse: 'WH1' };
    const reading = { readingId: '1001', type: 'temperature', sensor: 'S1', location: 'A1', at: '2026-03-01T10:00:00Z', celsius: 4, warehouse: 'WH1' };
    const r1 = await ingest.receive('wms', raw(move));
    const r2 = await ingest.receive('wms', raw(reading));
    expect(r1.status).toBe('accepted');
    expect(r2.status).toBe('accepted');
    expect((await ingest.receive('wms', raw(reading))).status).toBe('duplicate');
    expect((await ingest.receive('wms', raw(move))).status).toBe('duplicate');
  });
});
