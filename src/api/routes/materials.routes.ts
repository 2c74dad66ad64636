import type { FastifyInstance } from 'fastify';
import { LotBridgeError } from '../../errors';
import { requireRole, type ApiContext } from '../context';
import { normalizeGtin } from '../../model/master-data/gs1-keys';
import { getMaterial } from '../../model/master-data/get-material';
import { listMaterials } from '../../model/master-data/list-materials';
import type { MaterialInput } from '../../model/master-data/master-data.types';
import { upsertMaterial } from '../../model/master-data/upsert-material';
import { pageOf, pageQueryProperties, validateBody } from './route-helpers';

/** `$id` of the POST /api/v1/materials body schema. */
export const MATERIAL_UPSERT_SCHEMA_ID = 'https://lotbridge.dev/schemas/api/material-upsert.schema.json';

/**
 * Materials: `POST /api/v1/materials` (admin; 201 created, 200 updated/adopted/unchanged, header
 * `LotBridge-Upsert` says which), `GET /api/v1/materials/:code` (code or internal identifier) and
 * `GET /api/v1/materials?gtin=&provisional=&q=&limit=&offset=` (operator, auditor, admin).
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerMaterialRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/api/v1/materials', { preHandler: requireRole('admin') }, async (req, reply) => {
    const input = validateBody<MaterialInput>(MATERIAL_UPSERT_SCHEMA_ID, req.body);
    const result = await upsertMaterial(ctx.db, input, { actor: req.principal?.name ?? 'unknown' });
    void reply.header('LotBridge-Upsert', result.status);
    if (result.status === 'created') {
      void reply.header('Location', `/api/v1/materials/${encodeURIComponent(result.record.code)}`);
    }
    return reply.status(result.status === 'created' ? 201 : 200).send(result.record);
  });

  app.get<{ Params: { code: string } }>('/api/v1/materials/:code', { preHandler: requireRole('operator', 'auditor') }, async (req) => {
    const m = await getMaterial(ctx.db, req.params.code);
    if (!m) {
      throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no material has code or internal code ${req.params.code}`, { location: { path: 'code' } });
    }
    return m;
  });

  app.get<{ Querystring: { gtin?: string; provisional?: boolean; q?: string; limit?: number; offset?: number } }>(
    '/api/v1/materials',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { gtin: { type: 'string' }, provisional: { type: 'boolean' }, q: { type: 'string', maxLength: 100 }, ...pageQueryProperties },
        },
      },
    },
    async (req) => {
      if (req.query.gtin !== undefined) {
        const g = normalizeGtin(req.query.gtin);
        if (!g.ok) {
          throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', g.reason, { location: { path: 'gtin' } });
        }
      }
      return listMaterials(ctx.db, { ...pageOf(req.query), gtin: req.query.gtin, provisional: req.query.provisional, q: req.query.q });
    },
  );
}
