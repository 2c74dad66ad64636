import type { IngestReceipt, MessageFormat } from '../../connectors/types';
import { bridgeOf, payloadBytes } from './node-support';
import type { HubConnection, NodeRedApi, RedMsg, RedNode } from './red-types';

const FORMATS: MessageFormat[] = ['hl7v2', 'x12', 'edifact', 'b2mml', 'json', 'csv'];

/**
 * lotbridge-ingest: hands msg.payload to a connector's intake, the same store-before-ACK path as
 * HTTP and MLLP (stored, deduplicated, queued; a bad message is stored as rejected). msg.receipt
 * is the receipt; accepted and duplicate leave output 1, rejected output 2.
 */
export = function register(RED: NodeRedApi): void {
  function LotBridgeIngestNode(this: RedNode, config: { name?: string; connector?: string; format?: string; contentType?: string; hub?: string }): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const bridge = bridgeOf(RED);
    const hub = config.hub ? (RED.nodes.getNode(config.hub) as HubConnection | null) : null;
    let counts = { accepted: 0, rejected: 0 };
    node.on('input', (msg: RedMsg, send, done) => {
      const connector = (typeof msg.connector === 'string' && msg.connector) || config.connector || '';
      const formatRaw = (typeof msg.format === 'string' && msg.format) || config.format || '';
      if (!connector) {
        done(new Error('lotbridge-ingest: no connector (set it on the node or as msg.connector)'));
        return;
      }
      if (formatRaw && !FORMATS.includes(formatRaw as MessageFormat)) {
        done(new Error(`lotbridge-ingest: format "${formatRaw}" is not one of ${FORMATS.join(', ')}`));
        return;
      }
      const { body, json } = payloadBytes(msg.payload);
      const format = (formatRaw || (json ? 'json' : undefined)) as MessageFormat | undefined;
      const contentType = config.contentType || (json ? 'application/json' : undefined);
      const envelope: Record<string, string> = { flowNode: node.id };
      if (typeof msg.filename === 'string') {
        envelope.fileName = msg.filename;
      }
      const run = async (): Promise<IngestReceipt> => {
        if (bridge) {
          return bridge.ingest(connector, body, { format, contentType, envelope });
        }
        if (!hub?.url) {
          throw new Error('lotbridge-ingest: outside a LotBridge hub it needs a lotbridge-config node (hub URL and API key)');
        }
        const res = await fetch(`${hub.url}/api/v1/ingest/${encodeURIComponent(connector)}`, {
          method: 'POST',
          headers: { 'content-type': contentType ?? 'application/octet-stream', ...(hub.apiKey ? { authorization: `Bearer ${hub.apiKey}` } : {}) },
          body,
        });
        const receipt = (await res.json().catch(() => undefined)) as (IngestReceipt & { error?: unknown }) | undefined;
        if (!receipt || !('status' in receipt) || res.status >= 500 || res.status === 401 || res.status === 403 || res.status === 404) {
          throw new Error(`lotbridge-ingest: the hub answered ${res.status}`);
        }
        return receipt;
      };
      run().then(
        (receipt) => {
          msg.receipt = receipt;
          if (receipt.status === 'rejected') {
            counts = { ...counts, rejected: counts.rejected + 1 };
            node.status({ fill: 'yellow', shape: 'dot', text: `rejected ${receipt.error.code}` });
            send([null, msg]);
          } else {
            counts = { ...counts, accepted: counts.accepted + 1 };
            node.status({ fill: 'green', shape: 'dot', text: `${counts.accepted} stored` });
            send([msg, null]);
          }
          done();
        },
        (err: unknown) => {
          node.status({ fill: 'red', shape: 'ring', text: (err as Error).message.slice(0, 60) });
          done(err as Error);
        },
      );
    });
  }
  RED.nodes.registerType('lotbridge-ingest', LotBridgeIngestNode);
};
