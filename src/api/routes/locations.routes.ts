import type { FastifyInstance } from 'fastify';
import { LotBridgeError } from '../../errors';
import { requireRole, type ApiContext } from '../context';
import { getLocation } from '../../model/master-data/get-location';
import { listLocations } from '../../model/master-data/list-locations';
import { LOCATION_KINDS, type LocationInput, type LocationKind } from '../../model/master-data/master-data.types';
import { upsertLocation } from '../../model/master-data/upsert-location';
import { pageOf, pageQueryProperties, validateBody } from './route-helpers';

/** `$id` of the POST /api/v1/locations body schema. */
export const LOCATION_UPSERT_SCHEMA_ID = 'https://lotbridge.dev/schemas/api/location-upsert.schema.json';

/**
 * Locations: `POST /api/v1/locations` (admin; 201 created, 200 otherwise), `GET /api/v1/locations/:code`
 * and `GET /api/v1/locations?kind=&parent=&provisional=&limit=&offset=` (operator, auditor, admin).
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerLocationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/api/v1/locations', { preHandler: requireRole('admin') }, async (req, reply) => {
    const input = validateBody<LocationInput>(LOCATION_UPSERT_SCHEMA_ID, req.body);
    const result = await upsertLocation(ctx.db, input, { actor: req.principal?.name ?? 'unknown' });
    void reply.header('LotBridge-Upsert', result.status);
    if (result.status === 'created') {
      void reply.header('Location', `/api/v1/locations/${encodeURIComponent(result.record.code)}`);
    }
    return reply.status(result.status === 'created' ? 201 : 200).send(result.record);
  });

  app.get<{ Params: { code: string } }>('/api/v1/locations/:code', { preHandler: requireRole('operator', 'auditor') }, async (req) => {
    const l = await getLocation(ctx.db, req.params.code);
    if (!l) {
      throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no location has code ${req.params.code}`, { location: { path: 'code' } });
    }
    return l;
  });

  app.get<{ Querystring: { kind?: LocationKind; parent?: string; provisional?: boolean; limit?: number; offset?: number } }>(
    '/api/v1/locations',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { kind: { enum: [...LOCATION_KINDS] }, parent: { type: 'string' }, provisional: { type: 'boolean' }, ...pageQueryProperties },
        },
      },
    },
    async (req) => listLocations(ctx.db, { ...pageOf(req.query), kind: req.query.kind, parentCode: req.query.parent, provisional: req.query.provisional }),
  );
}
