import type { Role } from '../../src/api/context';
import type { Db } from '../../src/db/knex';
import { createUser } from '../../src/security/api-keys';

/** An answer of the console (redirects are not followed). */
export interface ConsoleResponse {
  status: number;
  headers: Headers;
  text: string;
  json<T = any>(): T;
}

/** A browser-like client of the console: keeps the session cookie, reads the CSRF token from pages. */
export interface ConsoleClient {
  csrf: string;
  cookie: string;
  get(p: string, accept?: string): Promise<ConsoleResponse>;
  /** A form POST (application/x-www-form-urlencoded); the CSRF token is added unless `csrf: false`. */
  post(p: string, form?: Record<string, string>, opts?: { csrf?: boolean | string; accept?: string; origin?: string }): Promise<ConsoleResponse>;
}

/** Creates a console user with a password (the CLI's createUser). */
export async function createConsoleUser(db: Db, username: string, role: Role, password = 'correct horse battery'): Promise<{ username: string; password: string }> {
  await createUser(db, { username, role, password });
  return { username, password };
}

async function send(url: string, init: RequestInit): Promise<ConsoleResponse> {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Logs in through POST /console/login and returns a client holding the session. */
export async function consoleLogin(base: string, username: string, password: string): Promise<ConsoleClient> {
  const r = await send(`${base}/console/login`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: new URLSearchParams({ username, password, next: '/console' }).toString(),
  });
  if (r.status !== 303) throw new Error(`login of ${username} answered ${r.status}: ${r.text.slice(0, 300)}`);
  const setCookie = r.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0];
  const client: ConsoleClient = {
    csrf: '',
    cookie,
    get: (p, accept = 'text/html') => send(base + p, { headers: { cookie: client.cookie, accept } }),
    post: (p, form = {}, opts = {}) => {
      const body = new URLSearchParams(form);
      if (opts.csrf !== false) body.set('_csrf', typeof opts.csrf === 'string' ? opts.csrf : client.csrf);
      return send(base + p, {
        method: 'POST',
        headers: { cookie: client.cookie, 'content-type': 'application/x-www-form-urlencoded', accept: opts.accept ?? 'text/html', ...(opts.origin ? { origin: opts.origin } : {}) },
        body: body.toString(),
      });
    },
  };
  const page = await client.get('/console');
  const m = /<meta name="csrf-token" content="([^"]+)"/.exec(page.text);
  if (!m) throw new Error(`no CSRF token on /console (status ${page.status})`);
  client.csrf = m[1];
  return client;
}
