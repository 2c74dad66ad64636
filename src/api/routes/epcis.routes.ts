import type { FastifyInstance } from 'fastify';
import { LotBridgeError } from '../../errors';
import { requireRole, type ApiContext } from '../context';
import { exportEpcisEvents } from '../../epcis/epcis-export';
import { resolveTraceSubject } from '../../trace/trace-subject';

/** Text PostgreSQL can hold (a NUL is refused by the database: a 400 here, not a 500 there). */
const NO_NUL = '^[^\\u0000]*$';

interface EpcisQs {
  from?: string;
  to?: string;
  gtin?: string;
  material?: string;
  lot?: string;
  bizStep?: string;
  limit?: number;
  cursor?: string;
  document?: 'query' | 'capture';
  // the EPCIS 2.0 REST binding's names of the same parameters (a GS1 client's query)
  GE_eventTime?: string;
  LT_eventTime?: string;
  EQ_bizStep?: string;
  perPage?: number;
  nextPageToken?: string;
}

/** EPCIS 2.0 REST binding name → this route's name of the same parameter. */
const EPCIS_ALIASES = [['GE_eventTime', 'from'], ['LT_eventTime', 'to'], ['EQ_bizStep', 'bizStep'], ['perPage', 'limit'], ['nextPageToken', 'cursor']] as const;

/**
 * `GET /api/v1/epcis/events` (operator, auditor, admin): trace events as a GS1 EPCIS 2.0 JSON-LD
 * EPCISQueryDocument (or `document=capture`: EPCISDocument), ordered by eventTime; filters from/to,
 * lot (gtin or material, and lot), bizStep; pages of `limit` events, the next page in the `Link`
 * header (rel="next") and `GS1-Next-Page-Token`. The EPCIS 2.0 REST binding's names (GE_eventTime,
 * LT_eventTime, EQ_bizStep, perPage, nextPageToken) are read as from, to, bizStep, limit, cursor.
 * @param app - the Fastify instance
 * @param ctx - database, config (LOTBRIDGE_EPCIS_URI_BASE)
 */
export function registerEpcisRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: EpcisQs }>(
    '/api/v1/epcis/events',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            gtin: { type: 'string', minLength: 1, maxLength: 14, pattern: NO_NUL },
            material: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_NUL },
            lot: { type: 'string', minLength: 1, maxLength: 80, pattern: NO_NUL },
            bizStep: { type: 'string', minLength: 1, maxLength: 128, pattern: NO_NUL },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 500 },
            cursor: { type: 'string', minLength: 1, maxLength: 512, pattern: NO_NUL },
            document: { enum: ['query', 'capture'], default: 'query' },
            GE_eventTime: { type: 'string', format: 'date-time' },
            LT_eventTime: { type: 'string', format: 'date-time' },
            EQ_bizStep: { type: 'string', minLength: 1, maxLength: 128, pattern: NO_NUL },
            perPage: { type: 'integer', minimum: 1, maximum: 1000 },
            nextPageToken: { type: 'string', minLength: 1, maxLength: 512, pattern: NO_NUL },
          },
        },
      },
    },
    async (req, reply) => {
      // a GS1 client's names (GE_eventTime, nextPageToken …) read as this route's; both names at once is an error
      const q: EpcisQs = { ...req.query };
      for (const [alias, name] of EPCIS_ALIASES) {
        const v = q[alias];
        if (v === undefined) continue;
        // limit has a default: perPage wins over it, not over a limit the client gave
        const given = name === 'limit' ? /[?&]limit=/.test(req.url) : q[name] !== undefined;
        if (given) {
          throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', `${alias} and ${name} name the same parameter: give one`, { location: { path: alias } });
        }
        (q as Record<string, unknown>)[name] = v;
        delete q[alias];
      }
      let lotId: string | undefined;
      if (q.gtin || q.material || q.lot) {
        if (!q.lot) {
          throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'lot=… is needed with gtin=… or material=…', { location: { path: 'lot' } });
        }
        lotId = (await resolveTraceSubject(ctx.db, { gtin: q.gtin, material: q.material, lot: q.lot })).lotIds[0];
      }
      const page = await exportEpcisEvents(
        ctx.db,
        { from: q.from, to: q.to, lotId, bizStep: q.bizStep, limit: q.limit, cursor: q.cursor, documentType: q.document === 'capture' ? 'EPCISDocument' : 'EPCISQueryDocument' },
        ctx.config.epcisUriBase,
      );
      if (page.nextCursor) {
        const next = new URLSearchParams(Object.entries(q).filter(([k, v]) => k !== 'cursor' && v !== undefined).map(([k, v]): [string, string] => [k, String(v)]));
        next.set('cursor', page.nextCursor);
        void reply.header('link', `</api/v1/epcis/events?${next.toString()}>; rel="next"`).header('gs1-next-page-token', page.nextCursor);
      }
      // stored events EPCIS 2.0 cannot express: left out of this page, named in the body's lb:omittedEvents
      if (page.omitted > 0) void reply.header('lotbridge-epcis-omitted', String(page.omitted));
      void reply.header('gs1-epcis-version', '2.0.0').type('application/ld+json; charset=utf-8');
      return JSON.stringify(page.document);
    },
  );
}
