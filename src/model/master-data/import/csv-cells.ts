import type { LotBridgeErrorJson } from '../../../errors';
import type { CsvRow } from './read-csv-file';

/** Collects cell errors of one row as LB_ERR_IMPORT_CSV with line, column (1-based) and field. */
export class RowReader {
  readonly errors: LotBridgeErrorJson[] = [];

  constructor(
    private readonly row: CsvRow,
    private readonly header: string[],
  ) {}

  /** Records an error for `column` of this row. */
  fail(column: string, message: string, details?: Record<string, unknown>): void {
    const idx = this.header.indexOf(column);
    this.errors.push({
      code: 'LB_ERR_IMPORT_CSV',
      message: `line ${this.row.line}, column ${column}: ${message}`,
      location: { line: this.row.line, ...(idx >= 0 ? { column: idx + 1 } : {}), field: column },
      ...(details ? { details } : {}),
    });
  }

  /** The trimmed text of a cell, or undefined when empty or absent. */
  text(column: string): string | undefined {
    return this.row.cells.get(column);
  }

  /** A required text cell. */
  required(column: string): string | undefined {
    const v = this.text(column);
    if (v === undefined) {
      this.fail(column, 'is required');
    }
    return v;
  }

  /** A number cell (`.` or a lone `,` as decimal separator). */
  number(column: string, opts: { integer?: boolean; min?: number; exclusiveMin?: number } = {}): number | undefined {
    const v = this.text(column);
    if (v === undefined) {
      return undefined;
    }
    const s = /^-?\d+,\d+$/.test(v) ? v.replace(',', '.') : v;
    if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(s)) {
      this.fail(column, `"${v}" is not a number`);
      return undefined;
    }
    const n = Number(s);
    if (opts.integer && !Number.isInteger(n)) {
      this.fail(column, `"${v}" is not a whole number`);
      return undefined;
    }
    if ((opts.min !== undefined && n < opts.min) || (opts.exclusiveMin !== undefined && n <= opts.exclusiveMin)) {
      this.fail(column, `${v} must be ${opts.min !== undefined ? `at least ${opts.min}` : `greater than ${opts.exclusiveMin}`}`);
      return undefined;
    }
    return n;
  }

  /** A yes/no cell: true/false, yes/no, y/n, 1/0, x (yes). */
  boolean(column: string): boolean | undefined {
    const v = this.text(column)?.toLowerCase();
    if (v === undefined) {
      return undefined;
    }
    if (['true', 'yes', 'y', '1', 'x', 'ja', 'oui'].includes(v)) {
      return true;
    }
    if (['false', 'no', 'n', '0', 'nein', 'non'].includes(v)) {
      return false;
    }
    this.fail(column, `"${this.text(column)}" is not yes/no (true/false, yes/no, 1/0)`);
    return undefined;
  }

  /** A cell whose value must be one of `allowed` (compared case-insensitively, returned as listed). */
  oneOf<T extends string>(column: string, allowed: readonly T[]): T | undefined {
    const v = this.text(column);
    if (v === undefined) {
      return undefined;
    }
    const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase().replace(/[\s-]+/g, '_'));
    if (!hit) {
      this.fail(column, `"${v}" is not one of ${allowed.join(', ')}`);
    }
    return hit;
  }
}

/**
 * Checks a header against the known columns: every required column present, no unknown or repeated
 * column (a typo such as `gtin_cse` would otherwise be ignored silently).
 * @param header - normalized header
 * @param known - every column the file kind has
 * @param required - columns that must be present
 * @returns errors on line 1
 */
export function checkHeader(header: string[], known: readonly string[], required: readonly string[]): LotBridgeErrorJson[] {
  const errors: LotBridgeErrorJson[] = [];
  header.forEach((h, i) => {
    if (h === '') {
      errors.push({ code: 'LB_ERR_IMPORT_CSV', message: `line 1, column ${i + 1}: empty column name`, location: { line: 1, column: i + 1 } });
    } else if (!known.includes(h)) {
      errors.push({
        code: 'LB_ERR_IMPORT_CSV',
        message: `line 1, column ${i + 1}: unknown column "${h}" (known: ${known.join(', ')})`,
        location: { line: 1, column: i + 1, field: h },
      });
    } else if (header.indexOf(h) !== i) {
      errors.push({ code: 'LB_ERR_IMPORT_CSV', message: `line 1, column ${i + 1}: column "${h}" appears twice`, location: { line: 1, column: i + 1, field: h } });
    }
  });
  for (const r of required) {
    if (!header.includes(r)) {
      errors.push({ code: 'LB_ERR_IMPORT_CSV', message: `line 1: the header lacks the required column "${r}"`, location: { line: 1, field: r } });
    }
  }
  return errors;
}
