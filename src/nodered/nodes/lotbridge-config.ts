import type { HubConnection, NodeRedApi, RedNode } from './red-types';

/**
 * lotbridge-config: connection to a LotBridge hub for the stand-alone palette case (the nodes
 * installed into another Node-RED). Inside the hub the nodes use the embedded runtime and need none.
 */
export = function register(RED: NodeRedApi): void {
  function LotBridgeConfigNode(this: RedNode, config: { name?: string; url?: string }): void {
    RED.nodes.createNode(this, config);
    const self = this as RedNode & HubConnection;
    self.url = (config.url ?? '').replace(/\/+$/, '');
    self.apiKey = this.credentials?.apiKey;
  }
  RED.nodes.registerType('lotbridge-config', LotBridgeConfigNode, { credentials: { apiKey: { type: 'password' } } });
};
