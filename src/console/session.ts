import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import type { Role } from '../api/context';
import { hashPassword, verifyPassword } from '../security/api-keys';

/** The session cookie. HttpOnly, SameSite=Strict, Path=/, Secure whenever the browser reached us over TLS or on loopback. */
export const SESSION_COOKIE = 'lb_console';
/** A session ends after this long without a request … */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** … and after this long in any case. */
export const SESSION_MAX_MS = 12 * 3600 * 1000;
/** Failed logins per user name and address before the name is locked for that address. */
export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;

/** Roles that may log into the console: `ingest` keys push feeds and have no console. */
export const CONSOLE_ROLES: Role[] = ['operator', 'admin', 'auditor'];

/** The logged-in console user of a request. */
export interface ConsoleUser {
  userId: string;
  username: string;
  role: Role;
  csrf: string;
  tokenHash: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleUser?: ConsoleUser;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Cookie header → name/value map (values URI-decoded when they can be). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const piece of (header ?? '').split(';')) {
    const i = piece.indexOf('=');
    if (i <= 0) continue;
    const name = piece.slice(0, i).trim();
    let value = piece.slice(i + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

/** True when the browser talks to us over TLS, or on a loopback host (browsers keep Secure cookies there). */
function secureContext(req: FastifyRequest): boolean {
  // behind a TLS-terminating proxy the request arrives as http with X-Forwarded-Proto: https (a forged
  // header could only add the Secure attribute, never remove it)
  const fwd = req.headers['x-forwarded-proto'];
  if (req.protocol === 'https' || (typeof fwd === 'string' && fwd.split(',')[0].trim() === 'https')) return true;
  const host = (req.hostname ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function cookieHeader(req: FastifyRequest, value: string, maxAgeSec: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secureContext(req) ? '; Secure' : ''}`;
}

/**
 * Counts a login attempt for (user name, address) in `console_login_attempts` — before the password
 * is checked, in one statement, so parallel guesses through any number of hub processes are counted
 * one by one — and tells whether it is over the limit. A window older than LOGIN_WINDOW_MS starts
 * again at 1; a successful login deletes the row.
 */
async function countAttempt(db: Db, usernameKey: string, addr: string): Promise<{ attempts: number; firstAt: Date }> {
  const r = await db.raw<{ rows: Array<{ attempts: number; first_at: Date }> }>(
    `INSERT INTO console_login_attempts AS a (username_key, address, attempts, first_at) VALUES (?, ?, 1, now())
     ON CONFLICT (username_key, address) DO UPDATE
        SET attempts = CASE WHEN a.first_at < now() - make_interval(secs => ?) THEN 1 ELSE a.attempts + 1 END,
            first_at = CASE WHEN a.first_at < now() - make_interval(secs => ?) THEN now() ELSE a.first_at END
     RETURNING attempts, first_at`,
    [usernameKey, addr, LOGIN_WINDOW_MS / 1000, LOGIN_WINDOW_MS / 1000],
  );
  return { attempts: r.rows[0].attempts, firstAt: r.rows[0].first_at };
}

/**
 * Checks a user name and password against `users` (scrypt hashes) and opens a session: a random
 * cookie value (only its sha256 is stored) and a CSRF token. Audits success and failure.
 * @throws LB_ERR_CONSOLE_LOGIN_FAILED (unknown user, disabled, wrong password, a role without console),
 *   LB_ERR_CONSOLE_LOGIN_THROTTLED after 5 failures within 15 minutes (counted in the database: every
 *   hub process shares the count).
 */
export async function login(db: Db, req: FastifyRequest, reply: FastifyReply, username: string, password: string): Promise<ConsoleUser> {
  const addr = req.ip ?? 'unknown';
  const usernameKey = username.toLowerCase().slice(0, 200);
  const now = Date.now();
  const counted = await countAttempt(db, usernameKey, addr);
  if (counted.attempts > LOGIN_MAX_FAILURES) {
    const mins = Math.max(1, Math.ceil((LOGIN_WINDOW_MS - (now - counted.firstAt.getTime())) / 60000));
    throw new LotBridgeError('LB_ERR_CONSOLE_LOGIN_THROTTLED', `too many failed logins for "${username}" from this address; try again in ${mins} minute${mins === 1 ? '' : 's'}`);
  }
  const user = username ? await db('users').where({ username }).first<{ id: string; username: string; role: Role; password_hash: string; disabled_at: Date | null } | undefined>() : undefined;
  const ok = user && !user.disabled_at && CONSOLE_ROLES.includes(user.role) ? await verifyPassword(password, user.password_hash).catch(() => false) : false;
  if (!user || !ok) {
    await db('audit_log').insert({ chain: 'admin', actor: `console:${username.slice(0, 100) || '(empty)'}`, action: 'console.login_failed', entity_type: 'user', entity_id: user?.id ?? null, after: JSON.stringify({ address: addr }) });
    throw new LotBridgeError('LB_ERR_CONSOLE_LOGIN_FAILED', 'unknown user name or wrong password');
  }
  await db('console_login_attempts').where({ username_key: usernameKey, address: addr }).delete();
  await purgeSessions(db);
  const token = randomBytes(32).toString('base64url');
  const csrf = randomBytes(24).toString('base64url');
  const tokenHash = sha256(token);
  await db('console_sessions').insert({ token_hash: tokenHash, user_id: user.id, csrf_token: csrf, expires_at: new Date(now + SESSION_MAX_MS), remote_address: addr });
  await db('audit_log').insert({ chain: 'admin', actor: `console:${user.username}`, action: 'console.login', entity_type: 'user', entity_id: user.id, after: JSON.stringify({ role: user.role, address: addr }) });
  void reply.header('set-cookie', cookieHeader(req, token, Math.floor(SESSION_MAX_MS / 1000)));
  return { userId: user.id, username: user.username, role: user.role, csrf, tokenHash };
}

/** Ends the session of the request (row deleted, cookie cleared). */
export async function logout(db: Db, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.consoleUser) {
    await db('console_sessions').where({ token_hash: req.consoleUser.tokenHash }).delete();
    await db('audit_log').insert({ chain: 'admin', actor: `console:${req.consoleUser.username}`, action: 'console.logout', entity_type: 'user', entity_id: req.consoleUser.userId });
  }
  void reply.header('set-cookie', cookieHeader(req, '', 0));
}

/** The session of a request, or undefined (no cookie, unknown, expired, idle too long, user disabled). */
export async function sessionOf(db: Db, req: FastifyRequest): Promise<ConsoleUser | undefined> {
  const token = parseCookies(req.headers.cookie)[SESSION_COOKIE];
  if (!token || token.length > 200) return undefined;
  const tokenHash = sha256(token);
  const row = await db('console_sessions as s')
    .join('users as u', 'u.id', 's.user_id')
    .where('s.token_hash', tokenHash)
    .first<{ user_id: string; username: string; role: Role; csrf_token: string; expires_at: Date; last_seen_at: Date; disabled_at: Date | null } | undefined>('s.user_id', 'u.username', 'u.role', 's.csrf_token', 's.expires_at', 's.last_seen_at', 'u.disabled_at');
  const now = Date.now();
  if (!row || row.disabled_at || !CONSOLE_ROLES.includes(row.role) || row.expires_at.getTime() <= now || now - row.last_seen_at.getTime() > SESSION_IDLE_MS) {
    if (row) await db('console_sessions').where({ token_hash: tokenHash }).delete();
    return undefined;
  }
  if (now - row.last_seen_at.getTime() > 60000) {
    await db('console_sessions').where({ token_hash: tokenHash }).update({ last_seen_at: new Date(now) });
  }
  return { userId: row.user_id, username: row.username, role: row.role, csrf: row.csrf_token, tokenHash };
}

/** Deletes expired sessions (called now and then). */
export async function purgeSessions(db: Db): Promise<number> {
  await db('console_login_attempts').where('first_at', '<', new Date(Date.now() - LOGIN_WINDOW_MS)).delete();
  return db('console_sessions').where('expires_at', '<', new Date()).orWhere('last_seen_at', '<', new Date(Date.now() - SESSION_IDLE_MS)).delete();
}

/**
 * CSRF check of a state-changing request: the session's token in the `X-CSRF-Token` header or the
 * `_csrf` form field, compared in constant time; a cross-site Origin is refused as well.
 * @throws LB_ERR_CONSOLE_CSRF
 */
export function checkCsrf(req: FastifyRequest, user: ConsoleUser): void {
  const origin = req.headers.origin;
  if (origin && origin !== 'null') {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.headers.host) {
      throw new LotBridgeError('LB_ERR_CONSOLE_CSRF', `the request comes from another site (${origin})`);
    }
  }
  const header = req.headers['x-csrf-token'];
  const body = req.body as Record<string, unknown> | undefined;
  const sent = typeof header === 'string' ? header : typeof body?._csrf === 'string' ? body._csrf : undefined;
  if (!sent) {
    throw new LotBridgeError('LB_ERR_CONSOLE_CSRF', 'the action has no CSRF token; reload the page and try again');
  }
  const a = Buffer.from(sent);
  const b = Buffer.from(user.csrf);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new LotBridgeError('LB_ERR_CONSOLE_CSRF', 'the CSRF token does not match this session; reload the page and try again');
  }
}

/**
 * LOTBRIDGE_ADMIN_PASSWORD: makes sure a console user `admin` (role admin) exists with this password.
 * An existing `admin` whose password differs gets the configured one (the environment is authoritative).
 */
export async function ensureBootstrapUser(db: Db, password: string): Promise<void> {
  const row = await db('users').where({ username: 'admin' }).first<{ id: string; password_hash: string; role: string; disabled_at: Date | null } | undefined>();
  if (!row) {
    const id = uuidv7();
    const inserted = await db('users').insert({ id, username: 'admin', role: 'admin', password_hash: await hashPassword(password) }).onConflict('username').ignore().returning('id');
    if (inserted.length > 0) {
      await db('audit_log').insert({ chain: 'admin', actor: 'bootstrap', action: 'user.created', entity_type: 'user', entity_id: id, after: JSON.stringify({ username: 'admin', role: 'admin' }) });
    }
    return;
  }
  if (row.role !== 'admin' || row.disabled_at || !(await verifyPassword(password, row.password_hash).catch(() => false))) {
    await db('users').where({ id: row.id }).update({ role: 'admin', disabled_at: null, password_hash: await hashPassword(password) });
    await db('audit_log').insert({ chain: 'admin', actor: 'bootstrap', action: 'user.password_set', entity_type: 'user', entity_id: row.id });
  }
}
