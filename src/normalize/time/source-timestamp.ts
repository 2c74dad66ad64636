import { daysInMonth, MONTH_NAMES } from '../../gs1/gs1-date';

/** A source timestamp read as an instant, with the UTC offset it was written in (or its zone had then). */
export interface SourceInstant {
  /** The instant. */
  utc: Date;
  /** The source's offset at that instant, `+01:00` / `-05:00` / `+00:00`. */
  offset: string;
  /** True when the text carried its own offset (Z or ±hh:mm); false when it was read in the zone. */
  explicitOffset: boolean;
}

/** Why a text is not a timestamp (a sentence fragment: "day 30 does not exist in February 2026"). */
export type TimestampProblem = { problem: string };

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
function checkDate(y: number, m: number, d: number): string | undefined {
  if (m < 1 || m > 12) {
    return `month ${m} does not exist`;
  }
  if (d < 1 || d > daysInMonth(y, m)) {
    return `day ${d} does not exist in ${MONTH_NAMES[m - 1]} ${y}`;
  }
  return undefined;
}

/**
 * Reads a calendar date `YYYY-MM-DD`, checking that the day exists.
 * @param text - the date as written
 * @returns the same text when valid, or the problem
 */
export function parseCalendarDate(text: string): string | TimestampProblem {
  const m = DATE.exec(text);
  if (!m) {
    return { problem: `"${text}" is not a date of the form YYYY-MM-DD` };
  }
  const problem = checkDate(Number(m[1]), Number(m[2]), Number(m[3]));
  return problem ? { problem: `"${text}" is not a valid date: ${problem}` } : text;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The last offset answered per zone, with its minute (see zoneOffsetMinutes). */
const lastOffset = new Map<string, { minute: number; offset: number }>();

/**
 * The UTC offset of an IANA zone at an instant, in minutes east of UTC.
 * @param zone - IANA zone, e.g. Europe/Berlin
 * @param at - the instant
 */
export function zoneOffsetMinutes(zone: string, at: Date): number {
  // an offset changes only at a transition, and transitions fall on whole minutes: within one minute
  // the offset is the same, so the last answer per zone is kept (formatToParts costs several µs, and
  // every ACK and every mapped timestamp asks; measured in the HL7 bench's CPU profile)
  const minute = Math.floor(at.getTime() / 60000);
  const last = lastOffset.get(zone);
  if (last !== undefined && last.minute === minute) return last.offset;
  const offset = computeZoneOffsetMinutes(zone, at);
  if (Number.isFinite(minute)) lastOffset.set(zone, { minute, offset });
  return offset;
}

function computeZoneOffsetMinutes(zone: string, at: Date): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(at)) {
    if (p.type !== 'literal') {
      parts[p.type] = Number(p.value);
    }
  }
  const asUtc = utcWallMillis(parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second);
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60000);
}

/**
 * Milliseconds since the epoch of a UTC wall time, for every year 0000–9999: `Date.UTC` alone reads
 * the years 0–99 as 1900–1999.
 * @param y - year; mo - month 1–12; the rest as Date.UTC takes them
 */
export function utcWallMillis(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  if (y >= 100) return Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const t = new Date(Date.UTC(2000, 0, 1, h, mi, s, ms));
  t.setUTCFullYear(y, mo - 1, d);
  return t.getTime();
}

/**
 * `+01:00` for 60, `-05:30` for -330.
 * @param minutes - offset in minutes east of UTC
 */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * Reads an ISO-8601 timestamp as a WMS or other source writes it: `2026-03-01T10:15:00Z`,
 * `2026-03-01T11:15:00+01:00`, or without an offset (`2026-03-01 11:15`), which is local time in
 * `zone` (the connector's LOTBRIDGE_TIMEZONE or override). Checks the calendar (2026-02-30 is
 * refused) and the clock. A local time in a DST gap or overlap takes the zone's offset before the change.
 * @param text - the timestamp as written
 * @param zone - IANA zone for text without an offset
 * @returns the instant and offset, or the problem
 */
export function parseSourceTimestamp(text: string, zone: string): SourceInstant | TimestampProblem {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) {
    return DATE.test(text.trim())
      ? { problem: `"${text}" has no time of day (write e.g. ${text.trim()}T00:00:00Z)` }
      : { problem: `"${text}" is not an ISO-8601 timestamp (e.g. 2026-03-01T10:15:00Z)` };
  }
  const [y, mo, d, h, mi] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const s = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  const dateProblem = checkDate(y, mo, d);
  if (dateProblem) {
    return { problem: `"${text}" is not a valid date: ${dateProblem}` };
  }
  if (h > 23 || mi > 59 || s > 59) {
    return { problem: `"${text}" is not a valid time of day` };
  }
  const wall = utcWallMillis(y, mo, d, h, mi, s, ms);
  const tz = m[8];
  if (tz !== undefined) {
    let offset = 0;
    if (tz !== 'Z' && tz !== 'z') {
      const digits = tz.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
      // no zone is more than 14 hours from UTC (and EPCIS's eventTimeZoneOffset stops at ±14:00)
      if (oh * 60 + om > 14 * 60 || om > 59) {
        return { problem: `"${text}" has an impossible UTC offset ${tz}` };
      }
      offset = (tz[0] === '-' ? -1 : 1) * (oh * 60 + om);
    }
    return { utc: new Date(wall - offset * 60000), offset: formatOffset(offset), explicitOffset: true };
  }
  // local time in `zone`: try the offsets in force a day before and a day after; in an overlap the
  // earlier instant wins, in a gap the offset before the change places it (02:30 → 03:30 in spring)
  const day = 86_400_000;
  const before = zoneOffsetMinutes(zone, new Date(wall - day));
  const after = zoneOffsetMinutes(zone, new Date(wall + day));
  const fits = (off: number): boolean => zoneOffsetMinutes(zone, new Date(wall - off * 60000)) === off;
  const chosen = fits(before) ? before : fits(after) ? after : before;
  const utc = wall - chosen * 60000;
  return { utc: new Date(utc), offset: formatOffset(zoneOffsetMinutes(zone, new Date(utc))), explicitOffset: false };
}

/**
 * True when a {@link parseSourceTimestamp} / {@link parseCalendarDate} result is a problem.
 * @param r - the result
 */
export function isTimestampProblem(r: unknown): r is TimestampProblem {
  return typeof r === 'object' && r !== null && 'problem' in r;
}
