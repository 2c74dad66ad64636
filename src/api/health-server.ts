import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from '../logging/logger';
import { registerHealthRoutes, type HealthContext } from './routes/health.routes';

/**
 * The HTTP server of a `lotbridge worker` process (LOTBRIDGE_WORKER_HTTP_PORT): only `/healthz`,
 * `/readyz` (PostgreSQL, the queue backend, migrations) and `/metrics` (this process's pipeline
 * outcomes, job run times, pool use and Node.js metrics), all without a key, as on `lotbridge start`.
 * Everything else is 404. Does not listen.
 */
export function buildHealthServer(ctx: HealthContext & { logger: Logger }): FastifyInstance {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ scope: 'worker-http' }),
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  registerHealthRoutes(app, ctx);
  return app;
}
