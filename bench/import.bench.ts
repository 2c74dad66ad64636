import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { Readable } from 'node:stream';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { BenchResult } from './bench-result';
import { createDb, dropDatabase, ensureDatabase, splitDatabaseUrl, type Db } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrations';
import { gs1CheckDigit } from '../src/model/master-data/gs1-keys';
import { importStockCsv } from '../src/model/stock/import-stock-csv';

/** Options of {@link runImportBench}. */
export interface ImportBenchOptions {
  /** Rows in the generated stock CSV (the figure: 1,000,000). */
  rows: number;
  /** A PostgreSQL URL; only its server is used: the bench creates and drops a database of its own. */
  databaseUrl: string;
  /** Keep the generated CSV and database (debugging). */
  keep?: boolean;
}

/** Shape of the generated data (realistic for a mid-size distributor's opening stock). */
const SHAPE = { materials: 1600, caseGtins: 400, lots: 50_000, locations: 500 };

/** Small deterministic PRNG (mulberry32), so every run imports the same file. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gtinFor(prefix: string, n: number): string {
  const body = `${prefix}${String(n).padStart(13 - prefix.length, '0')}`;
  return body + String(gs1CheckDigit(body));
}

/** Materials of the generated data: code, each GTIN, optional case GTIN with its pack size. */
function materialsOf(): Array<{ code: string; each: string; caseGtin?: string; caseQty: number }> {
  return Array.from({ length: SHAPE.materials }, (_, i) => ({
    code: `MAT-${String(i + 1).padStart(5, '0')}`,
    each: gtinFor('0950600', i + 1),
    caseGtin: i < SHAPE.caseGtins ? gtinFor('1950600', i + 1) : undefined,
    caseQty: 12,
  }));
}

/**
 * Writes the stock CSV: location,gtin,lot,expiry,stockState,quantity,uom. About 2,000 GTINs (each
 * GTINs of 1,600 materials, case GTINs of 400), 50,000 lots, 500 locations; ~8% of rows count cases
 * (case GTIN, empty uom); states mostly finished. Returns the sum of base quantities it wrote.
 */
export async function writeStockCsv(file: string, rows: number): Promise<{ totalBase: number; bytes: number }> {
  const rnd = prng(20260301);
  const mats = materialsOf();
  const lots = Array.from({ length: SHAPE.lots }, (_, i) => {
    const m = mats[i % mats.length];
    const month = 1 + (i % 12);
    return { m, lot: `L${String(26 + (i % 3)).padStart(2, '0')}${String(i).padStart(6, '0')}`, expiry: `${2027 + (i % 3)}-${String(month).padStart(2, '0')}-${month === 2 ? 28 : 30}` };
  });
  const states = ['finished', 'finished', 'finished', 'finished', 'finished', 'finished', 'pending_inspection', 'pending_shipment', 'component', 'raw'];
  const out = fs.createWriteStream(file, { highWaterMark: 1 << 20 });
  let totalBase = 0;
  let buf = 'location,gtin,lot,expiry,stockState,quantity,uom\n';
  for (let r = 0; r < rows; r++) {
    const lot = lots[Math.floor(rnd() * lots.length)];
    const loc = `WH${1 + Math.floor(rnd() * 5)}-${String(Math.floor(rnd() * (SHAPE.locations / 5))).padStart(3, '0')}`;
    const state = states[Math.floor(rnd() * states.length)];
    const useCase = lot.m.caseGtin !== undefined && rnd() < 0.4;
    const qty = 1 + Math.floor(rnd() * (useCase ? 20 : 400));
    totalBase += useCase ? qty * lot.m.caseQty : qty;
    buf += `${loc},${useCase ? lot.m.caseGtin : lot.m.each},${lot.lot},${lot.expiry},${state},${qty},${useCase ? '' : 'EA'}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) {
        await new Promise<void>((res) => out.once('drain', () => res()));
      }
      buf = '';
    }
  }
  out.end(buf);
  await new Promise<void>((res, rej) => out.on('finish', () => res()).on('error', rej));
  return { totalBase, bytes: fs.statSync(file).size };
}

/** Master data the import finds: materials with GTINs (each, and case ×12 for some) and the locations. */
export async function seed(db: Db): Promise<void> {
  const mats = materialsOf();
  await db.raw(
    `INSERT INTO materials (id, code, description, kind, base_uom) SELECT gen_random_uuid(), c, 'bench material', 'finished', 'EA' FROM unnest(?::text[]) c`,
    [mats.map((m) => m.code)],
  );
  await db.raw(
    `INSERT INTO material_identifiers (material_id, scheme, value, packaging_level, quantity_per_level)
     SELECT m.id, 'gtin', x.gtin, x.level, x.qty FROM unnest(?::text[], ?::text[], ?::text[], ?::numeric[]) AS x(code, gtin, level, qty)
     JOIN materials m ON m.code = x.code`,
    [
      [...mats.map((m) => m.code), ...mats.filter((m) => m.caseGtin).map((m) => m.code)],
      [...mats.map((m) => m.each), ...mats.filter((m) => m.caseGtin).map((m) => m.caseGtin as string)],
      [...mats.map(() => 'each'), ...mats.filter((m) => m.caseGtin).map(() => 'case')],
      [...mats.map(() => 1), ...mats.filter((m) => m.caseGtin).map((m) => m.caseQty)],
    ],
  );
  await db.raw(
    `INSERT INTO locations (id, code, name, kind) SELECT gen_random_uuid(), 'WH' || w || '-' || lpad(b::text, 3, '0'), 'bench bin', 'bin'
       FROM generate_series(1, 5) w, generate_series(0, ? - 1) b`,
    [SHAPE.locations / 5],
  );
  await db.raw('ANALYZE');
}


/** Raw COPY of the same file into a plain table of text columns: the baseline. */
async function rawCopy(db: Db, file: string): Promise<{ ms: number; rows: number }> {
  await db.raw('DROP TABLE IF EXISTS bench_raw_copy');
  await db.raw('CREATE TABLE bench_raw_copy (location text, gtin text, lot text, expiry text, stock_state text, quantity text, uom text)');
  const conn = (await db.client.acquireConnection()) as pg.Client;
  try {
    const t0 = process.hrtime.bigint();
    const copy = conn.query(copyFrom('COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)'));
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), copy);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return { ms, rows: Number(copy.rowCount) };
  } finally {
    await db.client.releaseConnection(conn);
    await db.raw('DROP TABLE IF EXISTS bench_raw_copy');
  }
}

/**
 * The floor under the import: a bare COPY of the import's own ledger rows (text format, as the import
 * sends them) into an empty table made `LIKE inventory_ledger INCLUDING ALL` (every index, constraint
 * and default of the real ledger; no foreign keys — the import checks those set-based), index
 * maintenance row by row. No parsing, no aggregation, no balances.
 */
async function ledgerFloor(db: Db): Promise<{ ms: number; rows: number }> {
  const conn = (await db.client.acquireConnection()) as pg.Client;
  try {
    const chunks: Buffer[] = [];
    const out = conn.query(copyTo('COPY (SELECT event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal FROM inventory_ledger ORDER BY ordinal) TO STDOUT'));
    for await (const c of out as AsyncIterable<Buffer>) {
      chunks.push(c);
    }
    await conn.query('DROP TABLE IF EXISTS bench_ledger_floor');
    await conn.query('CREATE TABLE bench_ledger_floor (LIKE inventory_ledger INCLUDING ALL)');
    await conn.query('CHECKPOINT');
    const t0 = process.hrtime.bigint();
    await conn.query('BEGIN');
    await conn.query('SET LOCAL synchronous_commit = off');
    const copy = conn.query(copyFrom('COPY bench_ledger_floor (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal) FROM STDIN'));
    await pipeline(Readable.from(chunks), copy);
    await conn.query('COMMIT');
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return { ms, rows: Number(copy.rowCount) };
  } finally {
    await conn.query('DROP TABLE IF EXISTS bench_ledger_floor').catch(() => undefined);
    await db.client.releaseConnection(conn);
  }
}

/**
 * CSV import of opening stock (`lotbridge import stock`, bulk path: COPY into a TEMP staging table,
 * then set-based SQL) against a raw `COPY` of the same file into a plain table, in the same run and
 * database. Target: import rows/s ≥ 0.5 × COPY rows/s. The import is timed in-process through the
 * function the CLI calls (no process start-up in either figure); the file is read once before both
 * so both read it from the page cache. Also checks that the booked total equals the CSV's sum.
 * @param opts - rows and the PostgreSQL server to use
 */
export async function runImportBench(opts: ImportBenchOptions): Promise<BenchResult> {
  const { adminUrl } = splitDatabaseUrl(opts.databaseUrl);
  const u = new URL(adminUrl);
  u.pathname = `/lotbridge_bench_import_${randomBytes(4).toString('hex')}`;
  const url = u.toString();
  const file = path.join(os.tmpdir(), `lotbridge-bench-stock-${process.pid}.csv`);
  await ensureDatabase(url);
  const db = createDb({ url, poolMax: 4 });
  try {
    await migrateLatest(db);
    await seed(db);
    const gen = await writeStockCsv(file, opts.rows);
    fs.readFileSync(file); // warm the page cache for both contenders

    const copy = await rawCopy(db, file);
    const t0 = process.hrtime.bigint();
    const report = await importStockCsv(db, file, { actor: 'bench' });
    const importMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!report.committed) {
      throw new Error(`bench import failed: ${report.errors.slice(0, 3).map((e) => e.message).join('; ')}`);
    }
    const sum = await db.raw<{ rows: Array<{ s: number }> }>('SELECT coalesce(sum(quantity), 0) AS s FROM inventory_balances');
    const floor = await ledgerFloor(db);
    const floorRate = (floor.rows / floor.ms) * 1000;
    const importRate = (report.rows / importMs) * 1000;
    const copyRate = (copy.rows / copy.ms) * 1000;
    const ratio = Math.round((importRate / copyRate) * 1000) / 1000;
    const totalsMatch = Math.abs(Number(sum.rows[0].s) - gen.totalBase) < 1e-6;
    return {
      name: 'stock CSV import (bulk path) vs raw COPY',
      figures: {
        rows: report.rows,
        fileMiB: Math.round((gen.bytes / 2 ** 20) * 10) / 10,
        importSeconds: Math.round(importMs) / 1000,
        importRowsPerSec: Math.round(importRate),
        positions: report.positions,
        mergedRows: report.mergedRows,
        createdLots: report.createdLots,
        totalsMatch: totalsMatch ? 1 : 0,
        setBasedIntegrity: report.integrityChecks === 'set-based' ? 1 : 0,
        bulkIndexBuild: report.indexBuild === 'bulk' ? 1 : 0,
        ...Object.fromEntries(Object.entries(report.phasesMs).map(([k, v]) => [`phase_${k}_ms`, v])),
      },
      baseline: {
        copySeconds: Math.round(copy.ms) / 1000,
        copyRowsPerSec: Math.round(copyRate),
        // second baseline, the floor: the ledger rows alone, COPYed into an indexed copy of the ledger
        ledgerCopySeconds: Math.round(floor.ms) / 1000,
        ledgerCopyRowsPerSec: Math.round(floorRate),
        floorRatioToCopy: Math.round((floor.ms > 0 ? copy.ms / floor.ms : 0) * 1000) / 1000,
        importRatioToFloor: Math.round((importMs > 0 ? floor.ms / importMs : 0) * 1000) / 1000,
      },
      ratio,
      target: 0.5,
      pass: ratio >= 0.5 && totalsMatch,
      notes:
        `${SHAPE.materials} materials (${SHAPE.materials + SHAPE.caseGtins} GTINs), ${SHAPE.lots} lots, ${SHAPE.locations} locations; ` +
        'import = file read, checked and summed in Node, set-based lots, COPY of ledger/balances/event items, one transaction ' +
        `(foreign keys checked ${report.integrityChecks}, secondary indexes ${report.indexBuild === 'bulk' ? 'built after the load' : 'maintained row by row'}); ` +
        `floor = COPY of the ${floor.rows} ledger rows alone into an empty LIKE-inventory_ledger table with its indexes (${Math.round(floor.ms)} ms); ` +
        `baseline = COPY of the same file into a plain table; booked total ${totalsMatch ? 'equals' : 'DIFFERS from'} the CSV sum`,
    };
  } finally {
    await db.destroy();
    if (opts.keep) {
      console.log(`import bench: kept database ${url} and file ${file}`);
    } else {
      fs.rmSync(file, { force: true });
      await dropDatabase(url);
    }
  }
}
