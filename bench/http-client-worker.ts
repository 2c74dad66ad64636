/**
 * The trace bench's HTTP client, run in a worker thread (see {@link startHttpClient}): a client of
 * the hub runs in its own process, never on the hub's event loop nor in its V8 heap. Run on the hub's
 * thread, the client's work on each answer (collecting half a megabyte of a 1,000-row trace page,
 * parsing its JSON) and the garbage it leaves fall between and into the hub's own requests, and the
 * bench measured them as the hub's latency (docs/architecture.md, "Runs of 2026-11-28, 09:00–10:40 UTC:
 * the trace bench's client in a worker thread, …").
 *
 * The worker times each request from before it is sent to the last byte of the answer, then parses
 * the JSON (as a client would) and sends the main thread only what the bench reads: the values at the
 * `pick` paths of a 2xx answer, or the whole body of any other (so errors are reported in full).
 *
 * `node:http` on one keep-alive connection, the answer's bytes collected and decoded once. Not
 * `fetch`: undici's web-stream body cost ~3 ms of CPU per 450 KB answer on this machine (raw lots'
 * first pages, 143 lots: p50 25.3–29.2 against 23.0–23.9 ms with this client, the same server;
 * measured when the client still ran on the hub's thread). pipeline-load.ts has its own minimal
 * client for the same reason.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as nodeHttp from 'node:http';
import { performance } from 'node:perf_hooks';

/** A request to the worker. */
interface RequestMessage { id: number; path: string; method?: string; body?: string; pick?: string[] }
/** The worker's answer to request `id`. */
interface ResponseMessage { id: number; ms: number; status: number; body: any; error?: string }

/** Options of one request: method and JSON body, and the dotted paths of a 2xx answer's JSON the caller reads (default: all of it). */
export interface HttpRequestInit { method?: string; body?: string; pick?: string[] }
/** A timed request: wall time from send to the answer's last byte, status, and the body (whole, or the picked paths). */
export type HttpTimed = (path: string, init?: HttpRequestInit) => Promise<{ ms: number; status: number; body: any }>;

/** The values at `paths` (dotted) of `value`, in an object of the same nesting: `pick(x, ['page.rows'])` → `{ page: { rows } }`. */
export function pickPaths(value: unknown, paths: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of paths) {
    const keys = p.split('.');
    let src: any = value;
    let dst: Record<string, any> = out;
    for (let i = 0; i < keys.length; i++) {
      src = src === null || src === undefined ? undefined : src[keys[i]];
      if (i === keys.length - 1) dst[keys[i]] = src;
      else dst = dst[keys[i]] ??= {};
    }
  }
  return out;
}

function serve(base: string, key: string): void {
  const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(base);
  parentPort!.on('message', (m: RequestMessage) => {
    const body = m.body === undefined ? undefined : Buffer.from(m.body);
    const t0 = performance.now();
    const req = nodeHttp.request({
      host: u.hostname, port: Number(u.port), path: m.path, method: m.method ?? 'GET', agent,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { text: text.slice(0, 2000) };
        }
        const reply: ResponseMessage = { id: m.id, ms, status, body: m.pick && status >= 200 && status < 300 ? pickPaths(parsed, m.pick) : parsed };
        parentPort!.postMessage(reply);
      });
      res.on('error', (e) => parentPort!.postMessage({ id: m.id, ms: 0, status: 0, body: null, error: e.message } satisfies ResponseMessage));
    });
    req.on('error', (e) => parentPort!.postMessage({ id: m.id, ms: 0, status: 0, body: null, error: e.message } satisfies ResponseMessage));
    req.end(body);
  });
}

if (!isMainThread && parentPort && (workerData as { lotbridgeBenchHttpClient?: boolean } | undefined)?.lotbridgeBenchHttpClient) {
  const d = workerData as { base: string; key: string };
  serve(d.base, d.key);
}

/**
 * Starts the HTTP client worker for the hub at `base` with API key `key`. `close` ends the worker.
 * Requests may overlap; each is answered by its id.
 */
export function startHttpClient(base: string, key: string): { http: HttpTimed; close: () => Promise<void> } {
  const worker = new Worker(__filename, { workerData: { lotbridgeBenchHttpClient: true, base, key } });
  const waiting = new Map<number, { resolve: (r: ResponseMessage) => void; reject: (e: Error) => void }>();
  let next = 0;
  worker.on('message', (r: ResponseMessage) => {
    const w = waiting.get(r.id);
    if (!w) return;
    waiting.delete(r.id);
    if (r.error !== undefined) w.reject(new Error(`bench HTTP client: ${r.error}`));
    else w.resolve(r);
  });
  worker.on('error', (e) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  });
  worker.unref();
  const http: HttpTimed = (path, init = {}) => new Promise((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve: (r) => resolve({ ms: r.ms, status: r.status, body: r.body }), reject });
    worker.postMessage({ id, path, method: init.method, body: init.body, pick: init.pick } satisfies RequestMessage);
  });
  return { http, close: async () => { await worker.terminate(); } };
}
