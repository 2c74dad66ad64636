import type { FastifyInstance } from 'fastify';
import { requireRole, type ApiContext } from '../context';
import { verifyAnswer, verifyAuditLog } from '../../audit/verify-audit-log';

/**
 * `GET /api/v1/audit/verify` (auditor, admin): recomputes every audit chain and checks the anchors;
 * answers `{"ok":true,"rows":N}` or `{"ok":false,"firstBrokenRow":<seq>,"reason":"…"}` (200 either way:
 * the check ran; a broken chain is its finding, not a request error).
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerAuditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/v1/audit/verify', { preHandler: requireRole('auditor') }, async (req) => {
    const v = await verifyAuditLog(ctx.db);
    if (!v.ok) {
      req.log.error({ breaks: v.breaks.slice(0, 10), rows: v.rows }, 'audit verify found a broken chain');
    }
    return verifyAnswer(v);
  });
}
