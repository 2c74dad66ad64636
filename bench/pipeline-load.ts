/**
 * The WMS pipeline bench's load generator, in a process of its own (child_process.fork from
 * pipeline.bench.ts): the HTTP client's CPU (building bodies, fetch, timers) is not the hub's, so it
 * runs beside the system under test instead of on its event loop. Commands arrive over IPC; each
 * answers `{ ok: true, result }` or `{ ok: false, error }`.
 */
import net from 'node:net';
import { percentile, sleep } from './bench-result';

/**
 * A minimal HTTP/1.1 keep-alive client connection: one request at a time, the request written in
 * one socket write, the answer read by its Content-Length. A bench's test equipment only: fetch
 * (undici, web streams) costs about 1 ms of CPU per request on this machine — as much as the hub
 * spends on the message — and would make the bench measure its own client.
 */
class Connection {
  private readonly sock: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (r: { status: number; body: Buffer }) => void; reject: (e: Error) => void };
  private failed?: Error;
  busy = false;

  constructor(private readonly url: URL) {
    this.sock = net.connect(Number(url.port), url.hostname);
    this.sock.setNoDelay(true);
    this.sock.on('data', (d: Buffer) => this.onData(d));
    const fail = (e: Error): void => {
      this.failed = e;
      this.waiting?.reject(e);
      this.waiting = undefined;
    };
    this.sock.on('error', fail);
    this.sock.on('close', () => fail(new Error('connection closed')));
  }

  request(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: Buffer }> {
    if (this.failed) return Promise.reject(this.failed);
    this.busy = true;
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.url.host}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}${body ? `Content-Length: ${body.length}\r\n` : ''}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = {
        resolve: (r) => {
          this.busy = false;
          resolve(r);
        },
        reject,
      };
      this.sock.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!len) {
      this.waiting?.reject(new Error(`answer without Content-Length: ${head.split('\r\n')[0]}`));
      return;
    }
    const total = end + 4 + Number(len[1]);
    if (this.buf.length < total) return;
    const body = this.buf.subarray(end + 4, total);
    this.buf = this.buf.subarray(total);
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve({ status: Number(head.slice(9, 12)), body });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Connections to one server: an idle one is reused, else another is opened (open-loop load never waits for one). */
class Pool {
  private readonly all: Connection[] = [];
  constructor(private readonly url: URL) {}
  take(): Connection {
    const idle = this.all.find((c) => !c.busy);
    if (idle) return idle;
    const c = new Connection(this.url);
    this.all.push(c);
    return c;
  }
  close(): void {
    for (const c of this.all) c.close();
  }
}

/** One WMS receive movement of the bench (500 lots × 40 bins of one GTIN). */
export function movement(i: number, run: string): string {
  const lot = `L${(i % 500).toString().padStart(4, '0')}`;
  return JSON.stringify({
    movementId: `B-${run}-${i}`, type: 'receive', occurredAt: new Date(Date.UTC(2026, 2, 1, 10, 0, i % 60)).toISOString(),
    location: `WH1-A${(i % 40).toString().padStart(2, '0')}`, gtin: '09506000134352', lot, expiry: '2027-03-31', quantity: 1 + (i % 7), uom: 'EA',
  });
}

export type LoadCommand =
  | { cmd: 'warm'; base: string; key: string; run: string; messages: number }
  /** `seconds`: stop sending after this long (at most `messages`); the answer says how many were sent. */
  | { cmd: 'sustained'; base: string; key: string; run: string; messages: number; senders: number; seconds?: number }
  | { cmd: 'latency'; base: string; key: string; run: string; rate: number; seconds: number; target: 'ingest' | 'healthz' };

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
}

function post(conn: Connection, key: string, body: string): Promise<{ status: number; body: Buffer }> {
  return conn.request('POST', '/api/v1/ingest/wms', { 'content-type': 'application/json', authorization: `Bearer ${key}` }, Buffer.from(body, 'utf8'));
}

/** Runs one command of the load generator (in this process). */
export async function runLoad(c: LoadCommand): Promise<unknown> {
  const pool = new Pool(new URL(c.base));
  try {
    switch (c.cmd) {
      case 'warm': {
        const conn = pool.take();
        for (let i = 0; i < c.messages; i++) await post(conn, c.key, movement(i, c.run));
        return null;
      }
      case 'sustained': {
        // closed loop: `senders` connections post one message after another; resolves when all are answered
        let next = 0;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: c.senders }, async () => {
          const conn = new Connection(new URL(c.base));
          try {
            while (next < c.messages && (c.seconds === undefined || performance.now() - t0 < c.seconds * 1000)) {
              const i = next++;
              const res = await post(conn, c.key, movement(i, c.run));
              if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${res.body.toString()}`);
            }
          } finally {
            conn.close();
          }
        }));
        return { intakeMs: performance.now() - t0, sent: next };
      }
      case 'latency': {
        // open loop at a steady rate: request i is due at i/rate s, whatever the earlier ones do
        const lat: number[] = [];
        const pending: Array<Promise<void>> = [];
        const start = performance.now();
        for (let i = 0; i < c.rate * c.seconds; i++) {
          const due = start + (i * 1000) / c.rate;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          const t = performance.now();
          const conn = pool.take();
          const req = c.target === 'healthz' ? conn.request('GET', '/healthz', {}) : post(conn, c.key, movement(i, c.run));
          pending.push(req.then(() => { lat.push(performance.now() - t); }));
        }
        await Promise.all(pending);
        lat.sort((a, b) => a - b);
        const result: LatencyResult = { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat[lat.length - 1], requests: lat.length };
        return result;
      }
    }
  } finally {
    pool.close();
  }
}

if (require.main === module && process.send) {
  process.on('message', (c: LoadCommand) => {
    runLoad(c).then(
      (result) => process.send?.({ ok: true, result }),
      (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
