import path from 'node:path';
import type { Knex } from 'knex';
import type { Db } from '../../../db/knex';
import { isLotBridgeError, type LotBridgeErrorJson } from '../../../errors';
import { loadMaterialRecords } from '../load-material-records';
import type { MaterialInput, UpsertStatus } from '../master-data.types';
import { upsertLocation } from '../upsert-location';
import { upsertMaterial } from '../upsert-material';
import { upsertParty } from '../upsert-party';
import { checkHeader, RowReader } from './csv-cells';
import {
  LOCATION_CSV_COLUMNS,
  MATERIAL_CSV_COLUMNS,
  PARTY_CSV_COLUMNS,
  locationFromCsv,
  materialFromCsv,
  partyFromCsv,
  type MappedRow,
} from './master-data-csv';
import { readCsvFile, type CsvEncoding } from './read-csv-file';

/** Which master data a CSV file holds. */
export type MasterDataKind = 'materials' | 'locations' | 'parties';

/** Options of {@link importMasterDataCsv}. */
export interface MasterImportOptions {
  /** Audit actor, e.g. `cli:alice`. */
  actor: string;
  /** Validate and run every upsert, then roll back. */
  dryRun?: boolean;
  /** How to decode the file (default `auto`). */
  encoding?: CsvEncoding;
  /** Called after each row with (rows done, rows total). */
  onProgress?: (done: number, total: number) => void;
}

/** What an import did (or, for a dry run or a file with errors, would have done). */
export interface MasterImportReport {
  kind: MasterDataKind;
  file: string;
  encoding: 'utf8' | 'latin1';
  /** Data rows in the file. */
  rows: number;
  created: number;
  updated: number;
  adopted: number;
  unchanged: number;
  /** Every problem found, LB_ERR_IMPORT_CSV with line, column and field; `details.cause` holds the op's code. */
  errors: LotBridgeErrorJson[];
  /** True when the changes were committed (no errors and not a dry run). */
  committed: boolean;
  dryRun: boolean;
  durationMs: number;
}

interface Planned {
  line: number;
  mapped: MappedRow<unknown>;
  key: string;
}

const KNOWN: Record<MasterDataKind, { columns: readonly string[]; required: readonly string[] }> = {
  materials: { columns: MATERIAL_CSV_COLUMNS, required: ['code'] },
  locations: { columns: LOCATION_CSV_COLUMNS, required: ['code'] },
  parties: { columns: PARTY_CSV_COLUMNS, required: ['name', 'role'] },
};

/** Rolls the import transaction back (dry run, or errors found). */
class RollbackImport extends Error {
  constructor() {
    super('import rolled back');
    this.name = 'RollbackImport';
  }
}

function keyOf(kind: MasterDataKind, input: { code?: string | null; gln?: string | null }): string {
  return kind === 'parties' ? `${input.gln ?? ''}|${input.code ?? ''}` : (input.code ?? '');
}

/** Orders location rows so a parent defined in the same file comes before its children. */
function parentsFirst(planned: Planned[], errors: LotBridgeErrorJson[]): Planned[] {
  const byCode = new Map(planned.map((p) => [p.key, p]));
  const out: Planned[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: Planned): void => {
    const st = state.get(p.key);
    if (st === 'done') {
      return;
    }
    if (st === 'visiting') {
      errors.push({
        code: 'LB_ERR_IMPORT_CSV',
        message: `line ${p.line}, column parent_code: location ${p.key} is its own ancestor (a cycle)`,
        location: { line: p.line, field: 'parent_code' },
      });
      state.set(p.key, 'done');
      return;
    }
    state.set(p.key, 'visiting');
    const parent = (p.mapped.input as { parentCode?: string | null }).parentCode;
    const pp = parent ? byCode.get(parent) : undefined;
    if (pp) {
      visit(pp);
    }
    state.set(p.key, 'done');
    out.push(p);
  };
  planned.forEach(visit);
  return out;
}

/**
 * Keeps the stored identifiers of every scheme/level the row gives no value for: an empty identifier
 * cell means "not given", like any other empty cell. (A row's GTIN for a level replaces the stored
 * GTIN of that level; its internal codes replace the stored internal codes.)
 */
async function mergeIdentifiers(trx: Knex.Transaction, input: MaterialInput): Promise<MaterialInput> {
  if (!input.identifiers) {
    return input;
  }
  const row = await trx('materials').where({ code: input.code.trim() }).first<{ id: string } | undefined>('id');
  if (!row) {
    return input;
  }
  const [stored] = await loadMaterialRecords(trx, [row.id]);
  const given = input.identifiers;
  const covered = (scheme: string, level: string): boolean =>
    given.some((g) => g.scheme === scheme && (scheme !== 'gtin' || (g.packagingLevel ?? 'each') === level));
  const kept = (stored?.identifiers ?? []).filter((i) => !covered(i.scheme, i.packagingLevel));
  return { ...input, identifiers: [...given, ...kept] };
}

async function applyRow(trx: Knex.Transaction, kind: MasterDataKind, p: Planned, opts: MasterImportOptions, reason: string): Promise<UpsertStatus> {
  const change = { actor: opts.actor, reason };
  switch (kind) {
    case 'materials':
      return (await upsertMaterial(trx, await mergeIdentifiers(trx, p.mapped.input as MaterialInput), change)).status;
    case 'locations':
      return (await upsertLocation(trx, p.mapped.input as Parameters<typeof upsertLocation>[1], change)).status;
    case 'parties':
      return (await upsertParty(trx, p.mapped.input as Parameters<typeof upsertParty>[1], change)).status;
  }
}

/**
 * Imports a materials, locations or parties CSV through the same upsert ops as the API (GTIN checks,
 * provisional adoption, one audit row per change). All or nothing: every row runs in one transaction
 * (each in a savepoint), every error is collected with its line and column, and the import commits
 * only when no row failed. A dry run does all the work and rolls back.
 * @param db - knex instance
 * @param kind - materials | locations | parties
 * @param file - CSV path (columns in docs/master-data.md)
 * @param opts - actor, dry run, encoding, progress callback
 * @throws LotBridgeError LB_ERR_IMPORT_FILE when the file cannot be read
 */
export async function importMasterDataCsv(db: Db, kind: MasterDataKind, file: string, opts: MasterImportOptions): Promise<MasterImportReport> {
  const started = Date.now();
  const csv = readCsvFile(file, opts.encoding ?? 'auto');
  const report: MasterImportReport = {
    kind,
    file,
    encoding: csv.encoding,
    rows: csv.rows.length + csv.errors.length,
    created: 0,
    updated: 0,
    adopted: 0,
    unchanged: 0,
    errors: [...checkHeader(csv.header, KNOWN[kind].columns, KNOWN[kind].required), ...csv.errors],
    committed: false,
    dryRun: Boolean(opts.dryRun),
    durationMs: 0,
  };
  if (report.errors.some((e) => e.location?.line === 1)) {
    report.durationMs = Date.now() - started;
    return report;
  }

  let planned: Planned[] = [];
  const seen = new Map<string, number>();
  for (const row of csv.rows) {
    const r = new RowReader(row, csv.header);
    const mapped: MappedRow<unknown> = kind === 'materials' ? materialFromCsv(r, csv.header) : kind === 'locations' ? locationFromCsv(r) : partyFromCsv(r);
    const key = keyOf(kind, mapped.input as { code?: string; gln?: string });
    const first = seen.get(key);
    if (first !== undefined && r.errors.length === 0) {
      r.fail(kind === 'parties' ? (row.cells.has('gln') ? 'gln' : 'code') : 'code', `the same ${kind === 'parties' ? 'party' : 'code'} is already on line ${first}`);
    }
    seen.set(key, first ?? row.line);
    report.errors.push(...r.errors);
    if (r.errors.length === 0) {
      planned.push({ line: row.line, mapped, key });
    }
  }
  if (kind === 'locations') {
    planned = parentsFirst(planned, report.errors);
  }
  if (report.errors.length > 0) {
    report.errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
    report.durationMs = Date.now() - started;
    return report;
  }

  const base = path.basename(file);
  try {
    await db.transaction(async (trx) => {
      let done = 0;
      for (const p of planned) {
        try {
          const status = await applyRow(trx, kind, p, opts, `import ${kind} ${base} line ${p.line}`);
          report[status] += 1;
        } catch (err) {
          if (!isLotBridgeError(err)) {
            throw err;
          }
          const column = p.mapped.columnOf(err.location?.path);
          const idx = column ? csv.header.indexOf(column) : -1;
          report.errors.push({
            code: 'LB_ERR_IMPORT_CSV',
            message: `line ${p.line}${column ? `, column ${column}` : ''}: ${err.message}`,
            location: { line: p.line, ...(idx >= 0 ? { column: idx + 1 } : {}), ...(column ? { field: column } : {}) },
            details: { cause: err.code },
          });
        }
        opts.onProgress?.(++done, planned.length);
      }
      if (report.errors.length > 0 || opts.dryRun) {
        throw new RollbackImport();
      }
    });
    report.committed = true;
  } catch (err) {
    if (!(err instanceof RollbackImport)) {
      throw err;
    }
  }
  report.errors.sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
  report.durationMs = Date.now() - started;
  return report;
}
