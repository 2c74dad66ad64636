import { parse, type InfoRecord } from 'csv-parse/sync';
import { LotBridgeError } from '../../errors';
import { WMS_CSV_COLUMNS, WMS_CSV_MOVEMENT_REQUIRED, WMS_CSV_NUMERIC_COLUMNS, WMS_CSV_READING_REQUIRED } from './wms-csv-columns';
import type { WmsParsedRecord, WmsParseResult } from './wms-parse.types';
import { parseReferenceText } from './wms-reference';

/** A header name's match key: case, spaces, `_` and `-` ignored (`Movement ID`, `movement_id` → movementid). */
const headerKey = (name: string): string => name.toLowerCase().replace(/[\s_-]+/g, '');
const CANONICAL = new Map<string, string>(WMS_CSV_COLUMNS.map((c) => [headerKey(c), c]));
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;

/**
 * Offsets of the bytes that end lines (LF, and a CR not followed by LF: the reader splits records
 * at CR LF, LF or a lone CR), to turn byte offsets into line numbers.
 */
function newlineOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  if (!buf.includes(0x0d)) {
    for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
      out.push(i);
    }
    return out;
  }
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a || (buf[i] === 0x0d && buf[i + 1] !== 0x0a)) {
      out.push(i);
    }
  }
  return out;
}

/** The 1-based line of the first non-blank byte at or after `from`. */
function lineOfRecordStart(buf: Buffer, newlines: number[], from: number): number {
  let start = from;
  while (start < buf.length && (buf[start] === 0x0a || buf[start] === 0x0d || buf[start] === 0x20 || buf[start] === 0x09)) {
    start++;
  }
  let lo = 0;
  let hi = newlines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newlines[mid] < start) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo + 1;
}

/** The field delimiter: `;` or tab when the header line uses it and no comma (spreadsheet exports). */
function detectDelimiter(text: string): string {
  const nl = text.search(/[\r\n]/);
  const header = nl === -1 ? text : text.slice(0, nl);
  if (!header.includes(',')) {
    if (header.includes(';')) {
      return ';';
    }
    if (header.includes('\t')) {
      return '\t';
    }
  }
  return ',';
}

function headerName(raw: string): string {
  const name = raw.trim();
  const lower = name.toLowerCase();
  if (lower.startsWith('reference.')) {
    return `reference.${name.slice('reference.'.length)}`;
  }
  return CANONICAL.get(headerKey(name)) ?? name;
}

function checkHeader(columns: string[]): void {
  const seen = new Set<string>();
  for (const [i, c] of columns.entries()) {
    if (c === '') {
      throw new LotBridgeError('LB_ERR_WMS_CSV_HEADER', `CSV header column ${i + 1} has no name`, { location: { line: 1, column: i + 1 } });
    }
    if (seen.has(c)) {
      throw new LotBridgeError('LB_ERR_WMS_CSV_HEADER', `CSV header names column "${c}" twice`, { location: { line: 1, column: i + 1, field: c } });
    }
    seen.add(c);
  }
  const readings = seen.has('readingId') && !seen.has('movementId');
  const required: readonly string[] = readings ? WMS_CSV_READING_REQUIRED : WMS_CSV_MOVEMENT_REQUIRED;
  const missing = required.filter((c) => !seen.has(c));
  if (!readings && !seen.has('barcode') && !seen.has('gtin')) {
    missing.push('barcode');
  }
  if (!readings && seen.has('gtin') && !seen.has('barcode') && !seen.has('lot')) {
    missing.push('lot');
  }
  if (missing.length > 0) {
    throw new LotBridgeError(
      'LB_ERR_WMS_CSV_HEADER',
      `CSV header lacks the required column "${missing[0]}"${missing.length > 1 ? ` (missing: ${missing.join(', ')})` : ''}; ` +
        (readings ? 'a temperature file needs ' : 'a movement file needs ') +
        `${required.join(', ')}${readings ? '' : ' and barcode or gtin + lot'}`,
      { location: { line: 1, field: missing[0] }, details: { missing, header: columns } },
    );
  }
}

function cellValue(column: string, cell: string, decimalComma: boolean): unknown {
  if (WMS_CSV_NUMERIC_COLUMNS.has(column)) {
    if (NUMBER.test(cell)) {
      return Number(cell);
    }
    if (decimalComma && DECIMAL_COMMA.test(cell)) {
      return Number(cell.replace(',', '.'));
    }
  }
  return cell;
}

/**
 * Parses a WMS CSV (header row first; `,`, or `;`/tab when the header uses it) with csv-parse.
 * Quoted fields may hold delimiters, quotes and newlines. Throws LB_ERR_WMS_CSV_HEADER for a header
 * that lacks a required column and LB_ERR_WMS_CSV_SYNTAX when the text cannot be split into rows
 * (an unclosed quote); a row with more fields than the header is a record error.
 * @param text - the decoded body (byte-order mark removed)
 */
export function parseWmsCsv(text: string): WmsParseResult {
  const buf = Buffer.from(text, 'utf8');
  const newlines = newlineOffsets(buf);
  const delimiter = detectDelimiter(text);
  const ends: number[] = [];
  let cells: string[][];
  try {
    cells = parse(buf, {
      delimiter,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      trim: true,
      on_record: (record: string[], context: InfoRecord): string[] => {
        ends.push(context.bytes);
        return record;
      },
    });
  } catch (err) {
    const line = lineOfRecordStart(buf, newlines, ends.length > 0 ? ends[ends.length - 1] : 0);
    const reason = err instanceof Error ? err.message.replace(/ at line \d+.*$/, '') : String(err);
    throw new LotBridgeError('LB_ERR_WMS_CSV_SYNTAX', `CSV cannot be read from line ${line}: ${reason}`, {
      location: { line },
      details: { csvCode: (err as { code?: unknown }).code ?? null },
      cause: err,
    });
  }
  const rows = cells.map((record, i) => ({ record, bytes: ends[i] }));
  if (rows.length === 0) {
    throw new LotBridgeError('LB_ERR_INGEST_EMPTY', 'the CSV body has no header row', { location: { line: 1 } });
  }
  const columns = rows[0].record.map(headerName);
  // a trailing delimiter (`a;b;c;`) leaves empty last header cells: no columns (an unnamed one inside is an error)
  while (columns.length > 0 && columns[columns.length - 1] === '') {
    columns.pop();
  }
  checkHeader(columns);

  const records: WmsParsedRecord[] = [];
  const errors: LotBridgeError[] = [];
  let prevEnd = rows[0].bytes;
  let index = 0;
  for (const row of rows.slice(1)) {
    const line = lineOfRecordStart(buf, newlines, prevEnd);
    prevEnd = row.bytes;
    if (row.record.every((c) => c === '')) {
      continue;
    }
    // empty cells past the header (a trailing delimiter) carry nothing; data there is a record error
    if (row.record.length > columns.length && row.record.slice(columns.length).some((c) => c !== '')) {
      errors.push(
        new LotBridgeError('LB_ERR_WMS_CSV_SYNTAX', `CSV row at line ${line} has ${row.record.length} fields; the header has ${columns.length}`, {
          location: { index, line },
        }),
      );
      index++;
      continue;
    }
    const value: Record<string, unknown> = {};
    const reference: Record<string, string> = {};
    for (const [i, cell] of row.record.slice(0, columns.length).entries()) {
      if (cell === '') {
        continue;
      }
      const column = columns[i];
      if (column === 'reference') {
        Object.assign(reference, parseReferenceText(cell));
      } else if (column.startsWith('reference.')) {
        reference[column.slice('reference.'.length)] = cell;
      } else {
        value[column] = cellValue(column, cell, delimiter !== ','); // with ';' or tab, a comma is no delimiter: a decimal comma
      }
    }
    if (Object.keys(reference).length > 0) {
      value.reference = reference;
    }
    records.push({ index, line, value });
    index++;
  }
  return { syntax: 'csv', single: false, records, errors };
}
