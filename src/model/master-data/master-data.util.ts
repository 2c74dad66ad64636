/**
 * Small helpers shared by the master-data ops.
 */

/**
 * Rounds to `places` decimals, as the numeric(…, places) column will store it.
 * @param v - the value
 * @param places - decimal places kept
 */
export function round(v: number, places: number): number {
  const f = 10 ** places;
  return Math.round(v * f) / f;
}

/** True for a PostgreSQL unique-violation error (SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** ISO-8601 text of a timestamp column value. */
export function isoTime(v: Date | string): string {
  return new Date(v).toISOString();
}
