import { describeHibccChar } from './hibcc-charset';
import type { HibccDate, HibccDateFormat } from './hibcc-date';
import { HIBCC_DATE_LENGTH, isHibccDateProblem, parseHibccDate } from './hibcc-date';
import type { HibccElement } from './hibcc-error';
import { hibccError } from './hibcc-error';

/** Longest lot, batch or serial number (ANSI/HIBC 2.x: 18 characters). */
export const HIBCC_MAX_LOT = 18;

/** A date read from the secondary or supplementary data, with where it was. */
export interface HibccDatedValue extends HibccDate {
  format: HibccDateFormat;
  /** 1-based position of the first digit. */
  position: number;
}

/** What one secondary data structure (plus its supplementary fields) holds. */
export interface HibccSecondaryData {
  lot?: string;
  serial?: string;
  expiry?: HibccDatedValue;
  manufactureDate?: HibccDatedValue;
  quantity?: number;
}

/** `$$` format digits 2-6 and the date format each one announces. */
const DATE_FORMAT_DIGITS: Readonly<Record<string, HibccDateFormat>> = {
  '2': 'MMDDYY',
  '3': 'YYMMDD',
  '4': 'YYMMDDHH',
  '5': 'YYJJJ',
  '6': 'YYJJJHH',
};

const FORMAT_DIGITS_TEXT =
  '0 or 1 (MMYY), 2 (MMDDYY), 3 (YYMMDD), 4 (YYMMDDHH), 5 (YYJJJ), 6 (YYJJJHH), 7 (no date), 8 (2-digit quantity) or 9 (5-digit quantity)';

/** Characters of a lot, batch or serial number: letters, digits, '-' and '.'. */
const LOT_CHAR = /^[0-9A-Z.-]$/;
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Reads a secondary data structure and its supplementary fields from `text[from, to)` (no `+` flag,
 * no link or check character). Layout (ANSI/HIBC 2.x):
 *
 * - `$` lot · `$+` serial · `YYJJJ` lot (the superseded Julian-date format)
 * - `$$` / `$$+` (lot / serial) then a format digit: `0`/`1` is the first digit of MMYY, `2`-`6` announce
 *   MMDDYY, YYMMDD, YYMMDDHH, YYJJJ, YYJJJHH, `7` no date, `8`/`9` a 2/5-digit quantity followed by an
 *   optional date (format digit 0-7 again)
 * - then `/`-separated supplementary fields: `14D` expiry YYYYMMDD, `16D` manufacture date YYYYMMDD,
 *   `S` serial, `Q` quantity (the last field)
 */
export function parseHibccSecondary(text: string, from: number, to: number, now: Date): HibccSecondaryData {
  if (from >= to) {
    throw hibccError('LB_ERR_HIBCC_SYNTAX', `The HIBC secondary data is empty at position ${from + 1}`, from + 1, 'secondary');
  }
  const slash = text.indexOf('/', from);
  const mainEnd = slash >= 0 && slash < to ? slash : to;
  const out: HibccSecondaryData = {};
  let p = from;
  let target: 'lot' | 'serial' = 'lot';
  let requireValue = false;

  const readDate = (at: number, format: HibccDateFormat, element: 'expiry' | 'manufactureDate', end: number): HibccDatedValue => {
    const len = HIBCC_DATE_LENGTH[format];
    const value = text.slice(at, Math.min(at + len, end));
    const what = element === 'expiry' ? 'expiry date' : 'manufacture date';
    if (value.length < len) {
      throw hibccError(
        'LB_ERR_HIBCC_DATE',
        `HIBC ${what} '${value}' is too short: format ${format} takes ${len} digits at position ${at + 1}`,
        at + 1,
        element,
        { value, format },
      );
    }
    const parsed = parseHibccDate(value, format, now);
    if (isHibccDateProblem(parsed)) {
      throw hibccError('LB_ERR_HIBCC_DATE', `HIBC ${what} '${value}' (${format}) ${parsed.reason} at position ${at + parsed.index + 1}`, at + parsed.index + 1, element, {
        value,
        format,
      });
    }
    return { ...parsed, format, position: at + 1 };
  };

  const readQuantity = (at: number, digits: number): number => {
    const value = text.slice(at, Math.min(at + digits, mainEnd));
    const bad = [...value].findIndex((c) => !isDigit(c));
    if (value.length < digits || bad >= 0) {
      const pos = bad >= 0 ? at + bad + 1 : at + value.length + 1;
      throw hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC quantity '${value}' after '$$${digits === 2 ? 8 : 9}' must be ${digits} digits at position ${pos}`, pos, 'quantity', {
        value,
      });
    }
    return Number(value);
  };

  /** Reads the `$$` format digit at `at` (8/9 only when `quantityAllowed`); returns where the lot or serial starts. */
  const readFormat = (at: number, quantityAllowed: boolean): number => {
    const f = at < mainEnd ? text[at] : undefined;
    if (f === '0' || f === '1') {
      out.expiry = readDate(at, 'MMYY', 'expiry', mainEnd);
      return at + 4;
    }
    const format = f === undefined ? undefined : DATE_FORMAT_DIGITS[f];
    if (format) {
      out.expiry = readDate(at + 1, format, 'expiry', mainEnd);
      return at + 1 + HIBCC_DATE_LENGTH[format];
    }
    if (f === '7') return at + 1;
    if ((f === '8' || f === '9') && quantityAllowed) {
      const digits = f === '8' ? 2 : 5;
      out.quantity = readQuantity(at + 1, digits);
      const next = at + 1 + digits;
      // the date after the quantity is optional: a format digit 0-7 announces it
      if (next < mainEnd && (text[next] ?? '') >= '0' && (text[next] ?? '') <= '7') return readFormat(next, false);
      return next;
    }
    const found = f === undefined ? 'nothing' : describeHibccChar(f);
    throw hibccError(
      'LB_ERR_HIBCC_SYNTAX',
      `HIBC '$$' must be followed by a format digit ${quantityAllowed ? FORMAT_DIGITS_TEXT : '0 to 7 (date after a quantity)'}, found ${found} at position ${at + 1}`,
      at + 1,
      'format',
    );
  };

  const first = text[p];
  if (first === '$') {
    if (text[p + 1] === '$' && p + 1 < mainEnd) {
      p += 2;
      if (text[p] === '+' && p < mainEnd) {
        target = 'serial';
        p++;
      }
      requireValue = target === 'serial';
      p = readFormat(p, true);
    } else if (text[p + 1] === '+' && p + 1 < mainEnd) {
      target = 'serial';
      requireValue = true;
      p += 2;
    } else {
      p += 1;
    }
  } else if (isDigit(first)) {
    // superseded format: a five-digit Julian expiry date YYJJJ right after the flag, then the lot
    out.expiry = readDate(p, 'YYJJJ', 'expiry', mainEnd);
    p += 5;
  } else {
    throw hibccError(
      'LB_ERR_HIBCC_SYNTAX',
      `HIBC secondary data starts with '$' (lot), '$+' (serial), '$$' (date/quantity format) or a 5-digit Julian date, found ${describeHibccChar(first ?? '')} at position ${p + 1}`,
      p + 1,
      'secondary',
    );
  }

  const value = text.slice(p, mainEnd);
  checkLotChars(value, p, target);
  if (value.length === 0 && requireValue) {
    throw hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC secondary data announces a serial number, but none follows at position ${p + 1}`, p + 1, 'serial');
  }
  if (value.length > 0) out[target] = value;

  if (mainEnd < to) parseSupplementary(text, mainEnd + 1, to, out, readDate);
  return out;
}

/** Checks a lot/serial value at `start`: 1-18 characters (when present) of 0-9 A-Z '-' '.'. */
function checkLotChars(value: string, start: number, element: 'lot' | 'serial', dataIdentifier?: string): void {
  const what = element === 'lot' ? 'lot number' : 'serial number';
  const where = dataIdentifier ? ` (supplementary field ${dataIdentifier})` : '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] ?? '';
    if (!LOT_CHAR.test(ch)) {
      throw hibccError(
        'LB_ERR_HIBCC_CHARSET',
        `HIBC ${what} '${value}'${where} has a character ${describeHibccChar(ch)} outside 0-9, A-Z, '-' and '.' at position ${start + i + 1}`,
        start + i + 1,
        element,
        { value },
      );
    }
  }
  if (value.length > HIBCC_MAX_LOT) {
    throw hibccError(
      'LB_ERR_HIBCC_LENGTH',
      `HIBC ${what} '${value}'${where} is ${value.length} characters long (at most ${HIBCC_MAX_LOT}) at position ${start + HIBCC_MAX_LOT + 1}`,
      start + HIBCC_MAX_LOT + 1,
      element,
      { value, max: HIBCC_MAX_LOT },
    );
  }
}

type ReadDate = (at: number, format: HibccDateFormat, element: 'expiry' | 'manufactureDate', end: number) => HibccDatedValue;

/** Same date, where one that is known to the month only matches any day of that month. */
function sameDate(a: HibccDatedValue, b: HibccDatedValue): boolean {
  if (a.monthOnly || b.monthOnly) return a.iso.slice(0, 7) === b.iso.slice(0, 7);
  return a.iso === b.iso;
}

/** Reads the `/`-separated supplementary fields in `text[from, to)` into `out`, refusing contradictions. */
function parseSupplementary(text: string, from: number, to: number, out: HibccSecondaryData, readDate: ReadDate): void {
  let start = from;
  while (start <= to) {
    const slash = text.indexOf('/', start);
    const end = slash >= 0 && slash < to ? slash : to;
    const field = text.slice(start, end);
    const conflict = (element: HibccElement, what: string, first: string, second: string): never => {
      throw hibccError('LB_ERR_HIBCC_CONFLICT', `HIBC ${what} is given twice with different values ('${first}', then '${second}') at position ${start + 1}`, start + 1, element, {
        first,
        second,
      });
    };
    if (field.length === 0) {
      throw hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC supplementary data field is empty at position ${start + 1}`, start + 1, 'supplementary');
    }
    if (field.startsWith('14D') || field.startsWith('16D')) {
      const element = field.startsWith('14D') ? 'expiry' : 'manufactureDate';
      const dataId = field.slice(0, 3);
      if (field.length !== 11) {
        throw hibccError(
          'LB_ERR_HIBCC_DATE',
          `HIBC supplementary field ${dataId} value '${field.slice(3)}' must be a date YYYYMMDD (8 digits) at position ${start + 4}`,
          start + 4,
          element,
          { value: field.slice(3) },
        );
      }
      const date = readDate(start + 3, 'YYYYMMDD', element, end);
      const earlier = out[element];
      if (earlier && !sameDate(earlier, date)) conflict(element, element === 'expiry' ? 'expiry date' : 'manufacture date', earlier.iso, date.iso);
      // a full date refines a month-only one
      if (!earlier || earlier.monthOnly) out[element] = date;
    } else if (field.startsWith('S')) {
      const value = field.slice(1);
      if (value.length === 0) {
        throw hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC supplementary field S holds no serial number at position ${start + 2}`, start + 2, 'serial');
      }
      checkLotChars(value, start + 1, 'serial', 'S');
      if (out.serial !== undefined && out.serial !== value) conflict('serial', 'serial number', out.serial, value);
      out.serial = value;
    } else if (field.startsWith('Q')) {
      const value = field.slice(1);
      const bad = [...value].findIndex((c) => !isDigit(c));
      if (value.length === 0 || value.length > 5 || bad >= 0) {
        const pos = bad >= 0 ? start + 2 + bad : start + 2;
        throw hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC supplementary field Q value '${value}' must be a quantity of 1 to 5 digits at position ${pos}`, pos, 'quantity', { value });
      }
      if (end < to) {
        throw hibccError('LB_ERR_HIBCC_SYNTAX', `HIBC supplementary field Q (quantity) must be the last field, but more data follows at position ${end + 1}`, end + 1, 'quantity');
      }
      if (out.quantity !== undefined && out.quantity !== Number(value)) conflict('quantity', 'quantity', String(out.quantity), value);
      out.quantity = Number(value);
    } else {
      throw hibccError(
        'LB_ERR_HIBCC_SYNTAX',
        `HIBC supplementary field '${field}' has an unknown data identifier (14D expiry, 16D manufacture date, S serial or Q quantity) at position ${start + 1}`,
        start + 1,
        'supplementary',
        { field },
      );
    }
    if (end >= to) break;
    start = end + 1;
  }
}
