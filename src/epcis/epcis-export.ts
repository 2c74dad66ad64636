import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';

/** The EPCIS 2.0 JSON-LD context (GS1), referenced by URL in every document. */
export const EPCIS_CONTEXT_URL = 'https://ref.gs1.org/standards/epcis/epcis-context.jsonld';
/** Our own terms (lineage of an event back to its inbound message). */
export const LOTBRIDGE_EPCIS_NS = 'https://lotbridge.dev/epcis/';
const CBV = 'https://ref.gs1.org/cbv/';
const DIGITAL_LINK = 'https://id.gs1.org';

/** CBV 2.0 bizStep, disposition and business transaction type names (EPCIS 2.0 JSON Schema enums). */
const CBV_BIZSTEPS = new Set(['accepting', 'arriving', 'assembling', 'collecting', 'commissioning', 'consigning', 'creating_class_instance', 'cycle_counting', 'decommissioning', 'departing', 'destroying', 'disassembling', 'dispensing', 'encoding', 'entering_exiting', 'holding', 'inspecting', 'installing', 'killing', 'loading', 'other', 'packing', 'picking', 'receiving', 'removing', 'repackaging', 'repairing', 'replacing', 'reserving', 'retail_selling', 'shipping', 'staging_outbound', 'stock_taking', 'stocking', 'storing', 'transporting', 'unloading', 'unpacking', 'void_shipping', 'sensor_reporting', 'sampling']);
const CBV_DISPOSITIONS = new Set(['active', 'container_closed', 'damaged', 'destroyed', 'dispensed', 'disposed', 'encoded', 'expired', 'in_progress', 'in_transit', 'inactive', 'no_pedigree_match', 'non_sellable_other', 'partially_dispensed', 'recalled', 'reserved', 'retail_sold', 'returned', 'sellable_accessible', 'sellable_not_accessible', 'stolen', 'unknown', 'available', 'completeness_verified', 'completeness_inferred', 'conformant', 'container_open', 'mismatch_instance', 'mismatch_class', 'mismatch_quantity', 'needs_replacement', 'non_conformant', 'unavailable']);
const CBV_BTT = new Set(['bol', 'cert', 'desadv', 'inv', 'pedigree', 'po', 'poc', 'prodorder', 'recadv', 'rma', 'testprd', 'testres', 'upevt']);
/** Base units as UN/CEFACT Recommendation 20 codes (EPCIS uom). EA and PCE are counts: no uom. */
const REC20: Record<string, string | null> = { EA: null, PCE: null, PC: null, UNIT: null, KG: 'KGM', G: 'GRM', MG: 'MGM', L: 'LTR', ML: 'MLT', M: 'MTR', CM: 'CMT', MM: 'MMT', M2: 'MTK', BOX: 'BX', CS: 'CS', PK: 'PK', SET: 'SET', PR: 'PR' };

export interface EpcisQuery {
  from?: string;
  to?: string;
  /** Only events naming this lot. */
  lotId?: string;
  bizStep?: string;
  limit?: number;
  cursor?: string;
  /** EPCISQueryDocument (default) or EPCISDocument. */
  documentType?: 'EPCISQueryDocument' | 'EPCISDocument';
}

export interface EpcisPage {
  document: Record<string, unknown>;
  nextCursor: string | null;
  events: number;
}

const isUri = (s: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(s) && !/\s/.test(s);
const enc = encodeURIComponent;
/**
 * A GS1 Digital Link path value (lot, serial): percent-encoded as the GS1 Digital Link standard
 * asks, i.e. every character of GS1's character set 82 that is not unreserved in RFC 3986 — also
 * `! ' ( ) * `, which encodeURIComponent leaves as they are.
 */
const dl = (v: string): string => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Maps canonical rows to EPCIS URIs: GS1 Digital Link for GTINs and GLNs, the private base for the rest. */
export class EpcisUris {
  constructor(private readonly base: string) {}
  private b(path: string): string {
    return `${this.base.replace(/\/+$/, '')}/${path}`;
  }
  lotClass(gtin: string | null, material: string, lot: string | null): string {
    if (gtin) return lot ? `${DIGITAL_LINK}/01/${gtin}/10/${dl(lot)}` : `${DIGITAL_LINK}/01/${gtin}`;
    return lot ? this.b(`material/${enc(material)}/lot/${enc(lot)}`) : this.b(`material/${enc(material)}`);
  }
  instance(gtin: string | null, material: string, serial: string): string {
    return gtin ? `${DIGITAL_LINK}/01/${gtin}/21/${dl(serial)}` : this.b(`material/${enc(material)}/serial/${enc(serial)}`);
  }
  location(gln: string | null, code: string): string {
    return gln ? `${DIGITAL_LINK}/414/${gln}` : this.b(`location/${enc(code)}`);
  }
  readPoint(value: string): string {
    return isUri(value) ? value : this.b(`readpoint/${enc(value)}`);
  }
  bizStep(v: string): string {
    return CBV_BIZSTEPS.has(v) ? `${CBV}BizStep-${v}` : isUri(v) ? v : this.b(`bizstep/${enc(v)}`);
  }
  disposition(v: string): string {
    return CBV_DISPOSITIONS.has(v) ? `${CBV}Disp-${v}` : isUri(v) ? v : this.b(`disposition/${enc(v)}`);
  }
  bizTransactionType(v: string): string {
    return CBV_BTT.has(v) ? `${CBV}BTT-${v}` : isUri(v) ? v : this.b(`btt/${enc(v)}`);
  }
  bizTransaction(type: string, value: string): string {
    return isUri(value) ? value : this.b(`bt/${enc(type)}/${enc(value)}`);
  }
  device(v: string): string {
    return isUri(v) ? v : this.b(`sensor/${enc(v)}`);
  }
  message(id: string): string {
    return this.b(`message/${id}`);
  }
}

interface EventRow {
  id: string;
  type: string;
  action: string | null;
  biz_step: string;
  disposition: string | null;
  event_time: Date;
  t: string;
  event_time_zone_offset: string;
  record_time: Date;
  read_point: string | null;
  location_code: string | null;
  location_gln: string | null;
  biz_transactions: Array<{ type: string; value: string }>;
  sensor_readings: Array<{ sensorMetadata?: Record<string, unknown>; sensorReport: Array<Record<string, unknown>> }> | null;
  source_message_id: string;
}

interface ItemRow {
  event_id: string;
  role: string;
  material: string | null;
  base_uom: string | null;
  gtin: string | null;
  lot_number: string | null;
  serial_number: string | null;
  quantity: number | null;
  base_quantity: number | null;
  uom: string | null;
}

function cursorOf(t: string, id: string): string {
  return Buffer.from(JSON.stringify({ t, id })).toString('base64url');
}

function readCursor(c: string): { t: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { t?: unknown; id?: unknown };
    // exactly what cursorOf writes: the event time as to_char wrote it (microseconds, UTC) and a uuid
    if (typeof v.t === 'string' && typeof v.id === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v.id)
        && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(v.t) && !v.t.startsWith('0000') && !Number.isNaN(Date.parse(v.t))) {
      return { t: v.t, id: v.id };
    }
  } catch {
    // falls through to the error below
  }
  throw new LotBridgeError('LB_ERR_TRACE_CURSOR_INVALID', 'cursor is not one this API issued', { location: { path: 'cursor' } });
}

function uomOf(u: string | null): string | undefined {
  if (!u) return undefined;
  const up = u.toUpperCase();
  if (up in REC20) return REC20[up] ?? undefined;
  return /^[A-Z0-9]{2,3}$/.test(up) ? up : undefined;
}

/**
 * One page of trace events as an EPCIS 2.0 JSON-LD document, ordered by (eventTime, id).
 * @param db - knex instance
 * @param q - filters, page size, cursor, document type
 * @param uriBase - private URI base for materials without a GTIN, locations without a GLN, …
 */
export async function exportEpcisEvents(db: Db, q: EpcisQuery, uriBase: string): Promise<EpcisPage> {
  const limit = Math.min(Math.max(q.limit ?? 500, 1), 1000);
  for (const key of ['from', 'to'] as const) {
    // ISO 8601 allows year 0000; PostgreSQL's timestamps (and the proleptic calendar of EPCIS) start at year 1
    if (q[key] !== undefined && /^[+-]?0000\b/.test(q[key]!)) {
      throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', `${key}: year 0000 is before the first timestamp PostgreSQL stores (year 1)`, { location: { path: key } });
    }
  }
  const where: string[] = [];
  const params: Knex.RawBinding[] = [];
  if (q.from) {
    where.push('e.event_time >= ?::timestamptz');
    params.push(q.from);
  }
  if (q.to) {
    where.push('e.event_time < ?::timestamptz');
    params.push(q.to);
  }
  if (q.bizStep) {
    where.push('e.biz_step = ?');
    params.push(q.bizStep.replace(/^https:\/\/ref\.gs1\.org\/cbv\/BizStep-/, ''));
  }
  if (q.lotId) {
    where.push('EXISTS (SELECT 1 FROM trace_event_items li WHERE li.event_id = e.id AND li.lot_id = ?)');
    params.push(q.lotId);
  }
  if (q.cursor) {
    const c = readCursor(q.cursor);
    where.push('(e.event_time, e.id) > (?::timestamptz, ?::uuid)');
    params.push(c.t, c.id);
  }
  const events = await db.raw<{ rows: EventRow[] }>(
    `SELECT e.id, e.type, e.action, e.biz_step, e.disposition, e.event_time,
            to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t,
            e.event_time_zone_offset, e.record_time, e.read_point, loc.code AS location_code, loc.gln AS location_gln,
            e.biz_transactions, e.sensor_readings, e.source_message_id
       FROM trace_events e LEFT JOIN locations loc ON loc.id = e.location_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY e.event_time, e.id
      LIMIT ${limit + 1}`,
    params,
  );
  const more = events.rows.length > limit;
  const page = events.rows.slice(0, limit);
  const items = page.length
    ? await db.raw<{ rows: ItemRow[] }>(
      `SELECT i.event_id, i.role, m.code AS material, m.base_uom, l.lot_number, s.serial_number, i.quantity, i.base_quantity, i.uom,
              (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme = 'gtin'
                ORDER BY array_position(ARRAY['each','inner','box','case','pallet'], mi.packaging_level), mi.value LIMIT 1) AS gtin
         FROM trace_event_items i
         LEFT JOIN materials m ON m.id = i.material_id LEFT JOIN lots l ON l.id = i.lot_id LEFT JOIN serials s ON s.id = i.serial_id
        WHERE i.event_id = ANY(?::uuid[])
        ORDER BY i.event_id, i.id`,
      [page.map((e) => e.id)],
    )
    : { rows: [] as ItemRow[] };
  const byEvent = new Map<string, ItemRow[]>();
  for (const it of items.rows) {
    const list = byEvent.get(it.event_id);
    if (list) list.push(it);
    else byEvent.set(it.event_id, [it]);
  }
  const uris = new EpcisUris(uriBase);
  const eventList = page.map((e) => toEpcisEvent(e, byEvent.get(e.id) ?? [], uris));
  const context = [EPCIS_CONTEXT_URL, { lb: LOTBRIDGE_EPCIS_NS }];
  const creationDate = new Date().toISOString();
  const document =
    q.documentType === 'EPCISDocument'
      ? { '@context': context, type: 'EPCISDocument', schemaVersion: '2.0', creationDate, epcisBody: { eventList } }
      : { '@context': context, type: 'EPCISQueryDocument', schemaVersion: '2.0', creationDate, epcisBody: { queryResults: { queryName: 'SimpleEventQuery', resultsBody: { eventList } } } };
  const last = page[page.length - 1];
  return { document, nextCursor: more && last ? cursorOf(last.t, last.id) : null, events: page.length };
}

function toEpcisEvent(e: EventRow, items: ItemRow[], uris: EpcisUris): Record<string, unknown> {
  const ev: Record<string, unknown> = {
    type: e.type,
    eventID: `urn:uuid:${e.id}`,
    eventTime: e.event_time.toISOString(),
    eventTimeZoneOffset: e.event_time_zone_offset,
    recordTime: e.record_time.toISOString(),
  };
  const epcs = (role: string[]): string[] => [
    ...new Set(items.filter((i) => role.includes(i.role) && i.serial_number && i.material).map((i) => uris.instance(i.gtin, i.material!, i.serial_number!))),
  ];
  const quantities = (role: string[]): Array<Record<string, unknown>> =>
    items
      .filter((i) => role.includes(i.role) && !i.serial_number && i.material)
      .map((i) => {
        const qty = i.base_quantity ?? i.quantity;
        const uom = uomOf(i.base_quantity !== null ? i.base_uom : i.uom);
        return { epcClass: uris.lotClass(i.gtin, i.material!, i.lot_number), ...(qty !== null ? { quantity: Number(qty) } : {}), ...(uom ? { uom } : {}) };
      });
  const setList = (key: string, v: unknown[]): void => {
    if (v.length) ev[key] = v;
  };
  if (e.type === 'TransformationEvent') {
    setList('inputEPCList', epcs(['input']));
    setList('inputQuantityList', quantities(['input']));
    setList('outputEPCList', epcs(['output']));
    setList('outputQuantityList', quantities(['output']));
  } else if (e.type === 'AggregationEvent' || e.type === 'AssociationEvent') {
    const parent = items.find((i) => i.role === 'parent' && i.material);
    if (parent) ev.parentID = parent.serial_number ? uris.instance(parent.gtin, parent.material!, parent.serial_number) : uris.lotClass(parent.gtin, parent.material!, parent.lot_number);
    ev.action = e.action ?? 'OBSERVE';
    setList('childEPCs', epcs(['child', 'subject']));
    setList('childQuantityList', quantities(['child', 'subject']));
  } else {
    if (e.type === 'TransactionEvent') {
      const parent = items.find((i) => i.role === 'parent' && i.serial_number && i.material);
      if (parent) ev.parentID = uris.instance(parent.gtin, parent.material!, parent.serial_number!);
    }
    ev.action = e.action ?? 'OBSERVE';
    setList('epcList', epcs(['subject', 'child', 'input', 'output']));
    setList('quantityList', quantities(['subject', 'child', 'input', 'output']));
  }
  ev.bizStep = uris.bizStep(e.biz_step);
  if (e.disposition) ev.disposition = uris.disposition(e.disposition);
  if (e.read_point || e.location_code) ev.readPoint = { id: e.read_point ? uris.readPoint(e.read_point) : uris.location(e.location_gln, e.location_code!) };
  if (e.location_code) ev.bizLocation = { id: uris.location(e.location_gln, e.location_code) };
  const bts = (e.biz_transactions ?? []).filter((b) => b && b.value).map((b) => ({ type: uris.bizTransactionType(b.type), bizTransaction: uris.bizTransaction(b.type, b.value) }));
  if (e.type === 'TransactionEvent' && bts.length === 0) {
    // a TransactionEvent needs one: the inbound message it came from stands in
    bts.push({ type: uris.bizTransactionType('message'), bizTransaction: uris.message(e.source_message_id) });
  }
  if (bts.length) ev.bizTransactionList = bts;
  const sensors = (e.sensor_readings ?? [])
    .filter((s) => s && Array.isArray(s.sensorReport) && s.sensorReport.length > 0)
    .map((s) => {
      const meta: Record<string, unknown> = {};
      if (s.sensorMetadata?.time) meta.time = new Date(String(s.sensorMetadata.time)).toISOString();
      if (s.sensorMetadata?.deviceID) meta.deviceID = uris.device(String(s.sensorMetadata.deviceID));
      const reports = s.sensorReport.map((r) => {
        const out: Record<string, unknown> = {};
        if (typeof r.type === 'string') out.type = r.type; // CBV measurement type names (Temperature …) as the context maps them
        if (typeof r.value === 'number') out.value = r.value;
        if (typeof r.uom === 'string' && /^[A-Z0-9]{2,3}$/.test(r.uom)) out.uom = r.uom;
        return out;
      });
      return { ...(Object.keys(meta).length ? { sensorMetadata: meta } : {}), sensorReport: reports };
    });
  if (sensors.length) ev.sensorElementList = sensors;
  if (e.type === 'ObjectEvent' && !ev.epcList && !ev.quantityList && !(ev.sensorElementList && ev.readPoint)) {
    ev.epcList = []; // an event about no identified object (EPCIS requires the list, empty is allowed)
  }
  ev['lb:sourceMessage'] = uris.message(e.source_message_id);
  return ev;
}
