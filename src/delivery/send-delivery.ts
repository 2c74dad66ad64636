import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { LotBridgeError, isLotBridgeError } from '../errors';
import { createMllpClient, type MllpClient } from '../transport/mllp';
import { checkHl7Ack } from './hl7-ack-check';
import type { Destination, DeliverySecrets } from './destination';

/** One send: what, where, and the ids the receiver can deduplicate on. */
export interface SendRequest {
  deliveryId: string;
  eventId?: string | null;
  destination: Destination;
  body: Buffer;
  contentType?: string;
  secrets: DeliverySecrets;
  timeoutMs: number;
}

/** What the destination answered (kept as the delivery's `ack`). */
export type SendOutcome = Record<string, unknown>;

const BODY_HEAD = 2048;

/** Keep-alive agents shared by every HTTP(S) delivery of the process (sockets reused per host). */
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 }),
};

/** One HTTP request with node:http (lighter than fetch per request): status and the head of the body. */
function httpRequest(url: URL, method: string, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    let settled = false;
    const fail = (err: Error): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      }
    };
    const req = mod.request(url, { method, headers: { ...headers, 'content-length': String(body.length) }, agent: url.protocol === 'https:' ? agents.https : agents.http }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < BODY_HEAD * 4) {
          chunks.push(c);
          size += c.length;
        }
      });
      res.on('error', (err) => fail(err));
      res.on('end', () => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, BODY_HEAD) });
        }
      });
    });
    const timer = setTimeout(() => {
      const e = new Error(`no answer within ${timeoutMs} ms`);
      e.name = 'TimeoutError';
      fail(e);
      req.destroy(e);
    }, timeoutMs);
    req.on('error', (err) => fail(err));
    req.end(body);
  });
}

async function sendHttp(req: SendRequest & { destination: { kind: 'http' } }): Promise<SendOutcome> {
  const d = req.destination;
  const headers: Record<string, string> = {
    'content-type': req.contentType ?? 'application/octet-stream',
    'x-lotbridge-delivery-id': req.deliveryId,
    ...(req.eventId ? { 'x-lotbridge-event-id': req.eventId } : {}),
    ...d.headers,
    ...req.secrets.headers,
  };
  let res: { status: number; text: string };
  try {
    res = await httpRequest(new URL(d.url), d.method ?? 'POST', headers, req.body, req.timeoutMs);
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      throw new LotBridgeError('LB_ERR_DELIVERY_TIMEOUT', `${d.method ?? 'POST'} ${d.url} got no answer within ${req.timeoutMs} ms`, { cause: err });
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw new LotBridgeError('LB_ERR_DELIVERY_CONNECT', `${d.method ?? 'POST'} ${d.url} failed: ${code ?? (err as Error).message}`, { cause: err });
  }
  const text = res.text;
  const ack = { type: 'http', status: res.status, body: text };
  if (res.status >= 200 && res.status < 300) {
    return ack;
  }
  if (res.status >= 500 || res.status === 408 || res.status === 429) {
    throw new LotBridgeError('LB_ERR_DELIVERY_HTTP_STATUS', `${d.method ?? 'POST'} ${d.url} answered ${res.status}`, { details: { ack } });
  }
  throw new LotBridgeError('LB_ERR_DELIVERY_HTTP_REJECTED', `${d.method ?? 'POST'} ${d.url} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, { details: { ack } });
}

async function sendFile(req: SendRequest & { destination: { kind: 'file' } }): Promise<SendOutcome> {
  const d = req.destination;
  const name = (d.fileName ?? '{deliveryId}.dat')
    .replaceAll('{deliveryId}', req.deliveryId)
    .replaceAll('{eventId}', req.eventId ?? req.deliveryId)
    .replaceAll('{timestamp}', new Date().toISOString().replace(/[:.]/g, '-'));
  const target = path.join(d.dir, name);
  const tmp = path.join(d.dir, `.${req.deliveryId}.part`);
  try {
    await fs.writeFile(tmp, req.body);
    try {
      // link, not rename: never overwrite a file someone else put there
      await fs.link(tmp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
      const existing = await fs.readFile(target);
      if (!existing.equals(req.body)) {
        throw new LotBridgeError('LB_ERR_DELIVERY_INVALID', `file ${target} exists with other content: choose a file name template with {deliveryId}`, { location: { path: 'fileName' } });
      }
      // the same bytes: an earlier attempt wrote it before the process died
    }
    await fs.unlink(tmp).catch(() => undefined);
  } catch (err) {
    if (isLotBridgeError(err)) {
      throw err;
    }
    throw new LotBridgeError('LB_ERR_DELIVERY_FILE', `writing ${target} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return { type: 'file', path: target, bytes: req.body.length };
}

/** Sends deliveries; MLLP connections are kept open per destination and reused. */
export class DeliverySender {
  private readonly mllp = new Map<string, MllpClient>();

  /**
   * Sends one request and returns what the destination answered.
   *
   * @throws LotBridgeError with a delivery (or MLLP) code; `details.ack` holds an answer when there was one
   */
  async send(req: SendRequest): Promise<SendOutcome> {
    const d = req.destination;
    switch (d.kind) {
      case 'http':
        return sendHttp({ ...req, destination: d });
      case 'file':
        return sendFile({ ...req, destination: d });
      case 'mllp': {
        const key = `${d.tls ? 'mllps' : 'mllp'}://${d.host}:${d.port}`;
        let client = this.mllp.get(key);
        if (!client) {
          client = createMllpClient({ host: d.host, port: d.port, tls: d.tls ? {} : undefined, timeoutMs: req.timeoutMs });
          this.mllp.set(key, client);
        }
        let answer: Buffer;
        try {
          answer = await client.send(req.body);
        } catch (err) {
          // a broken connection is dropped; the next attempt connects afresh
          this.mllp.delete(key);
          void client.close().catch(() => undefined);
          throw err;
        }
        return { ...checkHl7Ack(answer.toString('latin1'), req.body.toString('latin1')) };
      }
    }
  }

  /** Closes the kept MLLP connections. */
  async close(): Promise<void> {
    const clients = [...this.mllp.values()];
    this.mllp.clear();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}
