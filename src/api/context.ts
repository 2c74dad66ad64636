import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/knex';
import type { LotBridgeConfig } from '../config/config';
import type { Logger } from '../logging/logger';
import { LotBridgeError } from '../errors';

export type Role = 'ingest' | 'operator' | 'admin' | 'auditor';

/** The caller, set by the auth hook on every /api/v1 request. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** What route modules get: `register<Area>Routes(app, ctx)`. */
export interface ApiContext {
  db: Db;
  config: LotBridgeConfig;
  logger: Logger;
}

/**
 * Which roles may do what. `ingest` pushes feeds; `operator` browses and reprocesses; `admin`
 * does everything; `auditor` reads everything and changes nothing.
 */
const ROLE_RANK: Record<Role, Role[]> = {
  ingest: ['ingest', 'admin'],
  operator: ['operator', 'admin'],
  admin: ['admin'],
  auditor: ['auditor', 'operator', 'admin'],
};

/** True when `role` may act as `needed` (see ROLE_RANK). */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[needed].includes(role);
}

/**
 * preHandler: the caller needs one of `roles` (an `admin` always passes).
 * Use `requireRole('ingest')` for intake, `requireRole('operator', 'auditor')` for reads.
 */
export function requireRole(...roles: Role[]) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const p = req.principal;
    if (!p) {
      throw new LotBridgeError('LB_ERR_AUTH_MISSING', 'this route needs an API key: send "Authorization: Bearer <key>"');
    }
    if (p.role === 'admin' || roles.includes(p.role)) {
      return;
    }
    throw new LotBridgeError('LB_ERR_AUTH_FORBIDDEN', `role "${p.role}" may not do this; it needs one of: ${roles.join(', ')}`);
  };
}
