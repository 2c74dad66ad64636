import type { LotBridgeError, LotBridgeErrorJson } from '../errors';
import type { Logger } from '../logging/logger';

/** Formats the hub stores and parses. */
export type MessageFormat = 'hl7v2' | 'x12' | 'edifact' | 'b2mml' | 'json' | 'csv';

/** Transports a message can arrive by. */
export type Transport = 'http' | 'mllp' | 'file' | 'cli' | 'flow' | 'console';

/** A message as a connector received it, before anything is parsed. */
export interface RawInbound {
  /** Format of the payload (decides the dedup key and the parser). */
  readonly format: MessageFormat;
  /** Bytes as received; decode with a known charset. */
  readonly payload: Buffer;
  /** Declared charset (from Content-Type, MSH-18, UNB syntax id), when known. */
  readonly encoding?: string;
  /** Content-Type as received over HTTP. */
  readonly contentType?: string;
  readonly receivedAt: Date;
  readonly transport: Transport;
  /** Transport facts: remote address, file name, API key name, … (never secrets). */
  readonly envelope: Readonly<Record<string, string>>;
  /** Size of the body when it was too large to keep (payload is then empty). */
  readonly oversizeBytes?: number;
  /**
   * The first bytes (at most 64 KiB) of a body too large to keep, when the transport kept them:
   * read for the envelope only (type, sender, control id), so the rejection can be found and
   * answered with the message's control id; never stored.
   */
  readonly head?: Buffer;
  /** A transport-level error (garbage on an MLLP socket, a truncated frame): stored as rejected with it. */
  readonly rejection?: LotBridgeError;
}

/** What a connector's envelope reader found in a message without fully parsing it. */
export interface EnvelopeInfo {
  /** Message type: 'movement', 'ADT^A08', '856', 'DESADV', … */
  messageType?: string;
  /** Sending system / party, as the message names it. */
  sender?: string;
  receiver?: string;
  /** Interchange / message control number (MSH-10, ISA13, UNB 0020). */
  controlId?: string;
  /** Dedup key per format (see src/ingest/dedup-key.ts); computed by the hub when absent. */
  dedupKey?: string;
  /** Set when the body cannot be read at all: the message is stored and answered as rejected. */
  error?: LotBridgeError;
}

/** The receipt a connector turns into its acknowledgement. Resolved ⇒ the bytes are committed. */
export type IngestReceipt =
  | { status: 'accepted'; messageId: string }
  | { status: 'duplicate'; messageId: string; duplicateOf: string }
  | { status: 'rejected'; messageId: string; error: LotBridgeErrorJson };

/** The acknowledgement a connector sent for a message, kept on it (`GET /api/v1/messages/{id}` field `ack`). */
export interface StoredAck {
  /** `ACK` (HL7), `997`/`999`/`TA1`/`CONTRL` (EDI). */
  type: string;
  /** Acknowledgement code: AA/AE/AR/CA/CE/CR (HL7), accepted/rejected/partial (EDI). */
  code: string;
  /** Control number of the acknowledgement itself. */
  controlId?: string;
  /** When it was sent (ISO). */
  sentAt: string;
  /** The acknowledgement as sent. */
  raw: string;
  [k: string]: unknown;
}

/** Where a message's processing ended (for connectors that acknowledge after processing). */
export interface ProcessingVerdict {
  status: 'processed' | 'routed' | 'rejected' | 'failed' | 'duplicate' | 'timeout';
  error?: LotBridgeErrorJson;
}

/** What the hub gives a connector. */
export interface IngestPort {
  /** Durably stores the raw message (invalid ones too), then enqueues it. Resolved ⇒ safe to ACK. */
  receive(connectorId: string, message: RawInbound): Promise<IngestReceipt>;
  /** Keeps the acknowledgement sent for a message (written in the background, batched). */
  recordAck(messageId: string, ack: StoredAck): Promise<void>;
  /** The acknowledgement kept for a message, if any (a resend is answered with the same one). */
  ackOf(messageId: string): Promise<StoredAck | undefined>;
  /** Waits until the pipeline has finished with a message (any worker process), or the timeout. */
  awaitVerdict(messageId: string, timeoutMs: number): Promise<ProcessingVerdict>;
}

/** What a connector may use from the hub (no I/O at create()). */
export interface ConnectorDeps {
  readonly logger: Logger;
  /** Hub-wide listener defaults (LOTBRIDGE_MLLP_PORT …) a connector's own config may override. */
  readonly listen?: { readonly mllpPort?: number; readonly host?: string };
  readonly signal: AbortSignal;
  /** The hub's data dir (watched folders live below it unless configured). */
  readonly dataDir: string;
  /** Default IANA zone for offset-less timestamps (LOTBRIDGE_TIMEZONE). */
  readonly timezone: string;
}

export type ConnectorHealth = { status: 'up' | 'degraded' | 'down'; detail?: string; lastMessageAt?: Date };

/** A running connector instance. */
export interface ConnectorAdapter {
  /** Unique and stable over time: stored messages (and so canonical rows) link to it. */
  readonly id: string;
  readonly kind: string;
  /** IANA zone for this source's offset-less timestamps. */
  readonly timezone: string;
  /** Raw payloads of this connector hold PHI: intake stores them encrypted (LOTBRIDGE_PHI_KEY). */
  readonly encryptPayload?: boolean;
  /** Open listeners/pollers; resolves when ready for traffic. */
  start(ingest: IngestPort): Promise<void>;
  /** Stop accepting, settle in-flight acks, close sockets. Idempotent; `force` skips waiting. */
  stop(options?: { force?: boolean }): Promise<void>;
  health(): Promise<ConnectorHealth>;
  /**
   * The format of a body posted to `POST /api/v1/ingest/{id}` (from its Content-Type and first bytes).
   * Throws LB_ERR_INGEST_UNSUPPORTED_MEDIA for a Content-Type the connector does not take.
   */
  formatOf(contentType: string | undefined, body: Buffer): { format: MessageFormat; encoding?: string };
  /**
   * Reads the envelope (type, sender, control id, dedup id) of a received message, without the
   * full parse. Called by the hub's IngestPort before it stores the message. Must not throw for
   * bad input: an unreadable body is reported in `EnvelopeInfo.error` (stored, answered rejected).
   */
  readEnvelope(message: RawInbound): EnvelopeInfo;
  /**
   * Optional: takes an HTTP body itself when it is more than one message (an HL7 batch file);
   * returns undefined to let the ingest route store it as one message.
   */
  receiveHttp?(raw: RawInbound): Promise<{ receipts: IngestReceipt[]; statusCode: number; contentType: string; body: string | Buffer } | undefined>;
  /** Optional: the HTTP answer for a receipt, for connectors whose protocol has its own ACK (HL7). */
  httpAnswer?(
    receipt: IngestReceipt,
    message: RawInbound,
  ): Promise<{ statusCode: number; contentType: string; body: string | Buffer } | undefined> | { statusCode: number; contentType: string; body: string | Buffer } | undefined;
}

/** A connector kind: its config schema and a pure factory. */
export interface ConnectorDefinition<C = Record<string, unknown>> {
  /** Stable kind = folder name under connectors/: 'wms', 'hl7', … */
  readonly kind: string;
  /** JSON Schema of the instance config (validated before create()). */
  readonly configSchema: object;
  /** Pure factory, no I/O. */
  create(instance: { id: string; config: C }, deps: ConnectorDeps): ConnectorAdapter;
}

/** A connector instance as configured: built-in or from lotbridge.config.json. */
export interface ConnectorInstanceConfig {
  id: string;
  kind: string;
  config: Record<string, unknown>;
}
