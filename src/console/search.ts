import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';

export const MESSAGE_STATUSES = ['received', 'queued', 'processed', 'routed', 'rejected', 'failed', 'duplicate'] as const;

/** A message search as the console (and a bulk job) runs it. Every field is optional; all given ones must hold. */
export interface MessageSearch {
  /** A message id (uuid). */
  id?: string;
  connector?: string;
  format?: string;
  /** Message type, e.g. `DFT^P03`, `movement`. */
  type?: string;
  sender?: string;
  /** Control number (MSH-10, ISA13, document id): exact, or a prefix when it ends in `*`. */
  control?: string;
  status?: (typeof MESSAGE_STATUSES)[number];
  /** Error code of the message (rejected/failed). */
  error?: string;
  /** Received at or after (ISO 8601). */
  from?: string;
  /** Received before (ISO 8601). */
  to?: string;
  /** Messages that touched a lot (lot number), a material (GTIN) or a serial, via lineage. */
  lot?: string;
  gtin?: string;
  serial?: string;
  /** `open` (not marked resolved) or `resolved`. */
  resolved?: 'open' | 'resolved';
}

export const SEARCH_FIELDS: Array<keyof MessageSearch> = ['id', 'connector', 'format', 'type', 'sender', 'control', 'status', 'error', 'from', 'to', 'lot', 'gtin', 'serial', 'resolved'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How many messages a lineage search (lot/GTIN/serial) considers at most. */
export const LINEAGE_LIMIT = 5000;

function bad(field: string, message: string): LotBridgeError {
  return new LotBridgeError('LB_ERR_CONSOLE_SEARCH_INVALID', `${field}: ${message}`, { location: { path: `query/${field}` } });
}

function parseTime(field: string, v: string): Date {
  // a bare date means the start of that day (UTC); datetime-local inputs come without seconds or zone (UTC)
  const s = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v) ? `${v}Z` : v;
  const d = new Date(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) {
    throw bad(field, `"${v}" is not an ISO 8601 date or time (e.g. 2026-03-01 or 2026-03-01T10:15:00Z)`);
  }
  return d;
}

/**
 * Reads a search from query-string values: trims, drops empty fields, checks status, id and times.
 * @throws LB_ERR_CONSOLE_SEARCH_INVALID naming the field.
 */
export function parseSearch(q: Record<string, unknown>): MessageSearch {
  const s: MessageSearch = {};
  for (const f of SEARCH_FIELDS) {
    const v = q[f];
    const text = Array.isArray(v) ? v[0] : v;
    if (typeof text !== 'string' || text.trim() === '') continue;
    if (text.length > 500) throw bad(f, 'is longer than 500 characters');
    (s as Record<string, string>)[f] = text.trim();
  }
  if (s.status && !(MESSAGE_STATUSES as readonly string[]).includes(s.status)) {
    throw bad('status', `"${s.status}" is not one of ${MESSAGE_STATUSES.join(', ')}`);
  }
  if (s.id && !UUID.test(s.id)) {
    throw bad('id', `"${s.id}" is not a message id (a uuid such as 0195f1c2-7a00-7000-8000-000000000000)`);
  }
  if (s.resolved && s.resolved !== 'open' && s.resolved !== 'resolved') {
    throw bad('resolved', 'is "open" or "resolved"');
  }
  if (s.from) parseTime('from', s.from);
  if (s.to) parseTime('to', s.to);
  return s;
}

/** The search as query-string parameters (for links: next page, bulk job). */
export function searchParams(s: MessageSearch, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const f of SEARCH_FIELDS) {
    const v = s[f];
    if (v) p.set(f, v);
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}

/** Escapes LIKE wildcards so user text matches itself. */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The smallest uuidv7 of a millisecond (id order is receipt order). */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/** GTIN-8/12/13 → GTIN-14 (leading zeros), as canonical rows keep them. */
function gtin14(g: string): string {
  return /^\d{8,14}$/.test(g) ? g.padStart(14, '0') : g;
}

/**
 * Ids of messages that touched the lot / GTIN / serial through canonical rows (lots, serials, trace
 * event items, ledger, quality results, genealogy, usages), newest first, at most LINEAGE_LIMIT.
 */
export async function lineageMessageIds(db: Db, s: Pick<MessageSearch, 'lot' | 'gtin' | 'serial'>): Promise<{ ids: string[]; truncated: boolean }> {
  let materialIds: string[] | undefined;
  if (s.gtin) {
    const rows = await db('material_identifiers').whereIn('scheme', ['gtin', 'udi_di']).whereIn('value', [...new Set([s.gtin, gtin14(s.gtin)])]).distinct('material_id');
    materialIds = rows.map((r: { material_id: string }) => r.material_id);
    if (materialIds.length === 0) return { ids: [], truncated: false };
  }
  let lotIds: string[] = [];
  let serialIds: string[] = [];
  if (s.lot || (materialIds && !s.serial)) {
    const q = db('lots').select('id').limit(LINEAGE_LIMIT);
    if (s.lot) q.where('lot_number', s.lot);
    if (materialIds) q.whereIn('material_id', materialIds);
    lotIds = (await q).map((r: { id: string }) => r.id);
  }
  if (s.serial) {
    const q = db('serials').where('serial_number', s.serial).select('id', 'lot_id').limit(LINEAGE_LIMIT);
    if (materialIds) q.whereIn('material_id', materialIds);
    const rows = (await q) as Array<{ id: string; lot_id: string | null }>;
    serialIds = rows.map((r) => r.id);
    if (s.lot) {
      // lot and serial: the serials of that lot only
      const inLot = new Set(lotIds);
      serialIds = rows.filter((r) => r.lot_id && inLot.has(r.lot_id)).map((r) => r.id);
      lotIds = [];
    }
  }
  if (lotIds.length === 0 && serialIds.length === 0) return { ids: [], truncated: false };
  const parts: Knex.QueryBuilder[] = [];
  const hasTable = async (t: string): Promise<boolean> => (await db.raw<{ rows: Array<{ r: string | null }> }>('SELECT to_regclass(?) AS r', [t])).rows[0].r !== null;
  if (lotIds.length) {
    parts.push(db('lots').whereIn('id', lotIds).whereNotNull('source_message_id').select('source_message_id as id'));
    parts.push(db('trace_event_items as i').join('trace_events as e', 'e.id', 'i.event_id').whereIn('i.lot_id', lotIds).select('e.source_message_id as id'));
    parts.push(db('inventory_ledger').whereIn('lot_id', lotIds).select('source_message_id as id'));
    parts.push(db('quality_results').whereIn('lot_id', lotIds).select('source_message_id as id'));
    parts.push(db('lot_links').whereIn('input_lot_id', lotIds).orWhereIn('output_lot_id', lotIds).select('source_message_id as id'));
    if (await hasTable('device_usages')) parts.push(db('device_usages').whereIn('lot_id', lotIds).select('source_message_id as id'));
  }
  if (serialIds.length) {
    parts.push(db('serials').whereIn('id', serialIds).whereNotNull('source_message_id').select('source_message_id as id'));
    parts.push(db('trace_event_items as i').join('trace_events as e', 'e.id', 'i.event_id').whereIn('i.serial_id', serialIds).select('e.source_message_id as id'));
    if (await hasTable('device_usages')) parts.push(db('device_usages').whereIn('serial_id', serialIds).select('source_message_id as id'));
  }
  const rows = (await db.select('id').from(db.union(parts, true).as('u')).whereNotNull('id').distinct().orderBy('id', 'desc').limit(LINEAGE_LIMIT + 1)) as Array<{ id: string }>;
  return { ids: rows.slice(0, LINEAGE_LIMIT).map((r) => r.id), truncated: rows.length > LINEAGE_LIMIT };
}

/** Columns of a search hit (no payload). */
export const LIST_COLUMNS = [
  'id', 'connector_id', 'format', 'transport', 'message_type', 'sender', 'control_id', 'status', 'received_at', 'processed_at',
  'error_code', 'error_message', 'size_bytes', 'duplicate_of', 'edit_of', 'resolved_at',
];

export interface SearchHit {
  id: string;
  connector_id: string;
  format: string;
  transport: string;
  message_type: string | null;
  sender: string | null;
  control_id: string | null;
  status: string;
  received_at: Date;
  processed_at: Date | null;
  error_code: string | null;
  error_message: string | null;
  size_bytes: number;
  duplicate_of: string | null;
  edit_of: string | null;
  resolved_at: Date | null;
}

/**
 * Applies a search to a query on inbound_messages (alias-free). Lineage ids must be resolved first
 * (see lineageMessageIds). Every predicate is a bound parameter: no user text is ever SQL.
 */
export function applySearch(b: Knex.QueryBuilder, s: MessageSearch, lineageIds?: string[]): Knex.QueryBuilder {
  if (s.id) b.where('id', s.id);
  if (s.connector) b.where('connector_id', s.connector);
  if (s.format) b.where('format', s.format);
  if (s.type) b.where('message_type', s.type);
  if (s.sender) b.where('sender', s.sender);
  if (s.control) {
    if (s.control.endsWith('*') && s.control.length > 1) {
      const prefix = s.control.slice(0, -1);
      b.whereRaw(`control_id LIKE ? ESCAPE '\\'`, [`${likeEscape(prefix)}%`]);
    } else {
      b.where('control_id', s.control);
    }
  }
  if (s.status) b.where('status', s.status);
  if (s.error) b.where('error_code', s.error);
  if (s.from) {
    const d = parseTime('from', s.from);
    b.where('received_at', '>=', d).where('id', '>=', uuidv7Floor(d.getTime()));
  }
  if (s.to) {
    const d = parseTime('to', s.to);
    // the id is made just after receipt: an hour of slack keeps every message received before `to`
    b.where('received_at', '<', d).where('id', '<', uuidv7Floor(d.getTime() + 3600_000));
  }
  if (s.resolved === 'open') b.whereNull('resolved_at');
  if (s.resolved === 'resolved') b.whereNotNull('resolved_at');
  if (lineageIds) b.whereIn('id', lineageIds.length ? lineageIds : ['00000000-0000-0000-0000-000000000000']);
  return b;
}

/** A control-number prefix matching at most this many messages is resolved through its index first. */
export const PREFIX_ID_LIMIT = 5000;

/**
 * The ids a control-number prefix (`ORIS-2026*`) matches, when there are at most PREFIX_ID_LIMIT of
 * them; undefined otherwise (or for an exact search). Control numbers grow with time, so a narrow
 * prefix's messages sit together somewhere in the past: walking the id index newest-first until 50 of
 * them turn up would read everything newer. Read through the (control_id text_pattern_ops) index
 * instead; a broad prefix matches often enough for the walk to end soon.
 */
async function controlPrefixIds(db: Db, s: MessageSearch): Promise<Set<string> | undefined> {
  if (!s.control || !s.control.endsWith('*') || s.control.length <= 1) return undefined;
  const rows = await db.raw<{ rows: Array<{ id: string }> }>(
    `SELECT id FROM inbound_messages WHERE control_id LIKE ? ESCAPE '\\' AND control_id IS NOT NULL LIMIT ?`,
    [`${likeEscape(s.control.slice(0, -1))}%`, PREFIX_ID_LIMIT + 1],
  );
  return rows.rows.length > PREFIX_ID_LIMIT ? undefined : new Set(rows.rows.map((r) => r.id));
}

export interface SearchPage {
  items: SearchHit[];
  /** Cursor of the next (older) page, or null on the last page. */
  next: string | null;
  /** True when a lineage search hit more messages than it considers. */
  lineageTruncated: boolean;
}

/**
 * One page of a search, newest first, keyset-paginated by id (`before` = the last id of the previous page).
 * @throws LB_ERR_CONSOLE_SEARCH_INVALID for a malformed cursor or field.
 */
export async function searchMessages(db: Db, s: MessageSearch, opts: { before?: string; limit?: number } = {}): Promise<SearchPage> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  if (opts.before && !UUID.test(opts.before)) throw bad('before', 'is not a page cursor (follow the "Older" link)');
  let lineage: { ids: string[]; truncated: boolean } | undefined;
  if (s.lot || s.gtin || s.serial) lineage = await lineageMessageIds(db, s);
  let ids = lineage?.ids;
  const prefix = await controlPrefixIds(db, s);
  if (prefix) ids = ids ? ids.filter((id) => prefix.has(id)) : [...prefix];
  const b = db('inbound_messages').select(LIST_COLUMNS);
  applySearch(b, s, ids);
  if (opts.before) b.where('id', '<', opts.before);
  const rows = (await b.orderBy('id', 'desc').limit(limit + 1)) as SearchHit[];
  return { items: rows.slice(0, limit), next: rows.length > limit ? rows[limit - 1].id : null, lineageTruncated: lineage?.truncated ?? false };
}
