import fs from 'node:fs';
import path from 'node:path';
import { errorCatalog } from '../../../src/errors/codes';
import { SchemaRegistry } from '../../../src/schemas/registry';

/**
 * Keeps schemas/api/openapi.json (served at /api/docs) honest to the code: it parses, every path
 * in it is a route registered in src/api/routes/*.ts, every intake and message route is in it,
 * its local $refs resolve, and its copies of JSON Schemas match the files they were copied from.
 */

const root = path.join(__dirname, '../../..');
const docFile = path.join(root, 'schemas/api/openapi.json');
const routesDir = path.join(root, 'src/api/routes');
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Operation = { security?: unknown[]; responses?: Record<string, unknown> };
type OpenApi = {
  openapi: string;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components: { schemas: Record<string, Record<string, Json>>; securitySchemes: Record<string, { type: string; scheme?: string }> };
  security?: unknown[];
};

const docText = fs.readFileSync(docFile, 'utf8');
const doc = JSON.parse(docText) as OpenApi;

/** `METHOD /path/:param` for every route registered with app.<method>('/…') or scope.<method>('/…'). */
function routesIn(file: string): Set<string> {
  const src = fs.readFileSync(file, 'utf8');
  const out = new Set<string>();
  const re = /\.(get|post|put|patch|delete)\s*(?:<[^(]*>)?\(\s*['"`](\/[^'"`]*)['"`]/g;
  for (const m of src.matchAll(re)) {
    out.add(`${m[1].toUpperCase()} ${m[2]}`);
  }
  return out;
}

const routeFiles = fs.readdirSync(routesDir).filter((f) => f.endsWith('.routes.ts'));
const sourceRoutes = new Set(routeFiles.flatMap((f) => [...routesIn(path.join(routesDir, f))]));

/** OpenAPI `{param}` → Fastify `:param`. */
const toFastify = (p: string): string => p.replace(/\{([^}]+)\}/g, ':$1');

const documentedRoutes = new Set(
  Object.entries(doc.paths).flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${toFastify(p)}`)),
);

/** Follows a local JSON pointer (`#/components/schemas/X`). */
function resolvePointer(ref: string): unknown {
  let node: unknown = doc;
  for (const raw of ref.replace(/^#\//, '').split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) {
      return undefined;
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    node.forEach((n) => collectRefs(n, out));
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        out.push(v);
      } else {
        collectRefs(v, out);
      }
    }
  }
  return out;
}

describe('OpenAPI document (schemas/api/openapi.json)', () => {
  it('is OpenAPI 3.1 with bearer security and component schemas for receipts, errors and messages', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    for (const name of ['Receipt', 'ReceiptAccepted', 'ReceiptDuplicate', 'ReceiptRejected', 'Error', 'ErrorResponse', 'MessageView', 'MessageDetail', 'MessageList']) {
      expect({ name, present: name in doc.components.schemas }).toEqual({ name, present: true });
    }
  });

  it('lists only routes that exist in src/api/routes', () => {
    expect(sourceRoutes.size).toBeGreaterThan(0);
    const missing = [...documentedRoutes].filter((r) => !sourceRoutes.has(r));
    expect(missing).toEqual([]);
  });

  it('documents every intake and message route', () => {
    const required = [...routesIn(path.join(routesDir, 'ingest.routes.ts')), ...routesIn(path.join(routesDir, 'messages.routes.ts'))];
    expect(required).toEqual(expect.arrayContaining(['POST /api/v1/ingest/:connectorId', 'GET /api/v1/messages/:id']));
    const undocumented = required.filter((r) => !documentedRoutes.has(r));
    expect(undocumented).toEqual([]);
  });

  it('needs a key on /api/v1 routes and none on health, metrics and docs', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        const isPublic = !p.startsWith('/api/v1/');
        expect({ route: `${m} ${p}`, public: Array.isArray(op.security) && op.security.length === 0 }).toEqual({ route: `${m} ${p}`, public: isPublic });
      }
    }
  });

  it('resolves every local $ref', () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(0);
    const unresolved = refs.filter((r) => !r.startsWith('#/') || resolvePointer(r) === undefined);
    expect(unresolved).toEqual([]);
  });

  it('keeps its copies of JSON Schemas equal to the files they name in x-lotbridge-source', () => {
    const copies = Object.entries(doc.components.schemas).filter(([, s]) => typeof s['x-lotbridge-source'] === 'string');
    expect(copies.length).toBeGreaterThan(0);
    for (const [name, schema] of copies) {
      const source = String(schema['x-lotbridge-source']);
      const original = JSON.parse(fs.readFileSync(path.join(root, source), 'utf8')) as Record<string, Json>;
      delete original.$schema;
      delete original.$id;
      const copy = { ...schema };
      delete copy['x-lotbridge-source'];
      // when this fails: copy the changed file into components.schemas.<name> (without $schema and $id)
      expect({ name, schema: copy }).toEqual({ name, schema: original });
    }
  });

  it('names only error codes that the catalog has', () => {
    const codes = [...new Set([...docText.matchAll(/LB_ERR_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0]))];
    const wildcards = [...docText.matchAll(/(LB_ERR_[A-Z0-9_]+_)\*/g)].map((m) => m[1]);
    const unknown = codes.filter((c) => !(c in errorCatalog) && !wildcards.some((w) => c === w.slice(0, -1)));
    expect(unknown).toEqual([]);
  });

  it('stays out of the schema registry (OpenAPI 3.1 has no top-level $id), which still loads every other schema', () => {
    const registry = new SchemaRegistry();
    expect((doc as unknown as { $id?: string }).$id).toBeUndefined();
    expect(registry.ids().length).toBeGreaterThan(0);
    expect(registry.ids().some((id) => id.endsWith('openapi.json'))).toBe(false);
  });
});
