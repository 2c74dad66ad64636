import type { ErrorObject } from 'ajv';
import { LotBridgeError } from '../../errors';
import { describeAjvErrors, schemaRegistry } from '../../schemas/registry';

/** JSON-pointer path of the first ajv error (the missing property's own path for `required`). */
function firstErrorPath(errors: ErrorObject[]): string {
  const e = errors[0];
  if (!e) {
    return '/';
  }
  if (e.keyword === 'required') {
    return `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`;
  }
  if (e.keyword === 'additionalProperties') {
    return `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}`;
  }
  return e.instancePath || '/';
}

/**
 * Validates a request body against a JSON Schema of schemas/api/ (by `$id`) without coercion.
 * @param schemaId - `$id` of the schema
 * @param body - the parsed body
 * @throws LotBridgeError LB_ERR_API_BAD_REQUEST with `location.path` (JSON pointer) and every error in the message
 */
export function validateBody<T>(schemaId: string, body: unknown): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'the body must be a JSON object (Content-Type: application/json)', { location: { path: '/' } });
  }
  const validate = schemaRegistry().get(schemaId);
  if (!validate(body)) {
    const errors = validate.errors ?? [];
    throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', `body does not match ${schemaId.replace(/^.*\//, '')}: ${describeAjvErrors(errors)}`, {
      location: { path: firstErrorPath(errors) },
      details: { schema: schemaId },
    });
  }
  return body as T;
}

/** Querystring schema properties for `limit` (1–1000, default 50) and `offset` (0 – 2^53 - 1, default 0). */
export const pageQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  // at most 2^53 - 1: a larger number is no exact integer in JSON/JS, and past PostgreSQL's bigint the OFFSET failed (500)
  offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
} as const;

/** `limit`/`offset` with defaults applied (Fastify's ajv applies them too; this covers a bare instance). */
export function pageOf(q: { limit?: number; offset?: number }): { limit: number; offset: number } {
  return { limit: q.limit ?? 50, offset: q.offset ?? 0 };
}
