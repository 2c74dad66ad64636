import { ConnectorInbox, dispositionOf, inboxConfigProperties, type InboxConfig } from '../../src/connectors/connector-inbox';
import type { FileDisposition, WatchedFile } from '../../src/connectors/folder-watcher';
import type { ConnectorAdapter, ConnectorDefinition, ConnectorDeps, EnvelopeInfo, IngestPort, MessageFormat, RawInbound } from '../../src/connectors/types';
import { isValidTimeZone } from '../../src/config/config';
import { isLotBridgeError, LotBridgeError } from '../../src/errors';
import { decodeB2mmlText, DEFAULT_B2MML_LIMITS, readB2mmlHeader } from '../../src/parsers/b2mml';

/** Configuration of a `mes-b2mml` connector instance (lotbridge.config.json `config`). */
export interface MesB2mmlConnectorConfig {
  /** IANA zone of the MES's timestamps without an offset (default LOTBRIDGE_TIMEZONE). */
  timezone?: string;
  /** Location code of production and lots that name none (default `MES`). */
  location?: string;
  /** Largest document, bytes (default 10 MiB; LOTBRIDGE_MAX_BODY_BYTES caps all intake). */
  maxDocumentBytes?: number;
  /** Deepest element nesting (default 64). */
  maxDepth?: number;
  /** The watched folder. */
  inbox?: InboxConfig;
}

/** JSON Schema of {@link MesB2mmlConnectorConfig}. */
export const mesB2mmlConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timezone: { type: 'string', minLength: 1, description: 'IANA zone for timestamps without an offset.' },
    location: { type: 'string', minLength: 1, default: 'MES', description: 'Location code of production and lots without StorageLocation/HierarchyScope.' },
    maxDocumentBytes: { type: 'integer', minimum: 1024, default: DEFAULT_B2MML_LIMITS.maxDocumentBytes },
    maxDepth: { type: 'integer', minimum: 8, maximum: 1000, default: DEFAULT_B2MML_LIMITS.maxDepth },
    inbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: inboxConfigProperties,
    },
  },
} as const;

const MEDIA = /^(application|text)\/([\w.+-]*\+)?xml$|^application\/octet-stream$|^text\/plain$/;

/**
 * The MES connector: ISA-95 B2MML XML over `POST /api/v1/ingest/{id}` (application/xml) and a
 * watched folder. Intake reads the header only (docs/connectors/mes.md): DOCTYPE/ENTITY refused,
 * size capped, root, namespace and release checked, and the dedup key taken from the document id
 * (BODID or the document's ID) plus the sender (ApplicationArea/Sender/LogicalID); a document
 * without an id is deduplicated by its sha256. Mapped by src/normalize/b2mml/b2mml.handler.ts.
 */
export const mesB2mmlConnector: ConnectorDefinition<MesB2mmlConnectorConfig> = {
  kind: 'mes-b2mml',
  configSchema: mesB2mmlConfigSchema,
  create(instance, deps: ConnectorDeps): ConnectorAdapter {
    const { id } = instance;
    const config = instance.config ?? {};
    const timezone = config.timezone ?? deps.timezone;
    if (!isValidTimeZone(timezone)) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_CONFIG_INVALID', `connector "${id}" (mes-b2mml): timezone "${timezone}" is not an IANA time zone`);
    }
    const maxDocumentBytes = config.maxDocumentBytes ?? DEFAULT_B2MML_LIMITS.maxDocumentBytes;
    const inbox = config.inbox ?? {};
    const log = deps.logger.child({ scope: 'connector', connectorId: id, kind: 'mes-b2mml' });
    let ingest: IngestPort | undefined;
    const folder = new ConnectorInbox({ connectorId: id, label: 'MES', inbox, deps, logger: log, handle: (file) => receiveFile(file) });

    const adapter: ConnectorAdapter = {
      id,
      kind: 'mes-b2mml',
      timezone,

      ...folder.lifecycle((port) => (ingest = port)),

      formatOf(contentType: string | undefined): { format: MessageFormat; encoding?: string } {
        const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
        if (media !== '' && !MEDIA.test(media)) {
          throw new LotBridgeError('LB_ERR_INGEST_UNSUPPORTED_MEDIA', `connector "${id}" (mes-b2mml) does not take Content-Type ${contentType}; send application/xml`);
        }
        const charset = /;\s*charset\s*=\s*"?([^";]+)/i.exec(contentType ?? '')?.[1]?.trim();
        return charset === undefined ? { format: 'b2mml' } : { format: 'b2mml', encoding: charset };
      },

      readEnvelope(message: RawInbound): EnvelopeInfo {
        folder.noteMessage(message.receivedAt);
        try {
          if (message.payload.length > maxDocumentBytes) {
            throw new LotBridgeError('LB_ERR_B2MML_TOO_LARGE', `the document has ${message.payload.length} bytes, over the connector's limit of ${maxDocumentBytes} bytes (maxDocumentBytes)`, {
              details: { sizeBytes: message.payload.length, limitBytes: maxDocumentBytes },
            });
          }
          const header = readB2mmlHeader(decodeB2mmlText(message.payload, message.encoding));
          return {
            messageType: header.localName,
            ...(header.sender === undefined ? {} : { sender: header.sender }),
            ...(header.docId === undefined ? {} : { controlId: header.docId, dedupKey: `doc:${id}:${header.sender ?? ''}:${header.noun}:${header.docId}` }),
          };
        } catch (err) {
          if (isLotBridgeError(err)) {
            return { error: err };
          }
          log.error({ err }, 'B2MML envelope reader failed');
          return { error: new LotBridgeError('LB_ERR_INTERNAL', 'the B2MML envelope reader failed', { cause: err }) };
        }
      },
    };

    async function receiveFile(file: WatchedFile): Promise<FileDisposition> {
      if (!ingest) {
        throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'the MES connector has no intake yet');
      }
      const raw: RawInbound = {
        format: 'b2mml',
        payload: file.payload,
        contentType: 'application/xml',
        receivedAt: new Date(),
        transport: 'file',
        envelope: { fileName: file.name },
      };
      return dispositionOf(file, raw.receivedAt, await ingest.receive(id, raw));
    }

    return adapter;
  },
};
