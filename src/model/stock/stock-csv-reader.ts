import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { LotBridgeError, type LotBridgeErrorJson } from '../../errors';
import type { StockCsvColumn } from './stock-csv-stream';
import { decodeWindows1252 } from '../../parsers/windows-1252';

/** Lifecycle stock states a balance may have (inventory_balances_state_check). */
export const STOCK_STATES = ['raw', 'component', 'wip', 'finished', 'pending_inspection', 'pending_shipment', 'in_transit'] as const;

/** A quantity in ten-thousandths (4 decimals): a number while it is a safe integer, else a bigint. */
export type Scaled = number | bigint;

/** Adds two scaled quantities exactly (falls over to bigint past 2^53). */
export function addScaled(a: Scaled, b: Scaled): Scaled {
  if (typeof a === 'number' && typeof b === 'number') {
    const s = a + b;
    if (Number.isSafeInteger(s)) {
      return s;
    }
  }
  return BigInt(a) + BigInt(b);
}

/**
 * Sums per (item, sub-key) in typed arrays: an open-addressing hash table (linear probing) from the
 * pair to a slot, and per slot the pair, the sum (ten-thousandths; a sum past 2^53 moves to a bigint
 * on the side) and the row count. A million positions cost ~40 MB and no per-entry objects.
 */
export class PositionTable {
  /** Positions (slots 0 … size − 1). */
  size = 0;
  slotItem = new Int32Array(1 << 12);
  slotSub = new Int32Array(1 << 12);
  private sums = new Float64Array(1 << 12);
  private counts = new Int32Array(1 << 12);
  private readonly big = new Map<number, bigint>();
  private mask = (1 << 13) - 1;
  private keyItem = new Int32Array(1 << 13).fill(-1);
  private keySub = new Int32Array(1 << 13);
  private keySlot = new Int32Array(1 << 13);

  private static hash(item: number, sub: number): number {
    return (Math.imul(item, 0x9e3779b1) ^ Math.imul(sub + 0x632be5ab, 0x85ebca77)) >>> 0;
  }

  /** Adds quantity `q` to the position (item, sub), creating it. */
  add(item: number, sub: number, q: Scaled): void {
    let p = PositionTable.hash(item, sub) & this.mask;
    for (;;) {
      const k = this.keyItem[p];
      if (k < 0) {
        break;
      }
      if (k === item && this.keySub[p] === sub) {
        const slot = this.keySlot[p];
        this.counts[slot]++;
        this.addTo(slot, q);
        return;
      }
      p = (p + 1) & this.mask;
    }
    const slot = this.size++;
    if (slot >= this.slotItem.length) {
      this.growSlots();
    }
    this.keyItem[p] = item;
    this.keySub[p] = sub;
    this.keySlot[p] = slot;
    this.slotItem[slot] = item;
    this.slotSub[slot] = sub;
    this.counts[slot] = 1;
    this.sums[slot] = 0;
    this.addTo(slot, q);
    if (this.size * 2 > this.mask) {
      this.rehash();
    }
  }

  /** The sum of a slot. */
  sum(slot: number): Scaled {
    return this.big.get(slot) ?? this.sums[slot];
  }

  /** Rows summed into a slot. */
  count(slot: number): number {
    return this.counts[slot];
  }

  private addTo(slot: number, q: Scaled): void {
    const b = this.big.get(slot);
    if (b !== undefined) {
      this.big.set(slot, b + BigInt(q));
      return;
    }
    if (typeof q === 'number') {
      const s = this.sums[slot] + q;
      if (Number.isSafeInteger(s)) {
        this.sums[slot] = s;
        return;
      }
    }
    this.big.set(slot, BigInt(this.sums[slot]) + BigInt(q));
  }

  private growSlots(): void {
    const n = this.slotItem.length * 2;
    const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.slotItem = grow(this.slotItem, (k) => new Int32Array(k));
    this.slotSub = grow(this.slotSub, (k) => new Int32Array(k));
    this.sums = grow(this.sums, (k) => new Float64Array(k));
    this.counts = grow(this.counts, (k) => new Int32Array(k));
  }

  private rehash(): void {
    const cap = (this.mask + 1) * 2;
    this.mask = cap - 1;
    this.keyItem = new Int32Array(cap).fill(-1);
    this.keySub = new Int32Array(cap);
    this.keySlot = new Int32Array(cap);
    for (let slot = 0; slot < this.size; slot++) {
      const item = this.slotItem[slot];
      const sub = this.slotSub[slot];
      let p = PositionTable.hash(item, sub) & this.mask;
      while (this.keyItem[p] >= 0) {
        p = (p + 1) & this.mask;
      }
      this.keyItem[p] = item;
      this.keySub[p] = sub;
      this.keySlot[p] = slot;
    }
  }
}

/** One distinct item/lot/expiry/uom key of the file (raw cell values, untrimmed). */
export interface StockItemKey {
  g: string;
  m: string;
  lot: string;
  e: string;
  u: string;
  /** First data record (1-based) that names the key; its line is first_rn + 1. */
  first_rn: number;
}

/** What one pass over the file yields. */
export interface StockCsvSummary {
  /** Data records. */
  rows: number;
  sha256: string;
  /** Distinct item keys, in order of first appearance. */
  keys: StockItemKey[];
  /** Distinct raw location cells, in order of first appearance. */
  locations: string[];
  /** Summed rows per (item key, raw location, stock state). */
  positions: PositionTable;
  /** Row errors (row checks), up to maxErrors, in line order. */
  errors: LotBridgeErrorJson[];
  /** Rows that failed a row check (also those past maxErrors). */
  badRows: number;
}

const QTY_RE = /^\s*\+?(\d{1,13}(\.\d{0,4})?|\.\d{1,4})\s*$/;
const INT_RE = /^\d+$/;
const LOC_LIMIT = 1 << 21;
const ITEM_LIMIT = 1 << 29;

/** Parses a quantity cell that passed QTY_RE into ten-thousandths. */
export function parseScaled(cell: string): Scaled {
  if (cell.length <= 11 && INT_RE.test(cell)) {
    return Number(cell) * 10000;
  }
  let s = cell.trim();
  if (s.startsWith('+')) {
    s = s.slice(1);
  }
  const dot = s.indexOf('.');
  const int = dot < 0 ? s : s.slice(0, dot);
  const frac = dot < 0 ? '' : s.slice(dot + 1);
  const digits = `${int}${frac.padEnd(4, '0')}`;
  return digits.length <= 15 ? Number(digits) : BigInt(digits);
}

/** Formats ten-thousandths (or 10^-scale units) as a decimal string. */
export function formatScaled(v: Scaled, scale = 4): string {
  if (typeof v === 'number' && scale === 4 && v % 10000 === 0) {
    return String(v / 10000);
  }
  const neg = typeof v === 'bigint' ? v < 0n : v < 0;
  let s = (typeof v === 'bigint' ? (neg ? -v : v) : Math.abs(v)).toString();
  if (s.length <= scale) {
    s = s.padStart(scale + 1, '0');
  }
  const int = s.slice(0, s.length - scale);
  const frac = s.slice(s.length - scale).replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/**
 * Reads a stock CSV once, in Node, as it streams from disk: hashes the bytes (sha256), decodes them
 * (UTF-8, refusing invalid bytes with the line, or Windows-1252), splits CSV records the way
 * PostgreSQL's `COPY … (FORMAT csv)` does (quotes anywhere in a field, `""` inside quotes, quoted
 * line breaks, CRLF, a BOM before the header, blank lines at the very end), checks every row
 * (required cells, stock state, quantity) and sums the quantities per (item key, location, stock
 * state). Nothing of the million rows is kept but those sums.
 * @param file - CSV path (first line: the header, already read by readStockHeader)
 * @param columns - the header's columns
 * @param encoding - how to decode the bytes
 * @param maxErrors - row errors to keep
 * @param onBytes - progress (bytes read so far)
 * @throws LotBridgeError LB_ERR_IMPORT_CSV for a record with too few or too many cells, or invalid UTF-8
 */
export async function readStockCsv(
  file: string,
  columns: StockCsvColumn[],
  encoding: 'utf8' | 'latin1',
  maxErrors: number,
  onBytes?: (bytes: number) => void,
): Promise<StockCsvSummary> {
  const hash = createHash('sha256');
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const col = (c: StockCsvColumn): number => columns.indexOf(c);
  const [iLoc, iG, iM, iLot, iE, iS, iQ, iU] = (['location', 'gtin', 'material', 'lot', 'expiry', 'stock_state', 'quantity', 'uom'] as const).map(col);
  const width = columns.length;
  const out: StockCsvSummary = { rows: 0, sha256: '', keys: [], locations: [], positions: new PositionTable(), errors: [], badRows: 0 };
  const itemIdx = new Map<string, number>();
  const locIdx = new Map<string, number>();
  const stateIdx = new Map<string, number>(STOCK_STATES.map((s, i) => [s, i]));
  const table = out.positions;

  let lineNo = 0; // physical lines consumed
  let header = true;
  let carry = '';
  let pending: string | null = null; // a record whose quotes are still open
  let blankRun = 0; // blank lines seen since the last record (fine at the end of the file only)
  let bytes = 0;

  const fail = (line: number, message: string, field?: string): never => {
    throw new LotBridgeError('LB_ERR_IMPORT_CSV', `line ${line}: ${message}`, { location: { line, ...(field ? { field } : {}) } });
  };

  const record = (cells: string[]): void => {
    const rn = ++out.rows;
    const line = rn + 1;
    if (cells.length !== width) {
      if (cells.length < width) {
        fail(line, `missing data for column "${columns[cells.length]}"`, columns[cells.length]);
      }
      fail(line, 'extra data after last expected column');
    }
    const g = iG < 0 ? '' : cells[iG];
    const m = iM < 0 ? '' : cells[iM];
    const lot = cells[iLot];
    const e = iE < 0 ? '' : cells[iE];
    const u = iU < 0 ? '' : cells[iU];
    const itemKey = `${g}\u0001${m}\u0001${lot}\u0001${e}\u0001${u}`;
    let item = itemIdx.get(itemKey);
    if (item === undefined) {
      item = out.keys.length;
      if (item >= ITEM_LIMIT) {
        fail(line, `more than ${ITEM_LIMIT} distinct item/lot keys`);
      }
      itemIdx.set(itemKey, item);
      out.keys.push({ g, m, lot, e, u, first_rn: rn });
    }
    const locRaw = cells[iLoc];
    const qRaw = cells[iQ];
    const sRaw = cells[iS];
    const state = stateIdx.get(sRaw) ?? stateIdx.get(sRaw.trim());
    const ok =
      state !== undefined &&
      QTY_RE.test(qRaw) &&
      (locRaw !== '' && locRaw.trim() !== '') &&
      (lot !== '' && lot.trim() !== '') &&
      ((g !== '' && g.trim() !== '') || (m !== '' && m.trim() !== ''));
    if (!ok) {
      out.badRows++;
      if (out.errors.length < maxErrors) {
        const row: Record<string, string> & { rn: string } = { rn: String(rn) };
        columns.forEach((c, i) => {
          row[c] = cells[i];
        });
        out.errors.push(...rowErrors(row, columns));
      }
      return;
    }
    let loc = locIdx.get(locRaw);
    if (loc === undefined) {
      loc = out.locations.length;
      if (loc >= LOC_LIMIT) {
        fail(line, `more than ${LOC_LIMIT} distinct locations`);
      }
      locIdx.set(locRaw, loc);
      out.locations.push(locRaw);
    }
    const sub = loc * 8 + state;
    const q = parseScaled(qRaw);
    table.add(item, sub, q);
  };

  const physicalLine = (raw: string): void => {
    lineNo++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (pending !== null) {
      pending += `\n${raw}`;
      if (quoteCount(raw) % 2 === 1) {
        const rec = pending;
        pending = null;
        record(splitQuoted(rec.endsWith('\r') ? rec.slice(0, -1) : rec));
      }
      return;
    }
    if (header) {
      header = false;
      if (quoteCount(text) % 2 === 1) {
        fail(1, 'the header row has an unclosed quote');
      }
      return;
    }
    if (text.trim() === '') {
      blankRun++;
      return;
    }
    if (blankRun > 0) {
      // a blank line between records: COPY would read it as a row without cells
      out.rows++;
      fail(out.rows + 1, `missing data for column "${columns[1] ?? columns[0]}"`, columns[1] ?? columns[0]);
    }
    if (text.indexOf('"') < 0) {
      record(text.split(','));
    } else if (quoteCount(text) % 2 === 0) {
      record(splitQuoted(text));
    } else {
      pending = raw;
    }
  };

  const stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    let text: string;
    if (encoding === 'utf8') {
      try {
        text = utf8.decode(chunk, { stream: true });
      } catch (err) {
        const at = badUtf8Line(chunk, lineNo);
        throw new LotBridgeError(
          'LB_ERR_IMPORT_CSV',
          `line ${at}: invalid byte sequence for encoding "UTF8" (use --encoding latin1 for Latin-1 / Windows-1252 files)`,
          { location: { line: at }, cause: err },
        );
      }
    } else {
      text = decodeWindows1252(chunk);
      if (header && bytes === chunk.length && text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1);
      }
    }
    let start = 0;
    const all = carry + text;
    for (let nl = all.indexOf('\n'); nl >= 0; nl = all.indexOf('\n', start)) {
      physicalLine(all.slice(start, nl));
      start = nl + 1;
    }
    carry = all.slice(start);
    onBytes?.(bytes);
  }
  if (encoding === 'utf8') {
    try {
      carry += utf8.decode();
    } catch (err) {
      throw new LotBridgeError('LB_ERR_IMPORT_CSV', `line ${lineNo + 1}: invalid byte sequence for encoding "UTF8" (use --encoding latin1 for Latin-1 / Windows-1252 files)`, {
        location: { line: lineNo + 1 },
        cause: err,
      });
    }
  }
  if (carry !== '') {
    physicalLine(carry);
  }
  if (pending !== null) {
    fail(out.rows + 2, 'unterminated CSV quoted field');
  }
  out.sha256 = hash.digest('hex');
  return out;
}

function quoteCount(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) {
    n++;
  }
  return n;
}

/** Splits one CSV record the way COPY (FORMAT csv) does: a quote anywhere opens or closes quoting, `""` inside quotes is a quote. */
function splitQuoted(rec: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < rec.length; i++) {
    const c = rec[i];
    if (c === '"') {
      if (inQuote && rec[i + 1] === '"') {
        cur += '"';
        i++;
      } else {
        inQuote = !inQuote;
      }
    } else if (c === ',' && !inQuote) {
      cells.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  cells.push(cur);
  return cells;
}

/** The line of the first invalid UTF-8 byte in `chunk`, whose first byte continues line `linesBefore + 1`. */
function badUtf8Line(chunk: Buffer, linesBefore: number): number {
  const probe = new TextDecoder('utf-8', { fatal: true });
  let line = linesBefore + 1;
  // the chunk may begin inside a character the previous chunk started
  let start = 0;
  while (start < 3 && start < chunk.length && (chunk[start] & 0xc0) === 0x80) {
    start++;
  }
  for (;;) {
    const nl = chunk.indexOf(0x0a, start);
    const end = nl < 0 ? chunk.length : nl;
    try {
      // the last piece may end inside a character the next chunk completes
      probe.decode(chunk.subarray(start, end), { stream: nl < 0 });
    } catch {
      return line;
    }
    if (nl < 0) {
      return line;
    }
    line++;
    start = nl + 1;
  }
}

/** The errors of one row that failed a row check, with line and column. */
export function rowErrors(row: Record<string, string | null> & { rn: string }, columns: StockCsvColumn[]): LotBridgeErrorJson[] {
  const line = Number(row.rn) + 1;
  const v = (c: StockCsvColumn): string => (row[c] ?? '').trim();
  const out: LotBridgeErrorJson[] = [];
  const fail = (c: StockCsvColumn, why: string): void => {
    const idx = columns.indexOf(c);
    out.push({
      code: 'LB_ERR_IMPORT_CSV',
      message: `line ${line}, column ${c}: ${why}${v(c) ? ` (got "${v(c)}")` : ''}`,
      location: { line, ...(idx >= 0 ? { column: idx + 1 } : {}), field: c },
    });
  };
  if (!v('location')) fail('location', 'is required');
  if (!v('gtin') && !v('material')) fail(columns.includes('gtin') ? 'gtin' : 'material', 'a row needs a gtin or a material');
  if (!v('lot')) fail('lot', 'is required');
  if (!(STOCK_STATES as readonly string[]).includes(v('stock_state'))) fail('stock_state', `must be one of ${STOCK_STATES.join(', ')}`);
  if (!/^\+?(\d{1,13}(\.\d{0,4})?|\.\d{1,4})$/.test(v('quantity'))) fail('quantity', 'must be a number ≥ 0 with at most 4 decimals');
  return out;
}
