import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { importMasterDataCsv } from '../../../src/model/master-data/import/import-master-data';
import { importStockCsv } from '../../../src/model/stock/import-stock-csv';

const fixture = (name: string): string => path.join(__dirname, '../../fixtures/master-data', name);
const tmpFiles: string[] = [];
function tmpCsv(name: string, text: string | Buffer): string {
  const f = path.join(os.tmpdir(), `lb-stock-bulk-${process.pid}-${name}`);
  fs.writeFileSync(f, text);
  tmpFiles.push(f);
  return f;
}

/** Every index of the two big tables with its definition, and every constraint with its definition. */
async function schemaOf(t: TestDatabase): Promise<string[]> {
  const r = await t.db.raw<{ rows: Array<{ d: string }> }>(
    `SELECT indexrelid::regclass::text || ': ' || pg_get_indexdef(indexrelid) AS d FROM pg_index
      WHERE indrelid IN ('inventory_ledger'::regclass, 'inventory_balances'::regclass)
     UNION ALL
     SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
      WHERE conrelid IN ('inventory_ledger'::regclass, 'inventory_balances'::regclass)
     ORDER BY 1`,
  );
  return r.rows.map((x) => x.d);
}

async function balanceRows(t: TestDatabase): Promise<Array<{ location: string; lot: string; state: string; qty: number }>> {
  return t.db('inventory_balances as b')
    .join('lots as l', 'l.id', 'b.lot_id')
    .join('locations as c', 'c.id', 'b.location_id')
    .select('c.code as location', 'l.lot_number as lot', 'b.stock_state as state', 'b.quantity as qty')
    .orderBy(['c.code', 'l.lot_number', 'b.stock_state']);
}

describe('lotbridge import stock: CSV reading and the bulk index build', () => {
  let t: TestDatabase;
  let schema: string[];
  beforeAll(async () => {
    t = await createTestDatabase();
    for (const [kind, file] of [['materials', 'materials-case-box-gtins.csv'], ['parties', 'parties.csv'], ['locations', 'locations-children-first.csv']] as const) {
      const r = await importMasterDataCsv(t.db, kind, fixture(file), { actor: 'setup' });
      expect(r.errors).toEqual([]);
    }
    schema = await schemaOf(t);
  });
  afterAll(async () => {
    await t.destroy();
    for (const f of tmpFiles) {
      fs.rmSync(f, { force: true });
    }
  });

  it('a dry run in bulk mode rolls back and leaves every index and constraint as it was', async () => {
    const r = await importStockCsv(t.db, fixture('stock-opening-small.csv'), { actor: 'cli:test', dryRun: true, bulkIndexMinPositions: 1 });
    expect(r).toMatchObject({ rows: 7, positions: 5, committed: false, indexBuild: 'bulk', errors: [] });
    expect(await schemaOf(t)).toEqual(schema);
    expect(await t.db('inventory_ledger')).toEqual([]);
  });

  it('books into empty tables with the indexes built after the load: same indexes and constraints, same balances', async () => {
    const r = await importStockCsv(t.db, fixture('stock-opening-small.csv'), { actor: 'cli:test', bulkIndexMinPositions: 1 });
    expect(r).toMatchObject({ rows: 7, positions: 5, mergedRows: 2, totalBaseQuantity: 184.5, committed: true, indexBuild: 'bulk', errors: [] });
    expect(r.phasesMs).toHaveProperty('book_indexes');
    expect(await schemaOf(t)).toEqual(schema);
    expect(await balanceRows(t)).toEqual([
      { location: 'WH1-COLD-A01', lot: 'L2403A', state: 'finished', qty: 55 },
      { location: 'WH1-COLD-A01', lot: 'L2403A', state: 'pending_inspection', qty: 7 },
      { location: 'WH2-NEW-01', lot: 'L2404B', state: 'finished', qty: 10 },
      { location: 'WH2-NEW-01', lot: 'S-77', state: 'finished', qty: 100.5 },
      { location: 'WH2-NEW-01', lot: 'X1', state: 'raw', qty: 12 },
    ]);
    // the rebuilt unique constraints hold
    const b = await t.db('inventory_balances').first();
    await expect(t.db('inventory_balances').insert({ lot_id: b.lot_id, location_id: b.location_id, stock_state: b.stock_state, quantity: 1 })).rejects.toMatchObject({
      code: '23505',
    });
    const g = await t.db('inventory_ledger').first();
    await expect(
      t.db('inventory_ledger').insert({ ...g, id: undefined, ordinal: g.ordinal }),
    ).rejects.toMatchObject({ code: '23505', constraint: 'inventory_ledger_source_message_id_ordinal_unique' });
  });

  it('in bulk mode adds the positions of existing lots to their balances after the indexes are back', async () => {
    // 5 ledger rows exist; this file has 6 positions: more than the tables hold, so bulk again
    const f = tmpCsv(
      'bulk-existing.csv',
      [
        'location,material,lot,stock_state,quantity',
        'WH1-COLD-A01,IMP-KNEE-4,L2403A,finished,1',
        'WH1-COLD-A01,SUT-30,NEW-1,finished,2',
        'WH1-COLD-A01,SUT-30,NEW-2,finished,3',
        'WH1-COLD-A01,SUT-30,NEW-3,finished,4',
        'WH1-COLD-A01,SUT-30,NEW-4,finished,5',
        'WH1-COLD-A01,SUT-30,NEW-5,raw,6',
      ].join('\n'),
    );
    const r = await importStockCsv(t.db, f, { actor: 'cli:test', bulkIndexMinPositions: 1 });
    expect(r).toMatchObject({ positions: 6, createdLots: 5, committed: true, indexBuild: 'bulk', errors: [] });
    expect(r.phasesMs).toHaveProperty('book_upsert');
    expect(await schemaOf(t)).toEqual(schema);
    const rows = await balanceRows(t);
    expect(rows.find((x) => x.lot === 'L2403A' && x.state === 'finished')?.qty).toBe(56);
    expect(rows.filter((x) => x.lot.startsWith('NEW-')).map((x) => x.qty)).toEqual([2, 3, 4, 5, 6]);
    expect(await t.db('inventory_ledger').count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 11 }]);
  });

  it('stays incremental when the tables hold more rows than the import adds, or when told to', async () => {
    const f = tmpCsv('small.csv', 'location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,INC-1,finished,1\n');
    const r = await importStockCsv(t.db, f, { actor: 'cli:test', bulkIndexMinPositions: 1 });
    expect(r).toMatchObject({ positions: 1, committed: true, indexBuild: 'incremental' });
    const f2 = tmpCsv('never.csv', 'location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,INC-2,finished,1\n');
    expect(await importStockCsv(t.db, f2, { actor: 'cli:test', indexRebuild: 'never', bulkIndexMinPositions: 1 })).toMatchObject({ indexBuild: 'incremental', committed: true });
  });

  it('falls back to incremental when another transaction holds the stock tables', async () => {
    const f = tmpCsv('locked.csv', ['location,material,lot,stock_state,quantity', ...Array.from({ length: 40 }, (_, i) => `WH1-COLD-A01,SUT-30,LCK-${i},finished,1`)].join('\n'));
    const trx = await t.db.transaction();
    try {
      await trx.raw('SELECT 1 FROM inventory_balances LIMIT 1 FOR SHARE');
      const r = await importStockCsv(t.db, f, { actor: 'cli:test', bulkIndexMinPositions: 1 });
      expect(r).toMatchObject({ positions: 40, committed: true, indexBuild: 'incremental', errors: [] });
    } finally {
      await trx.rollback();
    }
    expect(await schemaOf(t)).toEqual(schema);
  }, 30_000);

  it('reads quoted cells (commas, quotes, line breaks), CRLF and a cell-less blank line as COPY would', async () => {
    const f = tmpCsv(
      'quoted.csv',
      'location,material,lot,stock_state,quantity\r\n"WH1-COLD-A01",SUT-30,"Q,1",finished,"1.5"\r\nWH1-COLD-A01,SUT-30,"Q ""2""",finished,2\r\nWH1-COLD-A01,SUT-30,"Q\n3",finished,3\r\nWH1-COLD-A01,SUT-30,"Q,1",finished,+.5\r\n',
    );
    const r = await importStockCsv(t.db, f, { actor: 'cli:test' });
    expect(r).toMatchObject({ rows: 4, positions: 3, mergedRows: 1, totalBaseQuantity: 7, committed: true, errors: [] });
    const lots = (await t.db('lots').whereIn('lot_number', ['Q,1', 'Q "2"', 'Q\n3']).select('lot_number')).map((x: { lot_number: string }) => x.lot_number).sort();
    expect(lots).toEqual(['Q\n3', 'Q "2"', 'Q,1']);
    expect((await balanceRows(t)).find((x) => x.lot === 'Q,1')?.qty).toBe(2);

    const blank = tmpCsv('blank-mid.csv', 'location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,B-1,finished,1\n\nWH1-COLD-A01,SUT-30,B-2,finished,1\n');
    await expect(importStockCsv(t.db, blank, { actor: 'cli:test' })).rejects.toMatchObject({ code: 'LB_ERR_IMPORT_CSV', location: { line: 3 } });
    const open = tmpCsv('open-quote.csv', 'location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,"B-3,finished,1\n');
    await expect(importStockCsv(t.db, open, { actor: 'cli:test' })).rejects.toMatchObject({ code: 'LB_ERR_IMPORT_CSV' });
  });

  it('names the line of invalid UTF-8 far into a file read as UTF-8', async () => {
    const lines = ['location,material,lot,stock_state,quantity'];
    for (let i = 0; i < 60_000; i++) {
      lines.push(`WH1-COLD-A01,SUT-30,U-${i % 10},finished,1`);
    }
    const good = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    const bad = Buffer.concat([good, Buffer.from('WH1-K\xdcHL,SUT-30,U-1,finished,1\n', 'latin1')]);
    const r = await importStockCsv(t.db, tmpCsv('bad-utf8.csv', bad), { actor: 'cli:test', encoding: 'utf8' }).catch((e: unknown) => e);
    expect(r).toMatchObject({ code: 'LB_ERR_IMPORT_CSV', location: { line: 60_002 } });
    expect((r as Error).message).toMatch(/--encoding latin1/);
  });

  it('decodes Windows-1252 bytes 0x80–0x9F as Windows-1252 (€, Š), not as control characters', async () => {
    const f = tmpCsv('cp1252.csv', Buffer.from('location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,LOT-\x80\x8a,finished,1\n', 'latin1'));
    const r = await importStockCsv(t.db, f, { actor: 'cli:test', encoding: 'latin1' });
    expect(r).toMatchObject({ committed: true, encoding: 'latin1', createdLots: 1 });
    expect(await t.db('lots').where({ lot_number: 'LOT-€Š' }).first()).toMatchObject({ provisional: true });
  });

  it('a file with only its header books no position; maxErrors 0 still reports a bad row', async () => {
    const before = await t.db('inventory_ledger').count<Array<{ n: number }>>({ n: '*' });
    const empty = await importStockCsv(t.db, tmpCsv('header-only.csv', 'location,material,lot,stock_state,quantity\n'), { actor: 'cli:test' });
    expect(empty).toMatchObject({ rows: 0, positions: 0, totalBaseQuantity: 0, errors: [] });
    expect(await t.db('inventory_ledger').count<Array<{ n: number }>>({ n: '*' })).toEqual(before);
    const bad = tmpCsv('bad-max0.csv', 'location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,M0,finished,-1\n');
    const r = await importStockCsv(t.db, bad, { actor: 'cli:test', maxErrors: 0 });
    expect(r.committed).toBe(false);
    expect(r.errors.map((e) => [e.location?.line, e.location?.field])).toEqual([[2, 'quantity']]);
  });

  it('keeps totals exact for quantities beyond 2^53 ten-thousandths and fractional pack factors', async () => {
    const f = tmpCsv('big.csv', 'location,material,lot,stock_state,quantity\nWH1-COLD-A01,SUT-30,BIG-1,finished,9999999999999.9999\nWH1-COLD-A01,SUT-30,BIG-1,finished,0.0001\n');
    const r = await importStockCsv(t.db, f, { actor: 'cli:test' });
    expect(r).toMatchObject({ positions: 1, mergedRows: 1, committed: true });
    const row = await t.db.raw<{ rows: Array<{ q: string }> }>(`SELECT b.quantity::text AS q FROM inventory_balances b JOIN lots l ON l.id = b.lot_id WHERE l.lot_number = 'BIG-1'`);
    expect(row.rows[0].q).toBe('10000000000000.0000000000');
  });
});
