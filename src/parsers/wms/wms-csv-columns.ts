/**
 * The CSV columns of a WMS feed (header names are matched case-insensitively). A header may also
 * carry `reference.<kind>` columns (`reference.asn`, `reference.po` …) and columns of its own,
 * which are kept on the record.
 */
export const WMS_CSV_COLUMNS = [
  'movementId',
  'readingId',
  'type',
  'occurredAt',
  'at',
  'location',
  'toLocation',
  'barcode',
  'gtin',
  'lot',
  'expiry',
  'serial',
  'quantity',
  'uom',
  'stockState',
  'toStockState',
  'shipTo',
  'reference',
  'sender',
  'warehouse',
  'sensor',
  'celsius',
] as const;

/** Columns whose cells are numbers. */
export const WMS_CSV_NUMERIC_COLUMNS: ReadonlySet<string> = new Set(['quantity', 'celsius']);

/** Header columns a movement / count file needs. */
export const WMS_CSV_MOVEMENT_REQUIRED = ['movementId', 'type', 'occurredAt', 'location', 'quantity'] as const;

/** Header columns a temperature-reading file needs. */
export const WMS_CSV_READING_REQUIRED = ['readingId', 'type', 'sensor', 'location', 'at', 'celsius'] as const;
