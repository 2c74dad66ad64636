import fs from 'node:fs/promises';
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

async function sendHttp(req: SendRequest & { destination: { kind: 'http' } }): Promise<SendOutcome> {
  const d = req.destination;
  const headers: Record<string, string> = {
    'content-type': req.contentType ?? 'application/octet-stream',
    'x-lotbridge-delivery-id': req.deliveryId,
    ...(req.eventId ? { 'x-lotbridge-event-id': req.eventId } : {}),
    ...d.headers,
    ...req.secrets.headers,
  };
  let res: Response;
  try {
    res = await fetch(d.url, { method: d.method ?? 'POST', headers, body: req.body, redirect: 'manual', signal: AbortSignal.timeout(req.timeoutMs) });
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new LotBridgeError('LB_ERR_DELIVERY_TIMEOUT', `${d.method ?? 'POST'} ${d.url} got no answer within ${req.timeoutMs} ms`, { cause: err });
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new LotBridgeError('LB_ERR_DELIVERY_CONNECT', `${d.method ?? 'POST'} ${d.url} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  }
  let text = '';
  try {
    text = (await res.text()).slice(0, BODY_HEAD);
  } catch (err) {
    if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') {
      throw new LotBridgeError('LB_ERR_DELIVERY_TIMEOUT', `${d.url} did not finish its answer within ${req.timeoutMs} ms`, { cause: err });
    }
  }
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
