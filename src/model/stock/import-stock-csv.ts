import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../db/knex';
import { LotBridgeError, type LotBridgeErrorJson } from '../../errors';
import { closeClearedNegativeBalancesOn } from '../alerts/close-cleared-negative-balances';
import { normalizeGtin } from '../master-data/gs1-keys';
import type { PackagingLevel } from '../master-data/master-data.types';
import { addScaled, formatScaled, parseScaled, readStockCsv, STOCK_STATES, type Scaled, type StockCsvSummary, type StockItemKey } from './stock-csv-reader';
import { readStockHeader, type StockCsvColumn } from './stock-csv-stream';

export { STOCK_STATES } from './stock-csv-reader';

/** Options of {@link importStockCsv}. */
export interface StockImportOptions {
  /** Audit actor, e.g. `cli:alice`. */
  actor: string;
  /** Do everything, report, then roll back. */
  dryRun?: boolean;
  /**
   * Byte encoding of the file: `auto` (default) reads UTF-8 unless the first MiB is not valid UTF-8,
   * then Windows-1252/Latin-1; `utf8`; `latin1` (= Windows-1252).
   */
  encoding?: 'auto' | 'utf8' | 'latin1';
  /** Business time of the opening balance (default: now). */
  asOf?: Date;
  /** Import a file whose sha256 was imported before (normally refused: it would double the stock). */
  allowDuplicateFile?: boolean;
  /** Stop collecting row errors after this many (default 100). */
  maxErrors?: number;
  /**
   * Secondary indexes of inventory_ledger and inventory_balances: `auto` (default) drops them and builds
   * them once after the load when the import adds at least `bulkIndexMinPositions` positions and more
   * rows than either table holds (go-live); `never` keeps inserting into them row by row.
   */
  indexRebuild?: 'auto' | 'never';
  /** Smallest import (positions) for which `indexRebuild: 'auto'` rebuilds (default 100,000). */
  bulkIndexMinPositions?: number;
  /** Progress while streaming the file: (bytes read, file size). */
  onProgress?: (bytes: number, total: number) => void;
  /** Progress of the set-based phases after the upload (phase name). */
  onPhase?: (phase: string) => void;
}

/** What a stock import did. */
export interface StockImportReport {
  file: string;
  /** Encoding the file was read with. */
  encoding: 'utf8' | 'latin1';
  /** Data rows in the file. */
  rows: number;
  /** Distinct (location, lot, stock state) positions booked; rows naming the same position are summed. */
  positions: number;
  /** Rows that were summed into a position another row already named. */
  mergedRows: number;
  /** Sum of the booked quantities in base units. */
  totalBaseQuantity: number;
  /** Locations created as provisional (unknown codes). */
  createdLocations: number;
  /** Lots created (provisional: first seen in this file). */
  createdLots: number;
  /** Materials created as provisional for unknown GTINs (code GTIN-<gtin>). */
  createdMaterials: number;
  /** The one trace event of the import. */
  eventId: string | null;
  /** The inbound_messages row that records the import (lineage of every row it made). */
  messageId: string | null;
  errors: LotBridgeErrorJson[];
  committed: boolean;
  dryRun: boolean;
  durationMs: number;
  /** rows ÷ seconds, over the whole import. */
  rowsPerSecond: number;
  /**
   * How the foreign keys of the million ledger and balance rows were checked: `per-row` (PostgreSQL's
   * foreign-key triggers) or `set-based` (one existence check and one KEY SHARE lock per referenced
   * lot and location, with the per-row triggers off; only for a superuser, and only when the two
   * tables have no triggers of their own).
   */
  integrityChecks: 'per-row' | 'set-based';
  /**
   * How the secondary indexes of inventory_ledger and inventory_balances took the new rows: `incremental`
   * (row by row) or `bulk` (dropped and rebuilt in the import's transaction; see `indexRebuild`).
   */
  indexBuild: 'incremental' | 'bulk';
  /** Milliseconds per phase (read, resolve, lots, book_positions, book_ledger, book_balances, book_indexes, book_upsert, book_items, commit). */
  phasesMs: Record<string, number>;
}

interface MaterialInfo {
  id: string;
  code: string;
  baseUom: string;
  provisional: boolean;
  /** Base units per pack, per packaging level. */
  levels: Map<PackagingLevel, number>;
}

/** UOM words that name a packaging level rather than the base unit. */
const LEVEL_UOMS: Record<string, PackagingLevel> = {
  EACH: 'each', INNER: 'inner', PK: 'inner', PACK: 'inner', BOX: 'box', BX: 'box',
  CASE: 'case', CS: 'case', CA: 'case', CT: 'case', CTN: 'case', PALLET: 'pallet', PL: 'pallet', PAL: 'pallet', PF: 'pallet',
};

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function validDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) {
    return false;
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** SQL expression for a time-ordered UUIDv7 (ids of rows made in bulk). */
const UUID7_SQL = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
  substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid`;

/**
 * The bulk path for opening stock (1,000,000 rows and more). Never a round trip per row, and no
 * staging of the rows in the database:
 *
 * 1. the file is read once in Node as it streams from disk ({@link readStockCsv}): hashed (sha256),
 *    decoded, split into records, checked row by row (errors with their lines), and summed per
 *    (item key, location, stock state) — a million rows become ~a million sums and ~60,000 item keys;
 * 2. the distinct item/lot/expiry/uom keys are resolved in memory: GTINs (any packaging level) and
 *    material codes to materials, unknown GTINs to new provisional materials (code `GTIN-<gtin>`),
 *    quantities to base units;
 * 3. set-based SQL creates missing locations (provisional) and lots (provisional);
 * 4. the sums are merged per (lot, location, stock state) in Node, sorted by (lot id, location id,
 *    state), and `COPY`ed straight into `inventory_ledger` and `inventory_balances` (one row per
 *    position each; positions of lots that existed before go through an upsert that adds to their
 *    balance); one trace-event item per lot;
 * 5. one trace event, one inbound_messages row (lineage; its sha256 refuses the same file twice),
 *    one outbox event and one `admin` audit row — all in one transaction.
 *
 * Rows naming the same (location, item, lot, stock state) are **summed** (a WMS lists each pallet of a
 * lot as its own line). Quantities: an empty `uom` means "units of the trade item the GTIN names"
 * (a case GTIN × its quantity per level; a material code: base units); the material's base unit
 * means base units; CS/BX/PK/PL name a packaging level of the material.
 * @param db - knex instance (one connection is taken from its pool for the whole import)
 * @param file - CSV path: location,gtin|material,lot,expiry,stockState,quantity,uom
 * @param opts - actor, dry run, encoding, as-of time, progress callbacks
 */
export async function importStockCsv(db: Db, file: string, opts: StockImportOptions): Promise<StockImportReport> {
  const started = Date.now();
  const columns = readStockHeader(file);
  const size = fs.statSync(file).size;
  const encodingUsed = opts.encoding === 'latin1' || (opts.encoding !== 'utf8' && !startsAsUtf8(file)) ? 'latin1' : 'utf8';
  const report: StockImportReport = {
    file,
    encoding: encodingUsed,
    rows: 0,
    positions: 0,
    mergedRows: 0,
    totalBaseQuantity: 0,
    createdLocations: 0,
    createdLots: 0,
    createdMaterials: 0,
    eventId: null,
    messageId: null,
    errors: [],
    committed: false,
    dryRun: Boolean(opts.dryRun),
    durationMs: 0,
    rowsPerSecond: 0,
    integrityChecks: 'per-row',
    indexBuild: 'incremental',
    phasesMs: {},
  };
  // at least one: a bad row must always be reported, or the import would book without it
  const maxErrors = Math.max(1, opts.maxErrors ?? 100);
  const asOf = opts.asOf ?? new Date();
  let t = Date.now();
  const phase = (name: string): void => {
    const now = Date.now();
    report.phasesMs[name] = now - t;
    t = now;
  };

  // 1. read the file (before taking a connection: nothing of it goes to the database row by row)
  opts.onPhase?.('read');
  const csv = await readStockCsv(file, columns, encodingUsed, maxErrors, (bytes) => opts.onProgress?.(bytes, size));
  report.rows = csv.rows;
  report.errors.push(...csv.errors);
  const sha256 = csv.sha256;
  phase('read');

  const conn = (await db.client.acquireConnection()) as pg.Client;
  let inTx = false;
  try {
    await setTempBuffers(conn);
    await conn.query('BEGIN');
    inTx = true;
    await conn.query(`SET LOCAL work_mem = '256MB'`);
    await conn.query(`SET LOCAL synchronous_commit = off`);

    // 2. keys → materials, conversion factors, lot expiries (in memory: tens of thousands of keys);
    //    with row errors already found it only checks (GTINs, dates, units) and writes nothing
    opts.onPhase?.('resolve');
    const messageId = uuidv7();
    const eventId = uuidv7();
    const resolved = await resolveKeys(conn, csv.keys, columns, report, maxErrors, messageId);
    report.errors.splice(maxErrors);
    phase('resolve');
    if (report.errors.length > 0) {
      inTx = false;
      return await finish(conn, report, started, true);
    }

    // the import's own message row: lineage, and its sha256 refuses the same file twice
    const dedupKey = `import:stock:sha256:${sha256}${opts.allowDuplicateFile ? `:${messageId}` : ''}`;
    const claimed = await conn.query(
      `INSERT INTO message_dedup (dedup_key, message_id, connector_id) VALUES ($1, $2, 'cli-import') ON CONFLICT (dedup_key) DO NOTHING RETURNING message_id`,
      [dedupKey, messageId],
    );
    if (claimed.rowCount === 0) {
      const first = await conn.query<{ message_id: string }>('SELECT message_id FROM message_dedup WHERE dedup_key = $1', [dedupKey]);
      report.errors.push({
        code: 'LB_ERR_IMPORT_DUPLICATE_FILE',
        message: `this file (sha256 ${sha256.slice(0, 12)}…) was imported before (message ${first.rows[0]?.message_id ?? '?'}); importing it again would double the stock`,
        details: { sha256, duplicateOf: first.rows[0]?.message_id },
      });
      inTx = false;
      return await finish(conn, report, started, true);
    }
    await conn.query(
      `INSERT INTO inbound_messages (id, connector_id, connector_kind, format, transport, message_type, dedup_key, sha256, size_bytes,
         payload, content_type, encoding, envelope, received_at, status, attempts, processed_at)
       VALUES ($1, 'cli-import', 'cli-import', 'csv', 'file', 'stock-import', $2, $3, $4, NULL, 'text/csv', $5, $6, now(), 'processed', 1, now())`,
      [messageId, dedupKey, sha256, size, encodingUsed, JSON.stringify({ file: path.basename(file), actor: opts.actor, rows: String(report.rows) })],
    );

    // 3. locations (unknown codes → provisional), lots (unknown → provisional), key → lot id
    opts.onPhase?.('lots');
    const codes = [...new Set(csv.locations.map((raw) => raw.trim()))];
    const locs = await conn.query(
      `INSERT INTO locations (id, code, kind, provisional, source_message_id, ordinal)
       SELECT ${UUID7_SQL}, d.code, 'bin', true, $2, row_number() OVER (ORDER BY d.code)
         FROM unnest($1::text[]) AS d(code)
        WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.code = d.code)
       ON CONFLICT (code) DO NOTHING`,
      [codes, messageId],
    );
    report.createdLocations = locs.rowCount ?? 0;
    const locRows = await conn.query<{ code: string; id: string }>(`SELECT code, id::text FROM locations WHERE code = ANY($1::text[])`, [codes]);
    const locIdOfCode = new Map(locRows.rows.map((r) => [r.code, r.id]));
    await conn.query(
      `CREATE TEMP TABLE lb_stock_keys (g text, m text, lot text, e text, u text, material_id uuid, lot_number text, factor numeric,
         expiry date, lot_id uuid, new_lot boolean) ON COMMIT DROP`,
    );
    await copyRows(
      conn,
      'COPY lb_stock_keys (g, m, lot, e, u, material_id, lot_number, factor, expiry) FROM STDIN',
      resolved.keys.map((k) => [k.g, k.m, k.lot, k.e, k.u, k.materialId, k.lotNumber, k.factorText, k.expiry ?? null]),
    );
    const lots = await conn.query(
      `INSERT INTO lots (id, material_id, lot_number, expiry, status, provisional, source_message_id, ordinal)
       SELECT ${UUID7_SQL}, material_id, lot_number, expiry, 'released', true, $1, row_number() OVER (ORDER BY material_id, lot_number)
         FROM (SELECT material_id, lot_number, max(expiry) AS expiry FROM lb_stock_keys GROUP BY material_id, lot_number) k
        WHERE NOT EXISTS (SELECT 1 FROM lots l WHERE l.material_id = k.material_id AND l.lot_number = k.lot_number)
       ON CONFLICT (material_id, lot_number) DO NOTHING`,
      [messageId],
    );
    report.createdLots = lots.rowCount ?? 0;
    // existing lots: an expiry in the file must match the stored one; a missing stored expiry is filled in
    const clash = await conn.query<{ lot: string; code: string; stored: string; file: string }>(
      `SELECT k.lot_number AS lot, m.code, l.expiry::text AS stored, k.expiry::text AS file
         FROM (SELECT material_id, lot_number, max(expiry) AS expiry FROM lb_stock_keys WHERE expiry IS NOT NULL GROUP BY 1, 2) k
         JOIN lots l ON l.material_id = k.material_id AND l.lot_number = k.lot_number
         JOIN materials m ON m.id = k.material_id
        WHERE l.expiry IS NOT NULL AND l.expiry <> k.expiry
        ORDER BY m.code, k.lot_number LIMIT $1`,
      [maxErrors],
    );
    for (const c of clash.rows) {
      const line = resolved.firstLineOfLot.get(`${c.code}\u0000${c.lot}`);
      pushError(report, maxErrors, line, 'expiry', `lot ${c.lot} of material ${c.code} has expiry ${c.stored} stored; the file says ${c.file}`, colOf(columns, 'expiry'));
    }
    if (report.errors.length > 0) {
      inTx = false;
      return await finish(conn, report, started, true);
    }
    await conn.query(
      `UPDATE lots l SET expiry = k.expiry, updated_at = now()
         FROM (SELECT material_id, lot_number, max(expiry) AS expiry FROM lb_stock_keys WHERE expiry IS NOT NULL GROUP BY 1, 2) k
        WHERE l.material_id = k.material_id AND l.lot_number = k.lot_number AND l.expiry IS NULL`,
    );
    // lot id per (material, lot number); new_lot: made by this import, so it cannot have balances yet
    const lotRows = await conn.query<{ material_id: string; lot_number: string; id: string; new_lot: boolean }>(
      `SELECT l.material_id::text, l.lot_number, l.id::text, l.source_message_id IS NOT DISTINCT FROM $1::uuid AS new_lot
         FROM (SELECT DISTINCT material_id, lot_number FROM lb_stock_keys) k JOIN lots l ON l.material_id = k.material_id AND l.lot_number = k.lot_number`,
      [messageId],
    );
    phase('lots');

    // 4a. merge the sums per (lot, location, state) in (lot id, location id, state) order
    opts.onPhase?.('book');
    const book = bookPositions(csv, resolved.keys, lotRows.rows, locIdOfCode);
    report.positions = book.positions;
    report.mergedRows = report.rows - book.positions;
    report.totalBaseQuantity = Number(formatScaled(book.total, book.scale));
    if (book.rows !== report.rows) {
      throw new LotBridgeError('LB_ERR_INTERNAL', `stock import booked ${book.rows} of ${report.rows} rows`, { kind: 'defect' });
    }
    await conn.query(
      `INSERT INTO trace_events (id, type, action, biz_step, disposition, event_time, event_time_zone_offset, biz_transactions, details,
         source_key, source_message_id, ordinal)
       VALUES ($1, 'ObjectEvent', 'ADD', 'stock_taking', NULL, $2, '+00:00', '[]', $3, $4, $5, 1)`,
      [eventId, asOf, JSON.stringify({ kind: 'opening_stock', file: path.basename(file), rows: report.rows }), `import:stock:${messageId}`, messageId],
    );
    phase('book_positions');

    // referential integrity: set-based when the role may switch off the per-row foreign-key triggers
    report.integrityChecks = await checkIntegritySetBased(conn, book.lotIds, book.locationIds);
    if (report.integrityChecks === 'set-based') {
      await conn.query(`SET LOCAL session_replication_role = replica`);
    }
    // tables that hold fewer rows than the import adds: their secondary indexes are built once after the load
    const rebuilt = await dropIndexesForBulkLoad(conn, book.positions, opts.indexRebuild ?? 'auto', opts.bulkIndexMinPositions ?? 100_000);
    report.indexBuild = rebuilt ? 'bulk' : 'incremental';
    // 4b. ledger rows in (lot, location, state) order: every index of the ledger is appended to, not scattered
    const when = asOf.toISOString();
    await copyLines(
      conn,
      'COPY inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal) FROM STDIN',
      book.each((p, ordinal) => `${eventId}\t${p.lotId}\t${p.locationId}\t${p.state}\t${p.qty}\t${when}\t${messageId}\t${ordinal}\n`),
    );
    phase('book_ledger');
    // 4c. balances: lots made by this import cannot have balances yet (plain COPY); existing lots add to theirs
    await copyLines(
      conn,
      'COPY inventory_balances (lot_id, location_id, stock_state, quantity) FROM STDIN',
      book.each((p) => (p.newLot ? `${p.lotId}\t${p.locationId}\t${p.state}\t${p.qty}\n` : null)),
    );
    if (rebuilt) {
      phase('book_balances');
      await rebuildIndexes(conn, rebuilt);
      phase('book_indexes');
    }
    if (book.oldLotPositions > 0) {
      await conn.query(`CREATE TEMP TABLE lb_stock_add (lot_id uuid, location_id uuid, stock_state text, qty numeric) ON COMMIT DROP`);
      await copyLines(
        conn,
        'COPY lb_stock_add (lot_id, location_id, stock_state, qty) FROM STDIN',
        book.each((p) => (p.newLot ? null : `${p.lotId}\t${p.locationId}\t${p.state}\t${p.qty}\n`)),
      );
      await conn.query(
        `INSERT INTO inventory_balances AS b (lot_id, location_id, stock_state, quantity)
         SELECT lot_id, location_id, stock_state, qty FROM lb_stock_add ORDER BY lot_id, location_id, stock_state
         ON CONFLICT (lot_id, location_id, stock_state) DO UPDATE SET quantity = b.quantity + EXCLUDED.quantity, updated_at = now()`,
      );
    }
    if (report.integrityChecks === 'set-based') {
      await conn.query(`SET LOCAL session_replication_role = origin`);
    }
    if (book.oldLotPositions > 0) {
      // stock added to a lot whose balance was below zero (a ship or issue booked before the stock
      // was known): its negative_balance alert closes once the balance is zero or above, as the
      // movement writers close theirs (after replica mode: the alerts' own triggers fire)
      const old = await conn.query<{ lot_id: string }>('SELECT DISTINCT lot_id FROM lb_stock_add');
      await closeClearedNegativeBalancesOn(conn, old.rows.map((r) => r.lot_id));
    }
    phase(rebuilt ? 'book_upsert' : 'book_balances');
    // 4d. one trace-event item per lot
    await conn.query(`CREATE TEMP TABLE lb_stock_lot_sums (lot_id uuid, qty numeric) ON COMMIT DROP`);
    await copyLines(conn, 'COPY lb_stock_lot_sums (lot_id, qty) FROM STDIN', book.lotSums());
    await conn.query(
      `INSERT INTO trace_event_items (event_id, role, material_id, lot_id, quantity, uom, base_quantity)
       SELECT $1, 'subject', lt.material_id, x.lot_id, x.qty, m.base_uom, x.qty
         FROM lb_stock_lot_sums x JOIN lots lt ON lt.id = x.lot_id JOIN materials m ON m.id = lt.material_id
        ORDER BY x.lot_id`,
      [eventId],
    );
    phase('book_items');

    // 5. outbox, audit, commit
    const summary = {
      file: path.basename(file), rows: report.rows, positions: report.positions, mergedRows: report.mergedRows,
      totalBaseQuantity: report.totalBaseQuantity, createdLocations: report.createdLocations, createdLots: report.createdLots,
      createdMaterials: report.createdMaterials, eventId, asOf: asOf.toISOString(), sha256,
    };
    await conn.query(
      `INSERT INTO outbox_events (event_id, type, payload, source_message_id, ordinal) VALUES ($1, 'stock.imported', $2, $3, 1)`,
      [uuidv7(), JSON.stringify(summary), messageId],
    );
    await conn.query(
      `INSERT INTO audit_log (chain, actor, action, entity_type, entity_id, after, reason, source_message_id)
       VALUES ('admin', $1, 'stock.import', 'trace_event', $2, $3, $4, $5)`,
      [opts.actor, eventId, JSON.stringify(summary), `import stock ${path.basename(file)}`, messageId],
    );
    await conn.query(`UPDATE inbound_messages SET result = $2 WHERE id = $1`, [messageId, JSON.stringify(summary)]);
    report.eventId = eventId;
    report.messageId = messageId;
    inTx = false;
    if (opts.dryRun) {
      return await finish(conn, report, started, true);
    }
    await conn.query('COMMIT');
    report.committed = true;
    phase('commit');
    return await finish(conn, report, started, false);
  } catch (err) {
    if (inTx) {
      await conn.query('ROLLBACK').catch((rollbackErr: unknown) => {
        throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'stock import failed and its rollback failed too', { cause: [err, rollbackErr] });
      });
    }
    throw err;
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/** One booked position, as {@link bookPositions} hands it out. */
interface BookedPosition {
  lotId: string;
  locationId: string;
  state: string;
  /** Base quantity as a decimal string. */
  qty: string;
  newLot: boolean;
}

/**
 * Merges the file's sums (per item key, raw location, state) into positions (per lot, location,
 * state) in base units, exactly (integers of 10^-4 or, with a fractional pack factor, 10^-8).
 * Lots and locations are numbered in id order, so the numeric position keys sort as
 * (lot id, location id, state) — the order the ledger's and balances' indexes want.
 */
function bookPositions(
  csv: StockCsvSummary,
  keys: ResolvedKey[],
  lots: Array<{ material_id: string; lot_number: string; id: string; new_lot: boolean }>,
  locIdOfCode: Map<string, string>,
): {
  positions: number;
  rows: number;
  total: Scaled;
  scale: number;
  oldLotPositions: number;
  lotIds: string[];
  locationIds: string[];
  each: (line: (p: BookedPosition, ordinal: number) => string | null) => Generator<string>;
  lotSums: () => Generator<string>;
} {
  const lotIds = [...new Set(lots.map((l) => l.id))].sort();
  const lotRank = new Map(lotIds.map((id, i) => [id, i]));
  const newLot = lots.map(() => false);
  const lotOf = new Map<string, number>();
  for (const l of lots) {
    const r = lotRank.get(l.id) as number;
    lotOf.set(`${l.material_id}\u0000${l.lot_number}`, r);
    newLot[r] = l.new_lot;
  }
  const locationIds = [...new Set(csv.locations.map((raw) => locIdOfCode.get(raw.trim()) ?? ''))].sort();
  if (locationIds.includes('')) {
    throw new LotBridgeError('LB_ERR_INTERNAL', 'stock import: a location code was neither found nor created', { kind: 'defect' });
  }
  const locRank = new Map(locationIds.map((id, i) => [id, i]));
  const locOfRaw = csv.locations.map((raw) => locRank.get(locIdOfCode.get(raw.trim()) as string) as number);
  // item key (as the reader numbered them) → lot rank and factor
  const keyIdx = new Map(csv.keys.map((k, i) => [`${k.g}\u0001${k.m}\u0001${k.lot}\u0001${k.e}\u0001${k.u}`, i]));
  const itemLot: number[] = new Array<number>(csv.keys.length).fill(-1);
  const itemFactor: Scaled[] = new Array<Scaled>(csv.keys.length).fill(0);
  const fractional = keys.some((k) => !Number.isInteger(k.factor));
  const scale = fractional ? 8 : 4;
  for (const k of keys) {
    const i = keyIdx.get(`${k.g}\u0001${k.m}\u0001${k.lot}\u0001${k.e}\u0001${k.u}`);
    const lot = lotOf.get(`${k.materialId}\u0000${k.lotNumber}`);
    if (i === undefined || lot === undefined) {
      throw new LotBridgeError('LB_ERR_INTERNAL', `stock import: no lot for key ${k.lotNumber}`, { kind: 'defect' });
    }
    itemLot[i] = lot;
    // the factor in 10^-4 (fractional factors: quantities in 10^-4 × factor in 10^-4 = 10^-8)
    itemFactor[i] = fractional ? BigInt(parseScaled(k.factorText)) : k.factor;
  }
  // per sum of the file: its lot rank, its key within the lot (location rank·8 + state), its base quantity
  const table = csv.positions;
  const size = table.size;
  const slotLot = new Int32Array(size);
  const slotKey = new Int32Array(size);
  const slotBase = new Float64Array(size);
  const bigBase = new Map<number, bigint>();
  let rows = 0;
  let total: Scaled = 0;
  for (let slot = 0; slot < size; slot++) {
    const item = table.slotItem[slot];
    const sub = table.slotSub[slot];
    const lot = itemLot[item];
    if (lot < 0) {
      throw new LotBridgeError('LB_ERR_INTERNAL', 'stock import: an item key was not resolved', { kind: 'defect' });
    }
    const f = itemFactor[item];
    const sum = table.sum(slot);
    let base: Scaled;
    if (typeof f === 'bigint' || typeof sum === 'bigint') {
      base = BigInt(sum) * BigInt(f);
    } else {
      base = sum * f;
      if (!Number.isSafeInteger(base)) {
        base = BigInt(sum) * BigInt(f);
      }
    }
    slotLot[slot] = lot;
    slotKey[slot] = locOfRaw[sub >> 3] * 8 + (sub & 7);
    if (typeof base === 'bigint') {
      bigBase.set(slot, base);
    } else {
      slotBase[slot] = base;
    }
    total = addScaled(total, base);
    rows += table.count(slot);
  }
  // slots in (lot, location, state) order: one numeric sort of (position key · 2^bits + slot) when that
  // fits in a double's 53 bits (it does for millions of positions), else a comparator sort
  const width = locationIds.length * 8;
  const bits = Math.max(1, Math.ceil(Math.log2(size + 1)));
  let order: ArrayLike<number>;
  if (lotIds.length * width * 2 ** bits < Number.MAX_SAFE_INTEGER) {
    const packed = new Float64Array(size);
    const shift = 2 ** bits;
    for (let slot = 0; slot < size; slot++) {
      packed[slot] = (slotLot[slot] * width + slotKey[slot]) * shift + slot;
    }
    packed.sort();
    const idx = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      idx[i] = packed[i] % shift;
    }
    order = idx;
  } else {
    order = Array.from({ length: size }, (_, i) => i).sort((x, y) => slotLot[x] - slotLot[y] || slotKey[x] - slotKey[y]);
  }
  // merge the slots of one position (rows of one lot under two GTINs, or cells that differ only in spaces)
  const posLot = new Int32Array(size);
  const posKey = new Int32Array(size);
  const posQty: string[] = [];
  const lotTotals: Scaled[] = new Array<Scaled>(lotIds.length).fill(0);
  const baseOf = bigBase.size === 0 ? (slot: number): Scaled => slotBase[slot] : (slot: number): Scaled => bigBase.get(slot) ?? slotBase[slot];
  let oldLotPositions = 0;
  let count = 0;
  for (let i = 0; i < size; ) {
    const first = order[i];
    const lot = slotLot[first];
    const key = slotKey[first];
    let q: Scaled = baseOf(first);
    let j = i + 1;
    for (; j < size && slotLot[order[j]] === lot && slotKey[order[j]] === key; j++) {
      const s = order[j];
      q = addScaled(q, baseOf(s));
    }
    i = j;
    posLot[count] = lot;
    posKey[count] = key;
    posQty.push(formatScaled(q, scale));
    lotTotals[lot] = addScaled(lotTotals[lot], q);
    if (!newLot[lot]) {
      oldLotPositions++;
    }
    count++;
  }
  const p: BookedPosition = { lotId: '', locationId: '', state: '', qty: '', newLot: false };
  function* each(line: (p: BookedPosition, ordinal: number) => string | null): Generator<string> {
    let buf = '';
    let k = 0;
    for (let i = 0; i < count; i++) {
      const lot = posLot[i];
      const key = posKey[i];
      p.lotId = lotIds[lot];
      p.locationId = locationIds[key >> 3];
      p.state = STOCK_STATES[key & 7];
      p.qty = posQty[i];
      p.newLot = newLot[lot];
      const s = line(p, i + 1);
      if (s !== null) {
        buf += s;
        if (++k === 2000) {
          yield buf;
          buf = '';
          k = 0;
        }
      }
    }
    if (buf) {
      yield buf;
    }
  }
  function* lotSums(): Generator<string> {
    let buf = '';
    for (let lot = 0; lot < lotIds.length; lot++) {
      buf += `${lotIds[lot]}\t${formatScaled(lotTotals[lot], scale)}\n`;
    }
    if (buf) {
      yield buf;
    }
  }
  return { positions: count, rows, total, scale, oldLotPositions, lotIds, locationIds, each, lotSums };
}

function colOf(columns: StockCsvColumn[], c: StockCsvColumn): number | undefined {
  return columns.includes(c) ? columns.indexOf(c) + 1 : undefined;
}

/**
 * Decides how the big inserts check their foreign keys (lot_id → lots, location_id → locations on
 * inventory_ledger and inventory_balances). PostgreSQL checks them per row with a trigger and a
 * lookup each — four lookups per position, about half of a million-row import. With
 * `session_replication_role = replica` those triggers are off, which is what pg_restore
 * --disable-triggers does; it is taken only when
 *
 * - the role is a superuser (the setting is superuser-only; otherwise the per-row checks stay), and
 * - neither table has a trigger of its own (replica mode would silence it too),
 *
 * and then the same guarantee is given set-based: every referenced lot and location must exist (a
 * defect otherwise: they came from joins a moment ago) and is locked FOR KEY SHARE for the rest of
 * the transaction, as the foreign-key trigger would have locked it. The caller turns replica mode on
 * for the two inserts only and back off right after.
 */
async function checkIntegritySetBased(conn: pg.Client, lotIds: string[], locationIds: string[]): Promise<'per-row' | 'set-based'> {
  const allowed = await conn.query<{ superuser: boolean; triggers: number }>(
    `SELECT current_setting('is_superuser') = 'on' AS superuser,
            (SELECT count(*)::int FROM pg_trigger
              WHERE tgrelid IN ('inventory_ledger'::regclass, 'inventory_balances'::regclass) AND NOT tgisinternal) AS triggers`,
  );
  if (!allowed.rows[0]?.superuser || allowed.rows[0].triggers > 0) {
    return 'per-row';
  }
  const check = await conn.query<{ missing_lots: number; missing_locations: number }>(
    `WITH locked_lots AS (SELECT l.id FROM lots l WHERE l.id = ANY($1::uuid[]) FOR KEY SHARE),
          locked_locs AS (SELECT c.id FROM locations c WHERE c.id = ANY($2::uuid[]) FOR KEY SHARE)
     SELECT cardinality($1::uuid[]) - (SELECT count(*) FROM locked_lots)::int AS missing_lots,
            cardinality($2::uuid[]) - (SELECT count(*) FROM locked_locs)::int AS missing_locations`,
    [lotIds, locationIds],
  );
  const c = check.rows[0];
  if (!c || c.missing_lots !== 0 || c.missing_locations !== 0) {
    throw new LotBridgeError('LB_ERR_INTERNAL', `stock import: ${c?.missing_lots ?? '?'} lots and ${c?.missing_locations ?? '?'} locations it booked against do not exist`, {
      kind: 'defect',
    });
  }
  return 'set-based';
}

/** A secondary index dropped for a bulk load: the statement that makes it again. */
interface SavedIndex {
  name: string;
  create: string;
}

/**
 * Bulk index build for a go-live import. B-tree maintenance row by row is most of the cost of a
 * million-position import (one random descent per index per row, ~5 WAL records per ledger row);
 * building an index once from the sorted rows is several times cheaper. So, when the import adds
 * at least `minPositions` positions **and more rows than either table holds**, the secondary
 * indexes and unique constraints of inventory_ledger and inventory_balances (all but the primary
 * keys) are dropped inside the import's transaction and made again, from their own catalog
 * definitions, after the rows are in — still inside the transaction. The unique constraints are
 * checked again when they are made (a violation aborts the import), and no other session ever sees
 * the tables without them: the drop takes an ACCESS EXCLUSIVE lock until commit, so readers and
 * writers of stock wait for the import (a few seconds at go-live). If the lock is not granted within
 * 5 s (a long transaction holds the tables) the import books incrementally instead. Not taken when a
 * foreign key references either table (its index could not be dropped).
 * @returns the indexes to make again, or null (incremental)
 */
async function dropIndexesForBulkLoad(conn: pg.Client, positions: number, mode: 'auto' | 'never', minPositions: number): Promise<SavedIndex[] | null> {
  if (mode === 'never' || positions < minPositions) {
    return null;
  }
  const sizes = await conn.query<{ ledger: number; balances: number; referenced: number }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM inventory_ledger LIMIT $1) x)::int AS ledger,
            (SELECT count(*) FROM (SELECT 1 FROM inventory_balances LIMIT $1) x)::int AS balances,
            (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid IN ('inventory_ledger'::regclass, 'inventory_balances'::regclass))::int AS referenced`,
    [positions],
  );
  const z = sizes.rows[0];
  if (!z || z.ledger >= positions || z.balances >= positions || z.referenced > 0) {
    return null;
  }
  // (a heuristic read before the lock: a table that grows meanwhile only makes the rebuild slower)
  await conn.query('SAVEPOINT lb_bulk_index');
  try {
    await conn.query(`SET LOCAL lock_timeout = '5s'`);
    await conn.query('LOCK TABLE inventory_ledger, inventory_balances IN ACCESS EXCLUSIVE MODE');
    await conn.query(`SET LOCAL lock_timeout = 0`);
  } catch (err) {
    if ((err as { code?: string }).code !== '55P03') {
      throw err;
    }
    await conn.query('ROLLBACK TO SAVEPOINT lb_bulk_index');
    return null;
  }
  await conn.query('RELEASE SAVEPOINT lb_bulk_index');
  const idx = await conn.query<{ name: string; drop: string; create: string }>(
    `SELECT i.indexrelid::regclass::text AS name,
            CASE WHEN c.oid IS NULL THEN format('DROP INDEX %s', i.indexrelid::regclass)
                 ELSE format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) END AS drop,
            CASE WHEN c.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
                 ELSE format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) END AS create
       FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('u', 'p', 'x')
      WHERE i.indrelid IN ('inventory_ledger'::regclass, 'inventory_balances'::regclass) AND NOT i.indisprimary
      ORDER BY i.indrelid, i.indexrelid`,
  );
  for (const x of idx.rows) {
    await conn.query(x.drop);
  }
  return idx.rows.map((x) => ({ name: x.name, create: x.create }));
}

/** Makes the indexes {@link dropIndexesForBulkLoad} dropped, each from one sorted pass over its table. */
async function rebuildIndexes(conn: pg.Client, saved: SavedIndex[]): Promise<void> {
  await conn.query(`SET LOCAL maintenance_work_mem = '512MB'`);
  for (const x of saved) {
    await conn.query(x.create);
  }
}

/**
 * Raises temp_buffers so the staging tables stay in memory (the default 8 MB spills a million rows to
 * disk). PostgreSQL allows it only before the session's first temporary table: a pooled connection
 * that already used one refuses (22023) and keeps its setting, which is only slower.
 */
async function setTempBuffers(conn: pg.Client): Promise<void> {
  const current = await conn.query<{ v: string }>(`SELECT current_setting('temp_buffers') AS v`);
  if (current.rows[0]?.v === '1GB') {
    return;
  }
  await conn.query(`SET temp_buffers = '1GB'`).catch((err: unknown) => {
    if ((err as { code?: string }).code !== '22023') {
      throw err;
    }
  });
}

/** Ends the import: rolls back (dry run, errors) when asked, fills timings. */
async function finish(conn: pg.Client, report: StockImportReport, started: number, rollback: boolean): Promise<StockImportReport> {
  if (rollback) {
    await conn.query('ROLLBACK');
    report.committed = false;
  }
  report.errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
  report.durationMs = Date.now() - started;
  report.rowsPerSecond = report.durationMs > 0 ? Math.round((report.rows / report.durationMs) * 1000) : 0;
  return report;
}

function pushError(report: StockImportReport, max: number, line: number | undefined, field: StockCsvColumn, message: string, column?: number): void {
  if (report.errors.length >= max) {
    return;
  }
  report.errors.push({
    code: 'LB_ERR_IMPORT_CSV',
    message: `${line !== undefined ? `line ${line}, ` : ''}column ${field}: ${message}`,
    location: { ...(line !== undefined ? { line } : {}), ...(column ? { column } : {}), field },
  });
}

/** True when the first MiB of the file is valid UTF-8 (a multi-byte character cut at the end is fine). */
function startsAsUtf8(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream: true });
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
      return false;
    }
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** Streams rows (tab-separated text format) into a COPY … FROM STDIN. */
async function copyRows(conn: pg.Client, sql: string, rows: Array<Array<string | null>>): Promise<void> {
  const esc = (v: string | null): string => (v === null ? '\\N' : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r'));
  const stream = conn.query(copyFrom(sql));
  const chunks: string[] = [];
  for (const r of rows) {
    chunks.push(r.map(esc).join('\t'));
  }
  await pipeline(Readable.from(chunkText(chunks)), stream);
}

/** Streams text chunks (COPY text format, each ending in a newline) into a COPY … FROM STDIN. */
async function copyLines(conn: pg.Client, sql: string, chunks: Iterable<string>): Promise<void> {
  const stream = conn.query(copyFrom(sql));
  await pipeline(Readable.from(chunks, { objectMode: false }), stream);
}

function* chunkText(lines: string[]): Generator<string> {
  for (let i = 0; i < lines.length; i += 5000) {
    yield lines.slice(i, i + 5000).join('\n') + '\n';
  }
}

interface ResolvedKey {
  /** Lot number (trimmed). */
  lotNumber: string;
  g: string;
  m: string;
  lot: string;
  e: string;
  u: string;
  materialId: string;
  factor: number;
  /** The factor as a decimal string (exact: numeric(14,4) round-trips through a number). */
  factorText: string;
  expiry: string | undefined;
}

/**
 * Resolves the distinct keys of the file: materials by GTIN (any level, UDI-DI too) or by code /
 * internal identifier, provisional materials for unknown GTINs, conversion factors, and expiries
 * (one per material and lot). Errors go to the report with the first line of the key.
 */
async function resolveKeys(
  conn: pg.Client,
  keys: StockItemKey[],
  columns: StockCsvColumn[],
  report: StockImportReport,
  maxErrors: number,
  messageId: string,
): Promise<{ keys: ResolvedKey[]; firstLineOfLot: Map<string, number> }> {
  const col = (c: StockCsvColumn): number | undefined => colOf(columns, c);
  // with errors found earlier: check only, create nothing
  const checkOnly = report.errors.length > 0;
  // staged values are raw: trim once per distinct key
  const trimmed = keys.map((k) => ({ raw: k, g: k.g.trim(), m: k.m.trim(), lot: k.lot.trim(), e: k.e.trim(), u: k.u.trim().toUpperCase(), first_rn: k.first_rn }));
  // GTINs: validate and normalize
  const gtinOf = new Map<string, string>();
  for (const k of trimmed) {
    if (k.g && !gtinOf.has(k.g)) {
      const g = normalizeGtin(k.g);
      if (g.ok) {
        gtinOf.set(k.g, g.gtin);
      } else {
        gtinOf.set(k.g, '');
        pushError(report, maxErrors, k.first_rn + 1, 'gtin', g.reason, col('gtin'));
      }
    }
    if (k.e && !validDate(k.e)) {
      pushError(report, maxErrors, k.first_rn + 1, 'expiry', `"${k.e}" is not a valid date (YYYY-MM-DD)`, col('expiry'));
    }
  }
  const gtins = [...new Set([...gtinOf.values()].filter(Boolean))];
  const codes = [...new Set(trimmed.filter((k) => !k.g && k.m).map((k) => k.m))];
  const byGtin = new Map<string, { materialId: string; level: PackagingLevel; qty: number }>();
  if (gtins.length > 0) {
    const r = await conn.query<{ value: string; material_id: string; packaging_level: PackagingLevel; quantity_per_level: string; scheme: string }>(
      `SELECT value, material_id, packaging_level, quantity_per_level::text, scheme FROM material_identifiers
        WHERE scheme IN ('gtin', 'udi_di') AND value = ANY($1) ORDER BY scheme = 'gtin'`,
      [gtins],
    );
    for (const x of r.rows) {
      byGtin.set(x.value, { materialId: x.material_id, level: x.packaging_level, qty: Number(x.quantity_per_level) });
    }
  }
  const byCode = new Map<string, string>();
  if (codes.length > 0) {
    const r = await conn.query<{ key: string; id: string }>(
      `SELECT code AS key, id FROM materials WHERE code = ANY($1)
       UNION ALL SELECT value, material_id FROM material_identifiers WHERE scheme = 'internal' AND value = ANY($1)`,
      [codes],
    );
    for (const x of r.rows) {
      if (!byCode.has(x.key)) {
        byCode.set(x.key, x.id);
      }
    }
  }
  // unknown GTINs → provisional materials, as the feeds make them
  const unknown = gtins.filter((g) => !byGtin.has(g));
  if (unknown.length > 0 && !checkOnly && report.errors.length === 0) {
    const made = await conn.query<{ id: string; gtin: string }>(
      `WITH g AS (SELECT unnest($1::text[]) AS gtin),
       m AS (
         INSERT INTO materials (id, code, kind, base_uom, provisional, source_message_id, ordinal)
         SELECT ${UUID7_SQL}, 'GTIN-' || gtin, 'finished', 'EA', true, $2, row_number() OVER (ORDER BY gtin) FROM g
         ON CONFLICT (code) DO NOTHING RETURNING id, substr(code, 6) AS gtin
       ), i AS (
         INSERT INTO material_identifiers (material_id, scheme, value, packaging_level, quantity_per_level)
         SELECT id, 'gtin', gtin, 'each', 1 FROM m ON CONFLICT (scheme, value) DO NOTHING RETURNING 1
       ) SELECT id, gtin FROM m`,
      [unknown, messageId],
    );
    report.createdMaterials = made.rowCount ?? 0;
    for (const x of made.rows) {
      byGtin.set(x.gtin, { materialId: x.id, level: 'each', qty: 1 });
    }
    // a GTIN-<gtin> code that existed without the identifier: take that material
    const still = unknown.filter((g) => !byGtin.has(g));
    if (still.length > 0) {
      const r = await conn.query<{ id: string; gtin: string }>(`SELECT id, substr(code, 6) AS gtin FROM materials WHERE code = ANY($1)`, [still.map((g) => `GTIN-${g}`)]);
      for (const x of r.rows) {
        byGtin.set(x.gtin, { materialId: x.id, level: 'each', qty: 1 });
      }
    }
  }
  // material facts for the factors
  const ids = [...new Set([...[...byGtin.values()].map((v) => v.materialId), ...byCode.values()])];
  const info = new Map<string, MaterialInfo>();
  if (ids.length > 0) {
    const r = await conn.query<{ id: string; code: string; base_uom: string; provisional: boolean; levels: Array<{ l: PackagingLevel; q: string }> | null }>(
      `SELECT m.id, m.code, m.base_uom, m.provisional,
              (SELECT json_agg(json_build_object('l', packaging_level, 'q', quantity_per_level::text) ORDER BY scheme <> 'gtin')
                 FROM material_identifiers i WHERE i.material_id = m.id) AS levels
         FROM materials m WHERE m.id = ANY($1::uuid[])`,
      [ids],
    );
    for (const x of r.rows) {
      const levels = new Map<PackagingLevel, number>();
      for (const lv of x.levels ?? []) {
        if (!levels.has(lv.l)) {
          levels.set(lv.l, Number(lv.q));
        }
      }
      info.set(x.id, { id: x.id, code: x.code, baseUom: x.base_uom.toUpperCase(), provisional: x.provisional, levels });
    }
  }

  const out: ResolvedKey[] = [];
  const expiryOfLot = new Map<string, { expiry: string; line: number }>();
  const firstLineOfLot = new Map<string, number>();
  for (const k of trimmed) {
    const line = k.first_rn + 1;
    let materialId: string | undefined;
    let packFactor = 1;
    if (k.g) {
      const gtin = gtinOf.get(k.g);
      const hit = gtin ? byGtin.get(gtin) : undefined;
      if (!gtin) {
        continue; // already reported
      }
      if (!hit) {
        if (!checkOnly && report.errors.length === 0) {
          pushError(report, maxErrors, line, 'gtin', `GTIN ${gtin} is unknown`, col('gtin'));
        }
        continue;
      }
      materialId = hit.materialId;
      packFactor = hit.qty;
      if (k.m) {
        const viaCode = byCode.get(k.m);
        if (viaCode !== undefined && viaCode !== materialId) {
          pushError(report, maxErrors, line, 'material', `material ${k.m} is not the material of GTIN ${gtin}`, col('material'));
          continue;
        }
      }
    } else {
      materialId = byCode.get(k.m);
      if (!materialId) {
        pushError(report, maxErrors, line, 'material', `no material has code or internal code ${k.m}`, col('material'));
        continue;
      }
    }
    const m = info.get(materialId);
    if (!m) {
      continue;
    }
    let factor: number;
    if (k.u === '') {
      factor = packFactor;
    } else if (k.u === m.baseUom) {
      factor = 1;
    } else if (LEVEL_UOMS[k.u] && m.levels.has(LEVEL_UOMS[k.u])) {
      factor = m.levels.get(LEVEL_UOMS[k.u]) ?? 1;
    } else {
      pushError(report, maxErrors, line, 'uom', `"${k.u}" cannot be converted to ${m.baseUom}, the base unit of material ${m.code}`, col('uom'));
      continue;
    }
    const lotKey = `${m.code}\u0000${k.lot}`;
    firstLineOfLot.set(lotKey, Math.min(firstLineOfLot.get(lotKey) ?? line, line));
    if (k.e) {
      const seen = expiryOfLot.get(lotKey);
      if (seen && seen.expiry !== k.e) {
        pushError(report, maxErrors, Math.max(line, seen.line), 'expiry', `lot ${k.lot} of material ${m.code} has expiry ${k.e} here and ${seen.expiry} on line ${Math.min(line, seen.line)}`, col('expiry'));
      } else if (!seen) {
        expiryOfLot.set(lotKey, { expiry: k.e, line });
      }
    }
    out.push({ g: k.raw.g, m: k.raw.m, lot: k.raw.lot, e: k.raw.e, u: k.raw.u, lotNumber: k.lot, materialId, factor, factorText: String(factor), expiry: k.e || undefined });
  }
  // a lot's rows without expiry take the expiry its other rows give
  for (const k of out) {
    if (!k.expiry) {
      const code = info.get(k.materialId)?.code ?? '';
      k.expiry = expiryOfLot.get(`${code}\u0000${k.lotNumber}`)?.expiry;
    }
  }
  return { keys: out, firstLineOfLot };
}
