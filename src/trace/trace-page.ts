import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import { GenealogyWalk, type TraceDirection } from './genealogy';
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

/** A shipment line of a traced lot: forward the outbound ones (customer), backward the inbound ones (supplier). */
export interface TraceShipmentRow {
  lotId: string;
  material: string;
  lot: string;
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

/** A unit of a traced lot used at a hospital (HL7 device/supply usage). */
export interface TraceConsumptionRow {
  lotId: string;
  material: string;
  lot: string;
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
  id: string;
  kind: 'lot' | 'customer' | 'supplier' | 'location' | 'hospital';
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

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string, f: string): Cursor {
  let c: Cursor;
  try {
    c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Cursor;
  } catch (err) {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor is not one this API issued', { location: { path: 'cursor' }, cause: err });
  }
  if (c?.v !== 1 || typeof c.l !== 'string' || typeof c.k !== 'number' || typeof c.x !== 'string') {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor is not one this API issued', { location: { path: 'cursor' } });
  }
  if (c.f !== f) {
    throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor belongs to another trace (direction or subject differ)', { location: { path: 'cursor' } });
  }
  return c;
}

interface LotInfo { material: string; description: string | null; gtin: string | null; lot_number: string; status: string; expiry: string | null; provisional: boolean; base_uom: string }

/** A row of a page as the page statement returns it: the lot's position in the ids given, kind index, key within lot and kind, and the row's values. */
interface PageRow { ord: number; kind: number; k: string; r: Record<string, unknown> }

/**
 * The rows of lots `ids` (in that order) in page order — per lot its lot row (kind 0), then each
 * kind's rows by key — at most `room`, in **one statement**: per lot a LATERAL UNION ALL of the lot
 * and one index scan per kind (each capped at `room`), under an incremental sort on the lots'
 * ordinality, so PostgreSQL stops reading lots once `room` rows are out. `resume` (the cursor's
 * kind and key) applies to the first lot: its rows up to and including the cursor's are left out,
 * but its lot row (kind 0) is always returned (its material and lot name the detail rows).
 */
async function pageRows(
  db: Db, direction: TraceDirection, ids: string[], room: number, resume: { k: number; x: string } | undefined, serialId: string | undefined, rootIds: Set<string>,
): Promise<PageRow[]> {
  const kinds = KINDS[direction];
  const params: Knex.RawBinding[] = [ids];
  const branches: string[] = [
    `SELECT 0 AS kind, ''::text AS k, jsonb_build_object(
        'material', m.code, 'description', m.description, 'base_uom', m.base_uom, 'lot_number', l.lot_number, 'status', l.status,
        'expiry', l.expiry, 'provisional', l.provisional,
        'gtin', (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme = 'gtin'
                  ORDER BY array_position(ARRAY['each','inner','box','case','pallet'], mi.packaging_level), mi.value LIMIT 1)) AS r
       FROM lots l JOIN materials m ON m.id = l.material_id WHERE l.id = u.id`,
  ];
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
    // bigint keys are zero-padded so that they order as text; uuid keys order as their hex text ("C" collation)
    if (kind === 'onHand') {
      branches.push(`SELECT ${kindIndex}, lpad(x.id::text, 20, '0'), jsonb_build_object(
          'location', loc.code, 'location_name', loc.name, 'party', coalesce(p.code, p.gln), 'stock_state', x.stock_state, 'quantity', x.quantity)
         FROM (SELECT * FROM inventory_balances b WHERE b.lot_id = u.id AND b.quantity <> 0${where} ORDER BY b.id LIMIT ${room}) x
         JOIN locations loc ON loc.id = x.location_id
         LEFT JOIN parties p ON p.id = loc.party_id`);
    } else if (kind === 'shipments') {
      const dir = direction === 'forward' ? 'outbound' : 'inbound';
      const partyCol = direction === 'forward' ? 's.to_party_id' : 's.from_party_id'; // the customer, or the supplier
      branches.push(`SELECT ${kindIndex}, lpad(x.id::text, 20, '0'), jsonb_build_object(
          'shipment_id', x.shipment_id, 'shipment_number', x.shipment_number, 'direction', x.direction, 'status', x.status,
          'party_code', p.code, 'party_gln', p.gln, 'party_name', p.name, 'ship_to', x.ship_to, 'serial_number', sr.serial_number,
          'quantity', coalesce(x.quantity_shipped, x.quantity_received, x.quantity_expected), 'uom', x.uom, 'shipped_at', x.shipped_at, 'delivered_at', x.delivered_at)
         FROM (SELECT sl.id, sl.serial_id, sl.quantity_shipped, sl.quantity_received, sl.quantity_expected, sl.uom,
                      s.id AS shipment_id, s.shipment_number, s.direction, s.status, s.ship_to, s.shipped_at, s.delivered_at, ${partyCol} AS party_id
                 FROM shipment_lines sl JOIN shipments s ON s.id = sl.shipment_id AND s.direction = '${dir}'
                WHERE sl.lot_id = u.id${where} ORDER BY sl.id LIMIT ${room}) x
         LEFT JOIN parties p ON p.id = x.party_id
         LEFT JOIN serials sr ON sr.id = x.serial_id`);
    } else if (kind === 'consumption') {
      branches.push(`SELECT ${kindIndex}, x.id::text, jsonb_build_object(
          'used_at', x.used_at, 'used_at_offset', x.used_at_offset, 'party_gln', p.gln, 'party_code', p.code, 'party_name', p.name,
          'location', loc.code, 'serial_number', sr.serial_number, 'quantity', x.quantity, 'uom', x.uom, 'procedure_code', x.procedure_code,
          'procedure_ref_hmac', x.procedure_ref_hmac)
         FROM (SELECT * FROM device_usages d WHERE d.lot_id = u.id${where} ORDER BY d.id LIMIT ${room}) x
         JOIN locations loc ON loc.id = x.location_id
         LEFT JOIN parties p ON p.id = x.party_id
         LEFT JOIN serials sr ON sr.id = x.serial_id`);
    } else {
      branches.push(`SELECT ${kindIndex}, x.id::text, jsonb_build_object(
          'test_code', x.test_code, 'test_name', x.test_name, 'result', x.result, 'value', x.value, 'unit', x.unit,
          'disposition', x.disposition, 'inspected_at', x.inspected_at)
         FROM (SELECT * FROM quality_results q WHERE q.lot_id = u.id${where} ORDER BY q.id LIMIT ${room}) x`);
    }
    params.push(...bind);
  }
  const sql = `SELECT u.ord::int AS ord, x.kind, x.k, x.r
      FROM unnest(?::uuid[]) WITH ORDINALITY u(id, ord)
      CROSS JOIN LATERAL (${branches.map((b) => `(${b})`).join('\n UNION ALL ')}) x
     ORDER BY u.ord, x.kind, x.k COLLATE "C"
     LIMIT ${room}`;
  const r = await db.raw<{ rows: PageRow[] }>(sql, params);
  return r.rows;
}

/**
 * One page of a forward or backward trace. Lots are ordered by (depth, id); each lot's rows follow
 * it in kind order (lot, on hand, shipments, consumption | lot, inbound shipments, QC), then by key.
 * The cursor names the last row (lot, kind, key), so pages stay consistent while rows are added.
 * A page is two statements in the common case: the genealogy walk (all levels in one statement, up
 * to `eagerLots` lots) and the page's rows (one statement for the lots and every kind of row).
 * @param db - knex instance (reads only)
 * @param subject - resolved subject
 * @param direction - forward or backward
 * @param opts - limit (1–1000) and cursor; `eagerLots` (default 1000): walk the genealogy ahead to
 *   this many lots so that an ordinary trace's summary has its totals
 */
export async function traceLots(
  db: Db,
  subject: TraceSubject,
  direction: TraceDirection,
  opts: { limit?: number; cursor?: string; maxDepth?: number; eagerLots?: number } = {},
): Promise<TracePage> {
  // one read transaction with JIT off: the page statement's cost estimate (a LATERAL per lot)
  // crosses jit_above_cost, and compiling it took 45–70 ms of a 60 ms statement that runs in
  // 12–16 ms without (docs/trace.md); SET LOCAL ends with the transaction
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL jit = off');
    return tracePage(trx, subject, direction, opts);
  });
}

async function tracePage(
  db: Db,
  subject: TraceSubject,
  direction: TraceDirection,
  opts: { limit?: number; cursor?: string; maxDepth?: number; eagerLots?: number },
): Promise<TracePage> {
  const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 1000);
  const f = fingerprint(direction, subject);
  const cursor = opts.cursor ? decodeCursor(opts.cursor, f) : undefined;
  const walk = new GenealogyWalk(db, subject.lotIds, direction, { maxDepth: opts.maxDepth, serialId: subject.serialId });
  const kinds = KINDS[direction];
  const rootIds = new Set(subject.lotIds);
  const serialId = direction === 'forward' ? subject.serialId : undefined;

  // small traces are walked to the end first (one statement), so their summary holds the totals and
  // the page finds its lots walked; a huge trace is walked further only as deep as its page needs
  await walk.walk(opts.eagerLots ?? 1000);
  // lots in page order: level by level (each level sorted by id)
  const order: string[] = walk.levels.flat();
  const moreLots = async (): Promise<boolean> => {
    if (!(await walk.expand())) return false;
    order.push(...walk.levels[walk.levels.length - 1]);
    return true;
  };
  let start = 0;
  if (cursor) {
    while (!walk.depth.has(cursor.l) && (await moreLots()));
    if (!walk.depth.has(cursor.l)) {
      throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor names a lot that is no longer in this trace', { location: { path: 'cursor' } });
    }
    start = order.indexOf(cursor.l);
  }

  const tables: TracePage['tables'] = { lots: [], onHand: [], shipments: [], consumption: [], qc: [] };
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
        infos.set(id, g.r as unknown as LotInfo);
        if (resume && g.ord === 1) continue; // the cursor's lot: its lot row was on an earlier page
      }
      if (rows === limit) {
        more = true;
        break;
      }
      const li = infos.get(id)!;
      if (g.kind === 0) {
        tables.lots.push({
          lotId: id, depth: walk.depth.get(id) ?? 0, material: li.material, description: li.description, gtin: li.gtin, lot: li.lot_number,
          status: li.status, expiry: li.expiry, provisional: li.provisional,
          via: [], // filled in below, once the walk went as far as this answer goes
        });
      } else {
        pushDetail(tables, kinds[g.kind], id, li, g.r, g.k);
      }
      rows++;
      last = { l: id, k: g.kind, x: g.k };
    }
    if (more || got.length === room) break; // room was more than the page has left: a row remains
    // every row of these lots is on the page
    pos += ids.length;
    resume = undefined;
  }
  for (const l of tables.lots) l.via = (walk.edgesInto.get(l.lotId) ?? []).map((e) => (direction === 'forward' ? e.from : e.to));

  // graph of this page: its lots, the links into them, and the parties/locations its rows name
  const pageLots = new Set(tables.lots.map((l) => l.lotId));
  const nodes = new Map<string, TraceGraphNode>();
  for (const l of tables.lots) nodes.set(l.lotId, { id: l.lotId, kind: 'lot', label: `${l.material} / ${l.lot}`, depth: l.depth, status: l.status });
  const edges: TraceGraphEdge[] = [];
  for (const id of pageLots) {
    for (const e of walk.edgesInto.get(id) ?? []) edges.push({ from: e.from, to: e.to, kind: 'derived', quantity: e.quantity, uom: e.uom });
  }
  for (const s of tables.shipments) {
    const label = s.party?.name ?? s.party?.code ?? s.party?.gln ?? s.shipTo ?? 'unknown party';
    const id = `${direction === 'forward' ? 'customer' : 'supplier'}:${s.party?.gln ?? s.party?.code ?? s.shipTo ?? 'unknown'}`;
    nodes.set(id, { id, kind: direction === 'forward' ? 'customer' : 'supplier', label });
    edges.push(direction === 'forward' ? { from: s.lotId, to: id, kind: 'shipped_to', quantity: s.quantity, uom: s.uom } : { from: id, to: s.lotId, kind: 'supplied', quantity: s.quantity, uom: s.uom });
  }
  for (const b of tables.onHand) {
    const id = `location:${b.location}`;
    nodes.set(id, { id, kind: 'location', label: b.locationName ?? b.location });
    edges.push({ from: b.lotId, to: id, kind: 'on_hand', quantity: b.quantity, uom: b.uom });
  }
  for (const c of tables.consumption) {
    const id = `hospital:${c.hospital?.gln ?? c.hospital?.code ?? c.location}`;
    nodes.set(id, { id, kind: 'hospital', label: c.hospital?.name ?? c.hospital?.gln ?? c.location });
    edges.push({ from: c.lotId, to: id, kind: 'consumed_at', quantity: c.quantity, uom: c.uom });
  }
  return {
    direction,
    subject: { ...subject.asked, lotIds: subject.lotIds, ...(subject.serialId ? { serialId: subject.serialId } : {}) },
    summary: { lots: walk.size, links: walk.links, maxDepth: walk.maxDepthReached, depthLimited: walk.depthLimited, revisits: walk.revisits, complete: walk.done },
    graph: { nodes: [...nodes.values()], edges },
    tables,
    page: { limit, rows, nextCursor: more && last ? encodeCursor({ v: 1, f, ...last }) : null },
  };
}

function pushDetail(tables: TracePage['tables'], kind: Kind, lotId: string, li: LotInfo, r: Record<string, unknown>, key: string): void {
  const base = { lotId, material: li.material, lot: li.lot_number };
  const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  // timestamps arrive as jsonb text (with the session's offset): answered as ISO 8601 UTC
  const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());
  if (kind === 'onHand') {
    tables.onHand.push({ ...base, location: String(r.location), locationName: s(r.location_name), party: s(r.party), stockState: String(r.stock_state), quantity: Number(r.quantity), uom: li.base_uom });
  } else if (kind === 'shipments') {
    tables.shipments.push({
      ...base, shipmentId: String(r.shipment_id), shipmentNumber: String(r.shipment_number), direction: r.direction as 'inbound' | 'outbound', status: String(r.status),
      party: r.party_code || r.party_gln || r.party_name ? { code: s(r.party_code), gln: s(r.party_gln), name: s(r.party_name) } : null,
      shipTo: s(r.ship_to), serial: s(r.serial_number), quantity: r.quantity === null ? null : Number(r.quantity), uom: s(r.uom),
      shippedAt: iso(r.shipped_at), deliveredAt: iso(r.delivered_at),
    });
  } else if (kind === 'consumption') {
    tables.consumption.push({
      ...base, usageId: key, usedAt: iso(r.used_at) ?? '', usedAtOffset: String(r.used_at_offset),
      hospital: r.party_gln || r.party_code || r.party_name ? { gln: s(r.party_gln), code: s(r.party_code), name: s(r.party_name) } : null,
      location: String(r.location), serial: s(r.serial_number), quantity: Number(r.quantity), uom: String(r.uom),
      procedureCode: s(r.procedure_code), procedureRef: s(r.procedure_ref_hmac),
    });
  } else if (kind === 'qc') {
    tables.qc.push({
      ...base, test: String(r.test_code), testName: s(r.test_name), result: String(r.result), value: s(r.value), unit: s(r.unit),
      disposition: s(r.disposition), inspectedAt: iso(r.inspected_at) ?? '',
    });
  }
}
