import { schemaRegistry } from '../schemas/registry';
import type { PhiProtector } from '../security/phi';
import http from 'node:http';
import { NodeRedHost } from '../nodered/nodered-host';
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyReply } from 'fastify';
import type { Db } from '../db/knex';
import type { LotBridgeConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import { LotBridgeError, classifyError, isLotBridgeError, errorCatalog } from '../errors';
import { findApiKey } from '../security/api-keys';
import type { ApiContext, Principal } from './context';
import type { ConnectorAdapter, IngestPort } from '../connectors/types';
import type { Pipeline } from '../pipeline/pipeline';
import type { HubMetrics } from './metrics';
import { registerIngestRoutes } from './routes/ingest.routes';
import { registerMessageRoutes } from './routes/messages.routes';
import { registerHealthRoutes } from './routes/health.routes';
import { registerBarcodeRoutes } from './routes/barcodes.routes';
import { registerDocsRoutes } from './routes/docs.routes';
import { registerMaterialRoutes } from './routes/materials.routes';
import { registerLocationRoutes } from './routes/locations.routes';
import { registerPartyRoutes } from './routes/parties.routes';
import { registerPartnerRoutes } from './routes/partners.routes';
import { registerLotRoutes } from './routes/lots.routes';
import { registerTraceRoutes } from './routes/trace.routes';
import { registerRecallRoutes } from './routes/recalls.routes';
import { registerAuditRoutes } from './routes/audit.routes';
import { registerEpcisRoutes } from './routes/epcis.routes';
import { registerConsole } from '../console/console.routes';
import type { ConsoleJobs } from '../console/jobs';
import type { HubQueue } from '../pipeline/queue-kit';

/** Everything the HTTP API of a running hub needs. */
export interface HubApiContext extends ApiContext {
  connectors: ReadonlyMap<string, ConnectorAdapter>;
  ingest: IngestPort;
  pipeline?: Pipeline;
  metrics: HubMetrics;
  /** Facts for /readyz: which database and queue backend are in use. */
  runtime: { databaseEmbedded: boolean; queueBackend: 'redis' | 'postgres'; queueReason: string };
  /** False while starting and once shutdown began: /readyz answers 503. */
  isAccepting(): boolean;
  /** Opens payloads stored encrypted (PHI). */
  phi?: PhiProtector;
  /** Bulk console jobs (reprocess all matching a search); absent in processes without queues. */
  consoleJobs?: ConsoleJobs;
  /** Queues shown by the queue dashboard at /admin/queues. */
  boardQueues?: HubQueue[];
  /** The embedded Node-RED (serves /flows and /api/flows on the same server), or 'disabled' (LOTBRIDGE_NODERED_ENABLED=false). */
  nodered?: NodeRedHost | 'disabled';
}

/** How long an idle keep-alive connection is kept open (Fastify's own default). */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** How long a stopping hub lets requests in flight finish before it closes their connections. */
export const SERVER_CLOSE_GRACE_MS = 5_000;

/**
 * Stops the HTTP server gracefully, with a deadline: no new connections, idle keep-alive
 * connections closed at once, requests in flight given `graceMs` to finish; then every connection
 * still open is closed (a client that never reads its response must not hold a shutdown forever).
 */
export async function closeServer(app: FastifyInstance, graceMs: number): Promise<void> {
  const deadline = setTimeout(() => app.server.closeAllConnections(), graceMs);
  deadline.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(deadline);
  }
}

/** PostgreSQL SQLSTATEs of text it cannot take: 22021 invalid byte sequence (a NUL byte in text), 22P05 untranslatable character (\u0000 in jsonb). */
const INVALID_TEXT_PG_CODES = new Set(['22021', '22P05']);

/** Paths that need no key. */
const PUBLIC = [/^\/healthz$/, /^\/readyz$/, /^\/metrics$/, /^\/api\/docs(\/.*)?$/];

/** Builds the Fastify app: auth hook, one error mapper, route modules. Does not listen. */
export function buildServer(ctx: HubApiContext): FastifyInstance {
  // the request-body schemas compiled now, not by the first request that needs one: building the
  // registry takes ~0.1 s, which was the first recall's extra time in a server built without the
  // hub's boot (the trace benchmark's typical recall maximum, docs/architecture.md)
  schemaRegistry();
  const app = Fastify({
    loggerInstance: ctx.logger.child({ scope: 'api' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false } },
    // the router's own errors (a path that is not valid percent-encoded UTF-8, a path parameter over
    // maxParamLength) in the API's error envelope, like every other error answer (docs/errors.md)
    frameworkErrors: (err, _req, reply) => {
      const e = new LotBridgeError('LB_ERR_API_BAD_REQUEST', `${err.message} (${err.code})`, { location: { path: 'path' } });
      void (reply as unknown as FastifyReply).status(errorCatalog[e.code].http).send({ error: e.toJSON() });
    },
    // one HTTP server: Node-RED's paths go to its Express 4 app, the rest to Fastify
    serverFactory: (handler) => {
      const server = http.createServer((req, res) => {
        if (ctx.nodered && NodeRedHost.owns(req.url)) {
          if (ctx.nodered === 'disabled') {
            const err = new LotBridgeError('LB_ERR_API_NOT_FOUND', 'Node-RED is disabled in this process (LOTBRIDGE_NODERED_ENABLED=false)');
            res.writeHead(404, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: err.toJSON() }));
            return;
          }
          ctx.nodered.handle(req, res);
          return;
        }
        handler(req, res);
      });
      // Fastify applies its keep-alive timeout (72 s) only to servers it creates itself; Node's 5 s
      // default would close idle keep-alive connections just as clients that keep theirs for 4 s
      // (undici, the fetch of Node) reuse them, and a sender would see ECONNRESET under load
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      return server;
    },
  }) as unknown as FastifyInstance;

  // auth: every /api route but the public ones; a key lookup is a PostgreSQL read, cached briefly
  const cache = new Map<string, { principal: Principal | null; at: number }>();
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0];
    if (!path.startsWith('/api/') || PUBLIC.some((re) => re.test(path))) {
      return;
    }
    const h = req.headers.authorization;
    if (!h) {
      throw new LotBridgeError('LB_ERR_AUTH_MISSING', 'this route needs an API key: send "Authorization: Bearer <key>"');
    }
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) {
      throw new LotBridgeError('LB_ERR_AUTH_MISSING', 'the Authorization header must be "Bearer <key>"');
    }
    const key = m[1];
    const hit = cache.get(key);
    let principal: Principal | null;
    if (hit && Date.now() - hit.at < 5000) {
      principal = hit.principal;
    } else {
      const row = await findApiKey(ctx.db, key);
      principal = row ? { keyId: row.id, name: row.name, role: row.role } : null;
      if (cache.size > 10000) {
        cache.clear();
      }
      cache.set(key, { principal, at: Date.now() });
    }
    if (!principal) {
      throw new LotBridgeError('LB_ERR_AUTH_INVALID', 'the API key is unknown or revoked');
    }
    req.principal = principal;
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new LotBridgeError('LB_ERR_API_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
    void reply.status(404).send({ error: err.toJSON() });
  });

  app.setErrorHandler((err: FastifyError | LotBridgeError | Error, req, reply) => {
    let e: LotBridgeError;
    if (isLotBridgeError(err)) {
      e = err;
    } else if ((err as FastifyError).validation) {
      const v = (err as FastifyError).validation?.[0];
      const where = `${(err as FastifyError).validationContext ?? 'body'}${v?.instancePath ?? ''}`;
      e = new LotBridgeError('LB_ERR_API_BAD_REQUEST', `${where} ${v?.message ?? 'is invalid'}`, { location: { path: where } });
    } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
      const code = (err as FastifyError).statusCode!;
      e = new LotBridgeError(code === 413 ? 'LB_ERR_INGEST_TOO_LARGE' : code === 415 ? 'LB_ERR_INGEST_UNSUPPORTED_MEDIA' : code === 404 ? 'LB_ERR_API_NOT_FOUND' : 'LB_ERR_API_BAD_REQUEST', err.message);
    } else if (INVALID_TEXT_PG_CODES.has(String((err as { code?: unknown }).code))) {
      // a NUL byte (%00 in a query or path, \u0000 in a JSON body) reaches PostgreSQL as text it
      // cannot store or compare: the request's fault, not the hub's
      e = new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'the request holds a character PostgreSQL cannot take (a NUL byte, %00 or \\u0000, or an invalid byte sequence): remove it', { cause: err });
    } else if (classifyError(err) === 'transient') {
      e = new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'a backing service (PostgreSQL or the queue) is unavailable; try again later', { cause: err });
    } else {
      req.log.error({ err }, 'unhandled error in request');
      e = new LotBridgeError('LB_ERR_INTERNAL', 'internal error; the log has the details', { cause: err });
    }
    const status = errorCatalog[e.code].http;
    if (status >= 500) {
      req.log.error({ err: e.cause ?? e, code: e.code }, 'request failed');
    }
    if (status === 503) {
      void reply.header('Retry-After', '5');
    }
    void reply.status(status).send({ error: e.toJSON() });
  });

  registerHealthRoutes(app, ctx);
  registerDocsRoutes(app, ctx);
  registerIngestRoutes(app, ctx);
  registerMessageRoutes(app, ctx);
  registerBarcodeRoutes(app, ctx);
  registerMaterialRoutes(app, ctx);
  registerLocationRoutes(app, ctx);
  registerPartyRoutes(app, ctx);
  registerPartnerRoutes(app, ctx);
  registerLotRoutes(app, ctx);
  registerTraceRoutes(app, ctx);
  registerRecallRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerEpcisRoutes(app, ctx);
  registerConsole(app, ctx);
  return app;
}

export type { Db, LotBridgeConfig, Logger };
