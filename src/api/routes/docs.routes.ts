import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { fromRoot } from '../../paths';
import type { HubApiContext } from '../server';

type Json = Record<string, unknown>;
interface Param { name: string; in: string; schema?: Json; required?: boolean; description?: string }
interface Operation { parameters?: Param[]; requestBody?: unknown; [k: string]: unknown }

/** Fastify `:param` → OpenAPI `{param}`. */
const toOpenApi = (p: string): string => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Overlays the JSON Schemas the routes validate with onto the curated document: a query or path
 * parameter's schema is the route's (descriptions stay), parameters and bodies the document lacks are
 * added, and routes with a schema but no entry get one. The document therefore never drifts from validation.
 */
export function overlayRouteSchemas(doc: Json, routes: RouteOptions[]): Json {
  const out = JSON.parse(JSON.stringify(doc)) as Json & { paths: Record<string, Record<string, Operation>> };
  for (const r of routes) {
    const url = typeof r.url === 'string' ? r.url : '';
    if (!url.startsWith('/api/v1/') || !r.schema) continue;
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).map((m) => m.toLowerCase()).filter((m) => m !== 'head');
    const schema = r.schema as { querystring?: Json; params?: Json; body?: Json };
    for (const method of methods) {
      const p = toOpenApi(url);
      out.paths[p] ??= {};
      const op: Operation = (out.paths[p][method] ??= { summary: `${method.toUpperCase()} ${p}`, responses: { default: { description: 'See docs/api.md' } } });
      for (const [where, s] of [['query', schema.querystring], ['path', schema.params]] as const) {
        const props = (s?.properties ?? {}) as Record<string, Json>;
        const required = new Set((s?.required as string[] | undefined) ?? []);
        for (const [name, propSchema] of Object.entries(props)) {
          op.parameters ??= [];
          const existing = op.parameters.find((x) => x.name === name && x.in === where);
          if (existing) {
            if (!existing.schema || !('$ref' in existing.schema)) existing.schema = propSchema;
          } else {
            op.parameters.push({ name, in: where, schema: propSchema, ...(required.has(name) || where === 'path' ? { required: true } : {}) });
          }
        }
      }
      if (schema.body && !op.requestBody) {
        op.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
      }
    }
  }
  return out;
}

/**
 * `/api/docs`: the OpenAPI document (schemas/api/openapi.json overlaid with the route schemas) as JSON at
 * `/api/docs/json` (and `/api/docs/openapi.json`); `/api/docs` itself is Swagger UI for a browser and the
 * JSON for any other client. No key needed.
 */
export function registerDocsRoutes(app: FastifyInstance, _ctx: HubApiContext): void {
  const file = fromRoot('schemas', 'api', 'openapi.json');
  const base = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Json) : { openapi: '3.1.0', info: { title: 'LotBridge', version: '0' }, paths: {} };
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => {
    routes.push(r);
  });
  let doc: Json | undefined;
  const current = (): Json => (doc ??= overlayRouteSchemas(base, routes));
  const uiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const ui = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LotBridge API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head><body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script><script src="/api/docs/static/init.js"></script></body></html>`;
  const init = "window.ui = SwaggerUIBundle({ url: '/api/docs/json', dom_id: '#swagger-ui', deepLinking: true });\n";

  app.get('/api/docs', async (req: FastifyRequest, reply: FastifyReply) => {
    if ((req.headers.accept ?? '').includes('text/html')) {
      return reply.type('text/html; charset=utf-8').send(ui);
    }
    return current();
  });
  app.get('/api/docs/json', async () => current());
  app.get('/api/docs/openapi.json', async () => current());
  app.get<{ Params: { file: string } }>('/api/docs/static/:file', async (req, reply) => {
    const f = req.params.file;
    if (f === 'init.js') return reply.type('text/javascript; charset=utf-8').send(init);
    if (f !== 'swagger-ui.css' && f !== 'swagger-ui-bundle.js') return reply.status(404).send({ error: { code: 'LB_ERR_API_NOT_FOUND', message: `no file ${f}` } });
    return reply.type(f.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(fs.createReadStream(path.join(uiDir, f)));
  });
}
