import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/knex';
import type { Role } from '../api/context';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number }) => Promise<Buffer>;

export const ROLES: Role[] = ['ingest', 'operator', 'admin', 'auditor'];

/** sha256 hex of an API key: keys are stored only hashed. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface DbApiKeyRow {
  id: string;
  name: string;
  role: Role;
  key_prefix: string;
  key_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

/** Creates an API key; returns the plaintext key once (it is never stored). */
export async function createApiKey(db: Db, opts: { name: string; role: Role; value?: string }): Promise<{ id: string; key: string; role: Role; name: string }> {
  const key = opts.value ?? `lb_${opts.role}_${randomBytes(24).toString('base64url')}`;
  const id = uuidv7();
  await db('api_keys').insert({ id, name: opts.name, role: opts.role, key_prefix: key.slice(0, 12), key_hash: hashApiKey(key) });
  await db('audit_log').insert({ chain: 'admin', actor: 'cli', action: 'api_key.created', entity_type: 'api_key', entity_id: id, after: JSON.stringify({ name: opts.name, role: opts.role, prefix: key.slice(0, 12) }) });
  return { id, key, role: opts.role, name: opts.name };
}

/** Makes sure an admin key with exactly this value exists and is not revoked (LOTBRIDGE_BOOTSTRAP_ADMIN_KEY). */
export async function ensureBootstrapKey(db: Db, value: string): Promise<void> {
  const hash = hashApiKey(value);
  const row = await db<DbApiKeyRow>('api_keys').where({ key_hash: hash }).first();
  if (!row) {
    await createApiKey(db, { name: 'bootstrap-admin', role: 'admin', value });
  } else if (row.revoked_at || row.role !== 'admin') {
    // un-revoking a key or raising it to admin is a key change: audited like creation and revocation
    await db.transaction(async (trx) => {
      await trx('api_keys').where({ id: row.id }).update({ revoked_at: null, role: 'admin' });
      await trx('audit_log').insert({
        chain: 'admin', actor: 'bootstrap', action: 'api_key.restored', entity_type: 'api_key', entity_id: row.id,
        before: JSON.stringify({ name: row.name, role: row.role, revoked: row.revoked_at !== null }),
        after: JSON.stringify({ name: row.name, role: 'admin', revoked: false }),
        reason: 'LOTBRIDGE_BOOTSTRAP_ADMIN_KEY names this key',
      });
    });
  }
}

/** Revokes a key by id or name; returns how many were revoked. */
export async function revokeApiKey(db: Db, idOrName: string): Promise<number> {
  const isUuid = /^[0-9a-f-]{36}$/i.test(idOrName);
  return db.transaction(async (trx) => {
    const q = trx('api_keys').whereNull('revoked_at');
    const revoked = await (isUuid ? q.where({ id: idOrName }) : q.where({ name: idOrName }))
      .update({ revoked_at: trx.fn.now() })
      .returning<Array<{ id: string; name: string; role: string }>>(['id', 'name', 'role']);
    // one row per key, by id: a name can be shared by several keys
    if (revoked.length > 0) {
      await trx('audit_log').insert(revoked.map((k) => ({
        chain: 'admin', actor: 'cli', action: 'api_key.revoked', entity_type: 'api_key', entity_id: k.id,
        before: JSON.stringify({ name: k.name, role: k.role, revoked: false }), after: JSON.stringify({ name: k.name, role: k.role, revoked: true }),
      })));
    }
    return revoked.length;
  });
}

export async function listApiKeys(db: Db): Promise<DbApiKeyRow[]> {
  return db<DbApiKeyRow>('api_keys').orderBy('created_at');
}

/** The active key with this plaintext value, or undefined. */
export async function findApiKey(db: Db, key: string): Promise<DbApiKeyRow | undefined> {
  return db<DbApiKeyRow>('api_keys').where({ key_hash: hashApiKey(key) }).whereNull('revoked_at').first();
}

/** scrypt password hash: `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const N = 16384, r = 8, p = 1;
  const hash = await scrypt(password, salt, 32, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt') {
    return false;
  }
  const expected = Buffer.from(hash, 'base64url');
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(expected, got);
}

/** Creates a console user (password stored as scrypt hash). */
export async function createUser(db: Db, opts: { username: string; role: Role; password: string }): Promise<{ id: string }> {
  const id = uuidv7();
  await db('users').insert({ id, username: opts.username, role: opts.role, password_hash: await hashPassword(opts.password) });
  await db('audit_log').insert({ chain: 'admin', actor: 'cli', action: 'user.created', entity_type: 'user', entity_id: id, after: JSON.stringify({ username: opts.username, role: opts.role }) });
  return { id };
}
