import { daysInMonth, gs1FullYear, MONTH_NAMES } from './gs1-date';

/** The date formats of HIBC secondary and supplementary data. */
export type HibccDateFormat = 'MMYY' | 'MMDDYY' | 'YYMMDD' | 'YYMMDDHH' | 'YYJJJ' | 'YYJJJHH' | 'YYYYMMDD';

/** Number of digits of each format. */
export const HIBCC_DATE_LENGTH: Readonly<Record<HibccDateFormat, number>> = {
  MMYY: 4,
  MMDDYY: 6,
  YYMMDD: 6,
  YYMMDDHH: 8,
  YYJJJ: 5,
  YYJJJHH: 7,
  YYYYMMDD: 8,
};

/** A valid HIBC date. */
export interface HibccDate {
  /** YYYY-MM-DD; `MMYY` resolves to the last day of the month. */
  iso: string;
  /** Hour 0-23 of the `…HH` formats. */
  hour?: number;
  /** True for `MMYY`: only the month is known. */
  monthOnly: boolean;
}

/** Why a date is invalid: the 0-based index of the offending part in the value, and a phrase. */
export interface HibccDateProblem {
  index: number;
  reason: string;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Day of year (1-based) → month and day. */
function fromDayOfYear(year: number, dayOfYear: number): { month: number; day: number } {
  let rest = dayOfYear;
  for (let month = 1; month <= 12; month++) {
    const days = daysInMonth(year, month);
    if (rest <= days) return { month, day: rest };
    rest -= days;
  }
  return { month: 12, day: 31 };
}

/**
 * Parses a date of a HIBC format. Two-digit years use the GS1 century rule (within -49 … +50 years of
 * `now`), as the HIBC standard gives none of its own.
 *
 * @param value - exactly the digits of the format (callers check the length).
 * @returns the date, or the problem with the index of the offending part of `value`.
 */
export function parseHibccDate(value: string, format: HibccDateFormat, now: Date): HibccDate | HibccDateProblem {
  const nonDigit = [...value].findIndex((c) => c < '0' || c > '9');
  if (nonDigit >= 0) {
    return { index: nonDigit, reason: `has a character '${value[nonDigit] ?? ''}' that is not a digit` };
  }
  const num = (from: number, len: number): number => Number(value.slice(from, from + len));
  let year: number;
  let month: number;
  let day: number | undefined;
  let hour: number | undefined;
  let monthAt: number;
  let dayAt = -1;
  let hourAt = -1;
  switch (format) {
    case 'MMYY':
      month = num(0, 2);
      monthAt = 0;
      year = gs1FullYear(num(2, 2), now);
      break;
    case 'MMDDYY':
      month = num(0, 2);
      monthAt = 0;
      day = num(2, 2);
      dayAt = 2;
      year = gs1FullYear(num(4, 2), now);
      break;
    case 'YYMMDD':
    case 'YYMMDDHH':
      year = gs1FullYear(num(0, 2), now);
      month = num(2, 2);
      monthAt = 2;
      day = num(4, 2);
      dayAt = 4;
      if (format === 'YYMMDDHH') {
        hour = num(6, 2);
        hourAt = 6;
      }
      break;
    case 'YYYYMMDD':
      year = num(0, 4);
      month = num(4, 2);
      monthAt = 4;
      day = num(6, 2);
      dayAt = 6;
      break;
    case 'YYJJJ':
    case 'YYJJJHH': {
      year = gs1FullYear(num(0, 2), now);
      const jjj = num(2, 3);
      const daysInYear = daysInMonth(year, 2) === 29 ? 366 : 365;
      if (jjj < 1 || jjj > daysInYear) {
        return { index: 2, reason: `has an invalid Julian day '${value.slice(2, 5)}' (${year} has days 001 to ${daysInYear})` };
      }
      if (format === 'YYJJJHH') {
        hour = num(5, 2);
        if (hour > 23) return { index: 5, reason: `has an invalid hour '${value.slice(5, 7)}' (00 to 23)` };
      }
      const md = fromDayOfYear(year, jjj);
      const out: HibccDate = { iso: `${pad(year, 4)}-${pad(md.month, 2)}-${pad(md.day, 2)}`, monthOnly: false };
      if (hour !== undefined) out.hour = hour;
      return out;
    }
  }
  if (month < 1 || month > 12) {
    return { index: monthAt, reason: `has an invalid month '${value.slice(monthAt, monthAt + 2)}' (01 to 12)` };
  }
  const last = daysInMonth(year, month);
  if (day !== undefined && (day < 1 || day > last)) {
    return {
      index: dayAt,
      reason: `has an invalid day '${value.slice(dayAt, dayAt + 2)}' (${MONTH_NAMES[month - 1] ?? ''} ${year} has ${last} days)`,
    };
  }
  if (hour !== undefined && hour > 23) {
    return { index: hourAt, reason: `has an invalid hour '${value.slice(hourAt, hourAt + 2)}' (00 to 23)` };
  }
  const out: HibccDate = { iso: `${pad(year, 4)}-${pad(month, 2)}-${pad(day ?? last, 2)}`, monthOnly: day === undefined };
  if (hour !== undefined) out.hour = hour;
  return out;
}

/** True when `r` is a problem rather than a date. */
export function isHibccDateProblem(r: HibccDate | HibccDateProblem): r is HibccDateProblem {
  return 'reason' in r;
}
