import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Db } from '../db/knex';
import { migrateLatest } from '../db/migrations';
import { LotBridgeError, type LotBridgeErrorJson } from '../errors';
import type { Logger } from '../logging/logger';
import { importMasterDataCsv, type MasterDataKind, type MasterImportReport } from '../model/master-data/import/import-master-data';
import type { CsvEncoding } from '../model/master-data/import/read-csv-file';
import { importStockCsv, type StockImportReport } from '../model/stock/import-stock-csv';
import { ProgressBar } from './progress-bar';

/** What the import command needs from the CLI: an open database and a logger, and a way to close them. */
export type ImportDeps = () => Promise<{ db: Db; logger: Logger; close(): Promise<void> }>;

interface CommonOpts {
  dryRun?: boolean;
  encoding: CsvEncoding;
  actor?: string;
  json?: boolean;
}

interface StockOpts extends CommonOpts {
  asOf?: string;
  allowDuplicateFile?: boolean;
  maxErrors: string;
  /** false with --no-bulk-index. */
  bulkIndex: boolean;
}

const MAX_PRINTED_ERRORS = 50;

function defaultActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    // no passwd entry for the uid (some containers): name the uid instead
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

function checkFile(file: string): string {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) {
    throw new LotBridgeError('LB_ERR_IMPORT_FILE', `no such file: ${file}`);
  }
  return abs;
}

function printErrors(errors: LotBridgeErrorJson[]): void {
  for (const e of errors.slice(0, MAX_PRINTED_ERRORS)) {
    process.stderr.write(`  ${e.code}: ${e.message}\n`);
  }
  if (errors.length > MAX_PRINTED_ERRORS) {
    process.stderr.write(`  … and ${errors.length - MAX_PRINTED_ERRORS} more\n`);
  }
}

function failIfErrors(errors: LotBridgeErrorJson[], what: string): void {
  if (errors.length > 0) {
    printErrors(errors);
    const first = errors[0];
    throw new LotBridgeError(first.code === 'LB_ERR_IMPORT_DUPLICATE_FILE' ? first.code : 'LB_ERR_IMPORT_CSV', `${what}: ${errors.length} error(s); nothing was imported`, {
      location: first.location,
      details: { errors: errors.length },
    });
  }
}

function masterSummary(r: MasterImportReport): string {
  const verb = r.dryRun ? 'would import' : 'imported';
  return (
    `${verb} ${r.rows} ${r.kind} from ${path.basename(r.file)} (${r.encoding}): ${r.created} created, ${r.updated} updated, ` +
    `${r.adopted} adopted (provisional → confirmed), ${r.unchanged} unchanged in ${(r.durationMs / 1000).toFixed(1)} s${r.dryRun ? ' — dry run, nothing written' : ''}`
  );
}

function stockSummary(r: StockImportReport): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const verb = r.dryRun ? 'would import' : 'imported';
  return (
    `${verb} ${n(r.rows)} stock rows from ${path.basename(r.file)} (${r.encoding}) into ${n(r.positions)} positions ` +
    `(${n(r.mergedRows)} rows summed into another row's position), total ${n(r.totalBaseQuantity)} base units; ` +
    `created ${n(r.createdLots)} lots, ${n(r.createdLocations)} locations, ${n(r.createdMaterials)} materials (provisional) ` +
    `in ${(r.durationMs / 1000).toFixed(1)} s — ${n(r.rowsPerSecond)} rows/s` +
    (r.dryRun ? ' — dry run, nothing written' : `; event ${r.eventId}, message ${r.messageId}`)
  );
}

/**
 * `lotbridge import materials|locations|parties|stock <csv> [--dry-run]`.
 *
 * - Master data goes through the same upsert ops as `POST /api/v1/materials|locations|parties`
 *   (GTIN checks, provisional adoption, one audit row per change), all or nothing, with every error
 *   listed by line and column (LB_ERR_IMPORT_CSV).
 * - `stock` is the bulk path for opening stock (COPY into a staging table, set-based SQL); rows
 *   naming the same position are summed; it prints rows/s at the end.
 *
 * A progress bar is drawn on stderr when it is a terminal. Exit code 1 when anything failed.
 * @param program - the root commander program
 * @param deps - opens the database (and logger) for the command; closed when it ends
 */
export function registerImportCommand(program: Command, deps: ImportDeps): void {
  const imp = program
    .command('import')
    .description('import master data (materials, locations, parties) or opening stock from a CSV file; columns in docs/master-data.md');

  const common = (cmd: Command): Command =>
    cmd
      .option('--dry-run', 'check every row and run the whole import, then roll back')
      .addOption(new Option('--encoding <encoding>', 'byte encoding of the file').choices(['auto', 'utf8', 'latin1']).default('auto'))
      .option('--actor <name>', 'who is importing (written to the audit log); default cli:<os user>')
      .option('--json', 'print the report as JSON on stdout');

  const kinds: Array<[MasterDataKind, string]> = [
    ['materials', 'materials with GTINs per packaging level (each/box/case + quantities), internal codes, storage and regulatory data'],
    ['locations', 'locations (code, GLN, kind, parent, operating party, temperature zone); parents may come later in the file'],
    ['parties', 'parties (GLN and/or code, name, role)'],
  ];
  for (const [kind, desc] of kinds) {
    common(imp.command(`${kind} <csv>`).description(`import ${desc}`)).action(async (file: string, opts: CommonOpts) => {
      const abs = checkFile(file);
      const h = await deps();
      const bar = new ProgressBar(path.basename(abs), 1, 'rows');
      try {
        await migrateLatest(h.db);
        const report = await importMasterDataCsv(h.db, kind, abs, {
          actor: opts.actor ?? defaultActor(),
          dryRun: opts.dryRun,
          encoding: opts.encoding,
          onProgress: (done, total) => {
            bar.setTotal(total);
            bar.update(done);
          },
        });
        bar.done();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        }
        failIfErrors(report.errors, `import ${kind} ${path.basename(abs)}`);
        if (!opts.json) {
          process.stdout.write(`${masterSummary(report)}\n`);
        }
      } finally {
        bar.done();
        await h.close();
      }
    });
  }

  common(
    imp
      .command('stock <csv>')
      .description(
        'bulk-import opening stock: columns location, gtin|material, lot, expiry, stockState, quantity, uom; rows naming the same position are summed',
      ),
  )
    .option('--as-of <time>', 'business time of the opening balance (ISO 8601); default now')
    .option('--allow-duplicate-file', 'import a file that was imported before (it adds its stock again)')
    .option('--max-errors <n>', 'stop listing row errors after n', '100')
    .option('--no-bulk-index', 'never drop and rebuild the ledger and balance indexes (keeps the stock tables readable during the import)')
    .action(async (file: string, opts: StockOpts) => {
      const abs = checkFile(file);
      const asOf = opts.asOf ? new Date(opts.asOf) : undefined;
      if (asOf && Number.isNaN(asOf.getTime())) {
        throw new LotBridgeError('LB_ERR_IMPORT_FILE', `--as-of "${opts.asOf}" is not an ISO 8601 time`);
      }
      const h = await deps();
      const size = fs.statSync(abs).size;
      const bar = new ProgressBar(path.basename(abs), size, 'bytes');
      try {
        await migrateLatest(h.db);
        const report = await importStockCsv(h.db, abs, {
          actor: opts.actor ?? defaultActor(),
          dryRun: opts.dryRun,
          encoding: opts.encoding,
          asOf,
          allowDuplicateFile: opts.allowDuplicateFile,
          indexRebuild: opts.bulkIndex === false ? 'never' : 'auto',
          maxErrors: Math.max(1, Number(opts.maxErrors) || 100),
          onProgress: (bytes) => bar.update(bytes),
          onPhase: (p) => bar.phase(p),
        });
        bar.done();
        h.logger.info({ rows: report.rows, durationMs: report.durationMs, phasesMs: report.phasesMs, committed: report.committed }, 'stock import finished');
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        }
        failIfErrors(report.errors, `import stock ${path.basename(abs)}`);
        if (!opts.json) {
          process.stdout.write(`${stockSummary(report)}\n`);
        }
      } finally {
        bar.done();
        await h.close();
      }
    });
}
