import type { Db } from '../db/knex';
import { LotBridgeError, classifyError, isLotBridgeError } from '../errors';
import type { Logger } from '../logging/logger';
import type { ConnectorAdapter, IngestPort, IngestReceipt, RawInbound } from '../connectors/types';
import { markNotQueued, storeInboundMessage } from './message-store';

/** Puts a stored message on the `ingest` queue (jobId = message id). */
export type Enqueue = (messageId: string, jobName: string, opts: { connectorId: string; fifoGroup?: string }) => Promise<void>;

export interface IngestServiceDeps {
  db: Db;
  logger: Logger;
  /** Running connector instances by id. */
  connectors: ReadonlyMap<string, ConnectorAdapter>;
  enqueue: Enqueue;
  maxBodyBytes: number;
  /** Observes every receipt (metrics). */
  onReceipt?: (connectorId: string, receipt: IngestReceipt, durationMs: number) => void;
}

/**
 * The hub's IngestPort: store first (raw bytes, envelope, dedup key, in one committed transaction),
 * then enqueue. A failed enqueue (Redis down) leaves the message `received`; the sweeper queues it
 * later, so the receipt is still `accepted`: the bytes are safe. A database failure throws a
 * transient LB_ERR_SERVICE_UNAVAILABLE and nothing may be acknowledged.
 */
export class IngestService implements IngestPort {
  constructor(private readonly deps: IngestServiceDeps) {}

  async receive(connectorId: string, raw: RawInbound): Promise<IngestReceipt> {
    const started = performance.now();
    const connector = this.deps.connectors.get(connectorId);
    if (!connector) {
      throw new LotBridgeError('LB_ERR_CONNECTOR_NOT_FOUND', `no connector instance "${connectorId}"`);
    }
    const log = this.deps.logger.child({ scope: 'ingest', connectorId });
    const oversize = raw.oversizeBytes !== undefined || raw.payload.length > this.deps.maxBodyBytes;
    let rejection: LotBridgeError | undefined;
    let info: ReturnType<ConnectorAdapter['readEnvelope']> = {};
    if (oversize) {
      const size = raw.oversizeBytes ?? raw.payload.length;
      rejection = new LotBridgeError(
        'LB_ERR_INGEST_TOO_LARGE',
        `message body of ${size} bytes is over the limit of ${this.deps.maxBodyBytes} bytes; only its metadata was stored`,
        { details: { sizeBytes: size, limitBytes: this.deps.maxBodyBytes } },
      );
    } else if (raw.payload.length === 0) {
      rejection = new LotBridgeError('LB_ERR_INGEST_EMPTY', 'message body is empty', { location: { position: 0 } });
    } else {
      try {
        info = connector.readEnvelope(raw);
      } catch (err) {
        // readEnvelope must not throw; if it does, it is a connector bug, but the message is still stored
        log.error({ err }, 'connector envelope reader threw');
        rejection = isLotBridgeError(err)
          ? err
          : new LotBridgeError('LB_ERR_INTERNAL', 'the connector could not read the message envelope', { cause: err });
      }
      rejection ??= info.error;
    }
    const sizeBytes = raw.oversizeBytes ?? raw.payload.length;
    let outcome;
    try {
      outcome = await storeInboundMessage(this.deps.db, {
        connectorId,
        connectorKind: connector.kind,
        format: raw.format,
        transport: raw.transport,
        messageType: info.messageType,
        sender: info.sender,
        receiver: info.receiver,
        controlId: info.controlId,
        dedupKey: info.dedupKey,
        payload: oversize ? null : raw.payload,
        sizeBytes,
        contentType: raw.contentType,
        encoding: raw.encoding,
        envelope: { ...raw.envelope },
        receivedAt: raw.receivedAt,
        rejection: rejection?.toJSON(),
      });
    } catch (err) {
      const kind = classifyError(err);
      log.error({ err, kind }, 'message could not be stored');
      throw new LotBridgeError(
        kind === 'transient' ? 'LB_ERR_SERVICE_UNAVAILABLE' : 'LB_ERR_INTERNAL',
        kind === 'transient' ? 'the message store (PostgreSQL) is unavailable; nothing was stored, send again later' : 'the message could not be stored',
        { cause: err, kind: kind === 'transient' ? 'transient' : 'defect' },
      );
    }
    let receipt: IngestReceipt;
    if (outcome.kind === 'rejected') {
      receipt = { status: 'rejected', messageId: outcome.id, error: outcome.error };
      log.warn({ messageId: outcome.id, code: outcome.error.code, location: outcome.error.location }, 'message rejected at intake');
    } else if (outcome.kind === 'duplicate') {
      receipt = { status: 'duplicate', messageId: outcome.id, duplicateOf: outcome.duplicateOf };
      log.info({ messageId: outcome.id, duplicateOf: outcome.duplicateOf, controlId: info.controlId }, 'duplicate message stored');
    } else {
      receipt = { status: 'accepted', messageId: outcome.id };
      try {
        await this.deps.enqueue(outcome.id, info.messageType ?? raw.format, { connectorId, fifoGroup: info.sender });
      } catch (err) {
        log.warn({ err, messageId: outcome.id }, 'message stored but not queued; the sweeper will queue it');
        await markNotQueued(this.deps.db, outcome.id).catch((e: unknown) => log.warn({ err: e, messageId: outcome.id }, 'could not mark the message received'));
      }
      log.info({ messageId: outcome.id, messageType: info.messageType, controlId: info.controlId, sizeBytes }, 'message stored');
    }
    this.deps.onReceipt?.(connectorId, receipt, performance.now() - started);
    return receipt;
  }
}
