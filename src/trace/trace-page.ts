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

const iso = (d: Date | string | null): string | null => (d === null ? null : d instanceof Date ? d.toISOString() : d);

interface LotInfo { id: string; material: string; description: string | null; gtin: string | null; lot_number: string; status: string; expiry: string | null; provisional: boolean; base_uom: string }

async function lotInfo(db: Db, ids: string[]): Promise<Map<string, LotInfo>> {
  const r = await db.raw<{ rows: LotInfo[] }>(
    `SELECT l.id, m.code AS material, m.description, m.base_uom, l.lot_number, l.status, l.expiry, l.provisional,
            (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme = 'gtin'
              ORDER BY array_position(ARRAY['each','inner','box','case','pallet'], mi.packaging_level), mi.value LIMIT 1) AS gtin
       FROM lots l JOIN materials m ON m.id = l.material_id WHERE l.id = ANY(?::uuid[])`,
    [ids],
  );
  return new Map(r.rows.map((x) => [x.id, x]));
}

/**
 * Detail rows of one kind for lots `ids` in lot order (ord), then key; at most `limit`. `after`
 * resumes inside the first lot. Each lot's rows come from a LATERAL index scan capped at `limit`
 * (the planner would otherwise hash-join whole tables for long id lists).
 */
async function details(
  db: Db, kind: Kind, direction: TraceDirection, ids: string[], limit: number, after: string | undefined, serialId: string | undefined, rootIds: Set<string>,
): Promise<Array<{ lot_id: string; key: string; row: Record<string, unknown> }>> {
  const alias = kind === 'onHand' ? 'b' : kind === 'shipments' ? 'sl' : kind === 'consumption' ? 'd' : 'q';
  const numericKey = kind === 'onHand' || kind === 'shipments';
  const cond: string[] = [];
  const condParams: Knex.RawBinding[] = [];
  if (after !== undefined) {
    cond.push(`(u.ord > 1 OR ${alias}.id > ?::${numericKey ? 'bigint' : 'uuid'})`);
    condParams.push(numericKey ? String(BigInt(after)) : after);
  }
  // a serial subject: its own lot's rows are those of the serial only (no lot stock)
  if (serialId && rootIds.size > 0) {
    if (kind === 'onHand') {
      cond.push('NOT (b.lot_id = ANY(?::uuid[]))');
      condParams.push([...rootIds]);
    } else if (kind === 'shipments' || kind === 'consumption') {
      cond.push(`(NOT (${alias}.lot_id = ANY(?::uuid[])) OR ${alias}.serial_id = ?)`);
      condParams.push([...rootIds], serialId);
    }
  }
  const where = cond.map((c) => ` AND ${c}`).join('');
  let sql: string;
  if (kind === 'onHand') {
    sql = `SELECT x.lot_id, lpad(x.id::text, 20, '0') AS k, u.ord, loc.code AS location, loc.name AS location_name,
                  coalesce(p.code, p.gln) AS party, x.stock_state, x.quantity
             FROM unnest(?::uuid[]) WITH ORDINALITY u(id, ord)
             CROSS JOIN LATERAL (SELECT * FROM inventory_balances b WHERE b.lot_id = u.id AND b.quantity <> 0${where} ORDER BY b.id LIMIT ${limit}) x
             JOIN locations loc ON loc.id = x.location_id
             LEFT JOIN parties p ON p.id = loc.party_id`;
  } else if (kind === 'shipments') {
    const dir = direction === 'forward' ? 'outbound' : 'inbound';
    const partyCol = direction === 'forward' ? 's.to_party_id' : 's.from_party_id';
    sql = `SELECT x.lot_id, lpad(x.id::text, 20, '0') AS k, u.ord, x.serial_id, s.id AS shipment_id, s.shipment_number, s.direction, s.status,
                  p.code AS party_code, p.gln AS party_gln, p.name AS party_name, s.ship_to, sr.serial_number,
                  coalesce(x.quantity_shipped, x.quantity_received, x.quantity_expected) AS quantity, x.uom, s.shipped_at, s.delivered_at
             FROM unnest(?::uuid[]) WITH ORDINALITY u(id, ord)
             CROSS JOIN LATERAL (SELECT sl.* FROM shipment_lines sl JOIN shipments s0 ON s0.id = sl.shipment_id AND s0.direction = '${dir}'
                                  WHERE sl.lot_id = u.id${where} ORDER BY sl.id LIMIT ${limit}) x
             JOIN shipments s ON s.id = x.shipment_id
             LEFT JOIN parties p ON p.id = ${partyCol}
             LEFT JOIN serials sr ON sr.id = x.serial_id`;
  } else if (kind === 'consumption') {
    sql = `SELECT x.lot_id, x.id::text AS k, u.ord, x.serial_id, x.used_at, x.used_at_offset, p.gln AS party_gln, p.code AS party_code, p.name AS party_name,
                  loc.code AS location, sr.serial_number, x.quantity, x.uom, x.procedure_code, x.procedure_ref_hmac
             FROM unnest(?::uuid[]) WITH ORDINALITY u(id, ord)
             CROSS JOIN LATERAL (SELECT * FROM device_usages d WHERE d.lot_id = u.id${where} ORDER BY d.id LIMIT ${limit}) x
             JOIN locations loc ON loc.id = x.location_id
             LEFT JOIN parties p ON p.id = x.party_id
             LEFT JOIN serials sr ON sr.id = x.serial_id`;
  } else {
    sql = `SELECT x.lot_id, x.id::text AS k, u.ord, x.test_code, x.test_name, x.result, x.value, x.unit, x.disposition, x.inspected_at
             FROM unnest(?::uuid[]) WITH ORDINALITY u(id, ord)
             CROSS JOIN LATERAL (SELECT * FROM quality_results q WHERE q.lot_id = u.id${where} ORDER BY q.id LIMIT ${limit}) x`;
  }
  // uuid keys order as their hex text does ("C" collation); bigint keys are zero-padded
  sql = `SELECT * FROM (${sql}) z ORDER BY z.ord, z.k COLLATE "C" LIMIT ${limit}`;
  const params: Knex.RawBinding[] = [ids, ...condParams];
  const r = await db.raw<{ rows: Array<Record<string, unknown> & { lot_id: string; k: string }> }>(sql, params);
  return r.rows.map((row) => ({ lot_id: row.lot_id, key: row.k, row }));
}

/**
 * One page of a forward or backward trace. Lots are ordered by (depth, id); each lot's rows follow
 * it in kind order (lot, on hand, shipments, consumption | lot, inbound shipments, QC), then by key.
 * The cursor names the last row (lot, kind, key), so pages stay consistent while rows are added.
 * @param db - knex instance (reads only)
 * @param subject - resolved subject
 * @param direction - forward or backward
 * @param opts - limit (1–1000) and cursor
 */
export async function traceLots(
  db: Db,
  subject: TraceSubject,
  direction: TraceDirection,
  opts: { limit?: number; cursor?: string; maxDepth?: number; eagerLots?: number } = {},
): Promise<TracePage> {
  const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 1000);
  const f = fingerprint(direction, subject);
  const cursor = opts.cursor ? decodeCursor(opts.cursor, f) : undefined;
  const walk = new GenealogyWalk(db, subject.lotIds, direction, { maxDepth: opts.maxDepth, serialId: subject.serialId });
  const kinds = KINDS[direction];
  const rootIds = new Set(subject.lotIds);
  const serialId = direction === 'forward' ? subject.serialId : undefined;

  // lots in page order: level by level (each level sorted by id); a level is walked when the page reaches it
  const order: string[] = [...walk.levels[0]];
  const more_lots = async (): Promise<boolean> => {
    if (!(await walk.expand())) return false;
    order.push(...walk.levels[walk.levels.length - 1]);
    return true;
  };
  let start = 0;
  if (cursor) {
    while (!walk.depth.has(cursor.l) && (await more_lots()));
    if (!walk.depth.has(cursor.l)) {
      throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor names a lot that is no longer in this trace', { location: { path: 'cursor' } });
    }
    start = order.indexOf(cursor.l);
  }

  const tables: TracePage['tables'] = { lots: [], onHand: [], shipments: [], consumption: [], qc: [] };
  let rows = 0;
  let last: { l: string; k: number; x: string } | undefined;
  let more = false;
  // lots fetched per round: grows with the room left ÷ rows per lot seen so far (distribution
  // lots with hundreds of shipment lines fill a page from a few dozen lots)
  let chunk = Math.min(50, limit);
  let lotsSeen = 0;
  const rowsAtStart = 0;
  let pos = start;
  const infos = new Map<string, LotInfo>();
  outer: while (pos < order.length || (await more_lots())) {
    const ids = order.slice(pos, pos + chunk);
    const resume = cursor && pos === start ? cursor : undefined;
    const room = limit - rows + 1;
    const [info, ...perKind] = await Promise.all([
      lotInfo(db, ids),
      ...kinds.slice(1).map((k, i) => {
        const kindIndex = i + 1;
        if (resume && resume.k > kindIndex) {
          // resuming after this kind in the first lot: skip the first lot for it
          return ids.length > 1 ? details(db, k, direction, ids.slice(1), room, undefined, serialId, rootIds).then((r) => r) : Promise.resolve([]);
        }
        return details(db, k, direction, ids, room, resume && resume.k === kindIndex ? resume.x : undefined, serialId, rootIds);
      }),
    ]);
    for (const [id, v] of info) infos.set(id, v);
    const byLot = perKind.map((list) => {
      const m = new Map<string, Array<{ key: string; row: Record<string, unknown> }>>();
      for (const d of list) {
        const a = m.get(d.lot_id);
        if (a) a.push(d);
        else m.set(d.lot_id, [d]);
      }
      return m;
    });
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const li = info.get(id);
      if (!li) continue; // lot vanished (cannot happen: lots are never deleted)
      const resumeHere = resume && i === 0;
      if (!resumeHere) {
        if (rows === limit) {
          more = true;
          break outer;
        }
        tables.lots.push({
          lotId: id, depth: walk.depth.get(id) ?? 0, material: li.material, description: li.description, gtin: li.gtin, lot: li.lot_number,
          status: li.status, expiry: li.expiry, provisional: li.provisional,
          via: [], // filled in below, once the walk went as far as this answer goes
        });
        rows++;
        last = { l: id, k: 0, x: '' };
      }
      for (let k = 1; k < kinds.length; k++) {
        const list = byLot[k - 1].get(id) ?? [];
        for (const d of list) {
          if (rows === limit) {
            more = true;
            break outer;
          }
          pushDetail(tables, kinds[k], id, li, d.row);
          rows++;
          last = { l: id, k, x: d.key };
        }
      }
    }
    pos += ids.length;
    lotsSeen += ids.length;
    const perLot = Math.max(1, (rows - rowsAtStart) / Math.max(1, lotsSeen));
    chunk = Math.max(10, Math.min(1000, Math.ceil(((limit - rows) / perLot) * 1.2)));
  }

  // small traces are walked to the end, so their summary holds the totals
  await walk.walk(opts.eagerLots ?? 1000);
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

function pushDetail(tables: TracePage['tables'], kind: Kind, lotId: string, li: LotInfo, r: Record<string, unknown>): void {
  const base = { lotId, material: li.material, lot: li.lot_number };
  const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  if (kind === 'onHand') {
    tables.onHand.push({ ...base, location: String(r.location), locationName: s(r.location_name), party: s(r.party), stockState: String(r.stock_state), quantity: Number(r.quantity), uom: li.base_uom });
  } else if (kind === 'shipments') {
    tables.shipments.push({
      ...base, shipmentId: String(r.shipment_id), shipmentNumber: String(r.shipment_number), direction: r.direction as 'inbound' | 'outbound', status: String(r.status),
      party: r.party_code || r.party_gln || r.party_name ? { code: s(r.party_code), gln: s(r.party_gln), name: s(r.party_name) } : null,
      shipTo: s(r.ship_to), serial: s(r.serial_number), quantity: r.quantity === null ? null : Number(r.quantity), uom: s(r.uom),
      shippedAt: iso(r.shipped_at as Date | null), deliveredAt: iso(r.delivered_at as Date | null),
    });
  } else if (kind === 'consumption') {
    tables.consumption.push({
      ...base, usageId: String(r.k), usedAt: iso(r.used_at as Date) ?? '', usedAtOffset: String(r.used_at_offset),
      hospital: r.party_gln || r.party_code || r.party_name ? { gln: s(r.party_gln), code: s(r.party_code), name: s(r.party_name) } : null,
      location: String(r.location), serial: s(r.serial_number), quantity: Number(r.quantity), uom: String(r.uom),
      procedureCode: s(r.procedure_code), procedureRef: s(r.procedure_ref_hmac),
    });
  } else if (kind === 'qc') {
    tables.qc.push({
      ...base, test: String(r.test_code), testName: s(r.test_name), result: String(r.result), value: s(r.value), unit: s(r.unit),
      disposition: s(r.disposition), inspectedAt: iso(r.inspected_at as Date) ?? '',
    });
  }
}
