import type { SharedCache } from './shared-cache';
import type { Knex } from 'knex';
import type { LotBridgeErrorJson } from '../errors';
import type { Logger } from '../logging/logger';
import type { MessageFormat } from '../connectors/types';

/** A stored inbound message as the pipeline sees it. */
export interface StoredMessage {
  id: string;
  connectorId: string;
  connectorKind: string;
  format: MessageFormat;
  messageType: string | null;
  sender: string | null;
  controlId: string | null;
  receivedAt: Date;
  payload: Buffer;
  contentType: string | null;
  encoding: string | null;
  envelope: Record<string, string>;
}

/** An audit entry written in the canonical transaction (chain = `pipeline:<connectorId>`). */
export interface AuditEntry {
  action: string;
  entityType: string;
  entityId?: string;
  before?: unknown;
  after?: unknown;
  reason?: string;
}

/** What a handler gets for one message: the transaction, helpers for lineage, outbox, audit and validation. */
export interface ProcessContext {
  /** The one transaction for parse → map → validate → persist + audit + outbox. */
  readonly trx: Knex.Transaction;
  readonly message: StoredMessage;
  /** IANA zone for the source's offset-less timestamps (connector override or LOTBRIDGE_TIMEZONE). */
  readonly timezone: string;
  readonly logger: Logger;
  /**
   * The next ordinal for a canonical row of this message (1, 2, …). Call it in the same order for the
   * same input so a re-run yields the same `(source_message_id, ordinal)` keys and inserts nothing new.
   */
  nextOrdinal(): number;
  /**
   * Values memoized for this transaction — every message of a batch shares it (master data looked
   * up once per batch). Only cache what the transaction itself would read again unchanged.
   */
  readonly cache: Map<string, unknown>;
  /** Master data read from the database, kept a few seconds across transactions (see SharedCache). */
  readonly shared?: SharedCache;
  /** Validates a mapper's output against a canonical schema ($id); a violation is a defect. */
  validate<T>(schemaId: string, value: T): T;
  /** Writes an outbox event (drives the `route` queue and flows) in this transaction. */
  emit(type: string, payload: Record<string, unknown>): Promise<void>;
  /** Writes a hash-chained audit row in this transaction. */
  audit(entry: AuditEntry): Promise<void>;
}

/** What a handler reports. Throwing a LotBridgeError of kind `input` rejects the whole message. */
export interface HandlerResult {
  /** `processed`: mapped into the canonical model; `routed`: stored and handed to flows with no mapping. */
  status: 'processed' | 'routed';
  /** Message type found while parsing (updates the stored message). */
  messageType?: string;
  /** Records rejected inside an otherwise processed message (index/line and field in each location). */
  recordErrors?: LotBridgeErrorJson[];
  /** Counts and facts shown on the message (records, events, alerts …). */
  summary?: Record<string, unknown>;
}

/** Maps one connector kind's messages into the canonical model. Registered in src/pipeline/handlers.ts. */
export interface MessageHandler {
  /** Connector kind whose messages this handler processes. */
  readonly kind: string;
  process(ctx: ProcessContext): Promise<HandlerResult>;
  /**
   * Optional: maps the first attempts of a batch together, set-based (one statement per table for
   * all of them). Must write what `process` would write for each message; results in input order.
   * Throwing rolls the batch back, and each message then goes through `process` on its own.
   */
  processMany?(ctxs: ProcessContext[]): Promise<HandlerResult[]>;
  /**
   * True when the connector's dedup key covers the message content (HL7: MSH-3/4/10 + a content
   * digest): a rejected message then keeps its key, since a corrected resend gets another one.
   */
  readonly contentAddressedDedup?: boolean;
  /**
   * Optional: outbox events for a message that ended rejected or failed (beside the pipeline's own
   * `message.failed`), e.g. an HL7 application ACK (AE) for a sender that asked for one. Must not throw.
   */
  onFailure?(message: StoredMessage, status: 'rejected' | 'failed', error: LotBridgeErrorJson): Array<{ type: string; payload: Record<string, unknown> }>;
  /**
   * Optional: writes what a rejected or failed message needs in the database, in the transaction that
   * records the verdict (inside a savepoint: a throw is logged and undone, the verdict stays), and
   * returns outbox events — e.g. an X12 997/TA1 or EDIFACT CONTRL rejecting the interchange, stored as
   * an outbound message and routed to the partner.
   */
  onFailureTx?(trx: Knex.Transaction, message: StoredMessage, status: 'rejected' | 'failed', error: LotBridgeErrorJson): Promise<Array<{ type: string; payload: Record<string, unknown> }>>;
}
