import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { LotBridgeError } from '../../errors';
import { normalizeColumnName } from '../master-data/import/read-csv-file';

/** Columns of a stock CSV (normalized names) and the staging column each lands in. */
export const STOCK_CSV_COLUMNS = ['location', 'gtin', 'material', 'lot', 'expiry', 'stock_state', 'quantity', 'uom'] as const;
/** A column of the stock CSV. */
export type StockCsvColumn = (typeof STOCK_CSV_COLUMNS)[number];

/**
 * Reads the header line of a stock CSV (without reading the rest) and maps it to staging columns.
 * Required: location, gtin or material, lot, stock_state, quantity. Accepts camelCase (`stockState`).
 * @param file - path of the CSV
 * @throws LotBridgeError LB_ERR_IMPORT_FILE (unreadable / empty) or LB_ERR_IMPORT_CSV (line 1: unknown, repeated or missing column)
 */
export function readStockHeader(file: string): StockCsvColumn[] {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      head = Buffer.alloc(65536);
      const n = fs.readSync(fd, head, 0, head.length, 0);
      head = head.subarray(0, n);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new LotBridgeError('LB_ERR_IMPORT_FILE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const nl = head.indexOf(0x0a);
  const firstLine = head.subarray(0, nl < 0 ? head.length : nl).toString('utf8');
  const cells = (parse(firstLine, { bom: true }) as string[][])[0];
  if (!cells || cells.every((c) => c.trim() === '')) {
    throw new LotBridgeError('LB_ERR_IMPORT_FILE', `${file} is empty: the first line must be the header row`, { location: { line: 1 } });
  }
  const cols = cells.map(normalizeColumnName);
  cols.forEach((c, i) => {
    if (!(STOCK_CSV_COLUMNS as readonly string[]).includes(c)) {
      throw new LotBridgeError('LB_ERR_IMPORT_CSV', `line 1, column ${i + 1}: unknown column "${cells[i]}" (known: ${STOCK_CSV_COLUMNS.join(', ')})`, {
        location: { line: 1, column: i + 1, field: c },
      });
    }
    if (cols.indexOf(c) !== i) {
      throw new LotBridgeError('LB_ERR_IMPORT_CSV', `line 1, column ${i + 1}: column "${c}" appears twice`, { location: { line: 1, column: i + 1, field: c } });
    }
  });
  for (const need of ['location', 'lot', 'stock_state', 'quantity'] as const) {
    if (!cols.includes(need)) {
      throw new LotBridgeError('LB_ERR_IMPORT_CSV', `line 1: the header lacks the required column "${need}"`, { location: { line: 1, field: need } });
    }
  }
  if (!cols.includes('gtin') && !cols.includes('material')) {
    throw new LotBridgeError('LB_ERR_IMPORT_CSV', 'line 1: the header needs a "gtin" or a "material" column', { location: { line: 1, field: 'gtin' } });
  }
  return cols as StockCsvColumn[];
}
