import type { FastifyInstance, FastifyReply } from 'fastify';
import { requireRole, type ApiContext } from '../context';
import { resolveTraceSubject, type TraceQuery } from '../../trace/trace-subject';
import { traceLotsJson } from '../../trace/trace-page';
import type { TraceDirection } from '../../trace/genealogy';
import { previewRecallImpact } from '../../trace/recall-preview';

/** Query parameters of both trace routes. */
export const traceQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    gtin: { type: 'string', minLength: 1, maxLength: 14 },
    material: { type: 'string', minLength: 1, maxLength: 64 },
    lot: { type: 'string', minLength: 1, maxLength: 80 },
    serial: { type: 'string', minLength: 1, maxLength: 80 },
    barcode: { type: 'string', minLength: 1, maxLength: 512 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
    cursor: { type: 'string', minLength: 1, maxLength: 1024 },
    maxDepth: { type: 'integer', minimum: 1, maximum: 64 },
  },
} as const;

/** Query parameters of the recall-impact preview: the subject only. */
export const recallImpactQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    gtin: traceQuerySchema.properties.gtin,
    material: traceQuerySchema.properties.material,
    lot: traceQuerySchema.properties.lot,
    serial: traceQuerySchema.properties.serial,
    barcode: traceQuerySchema.properties.barcode,
  },
} as const;

type TraceQs = TraceQuery & { limit?: number; cursor?: string; maxDepth?: number };

/**
 * `GET /api/v1/trace/forward` and `GET /api/v1/trace/backward` (operator, auditor, admin): the lot
 * named like `GET /api/v1/lots` (gtin or material, and lot), or by `serial`, or by a GS1 `barcode`;
 * answers graph (nodes + edges) and flat tables, a page of at most `limit` (≤ 1000) table rows and
 * `page.nextCursor` for the next one. Errors: 400 LB_ERR_API_BAD_REQUEST, 422 LB_ERR_GS1_* (barcode,
 * naming the AI), 404 LB_ERR_LOT_NOT_FOUND / LB_ERR_SERIAL_NOT_FOUND, 400 LB_ERR_TRACE_CURSOR_INVALID.
 * `GET /api/v1/trace/recall-impact` (same roles, same subject): what a recall of that lot or serial
 * would touch (previewRecallImpact: lots and their status changes, stock, customers, hospitals,
 * open shipments), without opening one; the lotbridge-trace node of a stand-alone Node-RED uses it.
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerTraceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // the page is answered as the JSON text traceLotsJson writes (one JSON.stringify of the page, no response schema to serialise by)
  const handler = (direction: TraceDirection) => async (req: { query: TraceQs }, reply: FastifyReply) => {
    const q = req.query;
    const subject = await resolveTraceSubject(ctx.db, { gtin: q.gtin, material: q.material, lot: q.lot, serial: q.serial, barcode: q.barcode });
    const json = await traceLotsJson(ctx.db, subject, direction, { limit: q.limit, cursor: q.cursor, maxDepth: q.maxDepth });
    return reply.type('application/json; charset=utf-8').send(json);
  };
  app.get<{ Querystring: TraceQs }>('/api/v1/trace/forward', { preHandler: requireRole('operator', 'auditor'), schema: { querystring: traceQuerySchema } }, handler('forward'));
  app.get<{ Querystring: TraceQs }>('/api/v1/trace/backward', { preHandler: requireRole('operator', 'auditor'), schema: { querystring: traceQuerySchema } }, handler('backward'));
  app.get<{ Querystring: TraceQuery }>('/api/v1/trace/recall-impact', { preHandler: requireRole('operator', 'auditor'), schema: { querystring: recallImpactQuerySchema } }, async (req) => {
    const q = req.query;
    return previewRecallImpact(ctx.db, await resolveTraceSubject(ctx.db, { gtin: q.gtin, material: q.material, lot: q.lot, serial: q.serial, barcode: q.barcode }));
  });
}
