import fs from 'node:fs';
import path from 'node:path';
import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage, type HandlerRun, type TestMessageInput } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, movement, seedMaterial } from './wms-test-data';

const fixture = (name: string): Buffer => fs.readFileSync(path.join(__dirname, '../../fixtures/wms', name));

describe('WMS handler: bad input', () => {
  let t: TestDatabase;
  const run = (input: TestMessageInput, timezone?: string): Promise<HandlerRun> => processTestMessage(t.db, wmsHandler, input, { timezone });
  const json = (body: unknown): Promise<HandlerRun> => run({ payload: JSON.stringify(body), contentType: 'application/json' });
  const rejected = async (p: Promise<HandlerRun>): Promise<Extract<HandlerRun, { ok: false }>['error']> => {
    const r = await p;
    if (r.ok) {
      throw new Error(`expected a rejection, got ${JSON.stringify(r.result)}`);
    }
    expect(r.error.kind).toBe('input');
    return r.error;
  };
  const countRows = async (table: string): Promise<number> => Number((await t.db(table).count<Array<{ count: string }>>('* as count'))[0].count);

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('processes the good records of a JSON array and lists the bad one ("ten") with its index, line, path and field', async () => {
    const r = await run({ payload: fixture('batch-one-bad-record.json'), contentType: 'application/json' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result).toMatchObject({ status: 'processed', messageType: 'batch', summary: { records: 3, applied: 2, rejected: 1 } });
    expect(r.result.recordErrors).toEqual([
      {
        code: 'LB_ERR_WMS_QUANTITY',
        message: 'record 1 (line 12): quantity "ten" is not a number',
        location: { index: 1, line: 12, path: '/1/quantity', field: 'quantity' },
      },
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'L2403B')).toEqual({ 'WH1-COLD-A02/finished': 12 });
    expect(await t.db('lots').where({ lot_number: 'L2403C' })).toEqual([]);
  });

  it.each([
    ['an unknown type', { type: 'teleport' }, 'LB_ERR_WMS_UNKNOWN_TYPE', 'type'],
    ['a missing quantity', { quantity: undefined }, 'LB_ERR_WMS_QUANTITY', 'quantity'],
    ['"quantity": "ten"', { quantity: 'ten' }, 'LB_ERR_WMS_QUANTITY', 'quantity'],
    ['a negative receive', { quantity: -5 }, 'LB_ERR_WMS_QUANTITY', 'quantity'],
    ['a timestamp on 2026-02-30', { occurredAt: '2026-02-30T10:00:00Z' }, 'LB_ERR_WMS_DATE', 'occurredAt'],
    ['an expiry on 2026-02-30', { expiry: '2026-02-30' }, 'LB_ERR_WMS_DATE', 'expiry'],
    ['a timestamp at 25:00', { occurredAt: '2026-03-01T25:00:00Z' }, 'LB_ERR_WMS_DATE', 'occurredAt'],
    ['a barcode with a bad check digit', { gtin: undefined, lot: undefined, barcode: '(01)09506000134353(10)L1' }, 'LB_ERR_GS1_CHECK_DIGIT', 'barcode'],
    ['a barcode with an unknown AI', { gtin: undefined, lot: undefined, barcode: '(01)09506000134352(10)L1(23)123' }, 'LB_ERR_GS1_UNKNOWN_AI', 'barcode'],
    ['a gtin with a bad check digit', { gtin: '09506000134353' }, 'LB_ERR_GS1_CHECK_DIGIT', 'gtin'],
    ['no item', { gtin: undefined, lot: undefined }, 'LB_ERR_WMS_ITEM_UNIDENTIFIED', 'gtin'],
    ['a barcode without a lot', { gtin: undefined, lot: undefined, barcode: '(01)09506000134352(17)270331' }, 'LB_ERR_WMS_ITEM_UNIDENTIFIED', 'barcode'],
    ['no location', { location: undefined }, 'LB_ERR_WMS_LOCATION_REQUIRED', 'location'],
    ['a move without toLocation', { type: 'move' }, 'LB_ERR_WMS_LOCATION_REQUIRED', 'toLocation'],
    ['a ship without shipTo', { type: 'ship' }, 'LB_ERR_WMS_RECORD_INVALID', 'shipTo'],
    ['a non-string movementId', { movementId: 42 }, 'LB_ERR_WMS_RECORD_INVALID', 'movementId'],
    ['a stock state that does not exist', { stockState: 'lost' }, 'LB_ERR_WMS_RECORD_INVALID', 'stockState'],
  ])('rejects a single-record body with %s: its own code and field', async (_case, over, code, field) => {
    const before = await countRows('trace_events');
    const e = await rejected(json(movement({ movementId: `BAD-${field}-${code}`, ...over })));
    expect(e.code).toBe(code);
    expect(e.location).toMatchObject({ index: 0, line: 1, path: `/${field}`, field });
    expect(await countRows('trace_events')).toBe(before);
  });

  it('gives a bad barcode in a batch the GS1 code, the position in the barcode and the AI, at the record and field', async () => {
    const r = await json([movement({ movementId: 'GS-0', lot: 'LG1' }), movement({ movementId: 'GS-1', gtin: undefined, lot: undefined, barcode: '(01)09506000134353(10)L1' })]);
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toEqual([
      expect.objectContaining({
        code: 'LB_ERR_GS1_CHECK_DIGIT',
        location: { index: 1, line: 1, path: '/1/barcode', field: 'barcode', position: 18 },
        details: expect.objectContaining({ ai: '(01)' }),
      }),
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'LG1')).toEqual({ 'A1/finished': 10 });
  });

  it('rejects a batch in which every record is bad with LB_ERR_WMS_ALL_RECORDS_REJECTED at the first error, all errors in details, nothing written', async () => {
    const before = { events: await countRows('trace_events'), lots: await countRows('lots'), locations: await countRows('locations') };
    const e = await rejected(
      json([
        movement({ movementId: 'ALL-1', location: 'NEW-LOC-1', gtin: GTIN.unknown, lot: 'LZ', quantity: 'ten' }),
        movement({ movementId: 'ALL-2', location: 'NEW-LOC-2', gtin: GTIN.unknown, lot: 'LZ', type: 'warp' }),
      ]),
    );
    expect(e.code).toBe('LB_ERR_WMS_ALL_RECORDS_REJECTED');
    expect(e.location).toEqual({ index: 0, line: 1, path: '/0/quantity', field: 'quantity' });
    expect((e.details?.errors as Array<{ code: string }>).map((x) => x.code)).toEqual(['LB_ERR_WMS_QUANTITY', 'LB_ERR_WMS_UNKNOWN_TYPE']);
    expect({ events: await countRows('trace_events'), lots: await countRows('lots'), locations: await countRows('locations') }).toEqual(before);
  });

  it('rolls back a provisional material when the only record is rejected later (LB_ERR_WMS_UOM)', async () => {
    await seedMaterial(t.db, { code: 'TEST-KG', baseUom: 'KG', gtins: [{ gtin: GTIN.eachB }] });
    const e = await rejected(json(movement({ movementId: 'UOM-ONLY', gtin: GTIN.eachB, uom: 'CS', location: 'ROLLBACK-LOC' })));
    expect(e.code).toBe('LB_ERR_WMS_UOM');
    expect(await t.db('locations').where({ code: 'ROLLBACK-LOC' })).toEqual([]);
  });

  it('rejects invalid JSON with the line and column, and an empty body', async () => {
    const e = await rejected(run({ payload: fixture('invalid-json-trailing-comma.json'), contentType: 'application/json' }));
    expect(e.code).toBe('LB_ERR_WMS_JSON_SYNTAX');
    expect(e.location).toMatchObject({ line: 3, column: expect.any(Number) });
    expect((await rejected(run({ payload: fixture('empty.json'), contentType: 'application/json' }))).code).toBe('LB_ERR_INGEST_EMPTY');
    expect((await rejected(run({ payload: '[]', contentType: 'application/json' }))).code).toBe('LB_ERR_INGEST_EMPTY');
  });

  it('processes the good NDJSON lines and lists the bad JSON line and the unknown type with their lines', async () => {
    const r = await run({ payload: fixture('movements-bad-line.ndjson'), contentType: 'application/x-ndjson' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.summary).toMatchObject({ records: 3, applied: 1, rejected: 2 });
    expect(r.result.recordErrors?.map((e) => [e.code, e.location?.index, e.location?.line])).toEqual([
      ['LB_ERR_WMS_JSON_SYNTAX', 1, 3],
      ['LB_ERR_WMS_UNKNOWN_TYPE', 2, 4],
    ]);
    expect(r.result.recordErrors?.[1].location?.path).toBe('/2/type');
    expect(await balancesOf(t.db, GTIN.eachA, 'L2403D')).toEqual({ 'WH1-DOCK-01/finished': 5 });
  });

  it('reads a CSV with a BOM and a quoted newline: both rows applied', async () => {
    const r = await run({ payload: fixture('stock-quoted-newline-bom.csv'), contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.summary).toMatchObject({ records: 2, applied: 2 });
    expect(await balancesOf(t.db, GTIN.eachA, 'L2404A')).toEqual({ 'WH1-BIN-07/finished': 30 });
  });

  it('reads a declared Latin-1 CSV stock snapshot (semicolons, decimal comma, local time) into counts at ü-named locations', async () => {
    const r = await run({ payload: fixture('stock-latin1.csv'), contentType: 'text/csv; charset=iso-8859-1' }, 'Europe/Berlin');
    if (!r.ok) {
      throw r.error;
    }
    expect(await balancesOf(t.db, GTIN.eachA, 'L2405A')).toEqual({ 'LAGER-KÜHL-01/finished': 48, 'LAGER-KÜHL-02/finished': 12 });
    const ev = await t.db('trace_events').where({ source_key: 'wms:wms:INV-L1-1' }).first();
    expect([new Date(ev.event_time).toISOString(), ev.event_time_zone_offset, ev.biz_step]).toEqual(['2026-03-05T05:00:00.000Z', '+01:00', 'cycle_counting']);
  });

  it('rejects the same Latin-1 CSV without a charset (LB_ERR_INGEST_ENCODING) and a CSV without a required column (LB_ERR_WMS_CSV_HEADER)', async () => {
    const enc = await rejected(run({ payload: fixture('stock-latin1.csv'), contentType: 'text/csv' }));
    expect(enc.code).toBe('LB_ERR_INGEST_ENCODING');
    expect(enc.location).toMatchObject({ line: 2 });
    const header = await rejected(run({ payload: fixture('stock-missing-column.csv'), contentType: 'text/csv' }));
    expect(header.code).toBe('LB_ERR_WMS_CSV_HEADER');
    expect(header.location).toEqual({ line: 1, field: 'quantity' });
  });
});
