import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { rawNamed } from '../db/named-statement';
import type { LotBridgeErrorJson } from '../errors';

/** Statuses of a stored message. */
export type MessageStatus = 'received' | 'queued' | 'processed' | 'rejected' | 'failed' | 'duplicate' | 'routed';
export const TERMINAL_STATUSES: MessageStatus[] = ['processed', 'rejected', 'duplicate', 'routed'];

/** A row of inbound_messages. */
export interface DbInboundMessageRow {
  id: string;
  connector_id: string;
  connector_kind: string;
  format: string;
  transport: string;
  message_type: string | null;
  sender: string | null;
  receiver: string | null;
  control_id: string | null;
  dedup_key: string;
  sha256: string;
  size_bytes: number;
  payload: Buffer | null;
  content_type: string | null;
  encoding: string | null;
  envelope: Record<string, string>;
  received_at: Date;
  status: MessageStatus;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  error_location: Record<string, unknown> | null;
  record_errors: LotBridgeErrorJson[] | null;
  result: Record<string, unknown> | null;
  ack: string | null;
  duplicate_of: string | null;
  processed_at: Date | null;
  updated_at: Date;
  /** The message this one is an edited copy of (console edit-and-reprocess). */
  edit_of?: string | null;
  /** Marked resolved in the console (when, by whom, why). */
  resolved_at?: Date | null;
  resolved_by?: string | null;
  resolution_note?: string | null;
}

export interface NewMessage {
  connectorId: string;
  connectorKind: string;
  format: string;
  transport: string;
  messageType?: string;
  sender?: string;
  receiver?: string;
  controlId?: string;
  dedupKey?: string;
  payload: Buffer | null;
  /** sha256 of the payload as received, when `payload` is stored transformed (encrypted). */
  sha256?: string;
  sizeBytes: number;
  contentType?: string;
  encoding?: string;
  envelope: Record<string, string>;
  receivedAt: Date;
  /** Set for a message rejected at intake (unreadable, oversize). */
  rejection?: LotBridgeErrorJson;
}

export type StoreOutcome =
  | { kind: 'stored'; id: string }
  | { kind: 'duplicate'; id: string; duplicateOf: string }
  | { kind: 'rejected'; id: string; error: LotBridgeErrorJson };

export function sha256Hex(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * Dedup keys, one per format and the same across transports (an MLLP and an HTTP resend from the
 * same sender are one message), come from the connector's envelope reader: HL7 MSH-3 + MSH-4 +
 * MSH-10 + a digest of the content without MSH-7 (connectors/hl7/hl7-envelope.ts); X12 ISA05/06 + ISA07/08 + ISA13; EDIFACT UNB sender + recipient + 0020; documents with an
 * id of their own (B2MML, WMS movementId) connector + sender + id. Without one, the body's sha256
 * per connector and format is the key.
 *
 * Commits one inbound message: the row (raw bytes, sha256, envelope) and, for a readable message,
 * its dedup key. A key that is already claimed makes this row a `duplicate` of the first one (the
 * row is kept all the same). Rejected messages claim no key, so a corrected resend gets in.
 * Returns only after COMMIT: a resolved promise means the bytes are durable.
 */
export async function storeInboundMessage(db: Db, m: NewMessage): Promise<StoreOutcome> {
  return (await storeInboundMessages(db, [m]))[0];
}

/** Columns written by storeInboundMessages, with their array types for unnest(). */
const BATCH_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['id', 'uuid'], ['connector_id', 'text'], ['connector_kind', 'text'], ['format', 'text'], ['transport', 'text'],
  ['message_type', 'text'], ['sender', 'text'], ['receiver', 'text'], ['control_id', 'text'], ['dedup_key', 'text'],
  ['sha256', 'text'], ['size_bytes', 'int'], ['payload', 'bytea'], ['content_type', 'text'], ['encoding', 'text'],
  ['envelope', 'jsonb'], ['received_at', 'timestamptz'], ['error_code', 'text'], ['error_message', 'text'],
  ['error_location', 'jsonb'], ['rejected', 'boolean'], ['ord', 'int'],
];

/** The group commit's statement: dedup claims and rows of every message at once (a prepared statement: its text never varies). */
const STORE_SQL = `WITH input AS (
     SELECT * FROM unnest(${BATCH_COLUMNS.map(([, t]) => `?::${t}[]`).join(', ')}) AS t(${BATCH_COLUMNS.map(([c]) => c).join(', ')})
   ), claim AS (
     INSERT INTO message_dedup (dedup_key, message_id, connector_id)
     SELECT DISTINCT ON (dedup_key) dedup_key, id, connector_id FROM input WHERE NOT rejected ORDER BY dedup_key, ord
     ON CONFLICT (dedup_key) DO NOTHING
     RETURNING dedup_key, message_id
   )
   INSERT INTO inbound_messages (id, connector_id, connector_kind, format, transport, message_type, sender, receiver, control_id,
     dedup_key, sha256, size_bytes, payload, content_type, encoding, envelope, received_at, error_code, error_message, error_location,
     status, processed_at, duplicate_of)
   SELECT i.id, i.connector_id, i.connector_kind, i.format, i.transport, i.message_type, i.sender, i.receiver, i.control_id,
          i.dedup_key, i.sha256, i.size_bytes, i.payload, i.content_type, i.encoding, i.envelope, i.received_at, i.error_code, i.error_message, i.error_location,
          CASE WHEN i.rejected THEN 'rejected' WHEN c.message_id = i.id THEN 'queued' ELSE 'duplicate' END,
          CASE WHEN i.rejected THEN i.received_at WHEN c.message_id = i.id THEN NULL ELSE now() END,
          CASE WHEN i.rejected OR c.message_id = i.id THEN NULL
               ELSE coalesce(c.message_id, (SELECT d.message_id FROM message_dedup d WHERE d.dedup_key = i.dedup_key)) END
     FROM input i LEFT JOIN claim c ON c.dedup_key = i.dedup_key
   RETURNING id, status, duplicate_of`;

/**
 * Commits many inbound messages in ONE statement (group commit: one round trip and one WAL flush
 * for all of them), with the same rules as storeInboundMessage for each. Within the batch the first
 * message of a dedup key claims it and later ones are its duplicates. Outcomes are in input order.
 */
export async function storeInboundMessages(db: Db, ms: ReadonlyArray<NewMessage>): Promise<StoreOutcome[]> {
  if (ms.length === 0) {
    return [];
  }
  const rows = ms.map((m, ord) => {
    const sha = m.sha256 ?? (m.payload ? sha256Hex(m.payload) : '0'.repeat(64));
    return {
      id: uuidv7(),
      connector_id: m.connectorId,
      connector_kind: m.connectorKind,
      format: m.format,
      transport: m.transport,
      message_type: m.messageType ?? null,
      sender: m.sender ?? null,
      receiver: m.receiver ?? null,
      control_id: m.controlId ?? null,
      dedup_key: m.dedupKey ?? `sha256:${m.connectorId}:${m.format}:${sha}`,
      sha256: sha,
      size_bytes: m.sizeBytes,
      payload: m.payload,
      content_type: m.contentType ?? null,
      encoding: m.encoding ?? null,
      envelope: JSON.stringify(m.envelope),
      received_at: m.receivedAt,
      error_code: m.rejection?.code ?? null,
      error_message: m.rejection?.message ?? null,
      error_location: m.rejection?.location ? JSON.stringify(m.rejection.location) : null,
      rejected: m.rejection !== undefined,
      ord,
    };
  });
  const stored = await rawNamed<{ rows: Array<{ id: string; status: string; duplicate_of: string | null }> }>(
    db,
    STORE_SQL,
    BATCH_COLUMNS.map(([c]) => rows.map((r) => r[c as keyof typeof r])),
  );
  const byId = new Map(stored.rows.map((r) => [r.id, r]));
  return Promise.all(
    rows.map(async (row, i): Promise<StoreOutcome> => {
      const r = byId.get(row.id);
      const rejection = ms[i].rejection;
      if (!r) {
        throw new Error(`message ${row.id} was not stored`);
      }
      if (r.status === 'rejected' && rejection) {
        return { kind: 'rejected', id: row.id, error: rejection };
      }
      if (r.status !== 'duplicate') {
        return { kind: 'stored', id: row.id };
      }
      let duplicateOf = r.duplicate_of;
      if (!duplicateOf) {
        // the key's owner committed while this statement ran, after its snapshot: read it now
        const first = await db('message_dedup').where({ dedup_key: row.dedup_key }).first<{ message_id: string }>('message_id');
        duplicateOf = first?.message_id ?? null;
        await db('inbound_messages').where({ id: row.id }).update({ duplicate_of: duplicateOf });
      }
      return { kind: 'duplicate', id: row.id, duplicateOf: duplicateOf ?? '' };
    }),
  );
}

/** Loads one message by id (any partition). */
export async function getInboundMessage(db: Db | Knex.Transaction, id: string): Promise<DbInboundMessageRow | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    return undefined;
  }
  return db<DbInboundMessageRow>('inbound_messages').where({ id }).first();
}

/** queued → received when the enqueue failed: the sweeper queues it later. */
export async function markNotQueued(db: Db, id: string | readonly string[]): Promise<void> {
  await db('inbound_messages').whereIn('id', typeof id === 'string' ? [id] : [...id]).where({ status: 'queued' }).update({ status: 'received', updated_at: db.fn.now() });
}
