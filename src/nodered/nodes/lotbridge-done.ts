import { bridgeOf, ticketOf } from './node-support';
import type { NodeRedApi, RedNode } from './red-types';

/** lotbridge-done: the flow has finished with the event; completes its route job (its share of it). */
export = function register(RED: NodeRedApi): void {
  function LotBridgeDoneNode(this: RedNode, config: { name?: string }): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const bridge = bridgeOf(RED);
    let count = 0;
    node.on('input', (msg, send, done) => {
      const ticket = ticketOf(msg);
      if (!bridge) {
        done(new Error('lotbridge-done works only inside a LotBridge hub'));
        return;
      }
      if (!ticket) {
        node.warn('lotbridge-done: the msg has no event ticket (msg._lotbridge): was it replaced by a new object on the way? Nothing to complete.');
        done();
        return;
      }
      const completed = bridge.complete(ticket, { ok: true, by: node.id });
      count++;
      node.status({ fill: 'green', shape: 'dot', text: `${count} done` });
      if (!completed) {
        node.warn(`lotbridge-done: event ${ticket.eventId} was already completed, failed or timed out on this attempt`);
      }
      send(msg);
      done();
    });
  }
  RED.nodes.registerType('lotbridge-done', LotBridgeDoneNode);
};
