import { bridgeOf } from './node-support';
import type { HubConnection, NodeRedApi, RedMsg, RedNode } from './red-types';

type Direction = 'lot' | 'forward' | 'backward' | 'recall-impact';

/**
 * lotbridge-trace: looks a lot up (balances per location and state, genealogy links, events) and,
 * where the hub has the trace module, runs a forward/backward trace or a recall-impact query. The
 * lot comes from msg.payload `{ gtin | material, lot }` (or the node's fields). msg.payload is the
 * answer; msg.found says whether the lot exists.
 */
export = function register(RED: NodeRedApi): void {
  function LotBridgeTraceNode(this: RedNode, config: { name?: string; direction?: Direction; gtin?: string; material?: string; lot?: string; hub?: string }): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const bridge = bridgeOf(RED);
    const hub = config.hub ? (RED.nodes.getNode(config.hub) as HubConnection | null) : null;
    node.on('input', (msg: RedMsg, send, done) => {
      const p = (msg.payload && typeof msg.payload === 'object' ? msg.payload : {}) as Record<string, unknown>;
      const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined);
      const key = { gtin: str(p.gtin) ?? str(config.gtin), material: str(p.material) ?? str(config.material), lot: str(p.lot) ?? str(config.lot) ?? '' };
      const direction: Direction = (str(p.direction) as Direction | undefined) ?? config.direction ?? 'lot';
      if (!key.lot) {
        done(new Error('lotbridge-trace: no lot number (msg.payload.lot or the node\'s Lot field)'));
        return;
      }
      if (!key.gtin && !key.material) {
        done(new Error('lotbridge-trace: name the material: msg.payload.gtin or msg.payload.material'));
        return;
      }
      if (!['lot', 'forward', 'backward', 'recall-impact'].includes(direction)) {
        done(new Error(`lotbridge-trace: direction "${direction}" is not lot, forward, backward or recall-impact`));
        return;
      }
      const run = async (): Promise<{ result: unknown; mode: string }> => {
        if (bridge) {
          if (direction !== 'lot' && bridge.trace) {
            return { result: await bridge.trace({ lot: key, direction }), mode: direction };
          }
          return { result: (await bridge.lot(key)) ?? null, mode: 'lot' };
        }
        if (!hub?.url) {
          throw new Error('lotbridge-trace: outside a LotBridge hub it needs a lotbridge-config node (hub URL and API key)');
        }
        const q = new URLSearchParams({ lot: key.lot, ...(key.gtin ? { gtin: key.gtin } : { material: key.material! }) });
        const res = await fetch(`${hub.url}/api/v1/lots?${q.toString()}`, { headers: hub.apiKey ? { authorization: `Bearer ${hub.apiKey}` } : {} });
        if (res.status === 404) {
          return { result: null, mode: 'lot' };
        }
        if (!res.ok) {
          throw new Error(`lotbridge-trace: the hub answered ${res.status}`);
        }
        return { result: await res.json(), mode: 'lot' };
      };
      run().then(
        ({ result, mode }) => {
          msg.payload = result;
          msg.found = result !== null && result !== undefined;
          msg.traceMode = mode;
          node.status(msg.found ? { fill: 'green', shape: 'dot', text: `${key.lot}: found (${mode})` } : { fill: 'yellow', shape: 'ring', text: `${key.lot}: not found` });
          send(msg);
          done();
        },
        (err: unknown) => done(err as Error),
      );
    });
  }
  RED.nodes.registerType('lotbridge-trace', LotBridgeTraceNode);
};
