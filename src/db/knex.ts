import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// numeric → JS number for quantities (18,4 fits a double without loss at our magnitudes);
// int8 (bigserial ids, counts) → number. Dates (DATE) stay ISO strings, never shifted by the local zone.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => Number(v));
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

export type Db = Knex;

export interface DbOptions {
  /** Connection string (postgres://…). */
  url: string;
  /** Pool max (default 20). */
  poolMax?: number;
  /** search_path schema, for tests that isolate by schema. */
  searchPath?: string;
  /**
   * Commits do not wait for the WAL flush (synchronous_commit=off) on this pool. Only for the
   * pipeline workers: what they write can be replayed from the durably stored message.
   */
  asyncCommit?: boolean;
  /** Where knex's own warnings go (connection errors while PostgreSQL is down); default: nowhere but the thrown errors. */
  logger?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

/** The knex instances of createDb: every connection of their pools has jit=off. */
const jitOffPools = new WeakSet<Db>();

/** True for a knex instance made by createDb (its connections open with jit=off); false for a pool opened elsewhere or a transaction object. */
export function opensWithJitOff(db: Db): boolean {
  return jitOffPools.has(db);
}

/** Creates the knex instance for PostgreSQL. All SQL lives under src/db and migrations/. */
export function createDb(opts: DbOptions): Db {
  const db = knexFactory({
    client: 'pg',
    // jit=off on every connection: LotBridge's statements are short, indexed OLTP reads and writes;
    // PostgreSQL's JIT compiles any plan whose estimated cost passes jit_above_cost, and measured on
    // a trace page it spent 45–70 ms compiling a statement that runs in 12–16 ms (docs/architecture.md)
    connection: {
      connectionString: opts.url,
      application_name: opts.asyncCommit ? 'lotbridge-worker' : 'lotbridge',
      options: opts.asyncCommit ? '-c jit=off -c synchronous_commit=off' : '-c jit=off',
    },
    pool: { min: 0, max: opts.poolMax ?? 20, acquireTimeoutMillis: 10000 },
    acquireConnectionTimeout: 10000,
    searchPath: opts.searchPath ? [opts.searchPath, 'public'] : undefined,
    log: {
      warn: (message: unknown) => opts.logger?.warn({ scope: 'db', knex: String(message) }, 'knex warning'),
      error: (message: unknown) => opts.logger?.warn({ scope: 'db', knex: String(message) }, 'knex error'),
      deprecate: (message: unknown) => opts.logger?.debug({ scope: 'db', knex: String(message) }, 'knex deprecation'),
      debug: (message: unknown) => opts.logger?.debug({ scope: 'db', knex: String(message) }, 'knex debug'),
    },
  });
  jitOffPools.add(db);
  return db;
}

/** Splits a postgres URL into the server URL (database `postgres`) and the database name. */
export function splitDatabaseUrl(url: string): { adminUrl: string; database: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  u.pathname = '/postgres';
  return { adminUrl: u.toString(), database };
}

/** Creates the database named in `url` when it does not exist (CREATE DATABASE on the server's `postgres` db). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const { adminUrl, database } = splitDatabaseUrl(url);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    if (await hasDatabase(client, database)) {
      return false;
    }
    try {
      await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } catch (err) {
      // two processes creating it at once: the other one won
      if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') {
        throw err;
      }
    }
    return true;
  } finally {
    await client.end();
  }
}

async function hasDatabase(client: pg.Client, database: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  return Boolean(r.rowCount);
}

/** True when the database of `url` exists on its server (asked on the server's `postgres` database; creates nothing). */
export async function databaseExists(url: string): Promise<boolean> {
  const { adminUrl, database } = splitDatabaseUrl(url);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await hasDatabase(client, database);
  } finally {
    await client.end();
  }
}

/** True when a PostgreSQL server answers at `url` within `timeoutMs`. */
export async function canConnect(url: string, timeoutMs = 2000): Promise<boolean> {
  const { adminUrl } = splitDatabaseUrl(url);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops the database named in `url`, disconnecting its sessions (tests and benchmarks). */
export async function dropDatabase(url: string): Promise<void> {
  const { adminUrl, database } = splitDatabaseUrl(url);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
