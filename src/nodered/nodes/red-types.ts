/** The slice of Node-RED's node API the LotBridge nodes use (node-red ships no types). */
export interface NodeRedApi {
  nodes: {
    createNode(node: unknown, config: unknown): void;
    registerType(type: string, ctor: (this: RedNode, config: any) => void, opts?: { credentials?: Record<string, { type: 'text' | 'password' }> }): void;
    getNode(id: string): unknown;
  };
  settings: Record<string, unknown>;
  util: { evaluateNodeProperty(value: string, type: string, node: unknown, msg: unknown): unknown };
}

/** A Node-RED node instance (`this` in a node constructor). */
export interface RedNode {
  id: string;
  name?: string;
  credentials?: Record<string, string | undefined>;
  on(event: 'input', cb: (msg: RedMsg, send: (msg: RedMsg | Array<RedMsg | null>) => void, done: (err?: Error) => void) => void): void;
  on(event: 'close', cb: (removed: boolean, done: () => void) => void): void;
  send(msg: RedMsg | Array<RedMsg | null>): void;
  status(s: { fill?: string; shape?: string; text?: string } | Record<string, never>): void;
  error(err: unknown, msg?: RedMsg): void;
  warn(m: unknown): void;
  log(m: unknown): void;
}

/** A flow message. */
export type RedMsg = Record<string, unknown> & { payload?: unknown };

/** The hub a stand-alone Node-RED talks to (a lotbridge-config node): base URL and API key (a credential). */
export interface HubConnection {
  url: string;
  apiKey?: string;
}
