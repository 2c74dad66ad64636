import type { FastifyInstance } from 'fastify';
import { LotBridgeError } from '../../errors';
import { requireRole, type ApiContext } from '../context';
import { getParty } from '../../model/master-data/get-party';
import { listParties } from '../../model/master-data/list-parties';
import { PARTY_ROLES, type PartyInput, type PartyRole } from '../../model/master-data/master-data.types';
import { upsertParty } from '../../model/master-data/upsert-party';
import { pageOf, pageQueryProperties, validateBody } from './route-helpers';

/** `$id` of the POST /api/v1/parties body schema. */
export const PARTY_UPSERT_SCHEMA_ID = 'https://lotbridge.dev/schemas/api/party-upsert.schema.json';

/**
 * Parties: `POST /api/v1/parties` (admin; matched by GLN, else code; 201 created, 200 otherwise),
 * `GET /api/v1/parties/:key` (GLN or code) and `GET /api/v1/parties?role=&provisional=&limit=&offset=`
 * (operator, auditor, admin).
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerPartyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/api/v1/parties', { preHandler: requireRole('admin') }, async (req, reply) => {
    const input = validateBody<PartyInput>(PARTY_UPSERT_SCHEMA_ID, req.body);
    const result = await upsertParty(ctx.db, input, { actor: req.principal?.name ?? 'unknown' });
    void reply.header('LotBridge-Upsert', result.status);
    if (result.status === 'created') {
      void reply.header('Location', `/api/v1/parties/${encodeURIComponent(result.record.gln ?? result.record.code ?? result.record.id)}`);
    }
    return reply.status(result.status === 'created' ? 201 : 200).send(result.record);
  });

  app.get<{ Params: { key: string } }>('/api/v1/parties/:key', { preHandler: requireRole('operator', 'auditor') }, async (req) => {
    const p = await getParty(ctx.db, req.params.key);
    if (!p) {
      throw new LotBridgeError('LB_ERR_API_NOT_FOUND', `no party has GLN or code ${req.params.key}`, { location: { path: 'key' } });
    }
    return p;
  });

  app.get<{ Querystring: { role?: PartyRole; provisional?: boolean; limit?: number; offset?: number } }>(
    '/api/v1/parties',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { role: { enum: [...PARTY_ROLES] }, provisional: { type: 'boolean' }, ...pageQueryProperties },
        },
      },
    },
    async (req) => listParties(ctx.db, { ...pageOf(req.query), role: req.query.role, provisional: req.query.provisional }),
  );
}
