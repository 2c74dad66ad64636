import type { FastifyInstance } from 'fastify';
import type { Role } from '../../src/api/context';
import { HubMetrics } from '../../src/api/metrics';
import { buildServer } from '../../src/api/server';
import { loadConfig } from '../../src/config/config';
import type { IngestPort } from '../../src/connectors/types';
import { silentLogger } from '../../src/logging/logger';
import { createApiKey } from '../../src/security/api-keys';
import type { TestDatabase } from './test-db';

/** An HTTP answer, shaped like light-my-request's (which jest on Node 20 cannot load: its `cookie` is ESM-only). */
export interface TestResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, typed by the caller (e.g. `json<MaterialRecord>()`). */
  json<T>(): T;
}

/** The body of every API error answer. */
export interface ApiErrorBody {
  error: { code: string; message: string; location?: { path?: string; line?: number; column?: number; field?: string }; details?: Record<string, unknown> };
}

/** The real Fastify app (auth hook, error mapper, every route module) over a test database, on a free local port. */
export interface TestApi {
  app: FastifyInstance;
  /** Base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** One real HTTP request (fetch); `payload` objects are sent as JSON. */
  request(opts: { method?: string; url: string; headers?: Record<string, string>; payload?: unknown }): Promise<TestResponse>;
  /** A bearer key per role, created in the test database. */
  keys: Record<Role, string>;
  /** Authorization header for a role. */
  auth(role: Role): { authorization: string };
  close(): Promise<void>;
}

/**
 * Builds the hub's real HTTP app with `buildServer` (src/api/server.ts) and real API keys, minus the
 * connectors and the pipeline (intake answers are not under test here). Listens on a free port of
 * 127.0.0.1; use `request` (real HTTP).
 * @param t - the test database
 */
export async function buildTestApi(t: TestDatabase): Promise<TestApi> {
  const keys = {} as Record<Role, string>;
  for (const role of ['ingest', 'operator', 'admin', 'auditor'] as Role[]) {
    keys[role] = (await createApiKey(t.db, { name: `test-${role}`, role })).key;
  }
  const notHere = (): Promise<never> => Promise.reject(new Error('intake is not part of this test'));
  const ingest: IngestPort = { receive: notHere, recordAck: notHere, ackOf: notHere, awaitVerdict: notHere };
  const app = buildServer({
    db: t.db,
    config: loadConfig({ DATABASE_URL: t.url }),
    logger: silentLogger(),
    connectors: new Map(),
    ingest,
    metrics: new HubMetrics(),
    runtime: { databaseEmbedded: false, queueBackend: 'postgres', queueReason: 'test' },
    isAccepting: () => true,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const base = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  return {
    app,
    url: base,
    async request(opts) {
      const json = opts.payload !== undefined && typeof opts.payload !== 'string';
      const res = await fetch(base + opts.url, {
        method: opts.method ?? 'GET',
        headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...(opts.headers ?? {}) },
        body: opts.payload === undefined ? undefined : json ? JSON.stringify(opts.payload) : (opts.payload as string),
      });
      const body = await res.text();
      return { statusCode: res.status, headers: Object.fromEntries(res.headers.entries()), body, json: <T>() => JSON.parse(body) as T };
    },
    keys,
    auth: (role) => ({ authorization: `Bearer ${keys[role]}` }),
    close: () => app.close(),
  };
}
