import type { FastifyInstance } from 'fastify';
import { LotBridgeError } from '../../errors';
import { requireRole, type ApiContext } from '../context';
import { getLotView } from '../../model/lots/get-lot-view';

/**
 * `GET /api/v1/lots?gtin=…&lot=…` or `?material=<code>&lot=…` (operator, auditor, admin): the lot
 * with its material, expiry, status, balances per location and stock state, direct genealogy,
 * newest 100 trace events and lineage. The GTIN of any packaging level resolves to the material.
 * 400 LB_ERR_API_BAD_REQUEST when neither gtin nor material is given or the GTIN is invalid;
 * 404 LB_ERR_LOT_NOT_FOUND when no lot matches.
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerLotRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { gtin?: string; material?: string; lot: string } }>(
    '/api/v1/lots',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['lot'],
          properties: {
            gtin: { type: 'string', minLength: 1, maxLength: 14 },
            material: { type: 'string', minLength: 1, maxLength: 64 },
            lot: { type: 'string', minLength: 1, maxLength: 80 },
          },
        },
      },
    },
    async (req) => {
      const { gtin, material, lot } = req.query;
      const view = await getLotView(ctx.db, { gtin, material, lot });
      if (!view) {
        const what = gtin ? `GTIN ${gtin}` : `material ${material}`;
        throw new LotBridgeError('LB_ERR_LOT_NOT_FOUND', `no lot ${lot} of ${what}`, { details: { gtin, material, lot } });
      }
      return view;
    },
  );
}
