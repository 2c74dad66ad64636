import type { FastifyInstance } from 'fastify';
import { LotBridgeError } from '../../errors';
import { requireRole, type ApiContext } from '../context';
import { validateBody, pageOf, pageQueryProperties } from './route-helpers';
import { getRecall, openRecall, type RecallRequest } from '../../trace/open-recall';
import { recallImpactCsv } from '../../trace/recall-impact';
import { recallPatientsCsv, recallPatientsOf } from '../../trace/recall-patients';
import { anchorAuditChains } from '../../audit/anchor-audit-chains';
import { createPhiProtector, type PhiProtector } from '../../security/phi';

const SCHEMA = 'https://lotbridge.dev/schemas/api/recall-request.schema.json';

/**
 * Recalls: `POST /api/v1/recalls` (operator, admin) opens one in a single audited transaction and
 * answers 201 with the recall and its impact snapshot (200 when every named lot was already
 * recalled: nothing changes, the answer names the earlier recall); `GET /api/v1/recalls` lists them,
 * `GET /api/v1/recalls/{id}` shows one (id or recall number), `GET /api/v1/recalls/{id}/export?format=csv|json`
 * downloads the impact (operator, auditor, admin); `GET /api/v1/recalls/{id}/patients?hospital=…`
 * (admin) exports one hospital's usages of the recalled units with its own patient and encounter
 * identifiers in clear, audited.
 * @param app - the Fastify instance
 * @param ctx - database, logger and the hub's PHI protector (made from the config when absent)
 */
export function registerRecallRoutes(app: FastifyInstance, ctx: ApiContext & { phi?: PhiProtector }): void {
  let phi = ctx.phi;
  const phiOf = (): PhiProtector => (phi ??= createPhiProtector({ key: ctx.config.phiKey, oldKeys: ctx.config.phiOldKeys, dataDir: ctx.config.dataDir, logger: ctx.logger }));
  app.post('/api/v1/recalls', { preHandler: requireRole('operator') }, async (req, reply) => {
    const body = validateBody<RecallRequest>(SCHEMA, req.body);
    const p = req.principal!;
    const result = await openRecall(ctx.db, body, { name: p.name, role: p.role });
    if (result.created) {
      // the recall's audit rows are anchored at once: an operator action is never left to a later tick
      await anchorAuditChains(ctx.db, { actor: 'system:anchor' }).catch((err: unknown) => req.log.warn({ err }, 'audit anchoring after a recall failed'));
      ctx.logger.info({ recallId: result.recall.id, recallNumber: result.recall.recallNumber, lots: result.recall.impact.totals.lots }, 'recall opened');
    }
    void reply.status(result.created ? 201 : 200);
    return { ...result.recall, created: result.created, alreadyRecalled: result.alreadyRecalled, message: result.message, links: links(result.recall.id) };
  });

  app.get<{ Querystring: { limit?: number; offset?: number } }>(
    '/api/v1/recalls',
    { preHandler: requireRole('operator', 'auditor'), schema: { querystring: { type: 'object', additionalProperties: false, properties: { ...pageQueryProperties } } } },
    async (req) => {
      const { limit, offset } = pageOf(req.query);
      const rows = await ctx.db('recalls')
        .orderBy('opened_at', 'desc')
        .limit(limit)
        .offset(offset)
        .select<Array<{ id: string; recall_number: string; status: string; class: string | null; reason: string; opened_by: string | null; opened_at: Date; lot_count: number | null }>>(
          'id', 'recall_number', 'status', 'class', 'reason', 'opened_by', 'opened_at', 'lot_count',
        );
      return {
        items: rows.map((r) => ({ id: r.id, recallNumber: r.recall_number, status: r.status, class: r.class, reason: r.reason, openedBy: r.opened_by, openedAt: r.opened_at.toISOString(), lots: r.lot_count, links: links(r.id) })),
        limit,
        offset,
      };
    },
  );

  app.get<{ Params: { id: string } }>('/api/v1/recalls/:id', { preHandler: requireRole('operator', 'auditor') }, async (req) => {
    const r = await getRecall(ctx.db, req.params.id);
    if (!r) {
      throw new LotBridgeError('LB_ERR_RECALL_NOT_FOUND', `no recall ${req.params.id}`, { location: { path: 'id' } });
    }
    return { ...r, links: links(r.id) };
  });

  app.get<{ Params: { id: string }; Querystring: { format?: 'csv' | 'json' } }>(
    '/api/v1/recalls/:id/export',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { format: { enum: ['csv', 'json'], default: 'csv' } } } },
    },
    async (req, reply) => {
      const r = await getRecall(ctx.db, req.params.id);
      if (!r) {
        throw new LotBridgeError('LB_ERR_RECALL_NOT_FOUND', `no recall ${req.params.id}`, { location: { path: 'id' } });
      }
      if ((req.query.format ?? 'csv') === 'json') {
        void reply.header('content-disposition', `attachment; filename="${r.recallNumber}-impact.json"`);
        return { recall: { id: r.id, recallNumber: r.recallNumber, class: r.class, reason: r.reason, openedAt: r.openedAt, openedBy: r.openedBy }, impact: r.impact };
      }
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${r.recallNumber}-impact.csv"`);
      return recallImpactCsv({ recallNumber: r.recallNumber, reason: r.reason, class: r.class }, r.impact);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { hospital: string; format?: 'csv' | 'json' } }>(
    '/api/v1/recalls/:id/patients',
    {
      preHandler: requireRole('admin'),
      schema: {
        querystring: {
          type: 'object', additionalProperties: false, required: ['hospital'],
          properties: { hospital: { type: 'string', minLength: 1, maxLength: 64 }, format: { enum: ['csv', 'json'], default: 'csv' } },
        },
      },
    },
    async (req, reply) => {
      const r = await getRecall(ctx.db, req.params.id);
      if (!r) {
        throw new LotBridgeError('LB_ERR_RECALL_NOT_FOUND', `no recall ${req.params.id}`, { location: { path: 'id' } });
      }
      const p = req.principal!;
      const x = await recallPatientsOf(ctx.db, phiOf(), { id: r.id, recallNumber: r.recallNumber, class: r.class, reason: r.reason }, req.query.hospital);
      // reading PHI in clear is an operator action of its own: audited (who, which recall, which
      // hospital, how many usages and patients; never the identifiers themselves)
      const hospital = x.hospital.gln ?? x.hospital.code ?? x.hospital.id;
      await ctx.db.raw(
        `INSERT INTO audit_log (chain, actor, action, entity_type, entity_id, before, after, reason) VALUES ('recall', ?, 'recall.patients_exported', 'recall', ?, NULL, ?::jsonb, ?)`,
        [`${p.role}:${p.name}`, r.id, JSON.stringify({ recallNumber: r.recallNumber, hospital, usages: x.usages.length, patients: new Set(x.usages.map((u) => u.patient).filter(Boolean)).size }),
          `patient export of recall ${r.recallNumber} for hospital ${hospital}`],
      );
      ctx.logger.info({ recallId: r.id, recallNumber: r.recallNumber, hospital, usages: x.usages.length, actor: `${p.role}:${p.name}` }, 'recall patient export for a hospital');
      const file = `${r.recallNumber}-patients-${hospital.replace(/[^A-Za-z0-9._-]/g, '_')}`;
      if ((req.query.format ?? 'csv') === 'json') {
        void reply.header('content-disposition', `attachment; filename="${file}.json"`).header('cache-control', 'no-store');
        return x;
      }
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file}.csv"`).header('cache-control', 'no-store');
      return recallPatientsCsv(x);
    },
  );
}

function links(id: string): { self: string; csv: string; json: string } {
  return { self: `/api/v1/recalls/${id}`, csv: `/api/v1/recalls/${id}/export?format=csv`, json: `/api/v1/recalls/${id}/export?format=json` };
}
