import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { LotBridgeError, type LotBridgeErrorJson } from '../../../errors';
import { decodeWindows1252 } from '../../../parsers/windows-1252';

/** How to decode a CSV file: `auto` takes UTF-8 when the bytes are valid UTF-8, else Windows-1252/Latin-1. */
export type CsvEncoding = 'auto' | 'utf8' | 'latin1';

/** One data row of a CSV file with the 1-based line it starts on. */
export interface CsvRow {
  /** 1-based line number where the record starts (the header is line 1). */
  line: number;
  /** Cells by normalized column name; empty cells are absent. */
  cells: Map<string, string>;
}

/** A parsed CSV file. */
export interface CsvFile {
  /** Normalized column names in file order. */
  header: string[];
  /** Data rows that parsed (rows with syntax errors are in `errors`). */
  rows: CsvRow[];
  /** Syntax errors (LB_ERR_IMPORT_CSV with `location.line`). */
  errors: LotBridgeErrorJson[];
  /** Encoding used to decode the bytes. */
  encoding: 'utf8' | 'latin1';
  /** Size of the file in bytes. */
  bytes: number;
}

/**
 * Normalizes a header cell: trimmed, lower case, camelCase / spaces / dashes → snake_case
 * (`stockState`, `Stock State` and `stock-state` all become `stock_state`).
 * @param h - the header cell
 */
export function normalizeColumnName(h: string): string {
  return h
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[\s\-.]+/g, '_');
}

/**
 * Decodes CSV bytes: a UTF-8 BOM is dropped; `auto` checks that the bytes are valid UTF-8 and
 * otherwise reads them as Windows-1252 (the usual "Latin-1" of spreadsheet exports).
 * @param buf - file bytes
 * @param encoding - wanted encoding
 */
export function decodeCsv(buf: Buffer, encoding: CsvEncoding): { text: string; encoding: 'utf8' | 'latin1' } {
  if (encoding === 'latin1') {
    return { text: decodeWindows1252(buf), encoding: 'latin1' };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf), encoding: 'utf8' };
  } catch (err) {
    if (encoding === 'utf8') {
      throw new LotBridgeError('LB_ERR_IMPORT_CSV', 'the file is not valid UTF-8; use --encoding latin1 for Latin-1 / Windows-1252 files', {
        location: { line: 1 },
        cause: err,
      });
    }
    return { text: decodeWindows1252(buf), encoding: 'latin1' };
  }
}

/**
 * Reads and parses a whole CSV file (master data files: thousands of rows, not millions). The first
 * record is the header. Quoted fields may hold commas and newlines; empty lines are skipped.
 * Syntax errors are collected per record, not thrown.
 * @param file - path of the file
 * @param encoding - how to decode it
 * @throws LotBridgeError LB_ERR_IMPORT_FILE when the file cannot be read or has no header
 */
export function readCsvFile(file: string, encoding: CsvEncoding = 'auto'): CsvFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    throw new LotBridgeError('LB_ERR_IMPORT_FILE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const decoded = decodeCsv(buf, encoding);
  const errors: LotBridgeErrorJson[] = [];
  const records = parse(decoded.text, {
    bom: true,
    info: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err) => {
      if (err) {
        const line = typeof err.lines === 'number' ? err.lines : undefined;
        errors.push({ code: 'LB_ERR_IMPORT_CSV', message: `line ${line ?? '?'}: ${err.message}`, location: { line } });
      }
      return undefined;
    },
  }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  if (records.length === 0) {
    throw new LotBridgeError('LB_ERR_IMPORT_FILE', `${file} is empty: the first line must be the header row`, { location: { line: 1 } });
  }
  const header = records[0].record.map(normalizeColumnName);
  const rows: CsvRow[] = [];
  for (const { record, info } of records.slice(1)) {
    const extraLines = record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0);
    const cells = new Map<string, string>();
    record.forEach((cell, i) => {
      const v = cell.trim();
      if (v !== '') {
        cells.set(header[i], v);
      }
    });
    rows.push({ line: info.lines - extraLines, cells });
  }
  return { header, rows, errors, encoding: decoded.encoding, bytes: buf.length };
}
