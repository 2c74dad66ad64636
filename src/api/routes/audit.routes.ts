import type { FastifyInstance } from 'fastify';
import { requireRole, type ApiContext } from '../context';
import { ANCHOR_HASH_PATTERN, verifyAnswer, verifyAuditLog } from '../../audit/verify-audit-log';

/**
 * `GET /api/v1/audit/verify` (auditor, admin): recomputes every audit chain and checks the anchors;
 * answers `{"ok":true,"rows":N}` or `{"ok":false,"firstBrokenRow":<seq>,"reason":"…"}` (200 either way:
 * the check ran; a broken chain is its finding, not a request error). `?anchor=<hash>`: an anchor
 * hash kept outside the database must still be there (else a break), and its chain heads intact.
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerAuditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const querystring = { type: 'object', additionalProperties: false, properties: { anchor: { type: 'string', pattern: ANCHOR_HASH_PATTERN } } };
  app.get<{ Querystring: { anchor?: string } }>('/api/v1/audit/verify', { preHandler: requireRole('auditor'), schema: { querystring } }, async (req) => {
    const v = await verifyAuditLog(ctx.db, { anchor: req.query.anchor });
    if (!v.ok) {
      req.log.error({ breaks: v.breaks.slice(0, 10), rows: v.rows }, 'audit verify found a broken chain');
    }
    return verifyAnswer(v);
  });
}
