import { LotBridgeError } from '../../errors';
import { daysInMonth, MONTH_NAMES } from '../../gs1/gs1-date';
import { isTimestampProblem, parseSourceTimestamp, utcWallMillis } from '../../normalize/time/source-timestamp';
import { describeHl7Location } from './hl7-location';
import type { Hl7Segment } from './hl7-segment';

/** Which value of a field a typed reader reads, and whether it must be there. */
export interface Hl7ValueRef {
  /** Component (default 1: the whole value of a primitive field, the DTM of a TS). */
  component?: number;
  /** Subcomponent (default 1). */
  subcomponent?: number;
  /** Repetition (default 1). */
  repetition?: number;
  /** When true, an empty or absent value is LB_ERR_HL7_REQUIRED_FIELD instead of undefined. */
  required?: boolean;
}

/** How precise an HL7 date/time is: the last part written. */
export type Hl7DatePrecision = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction';

/** An HL7 DTM/DT/TS value read as an instant. */
export interface Hl7DateTime {
  /** The value as written, e.g. `20260315101500+0100`. */
  text: string;
  /** The instant in UTC, ISO 8601 (`2026-03-15T09:15:00.000Z`); for a partial value, the start of the period. */
  utc: string;
  /** The UTC offset written (or the zone's offset then), `+01:00`. */
  offset: string;
  /** True when the value carried its own offset; false when it was read in the default zone. */
  explicitOffset: boolean;
  /** The last part written. */
  precision: Hl7DatePrecision;
  /** The wall-clock value as written, ISO-style, only as precise as written: `2030-05-31`, `2026-03-15T10:15`. */
  local: string;
}

/** Why a text is not an HL7 date/time or number (a sentence fragment). */
export interface Hl7ValueProblem {
  /** E.g. `is not a valid date: month 13 does not exist`. */
  problem: string;
}

/** Options of {@link parseHl7DateTime} and {@link readHl7DateTime}. */
export interface Hl7DateTimeOptions {
  /** IANA zone for values without an offset (the connector's zone), e.g. `Europe/Berlin`. */
  zone: string;
  /** `DT` accepts a date only (YYYY[MM[DD]]); `DTM` (default) also a time and offset (TS is a DTM in component 1). */
  type?: 'DTM' | 'DT';
}

const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,9}))?)?)?)?)?)?([+-]\d{4})?$/;

/**
 * Reads an HL7 date/time `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]` (DTM, the first component
 * of TS) or date `YYYY[MM[DD]]` (DT). Checks the calendar and the clock; a value without an
 * offset is local time in `zone` (in a DST gap or overlap the offset before the change applies).
 * @param text - the value as written
 * @param opts - default zone and type
 * @returns the instant, or the problem
 */
export function parseHl7DateTime(text: string, opts: Hl7DateTimeOptions): Hl7DateTime | Hl7ValueProblem {
  const type = opts.type ?? 'DTM';
  const m = DTM.exec(text);
  const format = type === 'DT' ? 'YYYY[MM[DD]]' : 'YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]';
  if (!m) {
    return { problem: `is not an HL7 ${type === 'DT' ? 'date' : 'date/time'} (${format})` };
  }
  const [, Y, M, D, H, N, S, F, Z] = m;
  // precision and the wall-clock text as written, part by part
  let precision: Hl7DatePrecision = 'year';
  let local = Y;
  if (M !== undefined) {
    precision = 'month';
    local += `-${M}`;
    if (D !== undefined) {
      precision = 'day';
      local += `-${D}`;
      if (H !== undefined) {
        precision = 'hour';
        local += `T${H}`;
        if (N !== undefined) {
          precision = 'minute';
          local += `:${N}`;
          if (S !== undefined) {
            precision = F !== undefined ? 'fraction' : 'second';
            local += F !== undefined ? `:${S}.${F}` : `:${S}`;
          }
        }
      }
    }
  }
  if (type === 'DT' && (H !== undefined || Z !== undefined)) {
    return { problem: `is a date/time, not a date (DT: ${format})` };
  }
  const y = Number(Y);
  const mo = M === undefined ? 1 : Number(M);
  const d = D === undefined ? 1 : Number(D);
  const h = H === undefined ? 0 : Number(H);
  const mi = N === undefined ? 0 : Number(N);
  const s = S === undefined ? 0 : Number(S);
  if (mo < 1 || mo > 12) {
    return { problem: `is not a valid date: month ${mo} does not exist` };
  }
  if (d < 1 || d > daysInMonth(y, mo)) {
    return { problem: `is not a valid date: day ${d} does not exist in ${MONTH_NAMES[mo - 1]} ${y}` };
  }
  if (h > 23 || mi > 59 || s > 59) {
    return { problem: 'is not a valid time of day' };
  }
  let offset: string | undefined;
  if (Z !== undefined) {
    // no zone is more than 14 hours from UTC (and EPCIS's eventTimeZoneOffset stops at ±14:00)
    if (Number(Z.slice(1, 3)) * 60 + Number(Z.slice(3, 5)) > 14 * 60 || Number(Z.slice(3, 5)) > 59) {
      return { problem: `has an impossible UTC offset ${Z}` };
    }
    offset = `${Z.slice(0, 3)}:${Z.slice(3, 5)}`;
  }
  const ms = F === undefined ? 0 : Number(F.length >= 3 ? F.slice(0, 3) : F.padEnd(3, '0'));
  const wall = utcWallMillis(y, mo, d, h, mi, s, ms);
  if (offset !== undefined) {
    const minutes = (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
    return { text, utc: new Date(wall - minutes * 60000).toISOString(), offset, explicitOffset: true, precision, local };
  }
  const placed = placeInZone(wall, opts.zone);
  if ('problem' in placed) {
    return placed;
  }
  return { text, utc: new Date(wall - placed.deltaMs).toISOString(), offset: placed.offset, explicitOffset: false, precision, local };
}

/** Wall-clock minute in a zone → (wall − UTC) and the offset then; a zone's offset changes on whole minutes, so this is exact. */
const zoneMinuteCache = new Map<string, { deltaMs: number; offset: string }>();
const ZONE_CACHE_LIMIT = 20_000;

/**
 * Places a wall-clock time of `zone` in UTC with the rule of parseSourceTimestamp (DST gap and
 * overlap: the offset before the change), cached per zone and wall-clock minute because Intl
 * look-ups cost tens of microseconds.
 */
function placeInZone(wall: number, zone: string): { deltaMs: number; offset: string } | Hl7ValueProblem {
  const minute = wall - (((wall % 60000) + 60000) % 60000);
  const key = `${zone} ${minute}`;
  let hit = zoneMinuteCache.get(key);
  if (!hit) {
    const iso = new Date(minute).toISOString().slice(0, 19);
    const instant = parseSourceTimestamp(iso, zone);
    if (isTimestampProblem(instant)) {
      return { problem: `cannot be placed in time zone ${zone}: ${instant.problem}` };
    }
    hit = { deltaMs: minute - instant.utc.getTime(), offset: instant.offset };
    if (zoneMinuteCache.size >= ZONE_CACHE_LIMIT) {
      zoneMinuteCache.clear();
    }
    zoneMinuteCache.set(key, hit);
  }
  return hit;
}

/**
 * Reads a DTM/DT/TS field of a segment. Undefined when empty (or the HL7 null `""`) unless
 * `required`; LB_ERR_HL7_DATE naming value and location when it is not a real date/time.
 * @param seg - the segment
 * @param field - field number
 * @param opts - zone, type and which value
 */
export function readHl7DateTime(seg: Hl7Segment, field: number, opts: Hl7DateTimeOptions & Hl7ValueRef): Hl7DateTime | undefined {
  const text = valueOf(seg, field, opts);
  if (text === undefined) {
    return undefined;
  }
  const r = parseHl7DateTime(text, opts);
  if ('problem' in r) {
    const location = seg.location(field, opts.component, opts.subcomponent, opts.repetition);
    throw new LotBridgeError('LB_ERR_HL7_DATE', `${label(seg, field, opts)} ${JSON.stringify(text)} ${r.problem} ${describeHl7Location(location)}`, {
      location,
      details: { value: text },
    });
  }
  return r;
}

/**
 * Reads an NM value `[+|-]digits[.digits]`, the form HL7 defines (no exponent, no thousands
 * separators; surrounding spaces are tolerated).
 * @param text - the value as written
 * @returns the number, or the problem
 */
export function parseHl7Number(text: string): number | Hl7ValueProblem {
  const t = text.trim();
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/.test(t)) {
    return { problem: 'is not a number (NM: an optional sign, digits and an optional decimal point)' };
  }
  return Number(t);
}

/**
 * Reads an NM field (a quantity, an amount) of a segment. Undefined when empty unless `required`;
 * LB_ERR_HL7_NUMBER naming value and location when it is not a number.
 * @param seg - the segment
 * @param field - field number
 * @param opts - which value, and whether it is required
 */
export function readHl7Number(seg: Hl7Segment, field: number, opts: Hl7ValueRef = {}): number | undefined {
  const text = valueOf(seg, field, opts);
  if (text === undefined) {
    return undefined;
  }
  const r = parseHl7Number(text);
  if (typeof r !== 'number') {
    const location = seg.location(field, opts.component, opts.subcomponent, opts.repetition);
    throw new LotBridgeError('LB_ERR_HL7_NUMBER', `${label(seg, field, opts)} ${JSON.stringify(text)} ${r.problem} ${describeHl7Location(location)}`, {
      location,
      details: { value: text },
    });
  }
  return r;
}

/**
 * Reads a value that must be present (unescaped); LB_ERR_HL7_REQUIRED_FIELD with its location otherwise.
 * @param seg - the segment
 * @param field - field number
 * @param opts - which value
 */
export function requireHl7Value(seg: Hl7Segment, field: number, opts: Omit<Hl7ValueRef, 'required'> = {}): string {
  return valueOf(seg, field, { ...opts, required: true })!;
}

/**
 * Reads an optional value (unescaped): undefined when absent, empty or the HL7 null `""` (engines
 * that "send nulls" write it for every empty field; it is no data).
 * @param seg - the segment
 * @param field - field number
 * @param opts - which value
 */
export function readHl7Value(seg: Hl7Segment, field: number, opts: Omit<Hl7ValueRef, 'required'> = {}): string | undefined {
  return valueOf(seg, field, opts);
}

/**
 * {@link readHl7Value} of one component (or of the field, without `component`), as `seg.get` reads
 * it but for the HL7 null: undefined when absent, empty or `""`.
 * @param seg - the segment
 * @param field - field number
 * @param component - component number (1-based); the field's text without it
 */
export function readHl7Component(seg: Hl7Segment, field: number, component?: number): string | undefined {
  return valueOf(seg, field, component === undefined ? {} : { component });
}

function valueOf(seg: Hl7Segment, field: number, ref: Hl7ValueRef): string | undefined {
  const v = seg.get(field, ref.component, ref.subcomponent, ref.repetition);
  if (v !== undefined && v !== '""') {
    return v;
  }
  if (ref.required) {
    const location = seg.location(field, ref.component, ref.subcomponent, ref.repetition);
    throw new LotBridgeError('LB_ERR_HL7_REQUIRED_FIELD', `${label(seg, field, ref)} is required but ${v === '""' ? 'null ("")' : 'empty'} ${describeHl7Location(location)}`, {
      location,
    });
  }
  return undefined;
}

/** `PRT-18`, `FT1-4.1`, `PID-3(2).1` */
function label(seg: Hl7Segment, field: number, ref: Hl7ValueRef): string {
  let s = `${seg.name}-${field}`;
  if (ref.repetition !== undefined && ref.repetition > 1) {
    s += `(${ref.repetition})`;
  }
  if (ref.component !== undefined) {
    s += `.${ref.component}`;
    if (ref.subcomponent !== undefined) {
      s += `.${ref.subcomponent}`;
    }
  }
  return s;
}
