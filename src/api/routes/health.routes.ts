import type { FastifyInstance } from 'fastify';
import { migrationStatus } from '../../db/migrations';
import type { HubApiContext } from '../server';

type DepState = { state: 'up' | 'down'; reason?: string; [k: string]: unknown };

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms); })]);
}

/** What the health routes read: a `lotbridge start` hub's context, or a `lotbridge worker`'s smaller one. */
export type HealthContext = Pick<HubApiContext, 'db' | 'runtime' | 'pipeline' | 'connectors' | 'nodered' | 'metrics' | 'isAccepting'>;

/** /healthz (process alive), /readyz (each dependency with state and reason), /metrics (Prometheus). */
export function registerHealthRoutes(app: FastifyInstance, ctx: HealthContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const deps: Record<string, DepState> = {};
    try {
      await withTimeout(ctx.db.raw('SELECT 1'), 2000);
      deps.postgres = { state: 'up', embedded: ctx.runtime.databaseEmbedded };
    } catch (err) {
      deps.postgres = { state: 'down', reason: (err as Error).message, embedded: ctx.runtime.databaseEmbedded };
    }
    const queueKey = ctx.runtime.queueBackend === 'redis' ? 'redis' : 'queue_postgres';
    if (ctx.pipeline) {
      try {
        await ctx.pipeline.ping();
        deps[queueKey] = { state: 'up', backend: ctx.runtime.queueBackend, why: ctx.runtime.queueReason };
      } catch (err) {
        deps[queueKey] = { state: 'down', backend: ctx.runtime.queueBackend, reason: (err as Error).message };
      }
    }
    if (deps.postgres.state === 'up') {
      try {
        const st = await withTimeout(migrationStatus(ctx.db), 2000);
        deps.migrations = st.pending.length === 0 ? { state: 'up', applied: st.applied.length } : { state: 'down', reason: `pending: ${st.pending.join(', ')}` };
      } catch (err) {
        deps.migrations = { state: 'down', reason: (err as Error).message };
      }
    } else {
      deps.migrations = { state: 'down', reason: 'postgres is down' };
    }
    const connectors: Record<string, unknown> = {};
    for (const [id, c] of ctx.connectors) {
      connectors[id] = await c.health().catch((err: unknown) => ({ status: 'down', detail: (err as Error).message }));
    }
    if (ctx.nodered && ctx.nodered !== 'disabled') {
      const nr = ctx.nodered.health();
      // ready once its flows started; flows set aside (invalid file) or waiting for types are reported, not fatal
      deps.nodered = { ...nr, state: nr.state === 'up' && nr.flows !== 'starting' ? 'up' : 'down', ...(nr.state === 'up' && nr.flows === 'starting' ? { reason: 'flows are starting' } : {}) };
    } else if (ctx.nodered === 'disabled') {
      deps.nodered = { state: 'up', flows: 'disabled', reason: 'LOTBRIDGE_NODERED_ENABLED=false' };
    }
    const accepting = ctx.isAccepting();
    const ready = accepting && Object.values(deps).every((d) => d.state === 'up');
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : accepting ? 'not_ready' : 'stopping',
      queueBackend: ctx.runtime.queueBackend,
      dependencies: deps,
      connectors,
    });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
}
