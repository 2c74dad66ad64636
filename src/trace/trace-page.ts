import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { opensWithJitOff, type Db } from '../db/knex';
import { rawNamed } from '../db/named-statement';
import { LotBridgeError } from '../errors';
import { GenealogyWalk, unitOutputs, type TraceDirection } from './genealogy';
import type { TraceSubject } from './trace-subject';

/** A lot in a trace. */
export interface TraceLotRow {
  lotId: string;
  depth: number;
  material: string;
  description: string | null;
  /** GTIN of the each level, when the material has one. */
  gtin: string | null;
  lot: string;
  status: string;
  expiry: string | null;
  provisional: boolean;
  /** Lots this one was reached from (forward: its inputs in the closure; backward: what it went into). */
  via: string[];
}

/** Stock on hand of a traced lot at one location and stock state. */
export interface TraceOnHandRow {
  lotId: string;
  material: string;
  lot: string;
  location: string;
  locationName: string | null;
  /** Owner of the location (a customer's or hospital's site), when known. */
  party: string | null;
  stockState: string;
  quantity: number;
  uom: string;
}

/**
 * A shipment line of a traced lot: forward the outbound ones (customer), backward the inbound ones
 * (supplier). A line of a serial without a lot (the subject of a lotless serial's trace) has
 * `lotId` and `lot` null, `material` the serial's material.
 */
export interface TraceShipmentRow {
  lotId: string | null;
  material: string;
  lot: string | null;
  shipmentId: string;
  shipmentNumber: string;
  direction: 'inbound' | 'outbound';
  status: string;
  /** Customer (outbound) or supplier (inbound): code or GLN, name. */
  party: { code: string | null; gln: string | null; name: string | null } | null;
  shipTo: string | null;
  serial: string | null;
  quantity: number | null;
  uom: string | null;
  shippedAt: string | null;
  deliveredAt: string | null;
}

/**
 * A unit of a traced lot used at a hospital (HL7 device/supply usage). The usage of a serial
 * without a lot has `lotId` and `lot` null, `material` the serial's material.
 */
export interface TraceConsumptionRow {
  lotId: string | null;
  material: string;
  lot: string | null;
  usageId: string;
  usedAt: string;
  usedAtOffset: string;
  hospital: { gln: string | null; code: string | null; name: string | null } | null;
  location: string;
  serial: string | null;
  quantity: number;
  uom: string;
  procedureCode: string | null;
  /** Pseudonymous procedure reference (keyed HMAC of encounter + procedure): the hospital can resolve it, nobody else. */
  procedureRef: string | null;
}

/** A QC result of a traced lot (backward trace). */
export interface TraceQcRow {
  lotId: string;
  material: string;
  lot: string;
  test: string;
  testName: string | null;
  result: string;
  value: string | null;
  unit: string | null;
  disposition: string | null;
  inspectedAt: string;
}

export interface TraceGraphNode {
  /** A lot's id; `serial:<serial number>` for the unit of a lotless serial's trace; `customer:…`, `supplier:…`, `location:…`, `hospital:…`. */
  id: string;
  /** `serial`: the subject of a lotless serial's trace (depth 0), whose own lines and usages have `lotId` null. */
  kind: 'lot' | 'customer' | 'supplier' | 'location' | 'hospital' | 'serial';
  label: string;
  depth?: number;
  status?: string;
}

export interface TraceGraphEdge {
  from: string;
  to: string;
  kind: 'derived' | 'shipped_to' | 'supplied' | 'on_hand' | 'consumed_at';
  quantity: number | null;
  uom: string | null;
}

/** One page of a trace: graph and flat tables, at most `limit` table rows. */
export interface TracePage {
  direction: TraceDirection;
  subject: TraceSubject['asked'] & { lotIds: string[]; serialId?: string };
  /**
   * The genealogy walk behind the answer. `complete`: the walk reached every lot, and `lots`,
   * `links`, `maxDepth` are the trace's totals; otherwise (a huge trace) they count what the walk
   * reached so far — at least every lot up to this page's depth.
   */
  summary: { lots: number; links: number; maxDepth: number; depthLimited: boolean; revisits: number; complete: boolean };
  graph: { nodes: TraceGraphNode[]; edges: TraceGraphEdge[] };
  tables: {
    lots: TraceLotRow[];
    onHand: TraceOnHandRow[];
    shipments: TraceShipmentRow[];
    consumption: TraceConsumptionRow[];
    qc: TraceQcRow[];
  };
  page: {
    limit: number;
    /** Table rows on this page (lots + on hand + shipments + consumption + qc). */
    rows: number;
    /** Pass as `cursor=` for the next page; null on the last page. */
    nextCursor: string | null;
  };
}

type Kind = 'lot' | 'onHand' | 'shipments' | 'consumption' | 'qc';

/**
 * Lots the walk reaches before a page's first statement (then it goes on to `eagerLots` beside it):
 * a raw lot's first page of 1,000 rows holds 300–450 lots on the trace bench's graph.
 */
const FIRST_WALK_LOTS = 400;
/**
 * Past FIRST_WALK_LOTS the first walk goes on in the same statement while its last level holds at
 * most this many lots (and the walk fewer than `eagerLots`): an ordinary raw lot's walk ends with
 * levels of 18–119 lots and is then complete in one statement, where a separate walk-ahead statement
 * beside the page cost ~1 ms; a bulk raw lot's level of 700–1,000 lots (whose next level holds
 * 1,500) still waits for the walk-ahead.
 */
const SMALL_FRONTIER = 256;
const KINDS: Record<TraceDirection, Kind[]> = {
  forward: ['lot', 'onHand', 'shipments', 'consumption'],
  backward: ['lot', 'shipments', 'qc'],
};

interface Cursor {
  v: 1;
  /** Fingerprint of direction + subject. */
  f: string;
  /** Lot id of the last row. */
  l: string;
  /** Kind index of the last row. */
  k: number;
  /** Key of the last row within its lot and kind. */
  x: string;
}

function fingerprint(direction: TraceDirection, subject: TraceSubject): string {
  return createHash('sha256').update(`${direction}|${subject.lotIds.join(',')}|${subject.serialId ?? ''}`).digest('base64url').slice(0, 12);
}

function encodeCursor(c: Cursor | UnitCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** A cursor's JSON, before its fields are checked. */
function parseCursorText<T>(s: string): T {
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as T;
  } catch (err) {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor is not one this API issued', { location: { path: 'cursor' }, cause: err });
  }
}

const UUID_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BIGINT_KEY = /^\d{20}$/;

/** Whether `x` is a key the page statement writes for a row of kind index `k` ('' for a lot row, a zero-padded bigint, a uuid). */
function cursorKeyValid(kinds: Kind[], k: number, x: string): boolean {
  if (!Number.isInteger(k) || k < 0 || k >= kinds.length) return false;
  const kind = kinds[k];
  if (kind === 'lot') return x === '';
  if (kind === 'onHand' || kind === 'shipments') return BIGINT_KEY.test(x) && BigInt(x) <= 9223372036854775807n;
  return UUID_KEY.test(x);
}

function decodeCursor(s: string, f: string, kinds: Kind[]): Cursor {
  const c = parseCursorText<Cursor>(s);
  if (c?.v !== 1 || typeof c.l !== 'string' || !UUID_KEY.test(c.l) || typeof c.k !== 'number' || typeof c.x !== 'string' || !cursorKeyValid(kinds, c.k, c.x)) {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor is not one this API issued', { location: { path: 'cursor' } });
  }
  if (c.f !== f) {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor belongs to another trace (direction or subject differ)', { location: { path: 'cursor' } });
  }
  return c;
}

interface LotInfo { material: string; description: string | null; gtin: string | null; lotNumber: string; status: string; expiry: string | null; provisional: boolean; baseUom: string | null }

/**
 * A row of a page as the page statement returns it: the lot's position in the ids given, kind
 * index, key within lot and kind, the row's values in generic columns (a1…a10 text, n1 number, t1/t2
 * timestamps already as ISO text, bo boolean, dt date; which is which depends on the kind, see
 * {@link pageRows} and {@link rowJson}). The row's graph node and edge are derived from them in Node
 * ({@link graphOfRow}).
 */
interface PageRow {
  ord: number; kind: number; k: string;
  a1: string | null; a2: string | null; a3: string | null; a4: string | null; a5: string | null; a6: string | null; a7: string | null; a8: string | null; a9: string | null; a10: string | null;
  n1: number | null; t1: string | null; t2: string | null; bo: boolean | null; dt: string | null;
}

/** The generic value columns of a page row (see PageRow), with their PostgreSQL types. */
const PAGE_COLUMNS = [
  ['a1', 'text'], ['a2', 'text'], ['a3', 'text'], ['a4', 'text'], ['a5', 'text'], ['a6', 'text'], ['a7', 'text'], ['a8', 'text'], ['a9', 'text'], ['a10', 'text'],
  ['n1', 'float8'], ['t1', 'text'], ['t2', 'text'], ['bo', 'boolean'], ['dt', 'date'],
] as const;
type PageColumn = (typeof PAGE_COLUMNS)[number][0];

/** A row's party (`pp`) is shown only when it has a non-empty code, GLN or name (as the answer always had it). */
const PARTY_PRESENT = `(coalesce(pp.code, '') <> '' OR coalesce(pp.gln, '') <> '' OR coalesce(pp.name, '') <> '')`;

/** A timestamp as JSON text the way `Date.prototype.toISOString` writes it (UTC, milliseconds). */
const isoSql = (expr: string): string => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The raw columns a page row carries out of the per-lot scans (see {@link pageRows}): the sort keys
 * (kn: a bigint row id, ku: a uuid row id), the ids the row names (material of a lot row, location,
 * party, serial, shipment), raw texts s1…s6, a quantity, two timestamps, a flag and a date; which is
 * which depends on the kind.
 */
const RAW_COLUMNS = [
  ['kn', 'bigint'], ['ku', 'uuid'], ['mat', 'uuid'], ['loc', 'uuid'], ['party', 'uuid'], ['serial', 'uuid'], ['sid', 'uuid'],
  ['s1', 'text'], ['s2', 'text'], ['s3', 'text'], ['s4', 'text'], ['s5', 'text'], ['s6', 'text'],
  ['rn', 'float8'], ['ts1', 'timestamptz'], ['ts2', 'timestamptz'], ['rbo', 'boolean'], ['rdt', 'date'],
] as const;
type RawColumn = (typeof RAW_COLUMNS)[number][0];

/**
 * The rows of lots `ids` (in that order) in page order — per lot its lot row (kind 0), then each
 * kind's rows by key — at most `room`, in **one statement** of two steps. First the page's rows
 * with their raw columns: per lot a LATERAL UNION ALL of the lot and one index scan per kind (each
 * capped at `room`), under an incremental sort on the lots' ordinality, so PostgreSQL stops reading
 * lots once `room` rows are out. Then, for those rows only, what they name: material and GTIN of a
 * lot, location, party (customer, supplier, hospital, a location's owner) and serial, each table
 * joined once for the whole page (hash joins over a few thousand rows at most), instead of an
 * index look-up per lot and row inside the per-lot scans (measured: most of the statement's time
 * went to those B-tree descents). `resume` (the cursor's kind and key) applies to the first lot:
 * its rows up to and including the cursor's are left out, but its lot row (kind 0) is always
 * returned (its material and lot name the detail rows). Each row comes back as typed columns
 * (generic per position, see below) that {@link rowJson} writes straight into the answer's JSON
 * text.
 */
async function pageRows(
  db: Db, direction: TraceDirection, ids: string[], room: number, resume: { k: number; x: string } | undefined, serialId: string | undefined, rootIds: Set<string>,
): Promise<PageRow[]> {
  const kinds = KINDS[direction];
  const params: Knex.RawBinding[] = [ids];
  // room is a parameter (bound once per branch and once for the page), so that the statement's text
  // depends only on direction, resume kind and serial: it runs as a named prepared statement.
  // Every branch returns the same raw columns (RAW_COLUMNS); the outer step turns them into the
  // generic answer columns (a1…a10 text, n1 float8, t1/t2 timestamps as ISO text, bo boolean, dt
  // date), per kind. Node writes each row's JSON (rowJson) and graph node and edge (graphOfRow)
  // from those: no JSON is built, parsed or re-serialised per row on either side (json_build_object
  // cost ~3.5 µs a row in PostgreSQL, parsing and re-serialising objects 10+ µs a row in Node).
  const raw = (v: Partial<Record<RawColumn, string>>): string => RAW_COLUMNS.map(([c, t]) => `${v[c] ?? `NULL::${t}`} AS ${c}`).join(', ');
  // per kind index, the answer's columns from the raw ones and the joined tables (m material, loc
  // location, pp the row's party or, for on-hand stock, the location's owner; sr serial)
  const out: Array<Partial<Record<PageColumn, string>>> = [];
  const branches: string[] = [
    `SELECT 0 AS kind, ${raw({ mat: 'lm.material_id', s1: 'lm.lot_number', s2: 'lm.status', rdt: 'lm.expiry', rbo: 'lm.provisional' })}`,
  ];
  out.push({
    a1: 'm.code', a2: 'm.description', a3: 'p.s1', a4: 'p.s2', dt: 'p.rdt', bo: 'p.rbo', a6: 'm.base_uom',
    a5: `(SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = p.mat AND mi.scheme = 'gtin'
            ORDER BY array_position(ARRAY['each','inner','box','case','pallet'], mi.packaging_level), mi.value LIMIT 1)`,
  });
  for (let kindIndex = 1; kindIndex < kinds.length; kindIndex++) {
    const kind = kinds[kindIndex];
    const alias = kind === 'onHand' ? 'b' : kind === 'shipments' ? 'sl' : kind === 'consumption' ? 'd' : 'q';
    const numericKey = kind === 'onHand' || kind === 'shipments';
    const cond: string[] = [];
    const bind: Knex.RawBinding[] = [];
    if (resume && resume.k > kindIndex) {
      cond.push('u.ord > 1'); // resuming after this kind in the first lot
    } else if (resume && resume.k === kindIndex) {
      cond.push(`(u.ord > 1 OR ${alias}.id > ?::${numericKey ? 'bigint' : 'uuid'})`);
      bind.push(numericKey ? String(BigInt(resume.x)) : resume.x);
    }
    // a serial subject: its own lot's rows are those of the serial only (no lot stock)
    if (serialId && rootIds.size > 0) {
      if (kind === 'onHand') {
        cond.push('NOT (b.lot_id = ANY(?::uuid[]))');
        bind.push([...rootIds]);
      } else if (kind === 'shipments' || kind === 'consumption') {
        cond.push(`(NOT (${alias}.lot_id = ANY(?::uuid[])) OR ${alias}.serial_id = ?)`);
        bind.push([...rootIds], serialId);
      }
    }
    const where = cond.map((c) => ` AND ${c}`).join('');
    // keys: bigint ids order as their zero-padded text, uuids as their hex text ("C" collation):
    // the outer step writes them so (the cursor's key)
    if (kind === 'onHand') {
      branches.push(`SELECT ${kindIndex}, ${raw({ kn: 'b.id', loc: 'b.location_id', s1: 'b.stock_state', rn: 'b.quantity::float8' })}
         FROM inventory_balances b WHERE b.lot_id = u.id AND b.quantity <> 0${where} ORDER BY b.id LIMIT ?::int`);
      out.push({ a1: 'loc.code', a2: 'loc.name', a3: 'coalesce(pp.code, pp.gln)', a4: 'p.s1', n1: 'p.rn' });
    } else if (kind === 'shipments') {
      const dir = direction === 'forward' ? 'outbound' : 'inbound';
      const partyCol = direction === 'forward' ? 's.to_party_id' : 's.from_party_id'; // the customer, or the supplier
      branches.push(`SELECT ${kindIndex}, ${raw({
        kn: 'sl.id', sid: 's.id', party: partyCol, serial: 'sl.serial_id', s1: 's.shipment_number', s2: 's.direction', s3: 's.status', s4: 's.ship_to', s5: 'sl.uom',
        rn: 'coalesce(sl.quantity_shipped, sl.quantity_received, sl.quantity_expected)::float8', ts1: 's.shipped_at', ts2: 's.delivered_at',
      })}
         FROM shipment_lines sl JOIN shipments s ON s.id = sl.shipment_id AND s.direction = '${dir}'
        WHERE sl.lot_id = u.id${where} ORDER BY sl.id LIMIT ?::int`);
      out.push({
        a1: 'p.sid::text', a2: 'p.s1', a3: 'p.s2', a4: 'p.s3', a5: 'p.s4', a6: 'sr.serial_number', a7: 'p.s5',
        a8: 'pp.code', a9: 'pp.gln', a10: 'pp.name', bo: PARTY_PRESENT, n1: 'p.rn', t1: isoSql('p.ts1'), t2: isoSql('p.ts2'),
      });
    } else if (kind === 'consumption') {
      branches.push(`SELECT ${kindIndex}, ${raw({
        ku: 'd.id', loc: 'd.location_id', party: 'd.party_id', serial: 'd.serial_id', s1: 'd.used_at_offset', s2: 'd.procedure_code', s3: 'd.procedure_ref_hmac', s4: 'd.uom',
        rn: 'coalesce(d.quantity, 0)::float8', ts1: 'd.used_at',
      })}
         FROM device_usages d WHERE d.lot_id = u.id${where} ORDER BY d.id LIMIT ?::int`);
      out.push({
        a1: 'p.s1', a2: 'loc.code', a3: 'p.s2', a4: 'p.s3', a6: 'sr.serial_number', a7: 'p.s4',
        a8: 'pp.gln', a9: 'pp.code', a10: 'pp.name', bo: PARTY_PRESENT, n1: 'p.rn', t1: isoSql('p.ts1'),
      });
    } else {
      branches.push(`SELECT ${kindIndex}, ${raw({
        ku: 'q.id', s1: 'q.test_code', s2: 'q.test_name', s3: 'q.result', s4: 'q.value', s5: 'q.unit', s6: 'q.disposition', ts1: 'q.inspected_at',
      })}
         FROM quality_results q WHERE q.lot_id = u.id${where} ORDER BY q.id LIMIT ?::int`);
      out.push({ a1: 'p.s1', a2: 'p.s2', a3: 'p.s3', a4: 'p.s4', a5: 'p.s5', a6: 'p.s6', t1: isoSql('p.ts1') });
    }
    params.push(...bind, room);
  }
  // each answer column: per kind its expression (NULL where a kind has none)
  const outCols = PAGE_COLUMNS.map(([c, t]) => {
    const whens = out.map((o, i) => (o[c] ? ` WHEN ${i} THEN ${o[c]}` : '')).join('');
    return whens ? `CASE p.kind${whens} END::${t} AS ${c}` : `NULL::${t} AS ${c}`;
  }).join(', ');
  // one join of parties for every row: the location's owner for on-hand stock (whose rows name no
  // party), the row's own party (customer, supplier, hospital) for the others; a hash of the parties
  // table is built once per statement instead of twice
  const onHandKind = kinds.indexOf('onHand');
  const partyKey = onHandKind > 0 ? `CASE WHEN p.kind = ${onHandKind} THEN loc.party_id ELSE p.party END` : 'p.party';
  // no ORDER BY: the rows come out of the cut in page order, but the joins after it need not keep
  // that order (with hash tables built on the page's rows they come out in the small tables' order);
  // Node puts them back in page order (orderPageRows), which costs less than PostgreSQL sorting the
  // page's wide rows once more and lets the rows stream out as they are joined
  const sql = `SELECT p.ord::int AS ord, p.kind, CASE WHEN p.kn IS NOT NULL THEN lpad(p.kn::text, 20, '0') WHEN p.ku IS NOT NULL THEN p.ku::text ELSE '' END AS k, ${outCols}
      FROM (SELECT u.ord, x.kind, ${RAW_COLUMNS.map(([c]) => `x.${c}`).join(', ')}
              FROM unnest(?::uuid[]) WITH ORDINALITY u(id, ord)
              CROSS JOIN LATERAL (SELECT l.material_id, l.lot_number, l.status, l.expiry, l.provisional FROM lots l WHERE l.id = u.id OFFSET 0) lm
              CROSS JOIN LATERAL (${branches.map((b) => `(${b})`).join('\n UNION ALL ')}) x
             ORDER BY u.ord, x.kind, x.kn, x.ku
             LIMIT ?::int) p
      LEFT JOIN materials m ON m.id = p.mat
      LEFT JOIN locations loc ON loc.id = p.loc
      LEFT JOIN parties pp ON pp.id = ${partyKey}
      LEFT JOIN serials sr ON sr.id = p.serial`;
  params.push(room);
  const r = await rawNamed<{ rows: PageRow[] }>(db, sql, params);
  return orderPageRows(r.rows, ids.length);
}

/**
 * The page statement's rows in page order: by lot position (`ord`), then kind, then key (`k`: a
 * bigint key as zero-padded digits, a uuid as its hex text, '' for a lot row; within a kind all keys
 * are of one sort, and their text order is the order of the keys). Lots are bucketed by position
 * (linear), each lot's few rows are sorted in place.
 */
function orderPageRows(rows: PageRow[], lots: number): PageRow[] {
  const byLot: Array<PageRow[] | undefined> = new Array(lots + 1);
  for (const g of rows) {
    const b = byLot[g.ord];
    if (b) b.push(g);
    else byLot[g.ord] = [g];
  }
  const out: PageRow[] = [];
  for (const b of byLot) {
    if (!b) continue;
    if (b.length > 1) b.sort((x, y) => x.kind - y.kind || (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
    for (const g of b) out.push(g);
  }
  return out;
}

/** The detail tables of a page, in page order. */
interface DetailRows { onHand: TraceOnHandRow[]; shipments: TraceShipmentRow[]; consumption: TraceConsumptionRow[]; qc: TraceQcRow[] }

/** Opts of {@link traceLots} and {@link traceLotsJson}. */
export interface TraceLotsOptions {
  limit?: number;
  cursor?: string;
  maxDepth?: number;
  eagerLots?: number;
  /** Lots walked before the page's first statement (default FIRST_WALK_LOTS; the rest of the walk-ahead runs beside it). */
  firstWalkLots?: number;
  /** Past `firstWalkLots`, the first walk goes on while its last level holds at most this many lots (default SMALL_FRONTIER; 0: never). */
  smallFrontier?: number;
}

/**
 * One page of a forward or backward trace. Lots are ordered by (depth, id); each lot's rows follow
 * it in kind order (lot, on hand, shipments, consumption | lot, inbound shipments, QC), then by key.
 * The cursor names the last row (lot, kind, key), so pages stay consistent while rows are added.
 * A page is two statements in the common case: the genealogy walk (all levels in one statement, up
 * to `firstWalkLots` lots, or past them while its last level holds at most `smallFrontier` lots) and
 * the page's rows (one statement for the lots and every kind of row); a trace larger than that
 * walks on to `eagerLots` in a third statement beside the page's.
 * The API answers this page as {@link traceLotsJson}'s text.
 * @param db - knex instance (reads only)
 * @param subject - resolved subject
 * @param direction - forward or backward
 * @param opts - limit (1–1000) and cursor; `eagerLots` (default 1000): walk the genealogy ahead to
 *   this many lots so that an ordinary trace's summary has its totals
 */
export async function traceLots(db: Db, subject: TraceSubject, direction: TraceDirection, opts: TraceLotsOptions = {}): Promise<TracePage> {
  if (opensWithJitOff(db)) return pageObject(db, subject, direction, opts);
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL jit = off');
    return pageObject(trx, subject, direction, opts);
  });
}

/**
 * {@link traceLots} as the JSON text of the {@link TracePage}, the way `GET /api/v1/trace/forward|backward`
 * answers it: one `JSON.stringify` of the page. The detail rows (on hand, shipments, consumption,
 * QC — nearly all of a large page) are plain objects made from the page statement's typed columns:
 * no JSON is built in PostgreSQL nor parsed in Node. (Writing each row's JSON text by template and
 * joining the texts cost twice as much as V8's `JSON.stringify` of the same objects: the joined
 * texts are rope strings that V8 flattens character by character; measured, docs/architecture.md.)
 * JIT must be off: the page statement's cost estimate crosses jit_above_cost, and compiling it took
 * 45–70 ms of a statement that runs in 12–16 ms. A pool of createDb opens every connection with
 * jit=off, so its statements run as they are (each reads committed data; a transaction would add
 * three round trips); on any other pool or transaction they run in a transaction with
 * `SET LOCAL jit = off`.
 */
export async function traceLotsJson(db: Db, subject: TraceSubject, direction: TraceDirection, opts: TraceLotsOptions = {}): Promise<string> {
  return JSON.stringify(await traceLots(db, subject, direction, opts));
}

async function pageObject(db: Db, subject: TraceSubject, direction: TraceDirection, opts: TraceLotsOptions): Promise<TracePage> {
  if (subject.serialId && subject.lotIds.length === 0) return unitPageObject(db, subject as TraceSubject & { serialId: string }, direction, opts);
  const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 1000);
  const f = fingerprint(direction, subject);
  const cursor = opts.cursor ? decodeCursor(opts.cursor, f, KINDS[direction]) : undefined;
  const walk = new GenealogyWalk(db, subject.lotIds, direction, { maxDepth: opts.maxDepth, serialId: subject.serialId });
  const kinds = KINDS[direction];
  const rootIds = new Set(subject.lotIds);
  const serialId = direction === 'forward' ? subject.serialId : undefined;

  // small traces are walked to the end first, so their summary holds the totals and the page finds
  // its lots walked; a huge trace is walked further only as deep as its page needs. The walk goes in
  // two steps: to FIRST_WALK_LOTS lots (what a page of ordinary lots needs; on past them in the same
  // statement while its last level is small, SMALL_FRONTIER), then on to `eagerLots` while the page
  // statement runs on the lots walked so far, on another connection of the pool (a
  // bulk raw lot's walk-ahead to its third level took as long as its page statement; the page waits
  // for it only when it needs more lots, and the answer when it is complete)
  const eager = opts.eagerLots ?? 1000;
  await walk.walk(Math.min(eager, opts.firstWalkLots ?? FIRST_WALK_LOTS), { upTo: eager, frontierAtMost: opts.smallFrontier ?? SMALL_FRONTIER });
  let ahead: Promise<void> | undefined;
  if (!walk.done && walk.size < eager) {
    ahead = walk.walk(eager);
    ahead.catch(() => undefined); // awaited below (its rejection is thrown there), or left when the page fails first
  }
  // lots in page order: level by level (each level sorted by id)
  const order: string[] = walk.levels.flat();
  let levelsInOrder = walk.levels.length;
  // waits for the walk-ahead and puts the levels it added in page order; true when it added any
  const takeAhead = async (): Promise<boolean> => {
    if (ahead) {
      await ahead;
      ahead = undefined;
    }
    const added = levelsInOrder < walk.levels.length;
    for (; levelsInOrder < walk.levels.length; levelsInOrder++) order.push(...walk.levels[levelsInOrder]);
    return added;
  };
  const moreLots = async (): Promise<boolean> => {
    if (await takeAhead()) return true;
    if (!(await walk.expand())) return false;
    order.push(...walk.levels[walk.levels.length - 1]);
    levelsInOrder = walk.levels.length;
    return true;
  };
  let start = 0;
  if (cursor) {
    await takeAhead(); // a later page: its lots are in the walk's order once the walk-ahead is in
    while (!walk.depth.has(cursor.l) && (await moreLots()));
    if (!walk.depth.has(cursor.l)) {
      throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor names a lot that is no longer in this trace', { location: { path: 'cursor' } });
    }
    start = order.indexOf(cursor.l);
  }

  const lots: TraceLotRow[] = [];
  const details: DetailRows = { onHand: [], shipments: [], consumption: [], qc: [] };
  // per detail kind, its rows' graph node (id, label) and edge (quantity, uom), in row order
  const graphOf: Record<Exclude<Kind, 'lot'>, Array<{ lotId: string; id: string; label: string; quantity: number | null; uom: string | null }>> = {
    onHand: [], shipments: [], consumption: [], qc: [],
  };
  let rows = 0;
  let last: { l: string; k: number; x: string } | undefined;
  let more = false;
  let pos = start;
  let resume: Cursor | undefined = cursor;
  const infos = new Map<string, LotInfo>();
  for (;;) {
    if (rows === limit) {
      // the page is full at the end of a lot: a next row exists if a next lot does
      more = pos < order.length || (await moreLots());
      break;
    }
    if (pos >= order.length && !(await moreLots())) break;
    // each lot gives at least its lot row: a page holds at most limit - rows more lots (+1 to know
    // whether a row follows; +1 for a resumed lot, whose lot row was on the previous page)
    const extra = resume ? 1 : 0;
    const ids = order.slice(pos, pos + limit - rows + 1 + extra);
    const room = limit - rows + 1 + extra;
    const got = await pageRows(db, direction, ids, room, resume ? { k: resume.k, x: resume.x } : undefined, serialId, rootIds);
    for (const g of got) {
      const id = ids[g.ord - 1];
      if (g.kind === 0) {
        infos.set(id, { material: g.a1!, description: g.a2, lotNumber: g.a3!, status: g.a4!, gtin: g.a5, baseUom: g.a6, expiry: g.dt, provisional: g.bo! });
        if (resume && g.ord === 1) continue; // the cursor's lot: its lot row was on an earlier page (its values name the detail rows)
      }
      if (rows === limit) {
        more = true;
        break;
      }
      if (g.kind === 0) {
        const li = infos.get(id)!;
        lots.push({
          lotId: id, depth: walk.depth.get(id) ?? 0, material: li.material, description: li.description, gtin: li.gtin, lot: li.lotNumber,
          status: li.status, expiry: li.expiry, provisional: li.provisional,
          via: [], // filled in below, once the walk went as far as this answer goes
        });
      } else {
        const kind = kinds[g.kind] as Exclude<Kind, 'lot'>;
        const li = infos.get(id)!;
        pushRow(details, kind, id, li, g);
        const node = graphOfRow(kind, direction, li, g);
        if (node) graphOf[kind].push({ lotId: id, ...node });
      }
      rows++;
      last = { l: id, k: g.kind, x: g.k };
    }
    if (more || got.length === room) break; // room was more than the page has left: a row remains
    // every row of these lots is on the page
    pos += ids.length;
    resume = undefined;
  }
  await takeAhead(); // the summary is the walk's as far as it went ahead
  for (const l of lots) l.via = (walk.edgesInto.get(l.lotId) ?? []).map((e) => (direction === 'forward' ? e.from : e.to));

  // graph of this page: its lots, the links into them, and the parties/locations its rows name
  // (in table order: shipments, on hand, consumption)
  const nodes = new Map<string, TraceGraphNode>();
  for (const l of lots) nodes.set(l.lotId, { id: l.lotId, kind: 'lot', label: `${l.material} / ${l.lot}`, depth: l.depth, status: l.status });
  const edges: TraceGraphEdge[] = [];
  for (const l of lots) {
    for (const e of walk.edgesInto.get(l.lotId) ?? []) edges.push({ from: e.from, to: e.to, kind: 'derived', quantity: e.quantity, uom: e.uom });
  }
  for (const kind of ['shipments', 'onHand', 'consumption'] as const) {
    for (const g of graphOf[kind]) addRowGraph(nodes, edges, kind, direction, g.lotId, g);
  }
  return {
    direction,
    subject: { ...subject.asked, lotIds: subject.lotIds, ...(subject.serialId ? { serialId: subject.serialId } : {}) },
    summary: { lots: walk.size, links: walk.links, maxDepth: walk.maxDepthReached, depthLimited: walk.depthLimited, revisits: walk.revisits, complete: walk.done },
    graph: { nodes: [...nodes.values()], edges },
    tables: { lots, onHand: details.onHand, shipments: details.shipments, consumption: details.consumption, qc: details.qc },
    page: { limit, rows, nextCursor: more && last ? encodeCursor({ v: 1, f, ...last }) : null },
  };
}

/**
 * The graph node (id, label) a detail row points to and its edge's quantity and unit, from the page
 * statement's columns (see rowJson for which column is which): the location of on-hand stock, the
 * customer or supplier of a shipment line (party when it has a code, GLN or name; else ship-to), the
 * hospital of a usage (its party, else the location). QC rows have none.
 */
function graphOfRow(kind: Exclude<Kind, 'lot'>, direction: TraceDirection, li: Pick<LotInfo, 'baseUom'>, g: PageRow): { id: string; label: string; quantity: number | null; uom: string | null } | null {
  if (kind === 'onHand') {
    return g.a1 === null ? null : { id: `location:${g.a1}`, label: g.a2 ?? g.a1, quantity: g.n1, uom: li.baseUom };
  }
  if (kind === 'shipments') {
    const id = (g.bo ? (g.a9 ?? g.a8) : null) ?? g.a5 ?? 'unknown';
    const label = (g.bo ? (g.a10 ?? g.a8 ?? g.a9) : null) ?? g.a5 ?? 'unknown party';
    return { id: `${direction === 'forward' ? 'customer:' : 'supplier:'}${id}`, label, quantity: g.n1, uom: g.a7 };
  }
  if (kind === 'consumption') {
    const id = (g.bo ? (g.a8 ?? g.a9) : null) ?? g.a2;
    if (id === null) return null;
    return { id: `hospital:${id}`, label: (g.bo ? (g.a10 ?? g.a8) : null) ?? g.a2 ?? '', quantity: g.n1, uom: g.a7 };
  }
  return null;
}

/**
 * A detail row's graph node (a customer or supplier, a location, a hospital) and its edge from or to
 * the row's holder (the lot, or the unit of a lotless serial's trace).
 */
function addRowGraph(
  nodes: Map<string, TraceGraphNode>, edges: TraceGraphEdge[], kind: 'shipments' | 'onHand' | 'consumption', direction: TraceDirection, holder: string,
  n: { id: string; label: string; quantity: number | null; uom: string | null },
): void {
  if (kind === 'shipments') {
    nodes.set(n.id, { id: n.id, kind: direction === 'forward' ? 'customer' : 'supplier', label: n.label });
    edges.push(direction === 'forward'
      ? { from: holder, to: n.id, kind: 'shipped_to', quantity: n.quantity, uom: n.uom }
      : { from: n.id, to: holder, kind: 'supplied', quantity: n.quantity, uom: n.uom });
  } else if (kind === 'onHand') {
    nodes.set(n.id, { id: n.id, kind: 'location', label: n.label });
    edges.push({ from: holder, to: n.id, kind: 'on_hand', quantity: n.quantity, uom: n.uom });
  } else {
    nodes.set(n.id, { id: n.id, kind: 'hospital', label: n.label });
    edges.push({ from: holder, to: n.id, kind: 'consumed_at', quantity: n.quantity, uom: n.uom });
  }
}

/**
 * Appends one detail row of the answer (a TraceOnHandRow, TraceShipmentRow, TraceConsumptionRow or
 * TraceQcRow, keys in that order) made from the page statement's columns to its table.
 */
function pushRow(details: DetailRows, kind: Exclude<Kind, 'lot'>, lotId: string | null, li: Pick<LotInfo, 'material' | 'baseUom'> & { lotNumber: string | null }, g: PageRow): void {
  if (kind === 'onHand') {
    details.onHand.push({
      lotId: lotId!, material: li.material, lot: li.lotNumber!, location: g.a1!, locationName: g.a2, party: g.a3, stockState: g.a4!, quantity: g.n1!, uom: li.baseUom!,
    });
  } else if (kind === 'shipments') {
    details.shipments.push({
      lotId, material: li.material, lot: li.lotNumber, shipmentId: g.a1!, shipmentNumber: g.a2!, direction: g.a3 as TraceShipmentRow['direction'], status: g.a4!,
      // party: null unless it has a non-empty code, GLN or name (bo)
      party: g.bo ? { code: g.a8, gln: g.a9, name: g.a10 } : null,
      shipTo: g.a5, serial: g.a6, quantity: g.n1, uom: g.a7, shippedAt: g.t1, deliveredAt: g.t2,
    });
  } else if (kind === 'consumption') {
    details.consumption.push({
      lotId, material: li.material, lot: li.lotNumber, usageId: g.k, usedAt: g.t1 ?? '', usedAtOffset: g.a1!,
      hospital: g.bo ? { gln: g.a8, code: g.a9, name: g.a10 } : null,
      location: g.a2!, serial: g.a6, quantity: g.n1!, uom: g.a7!, procedureCode: g.a3, procedureRef: g.a4,
    });
  } else {
    details.qc.push({
      lotId: lotId!, material: li.material, lot: li.lotNumber!, test: g.a1!, testName: g.a2, result: g.a3!, value: g.a4, unit: g.a5, disposition: g.a6, inspectedAt: g.t1 ?? '',
    });
  }
}

/**
 * Cursor of a lotless serial's trace: inside the unit's own rows (`s: 'unit'`, kind index and key of
 * the last row, as a lot cursor has them), or in the lots made of the unit (`s: 'lots'`, `c` the
 * cursor of the trace of those lots, null when the next row is their first).
 */
type UnitCursor = { v: 1; f: string; s: 'unit'; k: number; x: string } | { v: 1; f: string; s: 'lots'; c: string | null };

function decodeUnitCursor(text: string, f: string, kinds: Kind[]): UnitCursor {
  const c = parseCursorText<UnitCursor>(text);
  const ok = c?.v === 1 && typeof c.f === 'string' && (
    (c.s === 'unit' && typeof c.k === 'number' && typeof c.x === 'string' && cursorKeyValid(kinds, c.k, c.x) && (kinds[c.k] === 'shipments' || kinds[c.k] === 'consumption'))
    || (c.s === 'lots' && (c.c === null || typeof c.c === 'string')));
  if (!ok) {
    // a lot trace's cursor (no `s`) lands here too: it belongs to another trace
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', c?.v === 1 && typeof (c as { l?: unknown }).l === 'string'
      ? 'cursor belongs to another trace (direction or subject differ)' : 'cursor is not one this API issued', { location: { path: 'cursor' } });
  }
  if (c.f !== f) {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor belongs to another trace (direction or subject differ)', { location: { path: 'cursor' } });
  }
  return c;
}

/**
 * The unit's own rows of one kind (forward: outbound shipment lines, usages; backward: inbound
 * shipment lines), every line or usage that names the serial, by key after `after`, at most `room`:
 * in the page statement's generic columns (see {@link pushRow}), so they are written exactly as a
 * lot's rows are. A serial has few rows: plain indexed look-ups (shipment_lines_serial_idx,
 * device_usages by serial), not the page statement.
 */
async function unitRows(db: Db, direction: TraceDirection, kind: 'shipments' | 'consumption', kindIndex: number, serialId: string, after: string | undefined, room: number): Promise<PageRow[]> {
  if (kind === 'shipments') {
    const r = await db.raw<{ rows: PageRow[] }>(
      `SELECT 1 AS ord, ${kindIndex} AS kind, lpad(sl.id::text, 20, '0') AS k, s.id::text AS a1, s.shipment_number AS a2, s.direction AS a3, s.status AS a4, s.ship_to AS a5,
              sr.serial_number AS a6, sl.uom AS a7, pp.code AS a8, pp.gln AS a9, pp.name AS a10, ${PARTY_PRESENT} AS bo,
              coalesce(sl.quantity_shipped, sl.quantity_received, sl.quantity_expected)::float8 AS n1, ${isoSql('s.shipped_at')} AS t1, ${isoSql('s.delivered_at')} AS t2,
              NULL::date AS dt
         FROM shipment_lines sl
         JOIN shipments s ON s.id = sl.shipment_id AND s.direction = ?
         JOIN serials sr ON sr.id = sl.serial_id
         LEFT JOIN parties pp ON pp.id = ${direction === 'forward' ? 's.to_party_id' : 's.from_party_id'}
        WHERE sl.serial_id = ?${after === undefined ? '' : ' AND sl.id > ?::bigint'}
        ORDER BY sl.id LIMIT ?::int`,
      [direction === 'forward' ? 'outbound' : 'inbound', serialId, ...(after === undefined ? [] : [String(BigInt(after))]), room],
    );
    return r.rows;
  }
  const r = await db.raw<{ rows: PageRow[] }>(
    `SELECT 1 AS ord, ${kindIndex} AS kind, d.id::text AS k, d.used_at_offset AS a1, loc.code AS a2, d.procedure_code AS a3, d.procedure_ref_hmac AS a4, NULL::text AS a5,
            sr.serial_number AS a6, d.uom AS a7, pp.gln AS a8, pp.code AS a9, pp.name AS a10, ${PARTY_PRESENT} AS bo,
            coalesce(d.quantity, 0)::float8 AS n1, ${isoSql('d.used_at')} AS t1, NULL::text AS t2, NULL::date AS dt
       FROM device_usages d
       JOIN serials sr ON sr.id = d.serial_id
       LEFT JOIN locations loc ON loc.id = d.location_id
       LEFT JOIN parties pp ON pp.id = d.party_id
      WHERE d.serial_id = ?${after === undefined ? '' : ' AND d.id > ?::uuid'}
      ORDER BY d.id LIMIT ?::int`,
    [serialId, ...(after === undefined ? [] : [after]), room],
  );
  return r.rows;
}

/**
 * A page of the trace of a serial that has no lot (`serials.lot_id` null: a serialized device
 * without a batch, as EDI ASNs bring them). There is no lot to walk from, so the unit itself is the
 * root: its own rows come first (forward: its outbound shipment lines, then its hospital usages;
 * backward: its inbound shipment lines), each with `lotId` and `lot` null and the serial's material,
 * and the graph has a node `serial:<serial number>` (kind `serial`, depth 0) with the rows' edges.
 * Forward, the lots trace events made of the unit (see {@link unitOutputs}) follow as the trace's
 * lots at depth 1, walked on as usual: they are the roots of an ordinary lot trace (the page
 * statement, unchanged) whose depths are shifted by one, whose `maxDepth` is one less, and whose
 * first level names the unit in `via` and in a `derived` edge from the unit's node. `summary`
 * counts those lots and links (the unit → lot links included); `page.rows` counts the unit's rows
 * too. The cursor says whether the page ended in the unit's rows (kind and key of the last one) or
 * in the lots (the lot trace's own cursor inside).
 */
async function unitPageObject(db: Db, subject: TraceSubject & { serialId: string }, direction: TraceDirection, opts: TraceLotsOptions): Promise<TracePage> {
  const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 1000);
  const kinds = KINDS[direction];
  const f = fingerprint(direction, subject);
  const cursor = opts.cursor ? decodeUnitCursor(opts.cursor, f, kinds) : undefined;
  const unit = await db.raw<{ rows: Array<{ serial_number: string; status: string; material: string; base_uom: string | null }> }>(
    `SELECT sr.serial_number, sr.status, m.code AS material, m.base_uom FROM serials sr JOIN materials m ON m.id = sr.material_id WHERE sr.id = ?`,
    [subject.serialId],
  );
  const u = unit.rows[0];
  if (!u) throw new LotBridgeError('LB_ERR_SERIAL_NOT_FOUND', `no serial ${subject.asked.serial ?? subject.serialId}`, { details: { ...subject.asked } });
  const unitId = `serial:${u.serial_number}`;
  const info = { material: u.material, lotNumber: null, baseUom: u.base_uom };

  // the unit's own rows, in kind order, then by key
  const details: DetailRows = { onHand: [], shipments: [], consumption: [], qc: [] };
  const nodes = new Map<string, TraceGraphNode>([[unitId, { id: unitId, kind: 'serial', label: `${u.material} / serial ${u.serial_number}`, depth: 0, status: u.status }]]);
  const edges: TraceGraphEdge[] = [];
  let rows = 0;
  let more = false;
  let last: { k: number; x: string } | undefined;
  const unitKinds = kinds.filter((k): k is 'shipments' | 'consumption' => k === 'shipments' || k === 'consumption');
  if (cursor?.s !== 'lots') {
    for (const kind of unitKinds) {
      const kindIndex = kinds.indexOf(kind);
      if (cursor && kindIndex < cursor.k) continue;
      const after = cursor && kindIndex === cursor.k ? cursor.x : undefined;
      const got = await unitRows(db, direction, kind, kindIndex, subject.serialId, after, limit - rows + 1);
      for (const g of got) {
        if (rows === limit) {
          more = true;
          break;
        }
        pushRow(details, kind, null, info, g);
        const node = graphOfRow(kind, direction, info, g);
        if (node) addRowGraph(nodes, edges, kind, direction, unitId, node);
        rows++;
        last = { k: kindIndex, x: g.k };
      }
      if (more) break;
    }
  }

  // forward: the lots made of the unit (depth 1 and below); backward there are none (a lotless
  // unit's origin is its inbound lines)
  const made = direction === 'forward' ? await unitOutputs(db, subject.serialId) : [];
  const madeOf = new Map(made.map((m) => [m.lotId, m]));
  const lotSubject: TraceSubject = { lotIds: made.map((m) => m.lotId), asked: subject.asked };
  const lotOpts = { maxDepth: (opts.maxDepth ?? 64) - 1, eagerLots: opts.eagerLots };
  let summary: TracePage['summary'] = { lots: 0, links: 0, maxDepth: 0, depthLimited: false, revisits: 0, complete: true };
  const shift = (s: TracePage['summary']): TracePage['summary'] => ({ ...s, links: s.links + made.length, maxDepth: s.maxDepth + 1 });
  let lotsPage: TracePage | undefined;
  let nextCursor: string | null = null;
  if (more) {
    nextCursor = encodeCursor({ v: 1, f, s: 'unit', ...last! });
  } else if (made.length > 0 && rows === limit) {
    // the page is full with the unit's rows: the lots follow on the next page
    nextCursor = encodeCursor({ v: 1, f, s: 'lots', c: null });
  } else if (made.length > 0) {
    const inner = cursor?.s === 'lots' ? cursor.c ?? undefined : undefined;
    lotsPage = await pageObject(db, lotSubject, direction, { ...lotOpts, limit: limit - rows, cursor: inner });
    summary = shift(lotsPage.summary);
    rows += lotsPage.page.rows;
    if (lotsPage.page.nextCursor) nextCursor = encodeCursor({ v: 1, f, s: 'lots', c: lotsPage.page.nextCursor });
  }
  if (made.length > 0 && !lotsPage) {
    // no lot on this page: the summary is the walk's all the same (as far as a page walks ahead)
    const walk = new GenealogyWalk(db, lotSubject.lotIds, direction, { maxDepth: lotOpts.maxDepth });
    await walk.walk(opts.eagerLots ?? 1000);
    summary = shift({ lots: walk.size, links: walk.links, maxDepth: walk.maxDepthReached, depthLimited: walk.depthLimited, revisits: walk.revisits, complete: walk.done });
  }

  const lots: TraceLotRow[] = [];
  if (lotsPage) {
    for (const l of lotsPage.tables.lots) {
      const root = madeOf.get(l.lotId);
      lots.push({ ...l, depth: l.depth + 1, via: root ? [unitId, ...l.via] : l.via });
      if (root) edges.push({ from: unitId, to: l.lotId, kind: 'derived', quantity: root.quantity, uom: root.uom });
    }
    for (const n of lotsPage.graph.nodes) if (!nodes.has(n.id)) nodes.set(n.id, n.kind === 'lot' && n.depth !== undefined ? { ...n, depth: n.depth + 1 } : n);
    edges.push(...lotsPage.graph.edges);
    details.onHand.push(...lotsPage.tables.onHand);
    details.shipments.push(...lotsPage.tables.shipments);
    details.consumption.push(...lotsPage.tables.consumption);
    details.qc.push(...lotsPage.tables.qc);
  }
  return {
    direction,
    subject: { ...subject.asked, lotIds: subject.lotIds, serialId: subject.serialId },
    summary,
    graph: { nodes: [...nodes.values()], edges },
    tables: { lots, ...details },
    page: { limit, rows, nextCursor },
  };
}

