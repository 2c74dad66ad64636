import pg from 'pg';
import type { LotBridgeConfig } from '../config/config';
import { waitForService, type ServiceProbe, type WaitForServiceTiming } from '../config/wait-for-service';
import { classifyError } from '../errors';
import type { Logger } from '../logging/logger';
import { redactUrl } from '../logging/redact-url';
import { startEmbeddedPostgres } from './embedded-postgres';
import { canConnect, ensureDatabase } from './knex';

/** The database LotBridge uses, and how it was found. */
export interface ResolvedDatabase {
  /** Connection URL of the LotBridge database (may hold a password: log it through redactUrl). */
  url: string;
  /** True when this process runs (or shares) the embedded PostgreSQL. */
  embedded: boolean;
  /** Stops the embedded server this process started; a no-op otherwise. Call it last on shutdown. */
  stop(): Promise<void>;
}

/** Test and tuning knobs of {@link resolveDatabase}. */
export interface ResolveDatabaseOptions extends WaitForServiceTiming {
  /** Connect timeout of the probe at the default address (default 2000 ms). */
  probeTimeoutMs?: number;
  /** Port for a newly started embedded server (default: 54329, or any free port). */
  embeddedPort?: number;
  /**
   * Create the database when the server has none of that name (default true). CLI commands that
   * only read or write an existing LotBridge database pass false, and check for it themselves.
   */
  createDatabase?: boolean;
}

/**
 * Decides which PostgreSQL LotBridge uses and makes sure its database exists:
 * - DATABASE_URL set: that server, always. While it is down, waits and logs every few seconds;
 *   after `waitTimeoutMs` throws LB_ERR_SERVICE_UNAVAILABLE (never an embedded fallback).
 * - unset, and a PostgreSQL answers at the default address: that server (database created if missing).
 * - otherwise: the embedded PostgreSQL under LOTBRIDGE_DATA_DIR.
 *
 * @param config - the loaded configuration
 * @param logger - root or scoped logger
 * @param opts - wait timing and probe timeout (tests shorten them)
 * @returns the URL, whether it is the embedded server, and its stop()
 * @throws LotBridgeError LB_ERR_SERVICE_UNAVAILABLE, LB_ERR_CONFIG_INVALID or LB_ERR_EMBEDDED_PG_*
 */
export async function resolveDatabase(config: LotBridgeConfig, logger: Logger, opts: ResolveDatabaseOptions = {}): Promise<ResolvedDatabase> {
  const log = logger.child({ scope: 'db' });
  const noop = (): Promise<void> => Promise.resolve();
  if (config.databaseUrlExplicit) {
    const target = redactUrl(config.databaseUrl);
    await waitForService({ ...opts, service: 'PostgreSQL', target, envName: 'DATABASE_URL', logger: log, probe: () => probeDatabase(config.databaseUrl, log, opts.createDatabase !== false) });
    log.info({ database: target }, 'using PostgreSQL from DATABASE_URL');
    return { url: config.databaseUrl, embedded: false, stop: noop };
  }
  const probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
  if (await canConnect(config.databaseUrl, probeTimeoutMs)) {
    const created = opts.createDatabase !== false && (await ensureDatabase(config.databaseUrl));
    log.info({ database: redactUrl(config.databaseUrl), created }, 'using the PostgreSQL at the default address (DATABASE_URL is unset)');
    return { url: config.databaseUrl, embedded: false, stop: noop };
  }
  log.info(
    { probed: redactUrl(config.databaseUrl), dataDir: config.dataDir },
    'DATABASE_URL is unset and no PostgreSQL answers at the default address; starting the embedded PostgreSQL',
  );
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: opts.embeddedPort, logger });
  return { url: embedded.url, embedded: true, stop: embedded.stop };
}

/**
 * One probe of an explicitly configured database: connects to it, creating it when the server
 * answers that it does not exist. Connection trouble is worth waiting on; a refused login is not.
 */
async function probeDatabase(url: string, log: Logger, create: boolean): Promise<ServiceProbe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', (err: Error) => log.debug({ err }, 'database probe connection error'));
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === '3D000') {
      if (!create) return { ok: true }; // the server answers; the caller deals with the missing database
      // the server answers, the database does not exist yet: create it (on the server's postgres db)
      try {
        await ensureDatabase(url);
        return { ok: true };
      } catch (createErr) {
        return probeFailure(createErr);
      }
    }
    return probeFailure(err);
  } finally {
    await client.end().catch((endErr: unknown) => log.debug({ err: endErr }, 'closing the database probe connection failed'));
  }
}

function probeFailure(err: unknown): ServiceProbe {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const reason = `${typeof e.message === 'string' && e.message ? e.message : String(err)}${code ? ` (${code})` : ''}`;
  // 57P03 "the database system is starting up" and connection errors are transient
  return { ok: false, reason, fatal: classifyError(err) !== 'transient', error: err };
}
