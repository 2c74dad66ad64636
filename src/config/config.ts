import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { LotBridgeError } from '../errors';
import { fromRoot } from '../paths';
import { phiKeyProblems } from '../security/phi';

/** Validated LotBridge configuration. Every key maps to one environment variable (see docs/operations.md). */
export interface LotBridgeConfig {
  /** DATABASE_URL; default postgres://postgres@127.0.0.1:5432/lotbridge. */
  databaseUrl: string;
  /** True when DATABASE_URL was set (then it is never replaced by the embedded PostgreSQL). */
  databaseUrlExplicit: boolean;
  /** REDIS_URL; default redis://127.0.0.1:6379. */
  redisUrl: string;
  /** True when REDIS_URL was set (then a Redis outage is waited on, never a switch to the PostgreSQL queue backend). */
  redisUrlExplicit: boolean;
  /** LOTBRIDGE_HTTP_PORT (8080). */
  httpPort: number;
  /** LOTBRIDGE_HTTP_HOST (0.0.0.0). */
  httpHost: string;
  /** LOTBRIDGE_MLLP_PORT (2575), the built-in hl7 connector's MLLP listener. */
  mllpPort: number;
  /** LOTBRIDGE_WORKER_HTTP_PORT: a `lotbridge worker` process serves /healthz, /readyz and /metrics on it (unset: none). */
  workerHttpPort?: number;
  /** LOTBRIDGE_DATA_DIR (./data): embedded PostgreSQL, watched folders, generated secrets. */
  dataDir: string;
  /** LOTBRIDGE_BOOTSTRAP_ADMIN_KEY: when set, an admin API key with this value exists after start. */
  bootstrapAdminKey?: string;
  /** LOTBRIDGE_ADMIN_PASSWORD: console/Node-RED admin password. */
  adminPassword?: string;
  /** LOTBRIDGE_QUEUE_PREFIX (lotbridge): BullMQ key prefix, so hubs can share one Redis. */
  queuePrefix: string;
  /** LOTBRIDGE_TIMEZONE (UTC): IANA zone for source timestamps without an offset. */
  timezone: string;
  /** LOTBRIDGE_LOG_LEVEL (info). */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** LOTBRIDGE_MAX_BODY_BYTES (10 MiB): larger bodies are answered 413 and stored as metadata only. */
  maxBodyBytes: number;
  /** LOTBRIDGE_WORKER_CONCURRENCY (8): ingest jobs processed at once per worker process. */
  workerConcurrency: number;
  /**
   * LOTBRIDGE_INTAKE_FLUSHES (2): intake group commits running at once. A message that arrives while
   * all of them run waits for one to end and goes in the next; with two, one that arrives during a
   * flush starts its own at once instead of waiting behind it (lower ACK latency at moderate rates).
   */
  intakeFlushes: number;
  /** Largest batch a worker maps in one canonical transaction (it claims queued messages up to it); 0 = only each job's own messages. */
  pipelineBatchMax: number;
  /** Pipeline worker threads `lotbridge start` runs beside intake (0: the workers share the intake thread). */
  workerThreads: number;
  /** LOTBRIDGE_PIPELINE_HANDOFF (true): intake hands stored messages straight to this process's pipeline (its worker threads) instead of the queue; the queue takes the overflow, retries and FIFO connectors. */
  pipelineHandOff: boolean;
  /**
   * LOTBRIDGE_PIPELINE_HANDOFF_MAX (2000): most handed-off messages one pipeline thread holds (its
   * running batch and those waiting for the next); the rest of a group commit goes on the queue.
   */
  pipelineHandOffMax: number;
  /**
   * LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE (50000): the same limit while no other process consumes the
   * `ingest` queue (no `lotbridge worker` beside this hub): the queue would only bring the overflow
   * back to this process's own threads, at a higher cost per message; the limit guards memory.
   */
  pipelineHandOffMaxAlone: number;
  /** LOTBRIDGE_PIPELINE_MAX_ATTEMPTS (8): attempts for transient errors before `failed`. */
  maxAttempts: number;
  /** LOTBRIDGE_SWEEP_INTERVAL_MS (60000): how often the sweeper looks for stored-but-unqueued messages. */
  sweepIntervalMs: number;
  /** LOTBRIDGE_AUDIT_ANCHOR_INTERVAL_MS (60000; 0 = off): how often the audit chain heads are anchored (tail truncation detection). */
  auditAnchorIntervalMs: number;
  /** LOTBRIDGE_EPCIS_URI_BASE (https://lotbridge.local/id): private URI base of EPCIS identifiers for materials without a GTIN, locations without a GLN, sensors, business transactions. */
  epcisUriBase: string;
  /** LOTBRIDGE_SWEEP_GRACE_MS (30000): age before a received/queued message counts as stranded. */
  sweepGraceMs: number;
  /** LOTBRIDGE_CONFIG_FILE (lotbridge.config.json in the working directory, when present). */
  configFile?: string;
  /** LOTBRIDGE_STALLED_INTERVAL_MS (30000): how often workers look for jobs whose worker died. */
  stalledIntervalMs: number;
  /** LOTBRIDGE_JOB_LOCK_MS (30000): a dead worker's active jobs return to the queue after this. */
  jobLockMs: number;
  /** LOTBRIDGE_DB_POOL_MAX (20): PostgreSQL pool size per process. */
  dbPoolMax: number;
  /**
   * LOTBRIDGE_PHI_KEY: 32-byte key (hex or base64) that encrypts and join-hashes PHI; absent → a key
   * generated into `<dataDir>/phi.key` (see docs/operations.md, "PHI protection").
   */
  phiKey?: string;
  /** LOTBRIDGE_PHI_OLD_KEYS: comma-separated earlier PHI keys, used only to decrypt (key rotation). */
  phiOldKeys?: string[];
  /** LOTBRIDGE_EDI_UNKNOWN_PARTNERS (reject): `accept` takes interchanges from senders with no trading-partner entry (creates a provisional partner and raises an alert). */
  ediUnknownPartners: 'reject' | 'accept';
  /** LOTBRIDGE_NODERED_ENABLED (true): embed Node-RED (editor at /flows) in `lotbridge start`; false for headless processes. */
  noderedEnabled: boolean;
  /** LOTBRIDGE_NODERED_CREDENTIAL_SECRET: key that encrypts flow credentials; absent → generated into the data dir. */
  noderedCredentialSecret?: string;
  /** LOTBRIDGE_ROUTE_CONCURRENCY (64): events handed to flows at once per process. */
  routeConcurrency: number;
  /** LOTBRIDGE_ROUTE_MAX_ATTEMPTS (5): attempts of an event whose flow fails or times out. */
  routeMaxAttempts: number;
  /** LOTBRIDGE_DELIVER_CONCURRENCY (64): deliveries sent at once per process (all destinations). */
  deliverConcurrency: number;
  /** LOTBRIDGE_OUTBOX_POLL_MS (200): how often the outbox relay looks for new events. */
  outboxPollMs: number;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/lotbridge';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const ENV_MAP: Array<[keyof LotBridgeConfig, string, 'string' | 'int' | 'list' | 'bool']> = [
  ['httpPort', 'LOTBRIDGE_HTTP_PORT', 'int'],
  ['httpHost', 'LOTBRIDGE_HTTP_HOST', 'string'],
  ['mllpPort', 'LOTBRIDGE_MLLP_PORT', 'int'],
  ['workerHttpPort', 'LOTBRIDGE_WORKER_HTTP_PORT', 'int'],
  ['dataDir', 'LOTBRIDGE_DATA_DIR', 'string'],
  ['bootstrapAdminKey', 'LOTBRIDGE_BOOTSTRAP_ADMIN_KEY', 'string'],
  ['adminPassword', 'LOTBRIDGE_ADMIN_PASSWORD', 'string'],
  ['queuePrefix', 'LOTBRIDGE_QUEUE_PREFIX', 'string'],
  ['timezone', 'LOTBRIDGE_TIMEZONE', 'string'],
  ['logLevel', 'LOTBRIDGE_LOG_LEVEL', 'string'],
  ['maxBodyBytes', 'LOTBRIDGE_MAX_BODY_BYTES', 'int'],
  ['workerConcurrency', 'LOTBRIDGE_WORKER_CONCURRENCY', 'int'],
  ['intakeFlushes', 'LOTBRIDGE_INTAKE_FLUSHES', 'int'],
  ['pipelineBatchMax', 'LOTBRIDGE_PIPELINE_BATCH_MAX', 'int'],
  ['workerThreads', 'LOTBRIDGE_WORKER_THREADS', 'int'],
  ['pipelineHandOff', 'LOTBRIDGE_PIPELINE_HANDOFF', 'bool'],
  ['pipelineHandOffMax', 'LOTBRIDGE_PIPELINE_HANDOFF_MAX', 'int'],
  ['pipelineHandOffMaxAlone', 'LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE', 'int'],
  ['maxAttempts', 'LOTBRIDGE_PIPELINE_MAX_ATTEMPTS', 'int'],
  ['sweepIntervalMs', 'LOTBRIDGE_SWEEP_INTERVAL_MS', 'int'],
  ['auditAnchorIntervalMs', 'LOTBRIDGE_AUDIT_ANCHOR_INTERVAL_MS', 'int'],
  ['epcisUriBase', 'LOTBRIDGE_EPCIS_URI_BASE', 'string'],
  ['sweepGraceMs', 'LOTBRIDGE_SWEEP_GRACE_MS', 'int'],
  ['configFile', 'LOTBRIDGE_CONFIG_FILE', 'string'],
  ['dbPoolMax', 'LOTBRIDGE_DB_POOL_MAX', 'int'],
  ['stalledIntervalMs', 'LOTBRIDGE_STALLED_INTERVAL_MS', 'int'],
  ['jobLockMs', 'LOTBRIDGE_JOB_LOCK_MS', 'int'],
  ['phiKey', 'LOTBRIDGE_PHI_KEY', 'string'],
  ['phiOldKeys', 'LOTBRIDGE_PHI_OLD_KEYS', 'list'],
  ['ediUnknownPartners', 'LOTBRIDGE_EDI_UNKNOWN_PARTNERS', 'string'],
  ['noderedEnabled', 'LOTBRIDGE_NODERED_ENABLED', 'bool'],
  ['noderedCredentialSecret', 'LOTBRIDGE_NODERED_CREDENTIAL_SECRET', 'string'],
  ['routeConcurrency', 'LOTBRIDGE_ROUTE_CONCURRENCY', 'int'],
  ['routeMaxAttempts', 'LOTBRIDGE_ROUTE_MAX_ATTEMPTS', 'int'],
  ['deliverConcurrency', 'LOTBRIDGE_DELIVER_CONCURRENCY', 'int'],
  ['outboxPollMs', 'LOTBRIDGE_OUTBOX_POLL_MS', 'int'],
];

/** The environment variable for each config key (for docs and error messages). */
export const envNameOf: Record<string, string> = Object.fromEntries([
  ['databaseUrl', 'DATABASE_URL'],
  ['redisUrl', 'REDIS_URL'],
  ...ENV_MAP.map(([k, e]) => [k, e]),
]);

/** True when `tz` is an IANA zone this Node.js knows. */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads the configuration from `env`, applies defaults and validates it with ajv against
 * schemas/config.schema.json. Fails fast with every problem listed in one LB_ERR_CONFIG_INVALID.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LotBridgeConfig {
  const raw: Record<string, unknown> = {
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    databaseUrlExplicit: Boolean(env.DATABASE_URL),
    redisUrl: env.REDIS_URL || DEFAULT_REDIS_URL,
    redisUrlExplicit: Boolean(env.REDIS_URL),
  };
  const problems: string[] = [];
  for (const [key, name, type] of ENV_MAP) {
    const v = env[name];
    if (v === undefined || v === '') {
      continue;
    }
    if (type === 'int') {
      if (!/^-?\d+$/.test(v.trim())) {
        problems.push(`${name}=${JSON.stringify(v)} is not an integer`);
        continue;
      }
      raw[key] = Number(v.trim());
    } else if (type === 'bool') {
      const b = v.trim().toLowerCase();
      if (!['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(b)) {
        problems.push(`${name}=${JSON.stringify(v)} is not true or false`);
        continue;
      }
      raw[key] = ['true', '1', 'yes', 'on'].includes(b);
    } else if (type === 'list') {
      raw[key] = v.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
    } else {
      raw[key] = v;
    }
  }
  const schema = JSON.parse(fs.readFileSync(fromRoot('schemas', 'config.schema.json'), 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validate = ajv.compile(schema);
  if (!validate(raw)) {
    for (const e of validate.errors ?? []) {
      const key = e.instancePath.replace(/^\//, '');
      problems.push(`${envNameOf[key] ?? key}: ${e.message ?? 'invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as string[]).join(', ')})` : ''}`);
    }
  }
  if (typeof raw.phiKey === 'string' || Array.isArray(raw.phiOldKeys)) {
    problems.push(...phiKeyProblems(typeof raw.phiKey === 'string' ? raw.phiKey : undefined, Array.isArray(raw.phiOldKeys) ? raw.phiOldKeys.map(String) : []));
  }
  if (typeof raw.timezone === 'string' && !isValidTimeZone(raw.timezone)) {
    problems.push(`LOTBRIDGE_TIMEZONE: "${raw.timezone}" is not an IANA time zone`);
  }
  if (problems.length > 0) {
    throw new LotBridgeError('LB_ERR_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
  const cfg = raw as unknown as LotBridgeConfig;
  cfg.dataDir = path.resolve(cfg.dataDir);
  return cfg;
}
