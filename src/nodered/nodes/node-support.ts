import { BRIDGE_SETTING, type LotBridgeBridge, type RouteTicket } from '../bridge';
import type { NodeRedApi, RedMsg } from './red-types';

/** The embedded hub's bridge, or undefined in a stand-alone Node-RED. */
export function bridgeOf(RED: NodeRedApi): LotBridgeBridge | undefined {
  let b: unknown;
  try {
    b = RED.settings[BRIDGE_SETTING];
  } catch {
    b = undefined;
  }
  return b && typeof b === 'object' && (b as LotBridgeBridge).version === 1 ? (b as LotBridgeBridge) : undefined;
}

/** The route ticket a lotbridge-event node put on the msg, when it is still there. */
export function ticketOf(msg: RedMsg): RouteTicket | undefined {
  const t = msg._lotbridge as RouteTicket | undefined;
  return t && typeof t === 'object' && typeof t.token === 'string' ? t : undefined;
}

/** The msg payload as bytes: Buffer as is, text as UTF-8, anything else as JSON. */
export function payloadBytes(payload: unknown): { body: Buffer; json: boolean } {
  if (Buffer.isBuffer(payload)) {
    return { body: payload, json: false };
  }
  if (typeof payload === 'string') {
    return { body: Buffer.from(payload, 'utf8'), json: false };
  }
  if (payload === undefined) {
    return { body: Buffer.alloc(0), json: false };
  }
  return { body: Buffer.from(JSON.stringify(payload), 'utf8'), json: true };
}

/** Text of a node property that may name an environment variable (`${NAME}`), resolved; '' when unset. */
export function resolveEnv(value: unknown): string {
  if (typeof value !== 'string') {
    return value === undefined || value === null ? '' : String(value);
  }
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => process.env[name] ?? '').trim();
}
