import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Db } from '../db/knex';
import type { Logger } from '../logging/logger';
import { envNameOf, type LotBridgeConfig } from './config';

/** Settings whose values are secrets: the audit log says whether they are set, never what they are. */
const SECRETS = new Set<string>(['bootstrapAdminKey', 'adminPassword', 'phiKey', 'phiOldKeys', 'noderedCredentialSecret']);

/** A URL with its password replaced by `***`. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * The hub's effective configuration as the audit log records it: every setting by its environment
 * variable name; URLs without their password; secrets as `set`/`unset`; the config file
 * (connector instances, trading partners) as its path and the SHA-256 of its bytes.
 */
export function auditableConfig(config: LotBridgeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, env] of Object.entries(envNameOf).sort(([, a], [, b]) => a.localeCompare(b))) {
    const v = (config as unknown as Record<string, unknown>)[key];
    if (SECRETS.has(key)) {
      out[env] = v === undefined || v === '' || (Array.isArray(v) && v.length === 0) ? 'unset' : 'set';
    } else if (key === 'databaseUrl' || key === 'redisUrl') {
      out[env] = withoutPassword(String(v));
    } else {
      out[env] = v === undefined ? null : v;
    }
  }
  if (config.configFile) {
    try {
      out.LOTBRIDGE_CONFIG_FILE = { path: config.configFile, sha256: createHash('sha256').update(fs.readFileSync(config.configFile)).digest('hex') };
    } catch {
      out.LOTBRIDGE_CONFIG_FILE = { path: config.configFile, sha256: null };
    }
  }
  return out;
}

/**
 * At hub start: compares the effective configuration with the one the audit log last recorded and,
 * when it differs (or none is recorded yet), appends `config.changed` (before/after of the changed
 * settings, and the whole configuration) or `config.initial` to chain `admin`, actor
 * `system:start`. So a changed setting between two starts is in the hash-chained log with the time
 * of the start that applied it. Returns the settings that changed (every one on the first start).
 */
export async function auditConfigAtStart(db: Db, config: LotBridgeConfig, logger: Logger): Promise<string[]> {
  const now = auditableConfig(config);
  const last = await db('audit_log').where({ chain: 'admin' }).whereIn('action', ['config.initial', 'config.changed'])
    .orderBy('seq', 'desc').first<{ after: { config?: Record<string, unknown> } } | undefined>('after');
  const before = last?.after?.config;
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const changed = before ? [...new Set([...Object.keys(before), ...Object.keys(now)])].filter((k) => !same(before[k], now[k])).sort() : Object.keys(now);
  if (before && changed.length === 0) {
    return [];
  }
  const pick = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(changed.map((k) => [k, o[k] ?? null]));
  await db('audit_log').insert({
    chain: 'admin', actor: 'system:start', action: before ? 'config.changed' : 'config.initial', entity_type: 'config', entity_id: os.hostname(),
    before: before ? JSON.stringify(pick(before)) : null,
    after: JSON.stringify({ ...(before ? { changed: pick(now) } : {}), config: now }),
    reason: `lotbridge start on ${os.hostname()} (pid ${process.pid})`,
  });
  if (before) logger.info({ changed }, 'configuration changed since the last start: recorded in the audit log');
  return changed;
}
