/**
 * GS1 two-digit-year rule (GS1 General Specifications, "Determination of century in dates"): YY is
 * read in the century that puts it within -49 ... +50 years of the current year.
 */
export function gs1FullYear(yy: number, now: Date): number {
  const current = now.getUTCFullYear();
  const currentYy = current % 100;
  const century = current - currentYy;
  const diff = yy - currentYy;
  if (diff >= 51) return century - 100 + yy;
  if (diff <= -50) return century + 100 + yy;
  return century + yy;
}

/** Number of days in a month (1-12) of a (proleptic Gregorian) year. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** English month names for messages. */
export const MONTH_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
] as const;

/**
 * Converts an already validated GS1 YYMMDD value to YYYY-MM-DD. Day 00 ("month only") resolves to the
 * last day of the month, or the first with `dayZero: 'first'`.
 */
export function gs1DateToIso(yymmdd: string, now: Date, dayZero: 'last' | 'first' = 'last'): string {
  const year = gs1FullYear(Number(yymmdd.slice(0, 2)), now);
  const month = Number(yymmdd.slice(2, 4));
  let day = Number(yymmdd.slice(4, 6));
  if (day === 0) day = dayZero === 'last' ? daysInMonth(year, month) : 1;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
