import { createHash } from 'node:crypto';
import type { DeliveryView } from '../../delivery/enqueue-delivery';
import { bridgeOf, payloadBytes, resolveEnv, ticketOf } from './node-support';
import type { NodeRedApi, RedMsg, RedNode } from './red-types';

/** Properties of a lotbridge-deliver node. */
interface DeliverNodeConfig {
  name?: string;
  kind?: 'http' | 'mllp' | 'file';
  url?: string;
  method?: string;
  headers?: string;
  host?: string;
  port?: string | number;
  tls?: boolean;
  dir?: string;
  fileName?: string;
  contentType?: string;
  attempts?: string | number;
  backoff?: string | number;
  timeout?: string | number;
  concurrency?: string | number;
  /** An array payload is sent as one delivery per element (all queued before the event completes). */
  split?: boolean;
}

const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));

/**
 * lotbridge-deliver: sends msg.payload through the `deliver` queue (retries with backoff, a
 * concurrency cap per destination) to HTTP(S), MLLP (ACK checked) or a folder. Once the delivery is
 * durably queued the event's route job is completed for this flow; the deliver queue owns the
 * retries from there. When the delivery ends, msg.delivery (status, attempts, ack) leaves output 1
 * (delivered) or output 2 (failed). A destination left unset (e.g. `${LOTBRIDGE_FLOW_…}` empty) is
 * recorded as `skipped` and completes the event: default flows are safe to leave unconfigured.
 */
export = function register(RED: NodeRedApi): void {
  function LotBridgeDeliverNode(this: RedNode, config: DeliverNodeConfig): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const bridge = bridgeOf(RED);
    const kind = config.kind ?? 'http';
    let closed = false;
    let headers: Record<string, string> = {};
    let configError: string | undefined;
    try {
      const h = (config.headers ?? '').trim();
      headers = h === '' ? {} : (JSON.parse(h) as Record<string, string>);
      if (typeof headers !== 'object' || Array.isArray(headers) || headers === null) {
        throw new Error('not an object');
      }
    } catch (err) {
      configError = `headers must be a JSON object of name → value (${(err as Error).message})`;
    }
    const destination = (): Record<string, unknown> | undefined => {
      switch (kind) {
        case 'http': {
          const url = resolveEnv(config.url);
          return url ? { kind, url, method: config.method || 'POST', headers } : undefined;
        }
        case 'mllp': {
          const host = resolveEnv(config.host);
          const port = resolveEnv(config.port);
          return host && port ? { kind, host, port: Number(port), tls: config.tls === true } : undefined;
        }
        case 'file': {
          const dir = resolveEnv(config.dir);
          return dir ? { kind, dir, fileName: resolveEnv(config.fileName) || undefined } : undefined;
        }
        default:
          return undefined;
      }
    };
    const idle = (): void => {
      if (!bridge) {
        node.status({ fill: 'grey', shape: 'ring', text: 'needs the LotBridge hub runtime' });
      } else if (configError) {
        node.status({ fill: 'red', shape: 'ring', text: 'bad headers' });
      } else if (!destination()) {
        node.status({ fill: 'yellow', shape: 'ring', text: 'not configured: events are skipped' });
      } else {
        node.status({});
      }
    };
    idle();
    let sent = 0;
    node.on('input', (msg: RedMsg, send, done) => {
      if (!bridge) {
        done(new Error('lotbridge-deliver works only inside a LotBridge hub'));
        return;
      }
      if (configError) {
        done(new Error(`lotbridge-deliver: ${configError}`));
        return;
      }
      const ticket = ticketOf(msg);
      const ev = (msg.event ?? undefined) as { id?: string; type?: string; sourceMessageId?: string | null; ordinal?: number | null } | undefined;
      const event = ev?.id ? { id: ev.id, type: ev.type ?? String(msg.topic ?? ''), sourceMessageId: ev.sourceMessageId ?? null, ordinal: ev.ordinal ?? null } : undefined;
      const idempotencyKey = event ? `${event.id}:${node.id}` : undefined;
      const dest = destination();
      const origin = `flow:${node.id}`;
      void (async () => {
        if (!dest) {
          const skipped = await bridge.skip({ kind, origin, idempotencyKey, event, reason: `lotbridge-deliver "${node.name || node.id}" has no ${kind === 'http' ? 'URL' : kind === 'mllp' ? 'host/port' : 'folder'} configured` });
          bridge.complete(ticket, { ok: true, by: node.id });
          msg.delivery = skipped;
          node.status({ fill: 'yellow', shape: 'ring', text: 'not configured: skipped' });
          done();
          return;
        }
        const c = node.credentials ?? {};
        const secrets: Record<string, string> = {};
        if (c.token) {
          secrets.authorization = `Bearer ${c.token}`;
        } else if (c.user) {
          secrets.authorization = `Basic ${Buffer.from(`${c.user}:${c.password ?? ''}`).toString('base64')}`;
        }
        const parts: unknown[] = config.split === true && Array.isArray(msg.payload) ? msg.payload : [msg.payload];
        const deliveries: DeliveryView[] = [];
        for (const part of parts) {
          let { body, json } = payloadBytes(part);
          if (kind === 'mllp') {
            // HL7 segments end in CR; flows often carry LF
            body = Buffer.from(body.toString('latin1').replace(/\r\n|\n/g, '\r'), 'latin1');
          }
          // the same event, node, destination and body is the same delivery: a re-delivered event never sends twice
          const idempotencyKey = event ? `${event.id}:${node.id}:${createHash('sha256').update(JSON.stringify(dest)).update(body).digest('hex').slice(0, 32)}` : undefined;
          const { delivery } = await bridge.deliver({
            destination: dest,
            body,
            contentType: config.contentType || (kind === 'mllp' ? 'application/hl7-v2' : json ? 'application/json' : 'text/plain; charset=utf-8'),
            secrets: { headers: secrets },
            policy: {
              attempts: num(config.attempts),
              backoffMs: num(config.backoff) !== undefined ? Math.round(num(config.backoff)! * 1000) : undefined,
              timeoutMs: num(config.timeout) !== undefined ? Math.round(num(config.timeout)! * 1000) : undefined,
              concurrency: num(config.concurrency),
            },
            origin,
            idempotencyKey,
            event,
          });
          deliveries.push(delivery);
        }
        // durably queued: this flow is finished with the event; the deliver queue retries from here
        bridge.complete(ticket, { ok: true, by: node.id });
        sent += deliveries.length;
        node.status({ fill: 'blue', shape: 'dot', text: `${sent} queued` });
        done();
        await Promise.all(
          deliveries.map(async (delivery, i) => {
            const outcome: DeliveryView | undefined = delivery.status === 'delivered' || delivery.status === 'failed' ? delivery : await bridge.outcome(delivery.id, 24 * 3600 * 1000);
            if (closed || !outcome) {
              return;
            }
            const out: RedMsg = parts.length > 1 ? { ...msg, payload: parts[i], delivery: outcome } : Object.assign(msg, { delivery: outcome });
            if (outcome.status === 'delivered') {
              node.status({ fill: 'green', shape: 'dot', text: `delivered (${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'})` });
              send([out, null]);
            } else {
              node.status({ fill: 'red', shape: 'dot', text: `failed: ${outcome.error?.code ?? ''}` });
              send([null, out]);
            }
          }),
        );
      })().catch((err: unknown) => {
        node.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
        done(err as Error);
      });
    });
    node.on('close', (_removed, done) => {
      closed = true;
      done();
    });
  }
  RED.nodes.registerType('lotbridge-deliver', LotBridgeDeliverNode, {
    credentials: { user: { type: 'text' }, password: { type: 'password' }, token: { type: 'password' } },
  });
};
