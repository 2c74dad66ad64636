import fs from 'node:fs';
import path from 'node:path';
import { acksAccepted, sendHl7OverMllp } from './send-hl7';
import { Command, Option } from 'commander';
import { loadConfig, type LotBridgeConfig } from '../config/config';
import { createLogger, type Logger } from '../logging/logger';
import { createDb, databaseExists, ensureDatabase, type Db } from '../db/knex';
import { migrateDown, migrateLatest, migrationConfig, migrationNames, migrationStatus } from '../db/migrations';
import { resolveDatabase } from '../db/resolve-database';
import { LotBridgeError, isLotBridgeError } from '../errors';
import { ROLES, createApiKey, createUser, listApiKeys, revokeApiKey } from '../security/api-keys';
import type { Role } from '../api/context';
import { registerImportCommand } from './import.command';
import { ANCHOR_HASH_PATTERN, verifyAnswer, verifyAuditLog } from '../audit/verify-audit-log';
import { anchorAuditChains } from '../audit/anchor-audit-chains';
import { registerTraceCommands } from './trace.command';
import { registerPartnerCommands } from './partners.command';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json', '.ndjson': 'application/x-ndjson', '.jsonl': 'application/x-ndjson', '.csv': 'text/csv',
  '.hl7': 'x-application/hl7-v2+er7', '.x12': 'application/edi-x12', '.edi': 'application/edifact', '.xml': 'application/xml',
};

/**
 * Opens the configured database for a CLI command (never starts a second embedded server over a
 * running one). Unless `schema` is false (`lotbridge migrate`), the database must hold this
 * version's LotBridge schema: a command run against an empty or older database (DATABASE_URL
 * unset on a shell where the hub runs with it set, or a hub not upgraded yet) stops with
 * LB_ERR_DB_NOT_MIGRATED naming the database, instead of failing later on a missing table.
 */
async function openDb(config: LotBridgeConfig, logger: Logger, opts: { schema?: boolean } = {}): Promise<{ db: Db; logger: Logger; close(): Promise<void> }> {
  const database = await resolveDatabase(config, logger, { createDatabase: opts.schema === false });
  if (opts.schema === false) {
    await ensureDatabase(database.url); // `lotbridge migrate` makes the database, as the hub does
  } else if (!(await databaseExists(database.url))) {
    await database.stop();
    throw notMigrated(database.url, 'does not exist', 0, migrationNames.length);
  }
  const db = createDb({ url: database.url, poolMax: 4 });
  const close = async (): Promise<void> => {
    await db.destroy();
    await database.stop();
  };
  if (opts.schema !== false) {
    try {
      await assertSchemaCurrent(db, database.url);
    } catch (err) {
      await close();
      throw err;
    }
  }
  return { db, logger, close };
}

/** Throws LB_ERR_DB_NOT_MIGRATED when migrations of this version are not applied to `db`. */
async function assertSchemaCurrent(db: Db, url: string): Promise<void> {
  // read-only: knex's migration listing would create its bookkeeping tables in an empty database
  const t = await db.raw<{ rows: Array<{ t: string | null }> }>(`SELECT to_regclass(?) AS t`, [migrationConfig.tableName ?? 'knex_migrations']);
  const { applied, pending } = t.rows[0].t === null ? { applied: [], pending: [...migrationNames] } : await migrationStatus(db);
  if (pending.length === 0) {
    return;
  }
  const state = applied.length === 0
    ? 'has no LotBridge tables'
    : `is ${pending.length} migration(s) behind this version of LotBridge (next: ${pending[0]})`;
  throw notMigrated(url, state, applied.length, pending.length);
}

function notMigrated(url: string, state: string, applied: number, pending: number): LotBridgeError {
  const u = new URL(url);
  const where = `database "${decodeURIComponent(u.pathname.slice(1))}" at ${u.hostname}:${u.port || '5432'}`;
  return new LotBridgeError('LB_ERR_DB_NOT_MIGRATED',
    `${where} ${state}: run \`lotbridge migrate\` (starting the hub migrates too), or set DATABASE_URL to the hub's database`,
    { details: { applied, pending } });
}

async function withDb<T>(fn: (db: Db) => Promise<T>, opts: { schema?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const logger = createLogger(process.env.LOTBRIDGE_LOG_LEVEL ?? 'warn');
  const h = await openDb(config, logger, opts);
  try {
    return await fn(h.db);
  } finally {
    await h.close();
  }
}

function hubUrl(opts: { url?: string }): string {
  return opts.url ?? process.env.LOTBRIDGE_URL ?? `http://127.0.0.1:${process.env.LOTBRIDGE_HTTP_PORT ?? 8080}`;
}

function apiKey(opts: { key?: string }): string {
  const k = opts.key ?? process.env.LOTBRIDGE_API_KEY ?? process.env.LOTBRIDGE_BOOTSTRAP_ADMIN_KEY;
  if (!k) {
    throw new Error('no API key: pass --key, or set LOTBRIDGE_API_KEY');
  }
  return k;
}

/** Waits for SIGINT/SIGTERM, then stops gracefully; a second signal exits at once. */
function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let n = 0;
  const handler = (signal: string): void => {
    n++;
    if (n > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'shutting down: intake stops, in-flight work finishes');
    stop().then(() => process.exit(0), (err: unknown) => { logger.error({ err }, 'shutdown failed'); process.exit(1); });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

/** `lotbridge start|worker`: runs the hub until SIGINT/SIGTERM. */
async function runHub(mode: 'all' | 'worker', opts: { workers?: boolean } = {}): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const { startHub } = await import('../hub.js');
  // signals are handled from the first moment: one during start-up stops the hub once it is up
  const starting = startHub(config, logger, { mode, ...(opts.workers === false ? { workers: false } : {}) });
  onShutdown(logger, async () => (await starting).stop());
  await starting;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('lotbridge')
    .description('LotBridge: integration hub for the medical-device supply chain.\nConfiguration comes from the environment (see the configuration table in README.md).')
    .showHelpAfterError();

  program
    .command('start')
    .description('run the hub: migrations, HTTP API, connectors and pipeline workers (all-in-one)')
    .option('--no-workers', 'intake only (HTTP, MLLP, folders): the pipeline runs in `lotbridge worker` processes')
    .action((o: { workers: boolean }) => runHub('all', { workers: o.workers }));
  program.command('worker').description('run pipeline workers only (scale out: run N of them against the same PostgreSQL and Redis)').action(() => runHub('worker'));

  program
    .command('migrate')
    .description('apply (up), roll back the last batch (down, --all for every batch) or list (status) database migrations')
    .argument('[direction]', 'up | down | status', 'up')
    .option('--all', 'with down: roll back every migration')
    .action(async (direction: string, opts: { all?: boolean }) => {
      await withDb(async (db) => {
        if (direction === 'up') {
          const applied = await migrateLatest(db);
          console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
        } else if (direction === 'down') {
          const undone = await migrateDown(db, Boolean(opts.all));
          console.log(undone.length ? `rolled back: ${undone.join(', ')}` : 'nothing to roll back');
        } else if (direction === 'status') {
          const st = await migrationStatus(db);
          for (const a of st.applied) console.log(`applied  ${a}`);
          for (const p of st.pending) console.log(`pending  ${p}`);
        } else {
          throw new Error(`unknown direction "${direction}" (up, down, status)`);
        }
      }, { schema: false });
    });

  program
    .command('send')
    .description('send a message file to a running hub and print the answer: HL7 files go over MLLP and print the ACK; other files go over HTTP and print the receipt')
    .argument('<file>', 'message file (.hl7, .json, .ndjson, .csv, .x12, .edi, .xml)')
    .option('--connector <id>', 'connector instance id (default: hl7 for .hl7 files over HTTP; required for other files)')
    .option('--url <url>', 'hub base URL (default LOTBRIDGE_URL or http://127.0.0.1:$LOTBRIDGE_HTTP_PORT)')
    .option('--key <key>', 'API key (default LOTBRIDGE_API_KEY)')
    .option('--content-type <type>', 'Content-Type (default: from the file extension)')
    .option('--mllp <host:port>', 'MLLP listener of an HL7 file (default 127.0.0.1:$LOTBRIDGE_MLLP_PORT, or 2575)')
    .option('--http', 'send an HL7 file over HTTP instead of MLLP')
    .action(async (file: string, opts: { connector?: string; url?: string; key?: string; contentType?: string; mllp?: string; http?: boolean }) => {
      const body = fs.readFileSync(file);
      const isHl7 = path.extname(file).toLowerCase() === '.hl7' || /^\s*(\x0b)?(MSH|FHS|BHS)/.test(body.toString('latin1', 0, 16));
      if (isHl7 && !opts.http && !opts.connector) {
        const ok = await sendHl7OverMllp(body, opts.mllp ?? `127.0.0.1:${process.env.LOTBRIDGE_MLLP_PORT ?? '2575'}`);
        if (!ok) {
          process.exitCode = 1;
        }
        return;
      }
      const connector = opts.connector ?? (isHl7 ? 'hl7' : undefined);
      if (!connector) {
        throw new Error('--connector <id> is required for this file (e.g. --connector wms)');
      }
      const ct = opts.contentType ?? CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      const res = await fetch(`${hubUrl(opts)}/api/v1/ingest/${encodeURIComponent(connector)}`, {
        method: 'POST', body, headers: { 'content-type': ct, authorization: `Bearer ${apiKey(opts)}`, 'x-lotbridge-file-name': path.basename(file) },
      });
      const text = await res.text();
      if (isHl7) {
        console.log(`${res.status} ${res.headers.get('lotbridge-status') ?? ''} ${res.headers.get('lotbridge-message-id') ?? ''}`.trim());
        console.log(text.replace(/\r/g, '\n').trim());
      } else {
        console.log(`${res.status} ${text}`);
      }
      if (res.status >= 400 || (isHl7 && !acksAccepted(text))) {
        process.exitCode = 1;
      }
    });

  program
    .command('reprocess')
    .description('put a stored message through the pipeline again (via the running hub)')
    .argument('<messageId>')
    .option('--url <url>', 'hub base URL')
    .option('--key <key>', 'API key with role operator or admin')
    .action(async (id: string, opts: { url?: string; key?: string }) => {
      const res = await fetch(`${hubUrl(opts)}/api/v1/messages/${encodeURIComponent(id)}/reprocess`, { method: 'POST', headers: { authorization: `Bearer ${apiKey(opts)}` } });
      console.log(`${res.status} ${await res.text()}`);
      if (res.status >= 400) {
        process.exitCode = 1;
      }
    });

  registerPartnerCommands(program, withDb);

  const keys = program.command('keys').description('API keys: create, list, revoke');
  keys
    .command('create')
    .description('create an API key and print it once (it is stored only hashed)')
    .addOption(new Option('--role <role>', 'role').choices(ROLES).makeOptionMandatory())
    .requiredOption('--name <name>', 'who uses it, e.g. hospital-a')
    .action(async (opts: { role: Role; name: string }) => {
      await withDb(async (db) => {
        const k = await createApiKey(db, { name: opts.name, role: opts.role });
        console.log(k.key);
        console.error(`created ${k.role} key "${k.name}" (id ${k.id}); it is not shown again`);
      });
    });
  keys.command('list').description('list API keys (prefix, role, name, state)').action(async () => {
    await withDb(async (db) => {
      for (const k of await listApiKeys(db)) {
        console.log(`${k.id}  ${k.key_prefix}…  ${k.role.padEnd(8)} ${k.name}${k.revoked_at ? '  (revoked)' : ''}`);
      }
    });
  });
  keys.command('revoke').description('revoke a key by id or name').argument('<idOrName>').action(async (idOrName: string) => {
    await withDb(async (db) => {
      const n = await revokeApiKey(db, idOrName);
      console.log(n ? `revoked ${n} key(s)` : 'no active key matched');
      if (!n) process.exitCode = 1;
    });
  });

  const users = program.command('users').description('console users');
  users
    .command('create')
    .description('create a console user; the password is read from LOTBRIDGE_NEW_PASSWORD or --password')
    .addOption(new Option('--role <role>', 'role').choices(ROLES).makeOptionMandatory())
    .requiredOption('--username <name>', 'login name')
    .option('--password <password>', 'password (prefer LOTBRIDGE_NEW_PASSWORD: arguments show in ps)')
    .action(async (opts: { role: Role; username: string; password?: string }) => {
      const password = opts.password ?? process.env.LOTBRIDGE_NEW_PASSWORD;
      if (!password || password.length < 8) {
        throw new Error('a password of at least 8 characters is needed (LOTBRIDGE_NEW_PASSWORD or --password)');
      }
      await withDb(async (db) => {
        const u = await createUser(db, { username: opts.username, role: opts.role, password });
        console.log(`created ${opts.role} user ${opts.username} (id ${u.id})`);
      });
    });

  const audit = program.command('audit').description('the append-only, hash-chained audit log');
  audit
    .command('verify')
    .description('recompute every audit chain (hashes, links, gaps, order) and check the anchored chain heads (tail truncation); exits 1 with LB_ERR_AUDIT_CHAIN_BROKEN on a break')
    .option('--chain <chain>', 'verify one chain only (e.g. recall, admin, pipeline:wms:03)')
    .option('--anchor <hash>', 'also check that this anchor hash, kept outside the database (printed by `lotbridge audit anchor`), is still there with its chain heads')
    .option('--json', 'print the answer of GET /api/v1/audit/verify: {"ok":true,"rows":N} or {"ok":false,"firstBrokenRow":…,"reason":…}')
    .action(async (opts: { chain?: string; anchor?: string; json?: boolean }) => {
      if (opts.anchor !== undefined && !new RegExp(ANCHOR_HASH_PATTERN).test(opts.anchor.trim())) {
        throw new Error(`--anchor takes an anchor hash, 64 hex digits (as \`lotbridge audit anchor\` prints it), not "${opts.anchor}"`);
      }
      await withDb(async (db) => {
        const v = await verifyAuditLog(db, opts);
        if (opts.json) {
          console.log(JSON.stringify(verifyAnswer(v)));
        } else if (v.ok) {
          const a = v.anchor ? `; anchor #${v.anchor.id} of ${v.anchor.at} (hash ${v.anchor.hash}) present with its ${v.anchor.chains} chain head(s)` : '';
          console.log(`audit log intact: ${v.rows} rows in ${v.chains} chain(s), ${v.anchors} anchor(s) checked${a}`);
        } else {
          for (const b of v.breaks) {
            console.log(`break: ${b.reason}`);
          }
        }
        if (!v.ok) {
          process.stderr.write(`lotbridge: LB_ERR_AUDIT_CHAIN_BROKEN: ${v.breaks.length} break(s) in ${v.rows} rows; first broken row: seq ${v.breaks[0].seq}\n`);
          process.exitCode = 1;
        }
      });
    });
  audit
    .command('anchor')
    .description('anchor the head of every audit chain now (the hub does it every LOTBRIDGE_AUDIT_ANCHOR_INTERVAL_MS); prints the anchor hash to keep off-site')
    .option('--force', 'anchor even when no chain moved since the last anchor')
    .action(async (opts: { force?: boolean }) => {
      await withDb(async (db) => {
        const a = await anchorAuditChains(db, { actor: 'cli', force: opts.force });
        console.log(a ? `anchor #${a.id} at ${a.at}: ${a.chains} chain(s) up to seq ${a.maxSeq}, hash ${a.hash}` : 'no chain moved since the last anchor (use --force to anchor anyway)');
      });
    });

  registerTraceCommands(program, { url: hubUrl, key: apiKey });

  registerImportCommand(program, async () => {
    const config = loadConfig();
    return openDb(config, createLogger(process.env.LOTBRIDGE_LOG_LEVEL ?? 'warn'));
  });
  return program;
}

/** CLI entry (bin/lotbridge.js). */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (isLotBridgeError(err)) {
      process.stderr.write(`lotbridge: ${err.code}: ${err.message}\n`);
    } else {
      process.stderr.write(`lotbridge: ${(err as Error).message}\n`);
    }
    process.exitCode = 1;
  }
}
