import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../db/knex';
import { LotBridgeError, type LotBridgeErrorJson } from '../../errors';
import { normalizeGtin } from '../master-data/gs1-keys';
import type { PackagingLevel } from '../master-data/master-data.types';
import { CopyFeed, readStockHeader, type StockCsvColumn } from './stock-csv-stream';

/** Lifecycle stock states a balance may have (inventory_balances_state_check). */
export const STOCK_STATES = ['raw', 'component', 'wip', 'finished', 'pending_inspection', 'pending_shipment', 'in_transit'] as const;

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
  /** Milliseconds per phase (copy, check, resolve, lots, book_positions, book_ledger, book_balances, book_items, commit). */
  phasesMs: Record<string, number>;
}

/** One distinct item/lot/uom key of the file, as the resolve phase sees it. */
interface KeyRow {
  g: string;
  m: string;
  lot: string;
  e: string;
  u: string;
  first_rn: number;
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

/** Row-level checks on staged text, as one SQL predicate per column (true = bad). */
const ROW_CHECKS: Array<[StockCsvColumn, string]> = [
  ['location', `btrim(location) = ''`],
  ['gtin', `btrim(gtin) = '' AND btrim(material) = ''`],
  ['lot', `btrim(lot) = ''`],
  ['stock_state', `btrim(stock_state) NOT IN (${STOCK_STATES.map((s) => `'${s}'`).join(',')})`],
  ['quantity', `quantity !~ '^\\s*\\+?([0-9]{1,13}(\\.[0-9]{0,4})?|\\.[0-9]{1,4})\\s*$'`],
];

/**
 * The bulk path for opening stock (1,000,000 rows and more). Never a round trip per row:
 *
 * 1. the file streams through `COPY … FROM STDIN` (pg-copy-streams) into a TEMP staging table of text
 *    columns (no WAL), hashing it on the way;
 * 2. one scan checks every row (required cells, stock state, quantity) — any error stops the import;
 * 3. one GROUP BY yields the distinct item/lot/expiry/uom keys (tens of thousands), which are resolved
 *    in memory: GTINs (any packaging level) and material codes to materials, unknown GTINs to new
 *    provisional materials (code `GTIN-<gtin>`), quantities to base units;
 * 4. set-based SQL creates missing locations (provisional) and lots (provisional), then one statement
 *    sums the rows per (lot, location, stock state), inserts the ledger rows, upserts the balances
 *    (adding to any existing balance) and writes one trace-event item per lot;
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
    phasesMs: {},
  };
  const maxErrors = opts.maxErrors ?? 100;
  const asOf = opts.asOf ?? new Date();
  let t = Date.now();
  const phase = (name: string): void => {
    const now = Date.now();
    report.phasesMs[name] = now - t;
    t = now;
  };

  const conn = (await db.client.acquireConnection()) as pg.Client;
  let inTx = false;
  try {
    await setTempBuffers(conn);
    await conn.query('BEGIN');
    inTx = true;
    await conn.query(`SET LOCAL work_mem = '256MB'`);
    await conn.query(`SET LOCAL synchronous_commit = off`);
    // every text column defaults to '' and COPY maps empty cells to '' (FORCE_NOT_NULL), so the
    // staged values join by plain equality; values are trimmed once per distinct key, not per row
    await conn.query(`CREATE TEMP TABLE lb_stock_stage (
        rn bigint GENERATED ALWAYS AS IDENTITY, location text NOT NULL DEFAULT '', gtin text NOT NULL DEFAULT '',
        material text NOT NULL DEFAULT '', lot text NOT NULL DEFAULT '', expiry text NOT NULL DEFAULT '',
        stock_state text NOT NULL DEFAULT '', quantity text NOT NULL DEFAULT '', uom text NOT NULL DEFAULT '') ON COMMIT DROP`);

    // 1. COPY the file into the staging table
    opts.onPhase?.('copy');
    const feed = new CopyFeed((bytes) => opts.onProgress?.(bytes, size));
    const encoding = encodingUsed === 'latin1' ? 'WIN1252' : 'UTF8';
    const copy = conn.query(
      copyFrom(
        `COPY lb_stock_stage (${columns.join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING '${encoding}', FORCE_NOT_NULL (${columns.join(', ')}))`,
      ),
    );
    try {
      await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), feed, copy);
    } catch (err) {
      throw copyError(err, encodingUsed);
    }
    report.rows = Number(copy.rowCount);
    const sha256 = feed.digest();
    await conn.query('ANALYZE lb_stock_stage');
    phase('copy');

    // 2. one scan: the distinct item/lot/expiry/uom keys, and whether any row fails a check
    opts.onPhase?.('check');
    const badSql = ROW_CHECKS.map(([, sql]) => `(${sql})`).join(' OR ');
    const keys = await conn.query<KeyRow & { bad_rn: string | null }>(
      `SELECT gtin AS g, material AS m, lot, expiry AS e, uom AS u, min(rn)::int AS first_rn, min(rn) FILTER (WHERE ${badSql}) AS bad_rn
         FROM lb_stock_stage GROUP BY 1, 2, 3, 4, 5`,
    );
    if (keys.rows.some((k) => k.bad_rn !== null)) {
      const bad = await conn.query<Record<string, string> & { rn: string }>(`SELECT * FROM lb_stock_stage WHERE ${badSql} ORDER BY rn LIMIT $1`, [maxErrors]);
      for (const row of bad.rows) {
        report.errors.push(...rowErrors(row, columns));
      }
    }
    phase('check');

    // 3. keys → materials, conversion factors, lot expiries (in memory: tens of thousands of keys);
    //    with row errors already found it only checks (GTINs, dates, units) and writes nothing
    opts.onPhase?.('resolve');
    const messageId = uuidv7();
    const eventId = uuidv7();
    const resolved = await resolveKeys(conn, keys.rows, columns, report, maxErrors, messageId);
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

    // 4a. locations (unknown codes → provisional), lots (unknown → provisional), key → lot id
    opts.onPhase?.('lots');
    const rawLocations = await conn.query<{ raw: string }>('SELECT DISTINCT location AS raw FROM lb_stock_stage');
    const codes = [...new Set(rawLocations.rows.map((r) => r.raw.trim()))];
    const locs = await conn.query(
      `INSERT INTO locations (id, code, kind, provisional, source_message_id, ordinal)
       SELECT ${UUID7_SQL}, d.code, 'bin', true, $2, row_number() OVER (ORDER BY d.code)
         FROM unnest($1::text[]) AS d(code)
        WHERE NOT EXISTS (SELECT 1 FROM locations l WHERE l.code = d.code)
       ON CONFLICT (code) DO NOTHING`,
      [codes, messageId],
    );
    report.createdLocations = locs.rowCount ?? 0;
    await conn.query(
      `CREATE TEMP TABLE lb_stock_locs ON COMMIT DROP AS
       SELECT r.raw, l.id FROM unnest($1::text[]) AS r(raw) JOIN locations l ON l.code = btrim(r.raw)`,
      [rawLocations.rows.map((r) => r.raw)],
    );
    await conn.query(
      `CREATE TEMP TABLE lb_stock_keys (g text, m text, lot text, e text, u text, material_id uuid, lot_number text, factor numeric,
         expiry date, lot_id uuid, new_lot boolean) ON COMMIT DROP`,
    );
    await copyRows(
      conn,
      'COPY lb_stock_keys (g, m, lot, e, u, material_id, lot_number, factor, expiry) FROM STDIN',
      resolved.keys.map((k) => [k.g, k.m, k.lot, k.e, k.u, k.materialId, k.lotNumber, String(k.factor), k.expiry ?? null]),
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
    await conn.query(
      `UPDATE lb_stock_keys k SET lot_id = l.id, new_lot = (l.source_message_id IS NOT DISTINCT FROM $1::uuid)
         FROM lots l WHERE l.material_id = k.material_id AND l.lot_number = k.lot_number`,
      [messageId],
    );
    await conn.query('ANALYZE lb_stock_keys');
    await conn.query('ANALYZE lb_stock_locs');
    phase('lots');

    // 4b. the trace event, then ledger + balances + event items in one statement over the summed positions
    opts.onPhase?.('book');
    await conn.query(
      `INSERT INTO trace_events (id, type, action, biz_step, disposition, event_time, event_time_zone_offset, biz_transactions, details,
         source_key, source_message_id, ordinal)
       VALUES ($1, 'ObjectEvent', 'ADD', 'stock_taking', NULL, $2, '+00:00', '[]', $3, $4, $5, 1)`,
      [eventId, asOf, JSON.stringify({ kind: 'opening_stock', file: path.basename(file), rows: report.rows }), `import:stock:${messageId}`, messageId],
    );
    // the 5-column key join is estimated at one row; nested loops over a million rows would be ruinous
    await conn.query('SET LOCAL enable_nestloop = off');
    await conn.query(
      `CREATE TEMP TABLE lb_stock_pos ON COMMIT DROP AS
       WITH p AS (
         SELECT k.lot_id, bool_or(k.new_lot) AS new_lot, c.id AS location_id, btrim(s.stock_state) AS stock_state,
                sum(s.quantity::numeric * k.factor) AS qty, count(*) AS n
           FROM lb_stock_stage s
           JOIN lb_stock_keys k ON k.g = s.gtin AND k.m = s.material AND k.lot = s.lot AND k.e = s.expiry AND k.u = s.uom
           JOIN lb_stock_locs c ON c.raw = s.location
          GROUP BY k.lot_id, c.id, btrim(s.stock_state)
       )
       SELECT * FROM p ORDER BY lot_id, location_id, stock_state`,
    );
    await conn.query('SET LOCAL enable_nestloop = on');
    const sums = await conn.query<{ positions: string; merged: string | null; total: string | null }>(
      `SELECT count(*) AS positions, sum(n) - count(*) AS merged, sum(qty)::text AS total FROM lb_stock_pos`,
    );
    phase('book_positions');
    // referential integrity: set-based when the role may switch off the per-row foreign-key triggers
    report.integrityChecks = await checkIntegritySetBased(conn);
    if (report.integrityChecks === 'set-based') {
      await conn.query(`SET LOCAL session_replication_role = replica`);
    }
    // ledger rows in (lot, location, state) order: every index of the ledger is appended to, not scattered
    await conn.query(
      `INSERT INTO inventory_ledger (event_id, lot_id, location_id, stock_state, delta, event_time, source_message_id, ordinal)
       SELECT $1, lot_id, location_id, stock_state, qty, $2, $3, row_number() OVER (ORDER BY lot_id, location_id, stock_state) FROM lb_stock_pos`,
      [eventId, asOf, messageId],
    );
    phase('book_ledger');
    // lots made by this import cannot have balances yet: plain inserts; existing lots add to their balances
    await conn.query(
      `INSERT INTO inventory_balances (lot_id, location_id, stock_state, quantity)
       SELECT lot_id, location_id, stock_state, qty FROM lb_stock_pos WHERE new_lot`,
    );
    await conn.query(
      `INSERT INTO inventory_balances AS b (lot_id, location_id, stock_state, quantity)
       SELECT lot_id, location_id, stock_state, qty FROM lb_stock_pos WHERE NOT new_lot
       ON CONFLICT (lot_id, location_id, stock_state) DO UPDATE SET quantity = b.quantity + EXCLUDED.quantity, updated_at = now()`,
    );
    if (report.integrityChecks === 'set-based') {
      await conn.query(`SET LOCAL session_replication_role = origin`);
    }
    phase('book_balances');
    await conn.query(
      `INSERT INTO trace_event_items (event_id, role, material_id, lot_id, quantity, uom, base_quantity)
       SELECT $1, 'subject', lt.material_id, x.lot_id, x.qty, m.base_uom, x.qty
         FROM (SELECT lot_id, sum(qty) AS qty FROM lb_stock_pos GROUP BY lot_id) x
         JOIN lots lt ON lt.id = x.lot_id JOIN materials m ON m.id = lt.material_id
        ORDER BY x.lot_id`,
      [eventId],
    );
    const booked = sums;
    report.positions = Number(booked.rows[0].positions);
    report.mergedRows = Number(booked.rows[0].merged ?? 0);
    report.totalBaseQuantity = Number(booked.rows[0].total ?? 0);
    if (report.positions + report.mergedRows !== report.rows) {
      throw new LotBridgeError('LB_ERR_INTERNAL', `stock import booked ${report.positions + report.mergedRows} of ${report.rows} rows`, { kind: 'defect' });
    }
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
async function checkIntegritySetBased(conn: pg.Client): Promise<'per-row' | 'set-based'> {
  const allowed = await conn.query<{ superuser: boolean; triggers: number }>(
    `SELECT current_setting('is_superuser') = 'on' AS superuser,
            (SELECT count(*)::int FROM pg_trigger
              WHERE tgrelid IN ('inventory_ledger'::regclass, 'inventory_balances'::regclass) AND NOT tgisinternal) AS triggers`,
  );
  if (!allowed.rows[0]?.superuser || allowed.rows[0].triggers > 0) {
    return 'per-row';
  }
  const check = await conn.query<{ missing_lots: number; missing_locations: number }>(
    `WITH lot_ids AS (SELECT DISTINCT lot_id AS id FROM lb_stock_pos),
          loc_ids AS (SELECT DISTINCT location_id AS id FROM lb_stock_pos),
          locked_lots AS (SELECT l.id FROM lots l WHERE l.id IN (SELECT id FROM lot_ids) FOR KEY SHARE),
          locked_locs AS (SELECT c.id FROM locations c WHERE c.id IN (SELECT id FROM loc_ids) FOR KEY SHARE)
     SELECT (SELECT count(*) FROM lot_ids)::int - (SELECT count(*) FROM locked_lots)::int AS missing_lots,
            (SELECT count(*) FROM loc_ids)::int - (SELECT count(*) FROM locked_locs)::int AS missing_locations`,
  );
  const c = check.rows[0];
  if (!c || c.missing_lots !== 0 || c.missing_locations !== 0) {
    throw new LotBridgeError('LB_ERR_INTERNAL', `stock import: ${c?.missing_lots ?? '?'} lots and ${c?.missing_locations ?? '?'} locations it booked against do not exist`, {
      kind: 'defect',
    });
  }
  return 'set-based';
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

/** The errors of one staged row that failed a row check (same checks as ROW_CHECKS, in JS). */
function rowErrors(row: Record<string, string | null> & { rn: string }, columns: StockCsvColumn[]): LotBridgeErrorJson[] {
  const line = Number(row.rn) + 1;
  const v = (c: StockCsvColumn): string => (row[c] ?? '').trim();
  const out: LotBridgeErrorJson[] = [];
  const fail = (c: StockCsvColumn, why: string): void => {
    const idx = columns.indexOf(c);
    out.push({
      code: 'LB_ERR_IMPORT_CSV',
      message: `line ${line}, column ${c}: ${why}${v(c) ? ` (got "${v(c)}")` : ''}`,
      location: { line, ...(idx >= 0 ? { column: idx + 1 } : {}), field: c },
    });
  };
  if (!v('location')) fail('location', 'is required');
  if (!v('gtin') && !v('material')) fail(columns.includes('gtin') ? 'gtin' : 'material', 'a row needs a gtin or a material');
  if (!v('lot')) fail('lot', 'is required');
  if (!(STOCK_STATES as readonly string[]).includes(v('stock_state'))) fail('stock_state', `must be one of ${STOCK_STATES.join(', ')}`);
  if (!/^\+?(\d{1,13}(\.\d{0,4})?|\.\d{1,4})$/.test(v('quantity'))) fail('quantity', 'must be a number ≥ 0 with at most 4 decimals');
  return out;
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

/** Turns a COPY failure into LB_ERR_IMPORT_CSV with the line PostgreSQL names. */
function copyError(err: unknown, encoding: string | undefined): unknown {
  const e = err as { code?: string; message?: string; where?: string };
  if (!e || typeof e.code !== 'string' || !/^22|^23/.test(e.code)) {
    return err;
  }
  const line = /line (\d+)/.exec(e.where ?? '')?.[1];
  const column = /column (\w+)/.exec(e.where ?? '')?.[1];
  const hint = e.code === '22021' && encoding !== 'latin1' ? ' (use --encoding latin1 for Latin-1 / Windows-1252 files)' : '';
  return new LotBridgeError('LB_ERR_IMPORT_CSV', `${line ? `line ${line}: ` : ''}${e.message ?? 'COPY failed'}${hint}`, {
    location: { ...(line ? { line: Number(line) } : {}), ...(column ? { field: column } : {}) },
    cause: err,
  });
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
  expiry: string | undefined;
}

/**
 * Resolves the distinct keys of the file: materials by GTIN (any level, UDI-DI too) or by code /
 * internal identifier, provisional materials for unknown GTINs, conversion factors, and expiries
 * (one per material and lot). Errors go to the report with the first line of the key.
 */
async function resolveKeys(
  conn: pg.Client,
  keys: KeyRow[],
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
    out.push({ g: k.raw.g, m: k.raw.m, lot: k.raw.lot, e: k.raw.e, u: k.raw.u, lotNumber: k.lot, materialId, factor, expiry: k.e || undefined });
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
