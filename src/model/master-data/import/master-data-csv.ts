import {
  LOCATION_KINDS,
  MATERIAL_KINDS,
  PARTY_ROLES,
  type IdentifierScheme,
  type LocationInput,
  type MaterialInput,
  type PackagingLevel,
  type PartyInput,
} from '../master-data.types';
import { normalizeGtin } from '../gs1-keys';
import type { RowReader } from './csv-cells';

/** Identifier columns of the materials CSV: column → scheme and packaging level (and its quantity column). */
export const MATERIAL_IDENTIFIER_COLUMNS: Array<{ column: string; scheme: IdentifierScheme; level?: PackagingLevel; qtyColumn?: string }> = [
  { column: 'gtin_each', scheme: 'gtin', level: 'each', qtyColumn: 'each_qty' },
  { column: 'gtin_inner', scheme: 'gtin', level: 'inner', qtyColumn: 'inner_qty' },
  { column: 'gtin_box', scheme: 'gtin', level: 'box', qtyColumn: 'box_qty' },
  { column: 'gtin_case', scheme: 'gtin', level: 'case', qtyColumn: 'case_qty' },
  { column: 'gtin_pallet', scheme: 'gtin', level: 'pallet', qtyColumn: 'pallet_qty' },
  { column: 'udi_di', scheme: 'udi_di' },
  { column: 'internal_code', scheme: 'internal' },
  { column: 'supplier_code', scheme: 'supplier' },
  { column: 'customer_code', scheme: 'customer' },
];

/** Plain field columns of the materials CSV: column → MaterialInput field. */
const MATERIAL_FIELD_COLUMNS = [
  'code', 'description', 'kind', 'base_uom', 'shelf_life_days', 'storage_temp_min_c', 'storage_temp_max_c',
  'lot_controlled', 'serial_controlled', 'implantable', 'risk_class', 'unit_cost',
] as const;

/** Every column of the materials CSV (see docs/master-data.md). */
export const MATERIAL_CSV_COLUMNS: string[] = [
  ...MATERIAL_FIELD_COLUMNS,
  ...MATERIAL_IDENTIFIER_COLUMNS.flatMap((c) => (c.qtyColumn ? [c.column, c.qtyColumn] : [c.column])),
];

/** Every column of the locations CSV. */
export const LOCATION_CSV_COLUMNS = ['code', 'gln', 'name', 'kind', 'parent_code', 'party_gln', 'temperature_zone', 'temp_min_c', 'temp_max_c'];

/** Every column of the parties CSV. */
export const PARTY_CSV_COLUMNS = ['gln', 'code', 'name', 'role'];

/** A CSV row mapped to an upsert input, with the column each input path came from. */
export interface MappedRow<T> {
  input: T;
  /** Input JSON path (`/identifiers/2/value`, `/tempMaxC`) → CSV column, to point op errors at a cell. */
  columnOf(path: string | undefined): string | undefined;
}

const camelToSnake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/**
 * Maps a materials CSV row. Multiple internal/supplier/customer codes in one cell are separated by `|`.
 * `identifiers` holds the identifiers the row gives (none when the header has no identifier column);
 * the importer keeps the stored identifiers of every scheme/level the row leaves empty.
 * @param r - reader over the row (collects cell errors)
 * @param header - normalized header
 */
export function materialFromCsv(r: RowReader, header: string[]): MappedRow<MaterialInput> {
  const input: MaterialInput = { code: r.required('code') ?? '' };
  const opt = <K extends keyof MaterialInput>(k: K, v: MaterialInput[K] | undefined): void => {
    if (v !== undefined) {
      input[k] = v;
    }
  };
  opt('description', r.text('description'));
  opt('kind', r.oneOf('kind', MATERIAL_KINDS));
  opt('baseUom', r.text('base_uom')?.toUpperCase());
  opt('shelfLifeDays', r.number('shelf_life_days', { integer: true, min: 0 }));
  opt('storageTempMinC', r.number('storage_temp_min_c'));
  opt('storageTempMaxC', r.number('storage_temp_max_c'));
  opt('lotControlled', r.boolean('lot_controlled'));
  opt('serialControlled', r.boolean('serial_controlled'));
  opt('implantable', r.boolean('implantable'));
  opt('riskClass', r.text('risk_class'));
  opt('unitCost', r.number('unit_cost', { min: 0 }));

  const sources: string[] = [];
  const present = MATERIAL_IDENTIFIER_COLUMNS.filter((c) => header.includes(c.column));
  if (present.length > 0) {
    input.identifiers = [];
    for (const c of present) {
      const v = r.text(c.column);
      const qty = c.qtyColumn ? r.number(c.qtyColumn, { exclusiveMin: 0 }) : undefined;
      if (v === undefined) {
        if (qty !== undefined && c.qtyColumn) {
          r.fail(c.qtyColumn, `a quantity without ${c.column}`);
        }
        continue;
      }
      if (c.scheme === 'gtin') {
        const g = normalizeGtin(v);
        if (!g.ok) {
          r.fail(c.column, g.reason, { cause: 'LB_ERR_MASTER_DATA_GTIN_INVALID' });
          continue;
        }
      }
      for (const value of c.scheme === 'gtin' ? [v] : v.split('|').map((x) => x.trim()).filter(Boolean)) {
        input.identifiers.push({ scheme: c.scheme, value, packagingLevel: c.level ?? 'each', quantityPerLevel: qty ?? 1 });
        sources.push(c.column);
      }
    }
  }
  return {
    input,
    columnOf(path) {
      const m = /^\/identifiers\/(\d+)(?:\/(\w+))?/.exec(path ?? '');
      if (m) {
        const col = sources[Number(m[1])];
        const spec = MATERIAL_IDENTIFIER_COLUMNS.find((c) => c.column === col);
        return m[2] === 'quantityPerLevel' && spec?.qtyColumn ? spec.qtyColumn : col;
      }
      const field = /^\/(\w+)/.exec(path ?? '')?.[1];
      return field ? camelToSnake(field) : undefined;
    },
  };
}

/**
 * Maps a locations CSV row.
 * @param r - reader over the row
 */
export function locationFromCsv(r: RowReader): MappedRow<LocationInput> {
  const input: LocationInput = { code: r.required('code') ?? '' };
  const opt = <K extends keyof LocationInput>(k: K, v: LocationInput[K] | undefined): void => {
    if (v !== undefined) {
      input[k] = v;
    }
  };
  opt('gln', r.text('gln'));
  opt('name', r.text('name'));
  opt('kind', r.oneOf('kind', LOCATION_KINDS));
  opt('parentCode', r.text('parent_code'));
  opt('partyGln', r.text('party_gln'));
  opt('temperatureZone', r.text('temperature_zone'));
  opt('tempMinC', r.number('temp_min_c'));
  opt('tempMaxC', r.number('temp_max_c'));
  return { input, columnOf: (path) => (path ? camelToSnake(path.replace(/^\//, '').split('/')[0]) : undefined) };
}

/**
 * Maps a parties CSV row.
 * @param r - reader over the row
 */
export function partyFromCsv(r: RowReader): MappedRow<PartyInput> {
  const input: PartyInput = {};
  const gln = r.text('gln');
  const code = r.text('code');
  if (gln === undefined && code === undefined) {
    r.fail('gln', 'a party needs a gln or a code');
  }
  if (gln !== undefined) {
    input.gln = gln;
  }
  if (code !== undefined) {
    input.code = code;
  }
  const name = r.text('name');
  if (name !== undefined) {
    input.name = name;
  }
  const role = r.oneOf('role', PARTY_ROLES);
  if (role !== undefined) {
    input.role = role;
  }
  return { input, columnOf: (path) => (path ? camelToSnake(path.replace(/^\//, '').split('/')[0]) : undefined) };
}
