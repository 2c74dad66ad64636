import { ConnectorInbox, dispositionOf, inboxConfigProperties, type InboxConfig } from './connector-inbox';
import type { FileDisposition, WatchedFile } from './folder-watcher';
import type { ConnectorAdapter, ConnectorDefinition, ConnectorDeps, EnvelopeInfo, IngestPort, IngestReceipt, MessageFormat, RawInbound } from './types';
import { isValidTimeZone } from '../config/config';
import { isLotBridgeError, LotBridgeError } from '../errors';

/** Configuration of an `x12` or `edifact` connector instance (lotbridge.config.json `config`). */
export interface EdiConnectorConfig {
  /** IANA zone of the partner's offset-less dates and times (default LOTBRIDGE_TIMEZONE). */
  timezone?: string;
  /** The watched folder (`<dataDir>/inbox/<id>` with processing/, done/, error/ inside). */
  inbox?: InboxConfig;
}

export const ediConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timezone: { type: 'string', minLength: 1 },
    inbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: inboxConfigProperties,
    },
  },
} as const;

/** What an EDI syntax gives the shared connector. */
export interface EdiSyntax {
  kind: 'x12' | 'edifact';
  format: MessageFormat;
  /** Content-Types taken over HTTP. */
  contentTypes: RegExp;
  /** Splits a body into its interchanges (bytes each); one element when it holds one (or none readable). */
  split(payload: Buffer): Buffer[];
  /** The envelope (type, sender, receiver, control number, dedup key) of one interchange; never throws. */
  envelope(payload: Buffer): EnvelopeInfo;
}

/**
 * The X12 / EDIFACT connector: `POST /api/v1/ingest/{id}` and a watched folder. A body or file
 * holding several interchanges is stored as one message per interchange (each with its own dedup
 * key: sender + receiver + control number). A re-sent interchange is a duplicate: it changes
 * nothing and is answered with the acknowledgement of the first (`ack` in the receipt). The
 * acknowledgements themselves are built by the pipeline handler (they need the full parse).
 */
export function ediConnector(syntax: EdiSyntax): ConnectorDefinition<EdiConnectorConfig> {
  return {
    kind: syntax.kind,
    configSchema: ediConfigSchema,
    create(instance, deps: ConnectorDeps): ConnectorAdapter {
      const { id } = instance;
      const config = instance.config ?? {};
      const timezone = config.timezone ?? deps.timezone;
      if (!isValidTimeZone(timezone)) {
        throw new LotBridgeError('LB_ERR_CONNECTOR_CONFIG_INVALID', `connector "${id}" (${syntax.kind}): timezone "${timezone}" is not an IANA time zone`);
      }
      const inbox = config.inbox ?? {};
      const log = deps.logger.child({ scope: 'connector', connectorId: id, kind: syntax.kind });
      let ingest: IngestPort | undefined;
      const folder = new ConnectorInbox({ connectorId: id, label: syntax.kind, inbox, deps, logger: log, handle: (file) => receiveFile(file) });

      const receiveAll = async (raw: RawInbound): Promise<IngestReceipt[]> => {
        const port = ingest;
        if (!port) {
          throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', `the ${syntax.kind} connector has no intake yet`);
        }
        const parts = raw.oversizeBytes !== undefined ? [raw.payload] : syntax.split(raw.payload);
        // stored together (one group commit), each its own message
        return Promise.all(parts.map((p, i) => port.receive(id, { ...raw, payload: p, envelope: parts.length > 1 ? { ...raw.envelope, interchangeIndex: String(i + 1), interchangesInFile: String(parts.length) } : raw.envelope })));
      };

      /** The receipt as answered: a duplicate carries the acknowledgement the first copy got. */
      const answerOf = async (r: IngestReceipt): Promise<Record<string, unknown>> => {
        if (r.status !== 'duplicate' || !ingest) return { ...r };
        const ack = await ingest.ackOf(r.duplicateOf);
        if (ack) {
          await ingest.recordAck(r.messageId, ack);
        }
        return { ...r, ...(ack ? { ack } : {}) };
      };

      const adapter: ConnectorAdapter = {
        id,
        kind: syntax.kind,
        timezone,
        ...folder.lifecycle((port) => (ingest = port)),
        formatOf(contentType: string | undefined): { format: MessageFormat; encoding?: string } {
          const ct = (contentType ?? '').toLowerCase();
          if (ct && !syntax.contentTypes.test(ct)) {
            throw new LotBridgeError('LB_ERR_INGEST_UNSUPPORTED_MEDIA', `connector "${id}" (${syntax.kind}) does not take Content-Type ${contentType}; send application/${syntax.kind === 'x12' ? 'edi-x12' : 'edifact'}`);
          }
          const m = /charset=([^;]+)/.exec(ct);
          return { format: syntax.format, ...(m?.[1] ? { encoding: m[1].trim() } : {}) };
        },
        readEnvelope(message: RawInbound): EnvelopeInfo {
          folder.noteMessage(message.receivedAt);
          try {
            return syntax.envelope(message.payload);
          } catch (err) {
            if (isLotBridgeError(err)) return { error: err };
            log.error({ err }, 'EDI envelope reader failed');
            return { error: new LotBridgeError('LB_ERR_INTERNAL', 'the EDI envelope reader failed', { cause: err }) };
          }
        },
        async receiveHttp(raw: RawInbound) {
          if (raw.oversizeBytes !== undefined || syntax.split(raw.payload).length < 2) {
            return undefined; // one interchange: the ingest route stores it and asks httpAnswer
          }
          const receipts = await receiveAll(raw);
          const answers = await Promise.all(receipts.map(answerOf));
          const accepted = receipts.some((r) => r.status === 'accepted');
          const allDup = receipts.every((r) => r.status === 'duplicate');
          return {
            receipts,
            statusCode: accepted ? 202 : allDup ? 200 : 422,
            contentType: 'application/json',
            body: JSON.stringify({ status: accepted ? 'accepted' : allDup ? 'duplicate' : 'rejected', interchanges: answers.length, receipts: answers }),
          };
        },
        async httpAnswer(receipt: IngestReceipt) {
          if (receipt.status !== 'duplicate') return undefined;
          return { statusCode: 200, contentType: 'application/json', body: JSON.stringify(await answerOf(receipt)) };
        },
      };

      async function receiveFile(file: WatchedFile): Promise<FileDisposition> {
        const raw: RawInbound = { format: syntax.format, payload: file.payload, receivedAt: new Date(), transport: 'file', envelope: { fileName: file.name } };
        return dispositionOf(file, raw.receivedAt, await receiveAll(raw));
      }

      return adapter;
    },
  };
}
