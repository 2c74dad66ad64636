import fs from 'node:fs';
import path from 'node:path';
import { isLotBridgeError, type LotBridgeError } from '../../../../src/errors';
import { parseWmsBody } from '../../../../src/parsers/wms';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../../fixtures/wms', name));

function thrown(fn: () => unknown): LotBridgeError {
  try {
    fn();
  } catch (err) {
    if (isLotBridgeError(err)) {
      return err;
    }
    throw err;
  }
  throw new Error('expected a LotBridgeError');
}

describe('parseWmsBody', () => {
  it('reads one JSON movement object as a single record on line 1', () => {
    const r = parseWmsBody({ payload: fixture('movement-receive-barcode.json'), format: 'json', contentType: 'application/json' });
    expect(r.syntax).toBe('json');
    expect(r.single).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.records).toEqual([{ index: 0, line: 1, value: expect.objectContaining({ movementId: 'WMS-000123', quantity: 20 }) }]);
  });

  it('gives each element of a JSON array its index and the line it starts on', () => {
    const r = parseWmsBody({ payload: fixture('batch-one-bad-record.json'), format: 'json', contentType: 'application/json' });
    expect(r.single).toBe(false);
    expect(r.records.map((x) => [x.index, x.line])).toEqual([
      [0, 2],
      [1, 12],
      [2, 21],
    ]);
    expect((r.records[1].value as { quantity: unknown }).quantity).toBe('ten');
  });

  it('rejects a truncated JSON body with LB_ERR_WMS_JSON_SYNTAX at the line and column where it ends', () => {
    const e = thrown(() => parseWmsBody({ payload: fixture('invalid-json-truncated.json'), format: 'json', contentType: 'application/json' }));
    expect(e.code).toBe('LB_ERR_WMS_JSON_SYNTAX');
    expect(e.location).toEqual({ line: 1, column: 29, position: 28 });
    expect(e.message).toMatch(/line 1, column 29/);
  });

  it('locates a trailing comma inside a multi-line JSON array', () => {
    const e = thrown(() => parseWmsBody({ payload: fixture('invalid-json-trailing-comma.json'), format: 'json', contentType: 'application/json' }));
    expect(e.code).toBe('LB_ERR_WMS_JSON_SYNTAX');
    const line3 = fixture('invalid-json-trailing-comma.json').toString('utf8').split('\n')[2];
    expect(e.location).toMatchObject({ line: 3, column: line3.indexOf(',}') + 2 });
    expect(e.message).toMatch(/trailing comma/);
  });

  it('reads NDJSON line by line, skips blank lines and reports a bad line with its line and column', () => {
    const r = parseWmsBody({ payload: fixture('movements-bad-line.ndjson'), format: 'json', contentType: 'application/x-ndjson' });
    expect(r.syntax).toBe('ndjson');
    expect(r.records.map((x) => [x.index, x.line])).toEqual([
      [0, 1],
      [2, 4],
    ]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].code).toBe('LB_ERR_WMS_JSON_SYNTAX');
    expect(r.errors[0].location).toMatchObject({ index: 1, line: 3 });
    expect(r.errors[0].location?.column).toBeGreaterThan(100);
  });

  it('treats application/jsonl like NDJSON and sniffs NDJSON when no Content-Type is given', () => {
    const body = Buffer.from('{"a":1}\n{"a":2}\n');
    expect(parseWmsBody({ payload: body, format: 'json', contentType: 'application/jsonl' }).records).toHaveLength(2);
    expect(parseWmsBody({ payload: body, format: 'json' }).syntax).toBe('ndjson');
    expect(parseWmsBody({ payload: Buffer.from('{\n "a": 1\n}\n'), format: 'json' }).syntax).toBe('json');
  });

  it('rejects an empty body and a body of white space with LB_ERR_INGEST_EMPTY', () => {
    expect(thrown(() => parseWmsBody({ payload: fixture('empty.json'), format: 'json', contentType: 'application/json' })).code).toBe('LB_ERR_INGEST_EMPTY');
    expect(thrown(() => parseWmsBody({ payload: Buffer.from(' \r\n\t'), format: 'csv', contentType: 'text/csv' })).code).toBe('LB_ERR_INGEST_EMPTY');
  });

  it('rejects a JSON scalar as the body', () => {
    expect(thrown(() => parseWmsBody({ payload: Buffer.from('42'), format: 'json', contentType: 'application/json' })).code).toBe('LB_ERR_WMS_RECORD_INVALID');
  });

  it('strips a UTF-8 BOM, keeps a quoted newline inside one field and numbers the next row after it', () => {
    const r = parseWmsBody({ payload: fixture('stock-quoted-newline-bom.csv'), format: 'csv', contentType: 'text/csv' });
    expect(r.syntax).toBe('csv');
    expect(r.errors).toEqual([]);
    expect(r.records).toEqual([
      {
        index: 0,
        line: 2,
        value: {
          movementId: 'WMS-C-1', type: 'receive', occurredAt: '2026-03-04T09:00:00Z', location: 'WH1-DOCK-01', gtin: '09506000134352',
          lot: 'L2404A', quantity: 30, uom: 'EA', note: 'first line\r\nsecond line, with a comma',
        },
      },
      { index: 1, line: 4, value: expect.objectContaining({ movementId: 'WMS-C-2', type: 'putaway', toLocation: 'WH1-BIN-07', quantity: 30, note: 'plain' }) },
    ]);
  });

  it('decodes a Latin-1 CSV when the charset is declared (semicolons, decimal comma)', () => {
    const r = parseWmsBody({ payload: fixture('stock-latin1.csv'), format: 'csv', contentType: 'text/csv; charset=ISO-8859-1' });
    expect(r.records.map((x) => x.value)).toEqual([
      expect.objectContaining({ movementId: 'INV-L1-1', location: 'LAGER-KÜHL-01', quantity: 48 }),
      expect.objectContaining({ movementId: 'INV-L1-2', location: 'LAGER-KÜHL-02', quantity: 12 }),
    ]);
    const viaEncoding = parseWmsBody({ payload: fixture('stock-latin1.csv'), format: 'csv', encoding: 'windows-1252' });
    expect((viaEncoding.records[0].value as { location: string }).location).toBe('LAGER-KÜHL-01');
  });

  it('refuses Latin-1 bytes sent without a charset with LB_ERR_INGEST_ENCODING at the line and byte offset', () => {
    const payload = fixture('stock-latin1.csv');
    const e = thrown(() => parseWmsBody({ payload, format: 'csv', contentType: 'text/csv' }));
    expect(e.code).toBe('LB_ERR_INGEST_ENCODING');
    expect(e.location).toEqual({ line: 2, position: payload.indexOf(0xdc) });
    expect(e.message).toMatch(/byte 0xDC at byte offset \d+ \(line 2\)/);
  });

  it('refuses an unsupported declared charset', () => {
    expect(thrown(() => parseWmsBody({ payload: Buffer.from('a'), format: 'csv', contentType: 'text/csv; charset=ebcdic' })).code).toBe('LB_ERR_INGEST_ENCODING');
  });

  it('names the missing required column of a CSV header', () => {
    const e = thrown(() => parseWmsBody({ payload: fixture('stock-missing-column.csv'), format: 'csv', contentType: 'text/csv' }));
    expect(e.code).toBe('LB_ERR_WMS_CSV_HEADER');
    expect(e.location).toEqual({ line: 1, field: 'quantity' });
    expect(e.message).toMatch(/"quantity"/);
  });

  it('asks a temperature CSV for reading columns instead of movement columns', () => {
    const ok = parseWmsBody({ payload: Buffer.from('readingId,type,sensor,location,at,celsius\nR1,temperature,S1,A,2026-03-01T10:00:00Z,-18.5\n'), format: 'csv' });
    expect(ok.records[0].value).toEqual({ readingId: 'R1', type: 'temperature', sensor: 'S1', location: 'A', at: '2026-03-01T10:00:00Z', celsius: -18.5 });
    const e = thrown(() => parseWmsBody({ payload: Buffer.from('readingId,type,location,at,celsius\n'), format: 'csv' }));
    expect(e.location?.field).toBe('sensor');
  });

  it('keeps a non-numeric quantity cell as text for the validator, and builds references from reference columns', () => {
    const r = parseWmsBody({
      payload: Buffer.from('movementId,type,occurredAt,location,gtin,lot,quantity,reference,reference.po\nM1,receive,2026-03-01T10:00:00Z,A,09506000134352,L1,ten,asn:ASN-77,PO-9\n'),
      format: 'csv',
    });
    expect(r.records[0].value).toMatchObject({ quantity: 'ten', reference: { asn: 'ASN-77', po: 'PO-9' } });
  });

  it('reports a row with more fields than the header as a record error and reads the other rows', () => {
    const r = parseWmsBody({
      payload: Buffer.from('movementId,type,occurredAt,location,gtin,lot,quantity\nM1,receive,2026-03-01T10:00:00Z,A,09506000134352,L1,1,extra\n\nM2,receive,2026-03-01T10:00:00Z,A,09506000134352,L1,2\n'),
      format: 'csv',
    });
    expect(r.errors.map((e) => [e.code, e.location])).toEqual([['LB_ERR_WMS_CSV_SYNTAX', { index: 0, line: 2 }]]);
    expect(r.records.map((x) => [x.index, x.line])).toEqual([[1, 4]]);
  });

  it('rejects a CSV whose quote is never closed with LB_ERR_WMS_CSV_SYNTAX at the row where it opens', () => {
    const e = thrown(() =>
      parseWmsBody({ payload: Buffer.from('movementId,type,occurredAt,location,gtin,lot,quantity\r\nM1,receive,2026-03-01T10:00:00Z,A,09506000134352,L1,1\r\nM2,"receive,x\r\n'), format: 'csv' }),
    );
    expect(e.code).toBe('LB_ERR_WMS_CSV_SYNTAX');
    expect(e.location).toEqual({ line: 3 });
  });
});
