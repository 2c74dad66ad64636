import fs from 'node:fs';
import path from 'node:path';
import { wmsConnector } from '../../../../connectors/wms';
import type { ConnectorAdapter, RawInbound } from '../../../../src/connectors/types';
import { isLotBridgeError } from '../../../../src/errors';
import { silentLogger } from '../../../../src/logging/logger';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../../fixtures/wms', name));

function adapter(config: Record<string, unknown> = {}): ConnectorAdapter {
  return wmsConnector.create({ id: 'wms', config }, { logger: silentLogger(), signal: new AbortController().signal, dataDir: '/nonexistent', timezone: 'UTC' });
}

function raw(payload: Buffer | string, contentType?: string): RawInbound {
  const a = adapter();
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { format, encoding } = a.formatOf(contentType, body);
  return { format, payload: body, encoding, contentType, receivedAt: new Date('2026-03-01T10:00:00Z'), transport: 'http', envelope: {} };
}

describe('wmsConnector.formatOf', () => {
  it.each([
    ['application/json', 'json', undefined],
    ['application/json; charset=utf-8', 'json', 'utf-8'],
    ['application/x-ndjson', 'json', undefined],
    ['application/jsonl', 'json', undefined],
    ['text/csv', 'csv', undefined],
    ['text/csv; charset=ISO-8859-1', 'csv', 'ISO-8859-1'],
  ])('takes %s as %s', (ct, format, encoding) => {
    expect(adapter().formatOf(ct, Buffer.from('x'))).toEqual(encoding === undefined ? { format } : { format, encoding });
  });

  it('sniffs a body sent without a Content-Type', () => {
    expect(adapter().formatOf(undefined, Buffer.from('\ufeff [{}]')).format).toBe('json');
    expect(adapter().formatOf(undefined, Buffer.from('movementId,type\n')).format).toBe('csv');
  });

  it.each(['application/xml', 'application/x-www-form-urlencoded', 'text/plain', 'text/csv; charset=ebcdic'])('refuses %s with LB_ERR_INGEST_UNSUPPORTED_MEDIA', (ct) => {
    let code: string | undefined;
    try {
      adapter().formatOf(ct, Buffer.from('{}'));
    } catch (err) {
      code = isLotBridgeError(err) ? err.code : 'not a LotBridgeError';
    }
    expect(code).toBe('LB_ERR_INGEST_UNSUPPORTED_MEDIA');
  });
});

describe('wmsConnector.readEnvelope', () => {
  it('gives one movement its type, control id, sender and the document dedup key', () => {
    expect(adapter().readEnvelope(raw(fixture('movement-receive-barcode.json'), 'application/json'))).toEqual({
      messageType: 'movement:receive',
      controlId: 'WMS-000123',
      dedupKey: 'doc:wms::WMS-000123',
    });
    const withSender = adapter().readEnvelope(raw('{"readingId":"R9","type":"temperature","warehouse":"WH2"}', 'application/json'));
    expect(withSender).toEqual({ messageType: 'temperature', sender: 'WH2', controlId: 'R9', dedupKey: 'doc:wms:WH2:reading:R9' });
    expect(adapter().readEnvelope(raw('{"movementId":"C1","type":"count"}', 'application/json')).messageType).toBe('count');
  });

  it('calls arrays, NDJSON and CSV a batch and leaves their dedup key to the hub (sha256)', () => {
    expect(adapter().readEnvelope(raw(fixture('batch-one-bad-record.json'), 'application/json'))).toEqual({ messageType: 'batch' });
    expect(adapter().readEnvelope(raw(fixture('stock-quoted-newline-bom.csv'), 'text/csv'))).toEqual({ messageType: 'batch' });
    expect(adapter().readEnvelope(raw(fixture('movements-bad-line.ndjson'), 'application/x-ndjson'))).toEqual({ messageType: 'batch' });
  });

  it('reports an unreadable body in the envelope instead of throwing', () => {
    const cases: Array<[Buffer, string | undefined, string]> = [
      [fixture('invalid-json-truncated.json'), 'application/json', 'LB_ERR_WMS_JSON_SYNTAX'],
      [fixture('empty.json'), 'application/json', 'LB_ERR_INGEST_EMPTY'],
      [Buffer.from('[]'), 'application/json', 'LB_ERR_INGEST_EMPTY'],
      [fixture('stock-latin1.csv'), 'text/csv', 'LB_ERR_INGEST_ENCODING'],
      [fixture('stock-missing-column.csv'), 'text/csv', 'LB_ERR_WMS_CSV_HEADER'],
      [Buffer.from('{"a":\n{"a":\n'), 'application/x-ndjson', 'LB_ERR_WMS_ALL_RECORDS_REJECTED'],
    ];
    for (const [body, ct, code] of cases) {
      const env = adapter().readEnvelope(raw(body, ct));
      expect([code, env.error?.code]).toEqual([code, code]);
    }
    const e = adapter().readEnvelope(raw(fixture('invalid-json-truncated.json'), 'application/json')).error;
    expect(e?.location).toEqual({ line: 1, column: 29, position: 28 });
  });

  it('leaves record-level problems to the pipeline (a readable body with a bad record is accepted)', () => {
    expect(adapter().readEnvelope(raw('{"movementId":"X","type":"teleport"}', 'application/json'))).toEqual({ messageType: 'movement:teleport', controlId: 'X', dedupKey: 'doc:wms::X' });
  });
});

describe('wmsConnector.create', () => {
  it('takes the time zone from its config, else the hub default, and refuses an unknown zone', () => {
    expect(adapter({ timezone: 'America/Chicago' }).timezone).toBe('America/Chicago');
    expect(adapter().timezone).toBe('UTC');
    expect(() => adapter({ timezone: 'Mars/Olympus' })).toThrow(/IANA/);
    expect(() => adapter({ inbox: { charset: 'ebcdic' } })).toThrow(/charset/);
  });
});
