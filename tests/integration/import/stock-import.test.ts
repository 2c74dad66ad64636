import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { importMasterDataCsv } from '../../../src/model/master-data/import/import-master-data';
import { importStockCsv } from '../../../src/model/stock/import-stock-csv';
import { getLotView } from '../../../src/model/lots/get-lot-view';
import { openAlerts } from '../../../src/model/alerts/open-alerts';
import { registerImportCommand } from '../../../src/cli/import.command';
import { silentLogger } from '../../../src/logging/logger';
import { gs1CheckDigit } from '../../../src/model/master-data/gs1-keys';

const fixture = (name: string): string => path.join(__dirname, '../../fixtures/master-data', name);
const tmpFiles: string[] = [];
function tmpCsv(name: string, text: string | Buffer): string {
  const f = path.join(os.tmpdir(), `lb-stock-${process.pid}-${name}`);
  fs.writeFileSync(f, text);
  tmpFiles.push(f);
  return f;
}

async function balances(t: TestDatabase): Promise<Array<{ location: string; material: string; lot: string; state: string; qty: number }>> {
  return t.db('inventory_balances as b')
    .join('lots as l', 'l.id', 'b.lot_id')
    .join('materials as m', 'm.id', 'l.material_id')
    .join('locations as c', 'c.id', 'b.location_id')
    .select('c.code as location', 'm.code as material', 'l.lot_number as lot', 'b.stock_state as state', 'b.quantity as qty')
    .orderBy(['c.code', 'm.code', 'l.lot_number', 'b.stock_state']);
}

async function sumOf(t: TestDatabase, table: 'inventory_balances' | 'inventory_ledger', column: 'quantity' | 'delta'): Promise<number> {
  const r = await t.db(table).sum<Array<{ s: number | null }>>({ s: column });
  return Number(r[0].s ?? 0);
}

describe('lotbridge import stock (bulk path)', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    for (const [kind, file] of [['materials', 'materials-case-box-gtins.csv'], ['parties', 'parties.csv'], ['locations', 'locations-children-first.csv']] as const) {
      const r = await importMasterDataCsv(t.db, kind, fixture(file), { actor: 'setup' });
      expect(r.errors).toEqual([]);
    }
  });
  afterAll(async () => {
    await t.destroy();
    for (const f of tmpFiles) {
      fs.rmSync(f, { force: true });
    }
  });

  it('a dry run reports what it would book and writes nothing', async () => {
    const r = await importStockCsv(t.db, fixture('stock-opening-small.csv'), { actor: 'cli:test', dryRun: true });
    expect(r).toMatchObject({ rows: 7, positions: 5, mergedRows: 2, totalBaseQuantity: 184.5, committed: false, dryRun: true, errors: [] });
    expect(await t.db('lots').count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await t.db('materials').where({ provisional: true })).toEqual([]);
    expect(await t.db('inbound_messages')).toEqual([]);
  });

  it('books opening stock: sums duplicate rows, converts case GTINs and units, creates provisional rows for the unknown', async () => {
    const r = await importStockCsv(t.db, fixture('stock-opening-small.csv'), { actor: 'cli:test', asOf: new Date('2026-03-01T00:00:00Z') });
    expect(r).toMatchObject({ rows: 7, positions: 5, mergedRows: 2, totalBaseQuantity: 184.5, createdLots: 4, createdLocations: 1, createdMaterials: 1, committed: true, errors: [] });
    // the tests connect as a superuser and the tables have no triggers of their own
    expect(r.integrityChecks).toBe('set-based');
    // 20 EA + 3 cases × 10 + 5 EA summed into one position; the MES code row is the same material
    expect(await balances(t)).toEqual([
      { location: 'WH1-COLD-A01', material: 'IMP-KNEE-4', lot: 'L2403A', state: 'finished', qty: 55 },
      { location: 'WH1-COLD-A01', material: 'IMP-KNEE-4', lot: 'L2403A', state: 'pending_inspection', qty: 7 },
      { location: 'WH2-NEW-01', material: 'GTIN-04006381333931', lot: 'X1', state: 'raw', qty: 12 },
      { location: 'WH2-NEW-01', material: 'IMP-KNEE-4', lot: 'L2404B', state: 'finished', qty: 10 },
      { location: 'WH2-NEW-01', material: 'SUT-30', lot: 'S-77', state: 'finished', qty: 100.5 },
    ]);
    expect(await sumOf(t, 'inventory_ledger', 'delta')).toBe(184.5);
    expect(await t.db('locations').where({ code: 'WH2-NEW-01' }).first()).toMatchObject({ provisional: true, kind: 'bin', source_message_id: r.messageId });
    expect(await t.db('materials').where({ code: 'GTIN-04006381333931' }).first()).toMatchObject({ provisional: true });
    expect(await t.db('lots').where({ lot_number: 'L2403A' }).first()).toMatchObject({ expiry: '2027-03-31', provisional: true });
    expect(await t.db('trace_events').where({ id: r.eventId }).first()).toMatchObject({ type: 'ObjectEvent', action: 'ADD', biz_step: 'stock_taking', source_message_id: r.messageId });
    expect(await t.db('inbound_messages').where({ id: r.messageId }).first()).toMatchObject({ connector_id: 'cli-import', status: 'processed', message_type: 'stock-import' });
    expect(await t.db('audit_log').where({ action: 'stock.import' }).first()).toMatchObject({ actor: 'cli:test', chain: 'admin', entity_id: r.eventId });
    expect(await t.db('outbox_events').where({ type: 'stock.imported' })).toHaveLength(1);

    const view = await getLotView(t.db, { gtin: '19506000134359', lot: 'L2403A' });
    expect(view).toMatchObject({ totalQuantity: 62, provisional: true, sourceMessageIds: [r.messageId] });
    expect(view?.events).toEqual([expect.objectContaining({ bizStep: 'stock_taking', role: 'subject', quantity: 62, uom: 'EA', eventTime: '2026-03-01T00:00:00.000Z' })]);
  });

  it('refuses the same file a second time (LB_ERR_IMPORT_DUPLICATE_FILE) and changes nothing', async () => {
    const before = await sumOf(t, 'inventory_balances', 'quantity');
    const r = await importStockCsv(t.db, fixture('stock-opening-small.csv'), { actor: 'cli:test' });
    expect(r.committed).toBe(false);
    expect(r.errors.map((e) => e.code)).toEqual(['LB_ERR_IMPORT_DUPLICATE_FILE']);
    expect(await sumOf(t, 'inventory_balances', 'quantity')).toBe(before);
  });

  it('adds to existing balances, reads a BOM and ignores blank lines at the end', async () => {
    const f = tmpCsv('add.csv', '\ufefflocation,material,lot,stock_state,quantity\r\nWH1-COLD-A01,IMP-KNEE-4,L2403A,finished,1\r\nWH1-COLD-A01, MES-40017 ,L2403A ,finished,2.25\r\n\r\n\r\n');
    const r = await importStockCsv(t.db, f, { actor: 'cli:test' });
    expect(r).toMatchObject({ rows: 2, positions: 1, mergedRows: 1, createdLots: 0, committed: true, errors: [] });
    const b = (await balances(t)).find((x) => x.lot === 'L2403A' && x.state === 'finished');
    expect(b?.qty).toBe(58.25);
  });

  it('closes the negative_balance alert of a balance it brings back to zero or above, and keeps the one still below zero open', async () => {
    // two lots whose stock went below zero before any was known (ships booked first), each with its open alert
    const f0 = tmpCsv('neg-0.csv', 'location,material,lot,stock_state,quantity\nWH1,SUT-30,NEG-1,finished,0\nWH1,SUT-30,NEG-2,finished,0\n');
    expect(await importStockCsv(t.db, f0, { actor: 'cli:test' })).toMatchObject({ committed: true, createdLots: 2 });
    const lots = await t.db('lots').whereIn('lot_number', ['NEG-1', 'NEG-2']).select('id', 'lot_number');
    const wh1 = await t.db('locations').where({ code: 'WH1' }).first('id');
    const message = await t.db('inbound_messages').orderBy('received_at', 'desc').first('id');
    let ordinal = 1000;
    for (const l of lots) {
      await t.db('inventory_balances').where({ lot_id: l.id, location_id: wh1.id, stock_state: 'finished' }).update({ quantity: -3 });
      await openAlerts(t.db, [{
        alert: { type: 'negative_balance', severity: 'warning', subjectType: 'lot', subjectId: l.id, message: `${l.lot_number} below zero`, details: null, dedupKey: `negative_balance:${l.id}:${wh1.id}:finished` },
        lineage: { sourceMessageId: message.id, nextOrdinal: () => ordinal++ },
      }]);
    }
    // opening stock: NEG-1 gets 5 (−3 → 2), NEG-2 gets 1 (−3 → −2)
    const f = tmpCsv('neg-1.csv', 'location,material,lot,stock_state,quantity\nWH1,SUT-30,NEG-1,finished,5\nWH1,SUT-30,NEG-2,finished,1\n');
    expect(await importStockCsv(t.db, f, { actor: 'cli:test' })).toMatchObject({ committed: true, createdLots: 0, positions: 2 });
    const lotOf = new Map(lots.map((l) => [l.id, l.lot_number]));
    const alerts = await t.db('alerts').where({ type: 'negative_balance' }).whereIn('subject_id', [...lotOf.keys()]).select('subject_id', 'status', 'closed_at');
    expect(alerts.map((a) => [lotOf.get(a.subject_id), a.status, a.closed_at === null]).sort()).toEqual([['NEG-1', 'closed', false], ['NEG-2', 'open', true]]);
    expect((await balances(t)).filter((b) => b.lot.startsWith('NEG-')).map((b) => [b.lot, Number(b.qty)])).toEqual([['NEG-1', 2], ['NEG-2', -2]]);
  });

  it('reads a Latin-1 file (detected) and keeps its accents in the codes it creates', async () => {
    const f = tmpCsv('latin1.csv', Buffer.from('location,material,lot,stock_state,quantity\nLAGER-KÜHL-1,SUT-30,S-78,finished,4\n', 'latin1'));
    const r = await importStockCsv(t.db, f, { actor: 'cli:test' });
    expect(r).toMatchObject({ encoding: 'latin1', committed: true, createdLocations: 1 });
    expect(await t.db('locations').where({ code: 'LAGER-KÜHL-1' }).first()).toMatchObject({ provisional: true });
    const forced = await importStockCsv(t.db, tmpCsv('latin1-again.csv', Buffer.from('location,material,lot,stock_state,quantity\nLAGER-KÜHL-1,SUT-30,S-78,finished,1\n', 'latin1')), { actor: 'cli:test', encoding: 'utf8' }).catch((e: unknown) => e);
    expect(forced).toMatchObject({ code: 'LB_ERR_IMPORT_CSV', location: { line: 2 } });
    expect((forced as Error).message).toMatch(/--encoding latin1/);
  });

  it('reports bad rows with line and column, all in one run, and books nothing', async () => {
    const before = await sumOf(t, 'inventory_balances', 'quantity');
    const f = tmpCsv(
      'bad.csv',
      [
        'location,gtin,lot,expiry,stockState,quantity,uom',
        'WH1,09506000134352,L1,2027-02-30,finished,5,EA',
        'WH1,09506000134352,L1,,finished,ten,EA',
        ',09506000134352,L1,,finished,1,EA',
        'WH1,09506000134353,L1,,finished,1,EA',
        'WH1,09506000134352,L1,,stored,1,EA',
        'WH1,09506000134352,L1,,finished,1,BAG',
      ].join('\n'),
    );
    const r = await importStockCsv(t.db, f, { actor: 'cli:test' });
    expect(r.committed).toBe(false);
    expect(r.errors.map((e) => [e.location?.line, e.location?.field, e.location?.column])).toEqual([
      [2, 'expiry', 4],
      [3, 'quantity', 6],
      [4, 'location', 1],
      [5, 'gtin', 2],
      [6, 'stock_state', 5],
      [7, 'uom', 7],
    ]);
    expect(r.errors.every((e) => e.code === 'LB_ERR_IMPORT_CSV')).toBe(true);
    expect(r.errors[1].message).toBe('line 3, column quantity: must be a number ≥ 0 with at most 4 decimals (got "ten")');
    expect(r.errors[5].message).toMatch(/"BAG" cannot be converted to EA/);
    expect(await sumOf(t, 'inventory_balances', 'quantity')).toBe(before);

    const header = tmpCsv('bad-header.csv', 'location,gtin,lot,stock_state,qty\nWH1,09506000134352,L1,finished,1\n');
    await expect(importStockCsv(t.db, header, { actor: 'cli:test' })).rejects.toMatchObject({ code: 'LB_ERR_IMPORT_CSV', location: { line: 1, column: 5 } });
    const ragged = tmpCsv('ragged.csv', 'location,gtin,lot,stock_state,quantity\nWH1,09506000134352,L1,finished,1\nWH1,09506000134352,L1,finished\n');
    await expect(importStockCsv(t.db, ragged, { actor: 'cli:test' })).rejects.toMatchObject({ code: 'LB_ERR_IMPORT_CSV', location: { line: 3 } });
  });

  it('keeps the per-row foreign-key checks (and fires the table\'s own triggers) when inventory_balances has a trigger', async () => {
    await t.db.raw('CREATE TABLE test_balance_trigger_hits (lot_id uuid)');
    await t.db.raw(`CREATE FUNCTION test_balance_hit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO test_balance_trigger_hits VALUES (NEW.lot_id); RETURN NEW; END $$`);
    await t.db.raw('CREATE TRIGGER test_balance_hit AFTER INSERT ON inventory_balances FOR EACH ROW EXECUTE FUNCTION test_balance_hit()');
    try {
      const f = tmpCsv('trigger.csv', 'location,material,lot,stock_state,quantity\nWH1,SUT-30,T-1,finished,1\nWH1,SUT-30,T-2,finished,2\n');
      const r = await importStockCsv(t.db, f, { actor: 'cli:test' });
      expect(r).toMatchObject({ committed: true, integrityChecks: 'per-row', positions: 2 });
      expect(await t.db('test_balance_trigger_hits').count<Array<{ n: number }>>({ n: '*' })).toEqual([{ n: 2 }]);
    } finally {
      await t.db.raw('DROP TRIGGER test_balance_hit ON inventory_balances');
      await t.db.raw('DROP FUNCTION test_balance_hit()');
      await t.db.raw('DROP TABLE test_balance_trigger_hits');
    }
  });

  it('books a generated 20,000-row file whose totals equal the CSV sums, and prints rows/s through the CLI', async () => {
    const gtin = (n: number, p: string): string => `${p}${String(n).padStart(6, '0')}` + gs1CheckDigit(`${p}${String(n).padStart(6, '0')}`);
    // 30 materials with each and case (×12) GTINs, made through master data
    const mat = ['code,gtin_each,gtin_case,case_qty', ...Array.from({ length: 30 }, (_, i) => `GEN-${i},${gtin(i, '0950600')},${gtin(i, '1950600')},12`)].join('\n');
    expect((await importMasterDataCsv(t.db, 'materials', tmpCsv('gen-mat.csv', mat), { actor: 'setup' })).errors).toEqual([]);
    const lines = ['location,gtin,lot,expiry,stockState,quantity,uom'];
    let expected = 0;
    const perPosition = new Map<string, number>();
    for (let i = 0; i < 20000; i++) {
      const m = (i * 7) % 30;
      const lotNo = `G${m}-${i % 40}`;
      const loc = `GEN-LOC-${(i * 13) % 50}`;
      const useCase = i % 5 === 0;
      const qty = (i % 17) + 0.5;
      const base = useCase ? qty * 12 : qty;
      expected += base;
      const key = `${loc}|GEN-${m}|${lotNo}|finished`;
      perPosition.set(key, (perPosition.get(key) ?? 0) + base);
      lines.push(`${loc},${useCase ? gtin(m, '1950600') : gtin(m, '0950600')},${lotNo},2028-0${1 + (m % 9)}-15,finished,${qty},${useCase ? '' : 'EA'}`);
    }
    const f = tmpCsv('gen.csv', lines.join('\n') + '\n');
    const before = await sumOf(t, 'inventory_balances', 'quantity');
    const out: string[] = [];
    const so = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      const program = new Command().exitOverride();
      registerImportCommand(program, async () => ({ db: t.db, logger: silentLogger(), close: async () => undefined }));
      await program.parseAsync(['node', 'lotbridge', 'import', 'stock', f]);
    } finally {
      so.mockRestore();
    }
    expect(out.join('')).toMatch(/imported 20,000 stock rows from .*gen\.csv \(utf8\) into [\d,]+ positions .* — [\d,]+ rows\/s/);
    expect((await sumOf(t, 'inventory_balances', 'quantity')) - before).toBeCloseTo(expected, 4);
    const booked = await t.db('inventory_ledger as g')
      .join('trace_events as e', 'e.id', 'g.event_id')
      .where('e.details', '@>', JSON.stringify({ file: path.basename(f) }))
      .count<Array<{ n: number }>>({ n: '*' });
    expect(booked[0].n).toBe(perPosition.size);
    const spot = (await balances(t)).find((b) => b.location === 'GEN-LOC-13' && b.material === 'GEN-7' && b.lot === 'G7-1');
    expect(spot?.qty).toBeCloseTo(perPosition.get('GEN-LOC-13|GEN-7|G7-1|finished') ?? -1, 4);
  });
});
