import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wmsConnector } from '../../../connectors/wms';
import type { ConnectorAdapter, IngestPort, IngestReceipt, RawInbound } from '../../../src/connectors/types';
import { IngestService } from '../../../src/ingest/ingest-service';
import { silentLogger } from '../../../src/logging/logger';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processMessage } from '../../../src/pipeline/process-message';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, seedMaterial } from './wms-test-data';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/wms', name));

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) {
      return v;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ls = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isFile()).sort() : []);
/**
 * The file has landed in done/ or error/ and processing/ is empty again: the move is a hard link and an
 * unlink, so for a moment it is in both; probing done/ alone races with the unlink.
 */
const landed = (dir: string, to: 'done' | 'error', name: string): boolean =>
  ls(path.join(dir, to)).includes(name) && ls(path.join(dir, 'processing')).length === 0;

describe('WMS connector: watched folder inbox/ → processing/ → done/ | error/', () => {
  let t: TestDatabase;
  let dataDir: string;
  const connectors = new Map<string, ConnectorAdapter>();
  let ingest: IngestService;

  /** A WMS adapter on its own inbox under dataDir, registered with the real IngestService. */
  function makeAdapter(id: string, inbox: Record<string, unknown> = {}): { adapter: ConnectorAdapter; dir: string } {
    const adapter = wmsConnector.create({ id, config: { inbox: { pollIntervalMs: 25, ...inbox } } }, { logger: silentLogger(), signal: new AbortController().signal, dataDir, timezone: 'UTC' });
    connectors.set(id, adapter);
    return { adapter, dir: path.join(dataDir, 'inbox', id) };
  }

  const drop = (dir: string, name: string, body: Buffer | string): void => {
    fs.writeFileSync(path.join(dir, `.${name}.part`), body);
    fs.renameSync(path.join(dir, `.${name}.part`), path.join(dir, name));
  };
  const messagesFrom = (connectorId: string): Promise<Array<{ id: string; status: string; transport: string; envelope: Record<string, string>; message_type: string; error_code: string | null }>> =>
    t.db('inbound_messages').where({ connector_id: connectorId }).orderBy('received_at');

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotbridge-wms-'));
    ingest = new IngestService({ db: t.db, logger: silentLogger(), connectors, enqueue: () => Promise.resolve(), maxBodyBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    for (const a of connectors.values()) {
      await a.stop({ force: true });
    }
    await t.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores a dropped file with transport file and its name, then moves it to done/; health follows start and stop', async () => {
    const { adapter, dir } = makeAdapter('wms-a');
    expect((await adapter.health()).status).toBe('down');
    expect(fs.existsSync(dir)).toBe(false);
    await adapter.start(ingest);
    await adapter.start(ingest);
    expect((await adapter.health()).status).toBe('up');
    for (const d of ['processing', 'done', 'error']) {
      expect(fs.existsSync(path.join(dir, d))).toBe(true);
    }
    drop(dir, 'receive-1.json', fixture('movement-receive-barcode.json'));
    await until('done/receive-1.json', () => landed(dir, 'done', 'receive-1.json'));
    expect(ls(dir)).toEqual([]);
    expect(ls(path.join(dir, 'processing'))).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'done', 'receive-1.json'))).toEqual(fixture('movement-receive-barcode.json'));
    const [row] = await messagesFrom('wms-a');
    expect(row).toMatchObject({ status: 'queued', transport: 'file', envelope: { fileName: 'receive-1.json' }, message_type: 'movement:receive' });
    const health = await adapter.health();
    expect(health).toMatchObject({ status: 'up', lastMessageAt: expect.any(Date) });
    await adapter.stop();
    await adapter.stop();
    expect((await adapter.health()).status).toBe('down');
  });

  it('moves an unreadable file to error/ with <name>.error.json beside it, and a resend (duplicate) to done/ under a free name', async () => {
    const { adapter, dir } = makeAdapter('wms-b');
    await adapter.start(ingest);
    drop(dir, 'broken.json', fixture('invalid-json-truncated.json'));
    await until('error/broken.json', () => landed(dir, 'error', 'broken.json.error.json') && landed(dir, 'error', 'broken.json'));
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'error', 'broken.json.error.json'), 'utf8')) as { fileName: string; receipt: IngestReceipt };
    expect(report).toMatchObject({ fileName: 'broken.json', receipt: { status: 'rejected', error: { code: 'LB_ERR_WMS_JSON_SYNTAX', location: { line: 1, column: 29 } } } });

    drop(dir, 'batch.json', fixture('batch-one-bad-record.json'));
    await until('done/batch.json', () => landed(dir, 'done', 'batch.json'));
    drop(dir, 'batch.json', fixture('batch-one-bad-record.json'));
    await until('done/batch.1.json', () => landed(dir, 'done', 'batch.1.json'));
    const rows = await messagesFrom('wms-b');
    expect(rows.map((r) => [r.status, r.envelope.fileName, r.error_code])).toEqual([
      ['rejected', 'broken.json', 'LB_ERR_WMS_JSON_SYNTAX'],
      ['queued', 'batch.json', null],
      ['duplicate', 'batch.json', null],
    ]);
    await adapter.stop();
  });

  it('retries files a crash left in processing/ at start: a stored one becomes a duplicate, an unstored one is stored', async () => {
    const { adapter, dir } = makeAdapter('wms-c');
    await adapter.start(ingest);
    await adapter.stop();
    const stored = Buffer.from(JSON.stringify({ movementId: 'CRASH-1', type: 'receive', occurredAt: '2026-03-01T10:00:00Z', location: 'A1', gtin: GTIN.eachA, lot: 'LC', quantity: 1 }));
    const first = await ingest.receive('wms-c', { format: 'json', payload: stored, contentType: 'application/json', receivedAt: new Date(), transport: 'file', envelope: { fileName: 'crash-1.json' } });
    expect(first.status).toBe('accepted');
    fs.writeFileSync(path.join(dir, 'processing', 'crash-1.json'), stored);
    fs.writeFileSync(path.join(dir, 'processing', 'crash-2.ndjson'), fixture('movements-bad-line.ndjson'));
    await adapter.start(ingest);
    expect(ls(path.join(dir, 'processing'))).toEqual([]);
    expect(ls(path.join(dir, 'done'))).toEqual(['crash-1.json', 'crash-2.ndjson']);
    const rows = await messagesFrom('wms-c');
    expect(rows.map((r) => [r.envelope.fileName, r.status])).toEqual([
      ['crash-1.json', 'queued'],
      ['crash-1.json', 'duplicate'],
      ['crash-2.ndjson', 'queued'],
    ]);
    await adapter.stop();
  });

  it('keeps a file in processing/ while intake fails (health degraded) and delivers it once intake is back', async () => {
    const { adapter, dir } = makeAdapter('wms-d');
    let failures = 2;
    const flaky: IngestPort = {
      recordAck: (id, ack) => ingest.recordAck(id, ack),
      ackOf: (id) => ingest.ackOf(id),
      awaitVerdict: (id, ms) => ingest.awaitVerdict(id, ms),
      receive(connectorId: string, raw: RawInbound): Promise<IngestReceipt> {
        if (failures > 0) {
          failures--;
          return Promise.reject(new Error('PostgreSQL is unavailable'));
        }
        return ingest.receive(connectorId, raw);
      },
    };
    await adapter.start(flaky);
    drop(dir, 'flaky.csv', fixture('stock-quoted-newline-bom.csv'));
    await until('a failed attempt', () => ls(path.join(dir, 'processing')).includes('flaky.csv') && failures < 2);
    expect((await adapter.health()).status).toBe('degraded');
    await until('done/flaky.csv', () => landed(dir, 'done', 'flaky.csv'));
    expect((await adapter.health()).status).toBe('up');
    expect((await messagesFrom('wms-d')).map((r) => r.status)).toEqual(['queued']);
    await adapter.stop();
  });

  it('ignores hidden files and partial uploads, and decodes files with the configured charset', async () => {
    const { adapter, dir } = makeAdapter('wms-e', { charset: 'iso-8859-1' });
    await adapter.start(ingest);
    fs.writeFileSync(path.join(dir, 'upload.csv.part'), 'x');
    fs.writeFileSync(path.join(dir, '.hidden.csv'), 'x');
    drop(dir, 'stock.csv', fixture('stock-latin1.csv'));
    await until('done/stock.csv', () => landed(dir, 'done', 'stock.csv'));
    expect(ls(dir)).toEqual(['.hidden.csv', 'upload.csv.part']);
    const [row] = await t.db('inbound_messages').where({ connector_id: 'wms-e' });
    expect(row).toMatchObject({ status: 'queued', format: 'csv', encoding: 'iso-8859-1', content_type: 'text/csv; charset=iso-8859-1' });
    await adapter.stop();
  });

  it('carries a file through the pipeline: a batch with one bad record ends processed, with the record error on the message', async () => {
    const { adapter, dir } = makeAdapter('wms-f');
    await adapter.start(ingest);
    drop(dir, 'batch.json', fixture('batch-one-bad-record.json'));
    await until('done/batch.json', () => landed(dir, 'done', 'batch.json'));
    await adapter.stop();
    const [stored] = await messagesFrom('wms-f');
    const outcome = await processMessage(
      { db: t.db, logger: silentLogger(), handlers: new Map([['wms', wmsHandler]]), timezoneOf: () => 'UTC' },
      stored.id,
      { final: true },
    );
    expect(outcome).toEqual({ status: 'processed', recordErrors: 1 });
    const row = await t.db('inbound_messages').where({ id: stored.id }).first();
    expect(row).toMatchObject({ status: 'processed', message_type: 'batch', result: expect.objectContaining({ applied: 2, rejected: 1 }) });
    expect(row.record_errors).toEqual([expect.objectContaining({ code: 'LB_ERR_WMS_QUANTITY', location: { index: 1, line: 12, path: '/1/quantity', field: 'quantity' } })]);
  });
});
