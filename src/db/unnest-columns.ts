/**
 * Set-based statements whose text never varies with the batch (so they can be named prepared
 * statements, src/db/named-statement.ts): each column travels as one typed array and `unnest`
 * turns the arrays back into rows.
 */

/** Columns of a set-based insert with their PostgreSQL types: `[['id', 'uuid'], ['quantity', 'numeric'], …]`. */
export type ColumnTypes = ReadonlyArray<readonly [string, string]>;

/** `a, b, c`: the column names, for an INSERT's column list. */
export function columnList(cols: ColumnTypes): string {
  return cols.map(([c]) => c).join(', ');
}

/** `unnest(?::uuid[], …) AS t(id, …)`: the rows of the arrays bound in `cols` order (see columnArrays). */
export function unnestOf(cols: ColumnTypes): string {
  return `unnest(${cols.map(([, t]) => `?::${t}[]`).join(', ')}) AS t(${columnList(cols)})`;
}

/** Columns of `rows` as arrays in the order of `cols`; throws when a row has a column `cols` does not write. */
export function columnArrays(rows: ReadonlyArray<Record<string, unknown>>, cols: ColumnTypes): unknown[][] {
  const known = new Set(cols.map(([c]) => c));
  for (const r of rows.slice(0, 1)) {
    const lost = Object.keys(r).filter((k) => !known.has(k));
    if (lost.length > 0) throw new Error(`rows have columns the batch statement does not write: ${lost.join(', ')}`);
  }
  return cols.map(([c]) => rows.map((r) => r[c] ?? null));
}
