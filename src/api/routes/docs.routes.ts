import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { fromRoot } from '../../paths';
import type { HubApiContext } from '../server';

/** `/api/docs`: the OpenAPI document (schemas/api/openapi.json), no key needed. */
export function registerDocsRoutes(app: FastifyInstance, _ctx: HubApiContext): void {
  const file = fromRoot('schemas', 'api', 'openapi.json');
  const doc = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : { openapi: '3.1.0', info: { title: 'LotBridge', version: '0' }, paths: {} };
  app.get('/api/docs', async () => doc);
  app.get('/api/docs/openapi.json', async () => doc);
}
