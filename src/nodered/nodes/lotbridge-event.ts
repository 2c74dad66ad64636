import { isValidEventPattern, parseEventPatterns } from '../../routing/event-pattern';
import { bridgeOf } from './node-support';
import type { NodeRedApi, RedNode } from './red-types';

/** Properties of a lotbridge-event node. */
interface EventNodeConfig {
  name?: string;
  events?: string;
  connector?: string;
  messageType?: string;
  includeRaw?: boolean;
  timeout?: number | string;
}

/**
 * lotbridge-event: canonical events from the `route` queue, at least once. Each msg carries
 * `eventId` (for idempotent flows), `topic` (the type), `payload` (the event), `event` (id, type,
 * source message, attempt) and the ticket `_lotbridge` that lotbridge-done / lotbridge-deliver use
 * to complete it — keep it on the msg.
 */
export = function register(RED: NodeRedApi): void {
  function LotBridgeEventNode(this: RedNode, config: EventNodeConfig): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const bridge = bridgeOf(RED);
    const patterns = parseEventPatterns(config.events ?? '');
    const bad = patterns.filter((p) => !isValidEventPattern(p));
    const timeoutS = Number(config.timeout ?? 60);
    if (!bridge) {
      node.status({ fill: 'grey', shape: 'ring', text: 'needs the LotBridge hub runtime' });
      node.warn('lotbridge-event receives events only inside a LotBridge hub (lotbridge start)');
      return;
    }
    if (patterns.length === 0 || bad.length > 0) {
      node.status({ fill: 'red', shape: 'ring', text: patterns.length === 0 ? 'no event types' : `bad type ${bad[0]}` });
      node.error(patterns.length === 0 ? 'lotbridge-event: list at least one event type (e.g. recall.opened, lot.*)' : `lotbridge-event: "${bad.join(', ')}" is not an event type pattern (a.b, a.*, *)`);
      return;
    }
    if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 3600) {
      node.status({ fill: 'red', shape: 'ring', text: 'bad timeout' });
      node.error(`lotbridge-event: timeout ${String(config.timeout)} must be 1–3600 seconds`);
      return;
    }
    let seen = 0;
    const unsubscribe = bridge.subscribe({
      id: node.id,
      patterns,
      connector: (config.connector ?? '').trim(),
      messageType: (config.messageType ?? '').trim(),
      includeRaw: config.includeRaw === true,
      timeoutMs: Math.round(timeoutS * 1000),
      emit: (msg) => {
        seen++;
        node.status({ fill: 'green', shape: 'dot', text: `${seen} event${seen === 1 ? '' : 's'}` });
        node.send(msg);
      },
      status: (s) => node.status(s),
    });
    node.status({ fill: 'green', shape: 'ring', text: patterns.join(', ') });
    node.on('close', (_removed, done) => {
      unsubscribe();
      done();
    });
  }
  RED.nodes.registerType('lotbridge-event', LotBridgeEventNode);
};
