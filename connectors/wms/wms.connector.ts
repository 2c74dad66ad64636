import path from 'node:path';
import { ConnectorInbox, dispositionOf, inboxConfigProperties, type InboxConfig } from '../../src/connectors/connector-inbox';
import type { FileDisposition, WatchedFile } from '../../src/connectors/folder-watcher';
import type { ConnectorAdapter, ConnectorDefinition, ConnectorDeps, EnvelopeInfo, IngestPort, MessageFormat, RawInbound } from '../../src/connectors/types';
import { isValidTimeZone } from '../../src/config/config';
import { isLotBridgeError, LotBridgeError } from '../../src/errors';
import { allRecordsRejected, charsetOf, mediaTypeOf, normalizeCharset, parseWmsBody, wmsEnvelopeOf, wmsSyntaxOfMediaType } from '../../src/parsers/wms';

/** Configuration of a `wms` connector instance (lotbridge.config.json `config`). */
export interface WmsConnectorConfig {
  /** IANA zone of the WMS's timestamps without an offset (default LOTBRIDGE_TIMEZONE). */
  timezone?: string;
  /** The watched folder. */
  inbox?: InboxConfig & {
    /** Charset of dropped files (default: UTF-8, checked). */
    charset?: string;
  };
  /** Process this connector's messages from one sender in receipt order (read by the hub). */
  fifo?: boolean;
}

/** JSON Schema of {@link WmsConnectorConfig}. */
export const wmsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timezone: { type: 'string', minLength: 1, description: 'IANA zone for timestamps without an offset.' },
    inbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ...inboxConfigProperties,
        charset: { type: 'string', minLength: 1, description: 'utf-8 (default), iso-8859-1 or windows-1252.' },
      },
    },
    fifo: { type: 'boolean', default: false },
  },
} as const;

/** Content-Type of a dropped file, from its extension (undefined: sniffed from its first bytes). */
function contentTypeOfFile(name: string, charset: string | undefined): string | undefined {
  const ext = path.extname(name).toLowerCase();
  const media = ext === '.json' ? 'application/json' : ext === '.ndjson' || ext === '.jsonl' ? 'application/x-ndjson' : ext === '.csv' ? 'text/csv' : undefined;
  if (media === undefined) {
    return charset === undefined ? undefined : `application/octet-stream; charset=${charset}`;
  }
  return charset === undefined ? media : `${media}; charset=${charset}`;
}

/**
 * The WMS connector: JSON (one object, an array, NDJSON) and CSV over `POST /api/v1/ingest/{id}`,
 * and a watched folder. Records: movements, counts (stock snapshots), temperature readings
 * (docs/connectors/wms.md); mapped by src/normalize/wms/wms.handler.ts.
 */
export const wmsConnector: ConnectorDefinition<WmsConnectorConfig> = {
  kind: 'wms',
  configSchema: wmsConfigSchema,
  create(instance, deps: ConnectorDeps): ConnectorAdapter {
    const { id } = instance;
    const config = instance.config ?? {};
    const timezone = config.timezone ?? deps.timezone;
    if (!isValidTimeZone(timezone)) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_CONFIG_INVALID', `connector "${id}" (wms): timezone "${timezone}" is not an IANA time zone`);
    }
    const inbox = config.inbox ?? {};
    const fileCharset = inbox.charset;
    if (fileCharset !== undefined && normalizeCharset(fileCharset) === undefined) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_CONFIG_INVALID', `connector "${id}" (wms): inbox.charset "${fileCharset}" is not supported (utf-8, iso-8859-1, windows-1252)`);
    }
    const log = deps.logger.child({ scope: 'connector', connectorId: id, kind: 'wms' });
    let ingest: IngestPort | undefined;
    const folder = new ConnectorInbox({ connectorId: id, label: 'WMS', inbox, deps, logger: log, handle: (file) => receiveFile(file) });

    const adapter: ConnectorAdapter = {
      id,
      kind: 'wms',
      timezone,

      ...folder.lifecycle((port) => (ingest = port)),

      formatOf(contentType: string | undefined, body: Buffer): { format: MessageFormat; encoding?: string } {
        const charset = charsetOf(contentType);
        if (charset !== undefined && normalizeCharset(charset) === undefined) {
          throw new LotBridgeError('LB_ERR_INGEST_UNSUPPORTED_MEDIA', `connector "${id}" (wms) cannot decode charset "${charset}" (use utf-8, iso-8859-1 or windows-1252)`);
        }
        const media = mediaTypeOf(contentType);
        const syntax = wmsSyntaxOfMediaType(media);
        let format: MessageFormat;
        if (media === '' || media === 'application/octet-stream') {
          const first = body.toString('latin1', 0, Math.min(body.length, 64)).replace(/^\xEF\xBB\xBF/, '').trimStart()[0];
          format = first === '{' || first === '[' ? 'json' : 'csv';
        } else if (syntax !== undefined) {
          format = syntax === 'csv' ? 'csv' : 'json';
        } else {
          throw new LotBridgeError(
            'LB_ERR_INGEST_UNSUPPORTED_MEDIA',
            `connector "${id}" (wms) does not take Content-Type ${contentType}; send application/json, application/x-ndjson or text/csv`,
          );
        }
        return charset === undefined ? { format } : { format, encoding: charset };
      },

      readEnvelope(message: RawInbound): EnvelopeInfo {
        folder.noteMessage(message.receivedAt);
        try {
          const parsed = parseWmsBody({ payload: message.payload, format: message.format, contentType: message.contentType, encoding: message.encoding });
          const total = parsed.records.length + parsed.errors.length;
          if (total === 0) {
            return { messageType: 'batch', error: new LotBridgeError('LB_ERR_INGEST_EMPTY', 'the body holds no records', { location: { line: 1 } }) };
          }
          if (parsed.records.length === 0) {
            return { messageType: 'batch', error: allRecordsRejected(parsed.errors, total) };
          }
          const env = wmsEnvelopeOf(parsed);
          return {
            messageType: env.messageType,
            ...(env.sender === undefined ? {} : { sender: env.sender }),
            // readings and movements number apart (as in their source keys): `reading:` keeps a
            // reading from being taken for a duplicate of a movement with the same id, or vice versa
            ...(env.id === undefined ? {} : { controlId: env.id, dedupKey: `doc:${id}:${env.sender ?? ''}:${env.messageType === 'temperature' ? 'reading:' : ''}${env.id}` }),
          };
        } catch (err) {
          if (isLotBridgeError(err)) {
            return { error: err };
          }
          log.error({ err }, 'WMS envelope reader failed');
          return { error: new LotBridgeError('LB_ERR_INTERNAL', 'the WMS envelope reader failed', { cause: err }) };
        }
      },
    };

    async function receiveFile(file: WatchedFile): Promise<FileDisposition> {
      if (!ingest) {
        throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'the WMS connector has no intake yet');
      }
      const contentType = contentTypeOfFile(file.name, fileCharset);
      let format: MessageFormat;
      let encoding: string | undefined;
      try {
        ({ format, encoding } = adapter.formatOf(contentType, file.payload));
      } catch (err) {
        if (!isLotBridgeError(err)) {
          throw err;
        }
        return { to: 'error', report: { fileName: file.name, at: new Date().toISOString(), error: err.toJSON() } };
      }
      const raw: RawInbound = {
        format,
        payload: file.payload,
        ...(encoding === undefined ? {} : { encoding }),
        ...(contentType === undefined ? {} : { contentType }),
        receivedAt: new Date(),
        transport: 'file',
        envelope: { fileName: file.name },
      };
      return dispositionOf(file, raw.receivedAt, await ingest.receive(id, raw));
    }

    return adapter;
  },
};
