import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../../src/db/knex';
import { ensureCompiled } from './ensure-compiled';

const ROOT = path.resolve(__dirname, '..', '..');
const NODE_TYPES = ['event', 'deliver', 'ingest', 'trace', 'done', 'config'];

/**
 * Makes sure dist/ holds the LotBridge nodes as Node-RED loads them (package.json "node-red":
 * compiled JavaScript with the editor HTML and icons beside it). Only stale files are compiled.
 */
export function ensureNodeRedNodes(): void {
  for (const t of NODE_TYPES) {
    ensureCompiled(`src/nodered/nodes/lotbridge-${t}.ts`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require(path.join(ROOT, 'scripts', 'copy-nodered-assets.js')) as { copyNodeRedAssets(root: string): number }).copyNodeRedAssets(ROOT);
}

/** Polls until `probe` returns something truthy. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v) {
        return v;
      }
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** A Node-RED Admin API token for admin/password (password grant, as the editor does it). */
export async function adminToken(url: string, password: string, username = 'admin'): Promise<{ status: number; token?: string }> {
  const res = await fetch(`${url}/flows/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username, password }).toString(),
  });
  const json = (await res.json().catch(() => ({}))) as { access_token?: string };
  return { status: res.status, token: json.access_token };
}

/** Deploys `flows` (a full deploy) through the Admin API. */
export async function deployFlows(url: string, token: string, flows: unknown[]): Promise<number> {
  const res = await fetch(`${url}/flows/flows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
    body: JSON.stringify(flows),
  });
  await res.text();
  return res.status;
}

/** Writes an outbox event as a canonical transaction would; returns its event id. */
export async function insertOutboxEvent(db: Db, type: string, payload: Record<string, unknown>, sourceMessageId: string | null = null): Promise<string> {
  const eventId = uuidv7();
  await db('outbox_events').insert({ event_id: eventId, type, payload: JSON.stringify(payload), source_message_id: sourceMessageId, ordinal: sourceMessageId ? 1 : null });
  return eventId;
}

/** One request the capture server got. */
export interface CapturedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A local HTTP server that records requests and answers with `respond` (default 200 "ok"). */
export async function captureServer(respond?: (req: CapturedRequest, n: number) => { status: number; body?: string; hang?: boolean }): Promise<{ url: string; requests: CapturedRequest[]; close(): Promise<void> }> {
  const requests: CapturedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: CapturedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(r);
      const a = respond ? respond(r, requests.length) : { status: 200, body: 'ok' };
      if (a.hang) {
        hanging.add(res);
        return;
      }
      res.writeHead(a.status, { 'content-type': 'text/plain' });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        hanging.forEach((res) => res.destroy());
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A flow tab with the given nodes (ids prefixed, wires by index of the list). */
export function tab(id: string, nodes: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return [{ id, type: 'tab', label: id }, ...nodes.map((n) => ({ x: 100, y: 100, ...n, z: id }))];
}
