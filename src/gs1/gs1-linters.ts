import type { ErrorCode } from '../errors/codes';
import type { Gs1ImplementedLinterName } from './ai-table.generated';
import { daysInMonth, gs1FullYear, MONTH_NAMES } from './gs1-date';

/** Why a linter rejected a component: 0-based offset and length inside the component, and a phrase for the message. */
export interface Gs1LintFailure {
  offset: number;
  length: number;
  /** Completes "AI (01) value '…' <reason> at position N". */
  reason: string;
}

/** What a linter may need besides the data. */
export interface Gs1LintContext {
  /** "Today", for the two-digit-year century rule. */
  now: Date;
}

/** One implemented linter: the error code it raises and the check itself. */
export interface Gs1Linter {
  code: ErrorCode;
  lint(data: string, ctx: Gs1LintContext): Gs1LintFailure | undefined;
}

const isDigits = (s: string): boolean => /^[0-9]*$/.test(s);
const fail = (offset: number, length: number, reason: string): Gs1LintFailure => ({ offset, length, reason });

function firstNonDigit(data: string): Gs1LintFailure | undefined {
  for (let i = 0; i < data.length; i++) {
    const ch = data[i] ?? '';
    if (ch < '0' || ch > '9') return fail(i, 1, `has a non-digit '${ch}'`);
  }
  return undefined;
}

/** GS1 mod-10 check digit over all but the last digit (weights 3,1,… from the right). */
function mod10CheckDigit(body: string): number {
  let sum = 0;
  let weight = 3;
  for (let i = body.length - 1; i >= 0; i--) {
    sum += weight * Number(body[i]);
    weight = 4 - weight;
  }
  return (10 - (sum % 10)) % 10;
}

const CSET82_ORDER = '!"%&\'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const CSET32_ORDER = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';

function firstPrimes(count: number): number[] {
  const primes: number[] = [];
  for (let n = 2; primes.length < count; n++) {
    if (primes.every((p) => n % p !== 0)) primes.push(n);
  }
  return primes;
}
const PRIMES = firstPrimes(97);

/** Calendar check shared by the date linters; `yyyy` is the full year, `allowDayZero` permits DD=00. */
function checkYmd(yyyy: number, mm: string, dd: string, monthOffset: number, allowDayZero: boolean): Gs1LintFailure | undefined {
  const month = Number(mm);
  if (month < 1 || month > 12) return fail(monthOffset, 2, `has an invalid month '${mm}'`);
  const day = Number(dd);
  const max = daysInMonth(yyyy, month);
  const monthName = MONTH_NAMES[month - 1] ?? mm;
  if (day === 0 && !allowDayZero) return fail(monthOffset + 2, 2, "has day '00', which this AI does not allow");
  if (day > max) return fail(monthOffset + 2, 2, `has an invalid day '${dd}' (${monthName} ${yyyy} has ${max} days)`);
  return undefined;
}

function yymmdd(data: string, ctx: Gs1LintContext, allowDayZero: boolean): Gs1LintFailure | undefined {
  if (data.length !== 6) return fail(0, data.length, 'is not a 6-digit date YYMMDD');
  const nd = firstNonDigit(data);
  if (nd) return nd;
  const year = gs1FullYear(Number(data.slice(0, 2)), ctx.now);
  return checkYmd(year, data.slice(2, 4), data.slice(4, 6), 2, allowDayZero);
}

function twoDigitRange(data: string, max: number, what: string): Gs1LintFailure | undefined {
  if (data.length !== 2) return fail(0, data.length, `is not a 2-digit ${what}`);
  const nd = firstNonDigit(data);
  if (nd) return nd;
  if (Number(data) > max) return fail(0, 2, `has an invalid ${what} '${data}' (00-${max})`);
  return undefined;
}

function gcpAt(data: string, start: number): Gs1LintFailure | undefined {
  const minGcp = 4;
  if (data.length - start < minGcp) return fail(0, data.length, 'is too short to start with a GS1 Company Prefix');
  for (let i = start; i < start + minGcp; i++) {
    const ch = data[i] ?? '';
    if (ch < '0' || ch > '9') return fail(i, 1, `does not start with a GS1 Company Prefix (non-digit '${ch}')`);
  }
  return undefined;
}

function oneOf(data: string, allowed: string, what: string): Gs1LintFailure | undefined {
  if (data.length !== 1 || !allowed.includes(data)) return fail(0, data.length, `is not a valid ${what} (one of ${allowed.split('').join(', ')})`);
  return undefined;
}

/**
 * Every linter of the GS1 Barcode Syntax Dictionary that LotBridge runs, keyed by its dictionary name.
 * The type forces an entry for each linter the generated table names and does not list as skipped,
 * so a dictionary release with a new linter fails the type check until it is implemented or skipped
 * (with a reason) in scripts/gen-gs1-ai-table.js.
 */
export const gs1Linters: Readonly<Record<Gs1ImplementedLinterName, Gs1Linter>> = {
  csum: {
    code: 'LB_ERR_GS1_CHECK_DIGIT',
    lint(data) {
      if (data.length < 2) return fail(0, data.length, 'is too short to carry a check digit');
      const nd = firstNonDigit(data);
      if (nd) return nd;
      const expected = mod10CheckDigit(data.slice(0, -1));
      if (Number(data[data.length - 1]) !== expected) return fail(data.length - 1, 1, `has a wrong check digit (expected ${expected})`);
      return undefined;
    },
  },
  csumalpha: {
    code: 'LB_ERR_GS1_CHECK_DIGIT',
    lint(data) {
      if (data.length < 2) return fail(0, data.length, 'is too short to carry a check character pair');
      const body = data.slice(0, -2);
      if (body.length > PRIMES.length) return fail(0, data.length, 'is too long for the check character pair calculation');
      let sum = 0;
      for (let i = 0; i < body.length; i++) {
        const w = CSET82_ORDER.indexOf(body[i] ?? '');
        if (w < 0) return fail(i, 1, `has a character '${body[i] ?? ''}' outside CSET 82`);
        sum += w * (PRIMES[body.length - 1 - i] ?? 0);
      }
      sum %= 1021;
      const expected = `${CSET32_ORDER[sum >> 5] ?? ''}${CSET32_ORDER[sum & 31] ?? ''}`;
      if (data.slice(-2) !== expected) return fail(data.length - 2, 2, `has a wrong check character pair (expected ${expected})`);
      return undefined;
    },
  },
  gcppos1: { code: 'LB_ERR_GS1_INVALID_VALUE', lint: (data) => gcpAt(data, 0) },
  gcppos2: { code: 'LB_ERR_GS1_INVALID_VALUE', lint: (data) => gcpAt(data, 1) },
  hasnondigit: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint: (data) => (isDigits(data) ? fail(0, data.length, 'must contain at least one non-digit character') : undefined),
  },
  hh: { code: 'LB_ERR_GS1_DATE', lint: (data) => twoDigitRange(data, 23, 'hour') },
  mi: { code: 'LB_ERR_GS1_DATE', lint: (data) => twoDigitRange(data, 59, 'minute') },
  ss: { code: 'LB_ERR_GS1_DATE', lint: (data) => twoDigitRange(data, 59, 'second') },
  hhmi: {
    code: 'LB_ERR_GS1_DATE',
    lint(data) {
      if (data.length !== 4) return fail(0, data.length, 'is not a 4-digit time HHMM');
      const h = twoDigitRange(data.slice(0, 2), 23, 'hour');
      if (h) return h;
      const m = twoDigitRange(data.slice(2), 59, 'minute');
      return m ? { ...m, offset: m.offset + 2 } : undefined;
    },
  },
  hyphen: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint: (data) => (data.length > 0 && /^-+$/.test(data) ? undefined : fail(0, data.length, "must be '-' here")),
  },
  importeridx: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint: (data) => (/^[-0-9A-Z_a-z]$/.test(data) ? undefined : fail(0, data.length, 'has an invalid importer index (one of 0-9, A-Z, a-z, -, _)')),
  },
  iso5218: { code: 'LB_ERR_GS1_INVALID_VALUE', lint: (data) => oneOf(data, '0129', 'ISO 5218 sex code') },
  latitude: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint(data) {
      if (data.length !== 10) return fail(0, data.length, 'is not a 10-digit latitude');
      return firstNonDigit(data) ?? (Number(data) > 1800000000 ? fail(0, 10, 'has a latitude out of range (0-1800000000)') : undefined);
    },
  },
  longitude: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint(data) {
      if (data.length !== 10) return fail(0, data.length, 'is not a 10-digit longitude');
      return firstNonDigit(data) ?? (Number(data) > 3600000000 ? fail(0, 10, 'has a longitude out of range (0-3600000000)') : undefined);
    },
  },
  mediatype: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint(data) {
      const n = /^[0-9]{2}$/.test(data) ? Number(data) : -1;
      return (n >= 1 && n <= 10) || (n >= 80 && n <= 99) ? undefined : fail(0, data.length, 'is not an assigned AIDC media type (01-10, 80-99)');
    },
  },
  nonzero: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint: (data) => firstNonDigit(data) ?? (/^0*$/.test(data) ? fail(0, data.length, 'must not be zero') : undefined),
  },
  nozeroprefix: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint: (data) => (data.startsWith('0') ? fail(0, 1, 'must not start with 0') : firstNonDigit(data)),
  },
  pcenc: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint(data) {
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== '%') continue;
        if (!/^[0-9A-Fa-f]{2}$/.test(data.slice(i + 1, i + 3))) return fail(i, Math.min(3, data.length - i), 'has an invalid percent-encoding sequence');
        i += 2;
      }
      return undefined;
    },
  },
  pieceoftotal: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint(data) {
      const nd = firstNonDigit(data);
      if (nd) return nd;
      if (data.length === 0 || data.length % 2 !== 0) return fail(0, data.length, 'is not a piece number and total of equal length');
      const half = data.length / 2;
      const piece = data.slice(0, half);
      const total = data.slice(half);
      if (/^0+$/.test(piece)) return fail(0, half, 'has piece number 0');
      if (/^0+$/.test(total)) return fail(half, half, 'has total 0');
      if (piece > total) return fail(0, data.length, `has piece number ${piece} greater than the total ${total}`);
      return undefined;
    },
  },
  posinseqslash: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint(data) {
      const m = /^([0-9]+)\/([0-9]+)$/.exec(data);
      if (!m) return fail(0, data.length, "is not a position in sequence 'n/m'");
      const pos = m[1] ?? '';
      const end = m[2] ?? '';
      if (pos.startsWith('0')) return fail(0, pos.length, 'has a position with a leading zero');
      if (end.startsWith('0')) return fail(pos.length + 1, end.length, 'has a sequence length with a leading zero');
      if (BigInt(pos) > BigInt(end)) return fail(0, data.length, `has position ${pos} beyond the sequence length ${end}`);
      return undefined;
    },
  },
  winding: { code: 'LB_ERR_GS1_INVALID_VALUE', lint: (data) => oneOf(data, '019', 'winding direction') },
  yesno: { code: 'LB_ERR_GS1_INVALID_VALUE', lint: (data) => oneOf(data, '01', 'yes/no flag') },
  zero: {
    code: 'LB_ERR_GS1_INVALID_VALUE',
    lint: (data) => (data.length > 0 && /^0+$/.test(data) ? undefined : fail(0, data.length, 'must be 0 here')),
  },
  yymmd0: { code: 'LB_ERR_GS1_DATE', lint: (data, ctx) => yymmdd(data, ctx, true) },
  yymmdd: { code: 'LB_ERR_GS1_DATE', lint: (data, ctx) => yymmdd(data, ctx, false) },
  yyyymmdd: {
    code: 'LB_ERR_GS1_DATE',
    lint(data) {
      if (data.length !== 8) return fail(0, data.length, 'is not an 8-digit date YYYYMMDD');
      return firstNonDigit(data) ?? checkYmd(Number(data.slice(0, 4)), data.slice(4, 6), data.slice(6, 8), 4, false);
    },
  },
};
