import { LotBridgeError, errorCatalog, isLotBridgeError, type ErrorCode } from '../../errors';
import { readTraceBarcode, type TraceQuery } from '../../trace/trace-subject';
import { bridgeOf } from './node-support';
import type { HubConnection, NodeRedApi, RedMsg, RedNode } from './red-types';

/** What the node runs: a lot lookup, a forward/backward trace page, or a recall-impact preview. */
type TraceNodeMode = 'lot' | 'forward' | 'backward' | 'recall-impact';
const MODES: TraceNodeMode[] = ['lot', 'forward', 'backward', 'recall-impact'];
const NOT_FOUND = new Set<string>(['LB_ERR_LOT_NOT_FOUND', 'LB_ERR_SERIAL_NOT_FOUND']);

/** The query a msg carries in and out (`msg.traceQuery`): feed an answer back with its cursor for the next page. */
interface TraceNodeQuery {
  mode: TraceNodeMode;
  subject: TraceQuery;
  limit?: number;
  maxDepth?: number;
  cursor?: string;
}

interface TraceNodeConfig {
  name?: string;
  /** The mode (named `direction` since the first version of the node). */
  direction?: TraceNodeMode;
  gtin?: string;
  material?: string;
  lot?: string;
  serial?: string;
  barcode?: string;
  limit?: string | number;
  maxDepth?: string | number;
  hub?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
const int = (v: unknown): number | undefined => {
  const s = str(v);
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
};

/**
 * The query of one msg. The subject comes from msg.payload (`{ gtin | material, lot }`, `{ serial }`,
 * `{ barcode }`, or a string = a scanned barcode), field by field falling back to the node's fields; a
 * barcode in the msg replaces the node's subject. `msg.traceQuery` (an earlier answer's, with
 * `cursor` set to its `nextCursor`) is taken as is.
 */
function traceQueryOf(msg: RedMsg, config: TraceNodeConfig): TraceNodeQuery {
  const given = msg.traceQuery as Partial<TraceNodeQuery> | undefined;
  if (given && typeof given === 'object' && given.subject && typeof given.subject === 'object') {
    return { mode: (given.mode ?? config.direction ?? 'lot') as TraceNodeMode, subject: given.subject, limit: int(given.limit), maxDepth: int(given.maxDepth), cursor: str(given.cursor) };
  }
  const p = (msg.payload && typeof msg.payload === 'object' && !Buffer.isBuffer(msg.payload) ? msg.payload : {}) as Record<string, unknown>;
  const scanned = typeof msg.payload === 'string' ? str(msg.payload) : str(p.barcode);
  const subject: TraceQuery = scanned
    ? { barcode: scanned, gtin: str(p.gtin), material: str(p.material) }
    : {
        gtin: str(p.gtin) ?? str(config.gtin),
        material: str(p.material) ?? str(config.material),
        lot: str(p.lot) ?? str(config.lot),
        serial: str(p.serial) ?? str(config.serial),
        barcode: str(config.barcode),
      };
  for (const k of Object.keys(subject) as Array<keyof TraceQuery>) {
    if (subject[k] === undefined) delete subject[k];
  }
  const mode = (str(msg.mode) ?? str(p.mode) ?? str(p.direction) ?? config.direction ?? 'lot') as TraceNodeMode;
  return { mode, subject, limit: int(msg.limit) ?? int(p.limit) ?? int(config.limit), maxDepth: int(msg.maxDepth) ?? int(p.maxDepth) ?? int(config.maxDepth), cursor: str(msg.cursor) ?? str(p.cursor) };
}

/** The lot key of a lot lookup: gtin|material and lot, or a barcode carrying (01) and (10). */
function lotKeyOf(s: TraceQuery): { gtin?: string; material?: string; lot: string } {
  let { gtin, lot } = s;
  if (s.barcode) {
    const b = readTraceBarcode(s.barcode);
    gtin = b.gtin;
    lot = lot ?? b.lot;
  }
  if (!lot) {
    throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'no lot number: a lot lookup needs one (msg.payload.lot, the node\'s Lot field, or a barcode with (10)); a serial alone needs a trace mode');
  }
  if (!gtin && !s.material) {
    throw new LotBridgeError('LB_ERR_API_BAD_REQUEST', 'name the material of the lot: msg.payload.gtin or msg.payload.material');
  }
  return { gtin, material: s.material, lot };
}

/** Answers of the hub's HTTP API: the body, or a LotBridgeError with the code it answered. */
async function getJson(hub: HubConnection, path: string, q: Record<string, string | number | undefined>): Promise<unknown> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined) params.set(k, String(v));
  }
  const res = await fetch(`${hub.url}${path}?${params.toString()}`, { headers: hub.apiKey ? { authorization: `Bearer ${hub.apiKey}` } : {} });
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined;
  if (res.ok) {
    return body;
  }
  const code = body?.error?.code;
  if (code && code in errorCatalog) {
    throw new LotBridgeError(code as ErrorCode, body?.error?.message ?? code, { details: body?.error?.details });
  }
  throw new Error(`lotbridge-trace: the hub answered ${res.status}${body?.error?.message ? `: ${body.error.message}` : ''}`);
}

/**
 * lotbridge-trace: runs a lot lookup, a forward or backward trace (one page; paging by cursor) or a
 * recall-impact preview, inside the hub through its trace module, or in a stand-alone Node-RED
 * through the hub's HTTP API (lotbridge-config). Output 1: the answer in msg.payload. Output 2: the
 * lot or serial does not exist (msg.found false, msg.error { code, message }). Anything else — a
 * malformed barcode, no material named, a bad cursor, the hub unreachable — is a node error that a
 * Catch node sees.
 */
export = function register(RED: NodeRedApi): void {
  function LotBridgeTraceNode(this: RedNode, config: TraceNodeConfig): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const bridge = bridgeOf(RED);
    const hub = config.hub ? (RED.nodes.getNode(config.hub) as HubConnection | null) : null;
    node.on('input', (msg: RedMsg, send, done) => {
      const q = traceQueryOf(msg, config);
      if (!MODES.includes(q.mode)) {
        done(new Error(`lotbridge-trace: mode "${q.mode}" is not lot, forward, backward or recall-impact`));
        return;
      }
      if (q.limit !== undefined && (q.limit < 1 || q.limit > 1000)) {
        done(new Error(`lotbridge-trace: limit ${q.limit} is not between 1 and 1000`));
        return;
      }
      if (Object.keys(q.subject).length === 0) {
        done(new Error('lotbridge-trace: nothing to trace: msg.payload { gtin | material, lot } or { serial } or { barcode } (or a barcode string), or the node\'s fields'));
        return;
      }
      const run = async (): Promise<unknown> => {
        if (bridge) {
          if (q.mode === 'lot') {
            const key = lotKeyOf(q.subject);
            const view = await bridge.lot(key);
            if (!view) {
              throw new LotBridgeError('LB_ERR_LOT_NOT_FOUND', `no lot ${key.lot} of ${key.gtin ? `GTIN ${key.gtin}` : `material ${key.material}`}`);
            }
            return view;
          }
          if (!bridge.trace) {
            throw new Error(`lotbridge-trace: this hub offers no ${q.mode} query to flows (only lot lookups); update the hub`);
          }
          return bridge.trace({ mode: q.mode, subject: q.subject, limit: q.limit, cursor: q.cursor, maxDepth: q.maxDepth });
        }
        if (!hub?.url) {
          throw new Error('lotbridge-trace: outside a LotBridge hub it needs a lotbridge-config node (hub URL and API key)');
        }
        if (q.mode === 'lot') {
          const key = lotKeyOf(q.subject);
          return getJson(hub, '/api/v1/lots', { gtin: key.gtin, material: key.gtin ? undefined : key.material, lot: key.lot });
        }
        const s = q.subject;
        const subjectParams = { gtin: s.gtin, material: s.material, lot: s.lot, serial: s.serial, barcode: s.barcode };
        if (q.mode === 'recall-impact') {
          return getJson(hub, '/api/v1/trace/recall-impact', subjectParams);
        }
        return getJson(hub, `/api/v1/trace/${q.mode}`, { ...subjectParams, limit: q.limit, cursor: q.cursor, maxDepth: q.maxDepth });
      };
      const label = q.subject.lot ?? q.subject.serial ?? q.subject.barcode ?? '';
      run().then(
        (result) => {
          const nextCursor = (result as { page?: { nextCursor?: string | null } } | null)?.page?.nextCursor ?? null;
          msg.payload = result;
          msg.found = true;
          msg.traceMode = q.mode;
          msg.traceQuery = { ...q, cursor: nextCursor ?? undefined };
          msg.nextCursor = nextCursor;
          node.status({ fill: 'green', shape: 'dot', text: `${label}: ${q.mode}${nextCursor ? ' (more pages)' : ''}` });
          send([msg, null]);
          done();
        },
        (err: unknown) => {
          if (isLotBridgeError(err) && NOT_FOUND.has(err.code)) {
            msg.found = false;
            msg.traceMode = q.mode;
            msg.traceQuery = q;
            msg.error = { code: err.code, message: err.message };
            node.status({ fill: 'yellow', shape: 'ring', text: `${label}: not found` });
            send([null, msg]);
            done();
            return;
          }
          const e = isLotBridgeError(err) ? new Error(`${err.code}: ${err.message}`) : (err as Error);
          node.status({ fill: 'red', shape: 'ring', text: e.message.slice(0, 60) });
          done(e);
        },
      );
    });
  }
  RED.nodes.registerType('lotbridge-trace', LotBridgeTraceNode);
};
