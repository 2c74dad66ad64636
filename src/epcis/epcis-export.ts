import type { Knex } from 'knex';
import { fullFormats } from 'ajv-formats/dist/formats';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import { findCharsetViolation } from '../gs1/gs1-charset';
import { checkGln, normalizeGtin } from '../model/master-data/gs1-keys';

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
/**
 * Base units as UN/CEFACT Recommendation 20 codes (EPCIS uom). Counts — every spelling of "each" the
 * connectors read as pieces (wms-mapping UOM_LEVELS: EA, EACH, PCE, PC, PCS, UNIT, C62) — have no uom.
 */
const REC20: Record<string, string | null> = { EA: null, EACH: null, PCE: null, PC: null, PCS: null, UNIT: null, C62: null, KG: 'KGM', G: 'GRM', MG: 'MGM', L: 'LTR', ML: 'MLT', M: 'MTR', CM: 'CMT', MM: 'MMT', M2: 'MTK', BOX: 'BX', CS: 'CS', PK: 'PK', SET: 'SET', PR: 'PR' };

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
  /** Stored events this page covered (exported and omitted). */
  events: number;
  /** Of those, the events left out because EPCIS 2.0 cannot express them (also in the document). */
  omitted: number;
}

/** EPCIS measurement types (CBV 2.0, the JSON Schema's enum), by lower-case name. */
const MEASUREMENT_TYPES = new Map(['AbsoluteHumidity', 'AbsorbedDose', 'AbsorbedDoseRate', 'Acceleration', 'Radioactivity', 'Altitude', 'AmountOfSubstance', 'AmountOfSubstancePerUnitVolume', 'Angle', 'AngularAcceleration', 'AngularMomentum', 'AngularVelocity', 'Area', 'Capacitance', 'Conductance', 'Conductivity', 'Count', 'Density', 'Dimensionless', 'DoseEquivalent', 'DoseEquivalentRate', 'DynamicViscosity', 'ElectricCharge', 'ElectricCurrent', 'ElectricCurrentDensity', 'ElectricFieldStrength', 'Energy', 'Exposure', 'Force', 'Frequency', 'Illuminance', 'Inductance', 'Irradiance', 'KinematicViscosity', 'Length', 'LinearMomentum', 'Luminance', 'LuminousFlux', 'LuminousIntensity', 'MagneticFlux', 'MagneticFluxDensity', 'MagneticVectorPotential', 'Mass', 'MassConcentration', 'MassFlowRate', 'MassPerAreaTime', 'MemoryCapacity', 'MolalityOfSolute', 'MolarEnergy', 'MolarMass', 'MolarVolume', 'Power', 'Pressure', 'RadiantFlux', 'RadiantIntensity', 'RelativeHumidity', 'Resistance', 'Resistivity', 'SolidAngle', 'SpecificVolume', 'Speed', 'SurfaceDensity', 'SurfaceTension', 'Temperature', 'Time', 'Torque', 'Voltage', 'Volume', 'VolumeFlowRate', 'VolumeFraction', 'VolumetricFlux', 'Wavenumber'].map((t) => [t.toLowerCase(), t]));
/** Sensor units as sources write them → UN/CEFACT Rec. 20. */
const SENSOR_UOM: Record<string, string> = { '°C': 'CEL', C: 'CEL', DEGC: 'CEL', CELSIUS: 'CEL', '°F': 'FAH', F: 'FAH', FAHRENHEIT: 'FAH', K: 'KEL', KELVIN: 'KEL', '%': 'P1', '%RH': 'P1' };
/** EPCIS event time zone offsets: −14:00 … +14:00 (the JSON Schema's pattern). */
const EPCIS_OFFSET = /^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$/;
/** Whether AI (10) lot, (21) serial or (254) GLN extension can hold the value: 1–20 characters of GS1's character set 82. */
const fitsAi10or21 = (v: string): boolean => v.length >= 1 && v.length <= 20 && findCharsetViolation('X', v) === undefined;
/** CBV 1.x URNs of a vocabulary value (urn:epcglobal:cbv:bizstep:shipping …) → the short name. */
const CBV_URN = /^urn:epcglobal:cbv:(bizstep|disp|btt):([a-z_]+)$/;
/** The prefixes of CBV values that EPCIS 2.0 forbids outside its own vocabulary (the JSON Schema's vocab-other-uri). */
const CBV_RESERVED = /^(urn:epcglobal:cbv|https?:\/\/ns\.gs1\.org\/cbv\/)/;

/** An absolute URI as the EPCIS JSON Schema checks it (ajv-formats' `uri`, RFC 3986). */
const uriFormat = fullFormats.uri as (s: string) => boolean;
const isUri = (s: string): boolean => uriFormat(s);
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
  /**
   * The GTIN as 14 digits (GTIN-8/12/13 zero-padded), or null when it is none: not 8, 12, 13 or 14
   * digits, or a wrong check digit (a Digital Link must name a real GTIN; such a key, written by
   * hand or before master data checked keys, goes under the private base).
   */
  private gtin14(gtin: string | null): string | null {
    if (!gtin) return null;
    const g = normalizeGtin(gtin);
    return g.ok ? g.gtin : null;
  }
  lotClass(gtin: string | null, material: string, lot: string | null): string {
    const g = this.gtin14(gtin);
    // a lot that AI (10) cannot hold (over 20 characters, outside character set 82) is no Digital Link
    if (g && (lot === null || fitsAi10or21(lot))) return lot ? `${DIGITAL_LINK}/01/${g}/10/${dl(lot)}` : `${DIGITAL_LINK}/01/${g}`;
    return lot ? this.b(`material/${enc(material)}/lot/${enc(lot)}`) : this.b(`material/${enc(material)}`);
  }
  instance(gtin: string | null, material: string, serial: string): string {
    const g = this.gtin14(gtin);
    return g && fitsAi10or21(serial) ? `${DIGITAL_LINK}/01/${g}/21/${dl(serial)}` : this.b(`material/${enc(material)}/serial/${enc(serial)}`);
  }
  /**
   * A location: its GLN as a Digital Link; a sub-location carrying its parent's GLN (a bin of a site
   * identified by the site's GLN) with its code as GLN extension, AI (254), so that it is not the
   * parent; the private base for the rest (no GLN, a wrong check digit, a code AI 254 cannot hold).
   */
  location(gln: string | null, code: string, parentGln: string | null = null): string {
    // a GLN with a wrong check digit is no Digital Link either
    const g = gln ? checkGln(gln) : undefined;
    if (!g?.ok) return this.b(`location/${enc(code)}`);
    if (parentGln === null || parentGln.trim() !== g.gln) return `${DIGITAL_LINK}/414/${g.gln}`;
    return fitsAi10or21(code) ? `${DIGITAL_LINK}/414/${g.gln}/254/${dl(code)}` : this.b(`location/${enc(code)}`);
  }
  readPoint(value: string): string {
    return isUri(value) ? value : this.b(`readpoint/${enc(value)}`);
  }
  /** A CBV vocabulary value: the CBV name (any case, or its CBV 1.x URN) as its Web URI, another URI as it is, else under the private base. */
  private vocab(v: string, names: Set<string>, kind: string, webPrefix: string, privatePath: string): string {
    const urn = CBV_URN.exec(v);
    const name = urn && urn[1] === kind ? urn[2] : v.toLowerCase();
    if (names.has(name)) return `${CBV}${webPrefix}-${name}`;
    return isUri(v) && !CBV_RESERVED.test(v) ? v : this.b(`${privatePath}/${enc(v)}`);
  }
  bizStep(v: string): string {
    return this.vocab(v, CBV_BIZSTEPS, 'bizstep', 'BizStep', 'bizstep');
  }
  disposition(v: string): string {
    return this.vocab(v, CBV_DISPOSITIONS, 'disp', 'Disp', 'disposition');
  }
  bizTransactionType(v: string): string {
    return this.vocab(v, CBV_BTT, 'btt', 'BTT', 'btt');
  }
  bizTransaction(type: string, value: string): string {
    return isUri(value) ? value : this.b(`bt/${enc(type)}/${enc(value)}`);
  }
  device(v: string): string {
    return isUri(v) ? v : this.b(`sensor/${enc(v)}`);
  }
  /** A measurement type: the CBV name (any case), a URI outside GS1's vocabulary, else under the private base. */
  measurementType(v: string): string {
    // GS1's own term as its Web Vocabulary URI (https://gs1.org/voc/Temperature) is the CBV name too
    const known = MEASUREMENT_TYPES.get(v.replace(/^https?:\/\/(www\.)?gs1\.org\/voc\//, '').toLowerCase());
    if (known) return known;
    return isUri(v) && !/^https?:\/\/(www\.)?gs1\.org\/voc\//.test(v) ? v : this.b(`measurement/${enc(v)}`);
  }
  /** A party (owning_party source/destination): its GLN as a Digital Link, AI (417), else under the private base. */
  party(gln: string | null, key: string): string {
    const g = gln ? checkGln(gln) : undefined;
    return g?.ok ? `${DIGITAL_LINK}/417/${g.gln}` : this.b(`party/${enc(key)}`);
  }
  sourceDestType(name: 'owning_party' | 'possessing_party' | 'location'): string {
    return `${CBV}SDT-${name}`;
  }
  transformation(id: string): string {
    return this.b(`transformation/${enc(id)}`);
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
  location_parent_gln: string | null;
  /** the location the stored read point names by its code (the WMS writes a put-away's source so), or null */
  read_point_code: string | null;
  read_point_gln: string | null;
  read_point_parent_gln: string | null;
  /** jsonb as stored: an array of {type, value} (the CHECK of 20260301002700 holds for rows written since) */
  biz_transactions: unknown;
  /** jsonb as stored: an array of EPCIS sensor elements, or null */
  sensor_readings: unknown;
  /** `details.shipTo` (WMS ships: the customer's GLN or code) and that party's GLN */
  ship_to: string | null;
  ship_to_gln: string | null;
  /** `details.transformationID` (MES segments) */
  transformation_id: string | null;
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

/** The EPCIS uom of a stored unit: null for counts (EA …), undefined when it has no UN/CEFACT form. */
function uomOf(u: string): string | null | undefined {
  const up = u.trim().toUpperCase();
  if (up in REC20) return REC20[up];
  return /^[A-Z0-9]{2,3}$/.test(up) ? up : undefined;
}

/** A stored event that EPCIS 2.0 cannot express, left out of the document (listed in `lb:omittedEvents`). */
export interface OmittedEvent {
  'lb:eventID': string;
  'lb:storedType': string;
  'lb:reason': string;
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
    // the events the export writes with this bizStep: a CBV step (its name in any case, its CBV 1.x
    // URN or its Web URI) matches rows storing any of those forms, as EpcisUris.bizStep maps them;
    // another value (or its URI under the private base) matches rows storing it as it is
    const asked = q.bizStep.trim();
    const privatePrefix = `${uriBase.replace(/\/+$/, '')}/bizstep/`;
    let raw = asked.replace(/^https:\/\/ref\.gs1\.org\/cbv\/BizStep-/, '');
    if (raw.startsWith(privatePrefix)) {
      try {
        raw = decodeURIComponent(raw.slice(privatePrefix.length));
      } catch {
        // not one the export wrote: matched as it is
      }
    }
    const urn = CBV_URN.exec(raw);
    const name = urn && urn[1] === 'bizstep' ? urn[2] : raw.toLowerCase();
    if (CBV_BIZSTEPS.has(name)) {
      where.push(`(CASE WHEN e.biz_step ~ '^urn:epcglobal:cbv:bizstep:[a-z_]+$' THEN substr(e.biz_step, 27) ELSE lower(e.biz_step) END) = ?`);
      params.push(name);
    } else {
      where.push('e.biz_step = ?');
      params.push(raw);
    }
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
            locp.gln AS location_parent_gln, rp.code AS read_point_code, rp.gln AS read_point_gln, rpp.gln AS read_point_parent_gln,
            e.biz_transactions, e.sensor_readings, e.details->>'transformationID' AS transformation_id, e.source_message_id,
            e.details->>'shipTo' AS ship_to,
            (SELECT p.gln FROM parties p WHERE p.gln = e.details->>'shipTo' OR p.code = e.details->>'shipTo'
              ORDER BY p.gln = e.details->>'shipTo' DESC NULLS LAST, p.id LIMIT 1) AS ship_to_gln
       FROM trace_events e LEFT JOIN locations loc ON loc.id = e.location_id
            LEFT JOIN locations locp ON locp.id = loc.parent_id
            LEFT JOIN locations rp ON rp.code = e.read_point LEFT JOIN locations rpp ON rpp.id = rp.parent_id
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
              -- the GTIN of one base unit (quantities are in the base unit): a GTIN or a UDI-DI (a GTIN as
              -- master data records a device's), never a case's or pallet's GTIN, whose class would
              -- count cases; none: the private base
              (SELECT mi.value FROM material_identifiers mi WHERE mi.material_id = m.id AND mi.scheme IN ('gtin', 'udi_di') AND mi.quantity_per_level = 1
                ORDER BY mi.scheme = 'gtin' DESC, array_position(ARRAY['each','inner','box','case','pallet'], mi.packaging_level), mi.value LIMIT 1) AS gtin
         FROM trace_event_items i
         LEFT JOIN lots l ON l.id = i.lot_id LEFT JOIN serials s ON s.id = i.serial_id
         -- an item naming only its lot or serial is of that lot's or serial's material
         LEFT JOIN materials m ON m.id = COALESCE(i.material_id, l.material_id, s.material_id)
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
  const eventList: Array<Record<string, unknown>> = [];
  const omitted: OmittedEvent[] = [];
  for (const e of page) {
    const r = toEpcisEvent(e, byEvent.get(e.id) ?? [], uris);
    if ('omit' in r) omitted.push({ 'lb:eventID': `urn:uuid:${e.id}`, 'lb:storedType': e.type, 'lb:reason': r.omit });
    else eventList.push(r.event);
  }
  const context = [EPCIS_CONTEXT_URL, { lb: LOTBRIDGE_EPCIS_NS }];
  const creationDate = new Date().toISOString();
  // events EPCIS cannot express are named beside the event list (an extension the schema allows there)
  const body = omitted.length ? { eventList, 'lb:omittedEvents': omitted } : { eventList };
  const document =
    q.documentType === 'EPCISDocument'
      ? { '@context': context, type: 'EPCISDocument', schemaVersion: '2.0', creationDate, epcisBody: body }
      : { '@context': context, type: 'EPCISQueryDocument', schemaVersion: '2.0', creationDate, epcisBody: { queryResults: { queryName: 'SimpleEventQuery', resultsBody: body } } };
  const last = page[page.length - 1];
  return { document, nextCursor: more && last ? cursorOf(last.t, last.id) : null, events: page.length, omitted: omitted.length };
}

/** The item roles each event type has a place for. */
const ROLES_OF: Record<string, string[]> = {
  ObjectEvent: ['subject', 'child', 'input', 'output', 'parent'],
  TransactionEvent: ['subject', 'child', 'input', 'output', 'parent'],
  TransformationEvent: ['input', 'output'],
  AggregationEvent: ['parent', 'child', 'subject'],
  AssociationEvent: ['parent', 'child', 'subject'],
};

/** An item as a note names it: material, lot, serial. */
const itemName = (i: ItemRow): string => `${i.material}${i.lot_number ? ` lot ${i.lot_number}` : ''}${i.serial_number ? ` serial ${i.serial_number}` : ''}`;

/**
 * One stored event as an EPCIS 2.0 event, or the reason it cannot be one. What of the row EPCIS
 * cannot carry is named in the event's `lb:notExported` (docs/trace.md, "Shapes the table holds").
 */
function toEpcisEvent(e: EventRow, items: ItemRow[], uris: EpcisUris): { event: Record<string, unknown> } | { omit: string } {
  const notes: string[] = [];
  const eventTime = e.event_time.toISOString();
  if (!/^\d{4}-/.test(eventTime)) return { omit: `event time ${eventTime} is outside the years 0001–9999 an EPCIS date-time can hold` };
  if (e.action !== null && !['ADD', 'OBSERVE', 'DELETE'].includes(e.action) && e.type !== 'TransformationEvent') {
    return { omit: `action "${e.action}" is none of ADD, OBSERVE, DELETE` };
  }
  let offset = e.event_time_zone_offset;
  if (!EPCIS_OFFSET.test(offset)) {
    notes.push(`eventTimeZoneOffset "${offset}" is outside -14:00…+14:00; +00:00 given (eventTime is UTC)`);
    offset = '+00:00';
  }
  const ev: Record<string, unknown> = {
    type: e.type,
    eventID: `urn:uuid:${e.id}`,
    eventTime,
    eventTimeZoneOffset: offset,
    recordTime: e.record_time.toISOString(),
  };
  const placed = ROLES_OF[e.type] ?? [];
  for (const i of items) {
    if (!i.material) notes.push(`a ${i.role} item names no material, lot or serial`);
    else if (!placed.includes(i.role)) notes.push(`${i.role} item ${itemName(i)}: a ${e.type} has no place for the role`);
  }
  const epcs = (role: string[]): string[] => [
    ...new Set(items.filter((i) => role.includes(i.role) && i.serial_number && i.material).map((i) => uris.instance(i.gtin, i.material!, i.serial_number!))),
  ];
  const quantities = (role: string[]): Array<Record<string, unknown>> =>
    items
      .filter((i) => role.includes(i.role) && !i.serial_number && i.material)
      .map((i) => {
        const epcClass = uris.lotClass(i.gtin, i.material!, i.lot_number);
        const qty = i.base_quantity ?? i.quantity;
        if (qty === null) return { epcClass };
        // a quantity stored without a unit is in the material's base unit (as the writers store them)
        const unit = i.base_quantity !== null ? i.base_uom : (i.uom ?? i.base_uom);
        const uom = unit === null ? null : uomOf(unit);
        if (uom === undefined) {
          // without a UN/CEFACT unit the quantity would read as a count of instances: left out
          notes.push(`quantity ${Number(qty)} "${unit}" of ${epcClass}: the unit has no UN/CEFACT Rec. 20 code`);
          return { epcClass };
        }
        return { epcClass, quantity: Number(qty), ...(uom ? { uom } : {}) };
      });
  const setList = (key: string, v: unknown[]): void => {
    if (v.length) ev[key] = v;
  };
  if (e.type === 'TransformationEvent') {
    setList('inputEPCList', epcs(['input']));
    setList('inputQuantityList', quantities(['input']));
    setList('outputEPCList', epcs(['output']));
    setList('outputQuantityList', quantities(['output']));
    const inputs = Boolean(ev.inputEPCList || ev.inputQuantityList);
    const outputs = Boolean(ev.outputEPCList || ev.outputQuantityList);
    if (!inputs && !outputs) return { omit: 'a TransformationEvent with neither inputs nor outputs' };
    // the source's transformation (an MES segment); a one-sided event needs one: then its own id
    if (e.transformation_id) ev.transformationID = uris.transformation(e.transformation_id);
    else if (!inputs || !outputs) ev.transformationID = `urn:uuid:${e.id}`;
  } else if (e.type === 'AggregationEvent' || e.type === 'AssociationEvent') {
    const parents = items.filter((i) => i.role === 'parent' && i.material);
    const parent = parents[0];
    if (parent) ev.parentID = parent.serial_number ? uris.instance(parent.gtin, parent.material!, parent.serial_number) : uris.lotClass(parent.gtin, parent.material!, parent.lot_number);
    for (const p of parents.slice(1)) notes.push(`parent ${itemName(p)}: an ${e.type} has one parentID`);
    ev.action = e.action ?? 'OBSERVE';
    setList('childEPCs', epcs(['child', 'subject']));
    setList('childQuantityList', quantities(['child', 'subject']));
    if (e.type === 'AssociationEvent' && !parent) return { omit: 'an AssociationEvent without a parent' };
    // EPCIS 2.0: an aggregation's parentID is optional for OBSERVE only; ADD and DELETE need it
    if (!parent && ev.action !== 'OBSERVE') return { omit: `an AggregationEvent ${String(ev.action)} without a parent (parentID is required for ADD and DELETE)` };
    if (!ev.childEPCs && !ev.childQuantityList && ev.action !== 'DELETE') return { omit: `an ${e.type} ${String(ev.action)} without children` };
  } else {
    let parentUri: string | undefined;
    if (e.type === 'TransactionEvent') {
      const parent = items.find((i) => i.role === 'parent' && i.serial_number && i.material);
      if (parent) parentUri = ev.parentID = uris.instance(parent.gtin, parent.material!, parent.serial_number!);
    }
    ev.action = e.action ?? 'OBSERVE';
    setList('epcList', epcs(['subject', 'child', 'input', 'output', 'parent']).filter((u) => u !== parentUri));
    setList('quantityList', quantities(['subject', 'child', 'input', 'output', 'parent']));
  }
  ev.bizStep = uris.bizStep(e.biz_step);
  if (e.disposition) ev.disposition = uris.disposition(e.disposition);
  // a read point naming a location (by code) is that location's identifier, as in bizLocation
  const readPoint = e.read_point_code ? uris.location(e.read_point_gln, e.read_point_code, e.read_point_parent_gln) : e.read_point ? uris.readPoint(e.read_point) : null;
  if (readPoint || e.location_code) ev.readPoint = { id: readPoint ?? uris.location(e.location_gln, e.location_code!, e.location_parent_gln) };
  if (e.location_code) ev.bizLocation = { id: uris.location(e.location_gln, e.location_code, e.location_parent_gln) };
  const stored = Array.isArray(e.biz_transactions) ? (e.biz_transactions as unknown[]) : [];
  if (e.biz_transactions !== null && !Array.isArray(e.biz_transactions)) notes.push('biz_transactions is not a list');
  const bts: Array<Record<string, string>> = [];
  for (const b of stored) {
    const bt = b as { type?: unknown; value?: unknown } | null;
    const value = bt && (typeof bt.value === 'string' || typeof bt.value === 'number') ? String(bt.value).trim() : '';
    if (!value) {
      notes.push(`business transaction ${JSON.stringify(b)} has no value`);
      continue;
    }
    const type = bt && typeof bt.type === 'string' && bt.type.trim() ? bt.type.trim() : null;
    // EPCIS's type is optional: a transaction of no stated type is exported without one
    bts.push({ ...(type ? { type: uris.bizTransactionType(type) } : {}), bizTransaction: uris.bizTransaction(type ?? 'untyped', value) });
  }
  if (e.type === 'TransactionEvent' && bts.length === 0) {
    // a TransactionEvent needs one: the inbound message it came from stands in
    bts.push({ type: uris.bizTransactionType('message'), bizTransaction: uris.message(e.source_message_id) });
  }
  if (bts.length) ev.bizTransactionList = bts;
  // where the goods went: the ship-to party (the customer), as findOrCreateParty resolved it on writing
  if (e.ship_to && e.ship_to.trim()) {
    ev.destinationList = [{ type: uris.sourceDestType('owning_party'), destination: uris.party(e.ship_to_gln ?? e.ship_to, e.ship_to.trim()) }];
  }
  const sensors = sensorElements(e.sensor_readings, uris, notes);
  if (sensors.length) ev.sensorElementList = sensors;
  if ((e.type === 'ObjectEvent' || e.type === 'TransactionEvent') && !ev.epcList && !ev.quantityList && !(e.type === 'ObjectEvent' && ev.sensorElementList && ev.readPoint)) {
    ev.epcList = []; // an event about no identified object (EPCIS requires the list, empty is allowed)
  }
  ev['lb:sourceMessage'] = uris.message(e.source_message_id);
  if (notes.length) ev['lb:notExported'] = notes;
  return { event: ev };
}

/** The stored sensor elements as EPCIS ones; what does not fit is named in `notes`. */
function sensorElements(stored: unknown, uris: EpcisUris, notes: string[]): Array<Record<string, unknown>> {
  if (stored === null || stored === undefined) return [];
  if (!Array.isArray(stored)) {
    notes.push('sensor_readings is not a list');
    return [];
  }
  const out: Array<Record<string, unknown>> = [];
  for (const s of stored as Array<{ sensorMetadata?: Record<string, unknown>; sensorReport?: unknown } | null>) {
    const reports: Array<Record<string, unknown>> = [];
    for (const r of Array.isArray(s?.sensorReport) ? (s!.sensorReport as Array<Record<string, unknown> | null>) : []) {
      if (!r || typeof r.type !== 'string' || !r.type.trim()) {
        notes.push(`sensor report ${JSON.stringify(r)} names no measurement type`);
        continue;
      }
      const rep: Record<string, unknown> = { type: uris.measurementType(r.type.trim()) };
      if (typeof r.value === 'number') rep.value = r.value;
      else if (typeof r.value === 'string' && r.value.trim() !== '' && Number.isFinite(Number(r.value))) rep.value = Number(r.value);
      else if (typeof r.value === 'string') rep.stringValue = r.value;
      else if (typeof r.value === 'boolean') rep.booleanValue = r.value;
      if (typeof r.uom === 'string' && r.uom.trim()) {
        const u = r.uom.trim();
        const code = /^[A-Z0-9]{2,3}$/.test(u) ? u : SENSOR_UOM[u.toUpperCase()] ?? SENSOR_UOM[u];
        if (code) rep.uom = code;
        else if (rep.value !== undefined) {
          // a value in a unit EPCIS has no code for would read as the type's default unit: left out
          delete rep.value;
          notes.push(`sensor value ${String(r.value)} "${u}": the unit has no UN/CEFACT Rec. 20 code`);
        }
      }
      reports.push(rep);
    }
    if (reports.length === 0) continue;
    const meta: Record<string, unknown> = {};
    const time = s?.sensorMetadata?.time;
    if (time !== undefined && time !== null) {
      const d = new Date(String(time));
      if (!Number.isNaN(d.getTime()) && /^\d{4}-/.test(d.toISOString())) meta.time = d.toISOString();
      else notes.push(`sensor time "${String(time)}" is not a date-time`);
    }
    if (s?.sensorMetadata?.deviceID) meta.deviceID = uris.device(String(s.sensorMetadata.deviceID));
    out.push({ ...(Object.keys(meta).length ? { sensorMetadata: meta } : {}), sensorReport: reports });
  }
  return out;
}
