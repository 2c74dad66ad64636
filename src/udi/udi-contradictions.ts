import type { UdiDecoded } from './udi-decode';

/** The separately given values a decoded UDI is compared with (e.g. HL7 PRT-18/19/20 and the device identifier). */
export interface UdiGivenFields {
  /** Lot or batch number. */
  lot?: string | null;
  /** Expiry: YYYY-MM-DD, YYYYMMDD, an HL7 DTM (YYYYMMDD[HHMM[SS]][±ZZZZ]) or ISO 8601 date-time; YYYYMM or YYYY-MM for a month. */
  expiry?: string | null;
  /** Serial number. */
  serial?: string | null;
  /** Device identifier: a GTIN (8-14 digits, `(01)` allowed) for GS1, the primary data (LIC + product + unit of measure, `+` and check character allowed) for HIBCC. */
  gtin?: string | null;
}

/** One field on which the UDI and the given value disagree. */
export interface UdiContradiction {
  field: 'lot' | 'expiry' | 'serial' | 'gtin';
  /** The value the UDI carries, as decoded (expiry as YYYY-MM-DD). */
  udiValue: string;
  /** The given value, as given. */
  givenValue: string;
  /** A sentence for an alert: what disagrees with what. */
  message: string;
}

const blank = (v: string | null | undefined): v is null | undefined => v === undefined || v === null || v.trim() === '';

/** A given expiry as { ym: 'YYYY-MM', day?: 'DD' }, or undefined when it is not a date. */
function parseGivenDate(value: string): { ym: string; day?: string } | undefined {
  const m = /^(\d{4})-?(\d{2})(?:-?(\d{2}))?(?:$|[T\s]|\d|[+-]\d{2}:?\d{2}$|Z$)/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d] = m;
  if (Number(mo) < 1 || Number(mo) > 12) return undefined;
  return d === undefined ? { ym: `${y}-${mo}` } : { ym: `${y}-${mo}`, day: d };
}

/** True when the UDI knows its expiry to the month only (GS1 day 00, HIBC MMYY). */
function udiExpiryMonthOnly(decoded: UdiDecoded): boolean {
  if (decoded.scheme === 'hibcc') return decoded.expiryFormat === 'MMYY';
  const el = decoded.elements.find((e) => e.ai === '17');
  return el !== undefined && el.value.endsWith('00');
}

/** The GTIN-14 a given device identifier stands for, or undefined when it is not a GTIN. */
function normalizeGtin(value: string): string | undefined {
  let digits = value.replace(/[\s-]/g, '');
  if (digits.startsWith('(01)')) digits = digits.slice(4);
  else if (digits.length === 16 && digits.startsWith('01')) digits = digits.slice(2);
  if (!/^\d+$/.test(digits) || ![8, 12, 13, 14].includes(digits.length)) return undefined;
  return digits.padStart(14, '0');
}

/**
 * Lists where a decoded UDI (GS1 or HIBCC) contradicts separately given lot, expiry, serial and
 * device-identifier values, e.g. an HL7 PRT-10 UDI against PRT-18/19/20. A field counts only when both
 * sides have it: a value the UDI lacks is not a contradiction. Lot and serial compare trimmed, exactly
 * for GS1 and ignoring case for HIBCC (HIBC data is upper case). An expiry the UDI knows to the month
 * only (GS1 day 00, HIBC MMYY), or a given month (YYYYMM), compares by month; a given expiry that is
 * not a date is reported as a contradiction.
 *
 * @param decoded - the result of decodeUdi, decodeGs1 or decodeHibcc.
 * @param fields - the separately given values; absent, null or blank ones are skipped.
 * @returns the contradictions, in the order lot, expiry, serial, gtin; empty when all agree.
 */
export function udiContradictions(decoded: UdiDecoded, fields: UdiGivenFields): UdiContradiction[] {
  const out: UdiContradiction[] = [];
  const caseless = decoded.scheme === 'hibcc';
  const sameText = (a: string, b: string): boolean => (caseless ? a.trim().toUpperCase() === b.trim().toUpperCase() : a.trim() === b.trim());
  const add = (field: UdiContradiction['field'], label: string, udiValue: string, givenValue: string, why = ''): void => {
    out.push({ field, udiValue, givenValue, message: `The UDI's ${label} '${udiValue}' contradicts the given ${label} '${givenValue}'${why}` });
  };

  if (!blank(fields.lot) && decoded.lot !== undefined && !sameText(decoded.lot, fields.lot)) {
    add('lot', 'lot', decoded.lot, fields.lot);
  }
  if (!blank(fields.expiry) && decoded.expiry !== undefined) {
    const given = parseGivenDate(fields.expiry);
    if (!given) {
      add('expiry', 'expiry', decoded.expiry, fields.expiry, ' (the given expiry is not a date)');
    } else {
      const byMonth = given.day === undefined || udiExpiryMonthOnly(decoded);
      const equal = byMonth ? decoded.expiry.slice(0, 7) === given.ym : decoded.expiry === `${given.ym}-${given.day ?? ''}`;
      if (!equal) add('expiry', 'expiry', decoded.expiry, fields.expiry, byMonth ? ' (compared by month)' : '');
    }
  }
  if (!blank(fields.serial) && decoded.serial !== undefined && !sameText(decoded.serial, fields.serial)) {
    add('serial', 'serial', decoded.serial, fields.serial);
  }
  if (!blank(fields.gtin)) {
    if (decoded.scheme === 'gs1' && decoded.gtin !== undefined) {
      if (normalizeGtin(fields.gtin) !== decoded.gtin) add('gtin', 'device identifier', decoded.gtin, fields.gtin);
    } else if (decoded.scheme === 'hibcc' && decoded.deviceIdentifier !== undefined) {
      const di = decoded.deviceIdentifier;
      const given = fields.gtin.trim().toUpperCase().replace(/^\+/, '');
      if (given !== di && given !== di + decoded.checkCharacter) add('gtin', 'device identifier', di, fields.gtin);
    }
  }
  return out;
}
