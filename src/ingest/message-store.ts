import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Knex } from 'knex';
import type { Db } from '../db/knex';
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
 * MSH-10; X12 ISA05/06 + ISA07/08 + ISA13; EDIFACT UNB sender + recipient + 0020; documents with an
 * id of their own (B2MML, WMS movementId) connector + sender + id. Without one, the body's sha256
 * per connector and format is the key.
 *
 * Commits one inbound message: the row (raw bytes, sha256, envelope) and, for a readable message,
 * its dedup key. A key that is already claimed makes this row a `duplicate` of the first one (the
 * row is kept all the same). Rejected messages claim no key, so a corrected resend gets in.
 * Returns only after COMMIT: a resolved promise means the bytes are durable.
 */
export async function storeInboundMessage(db: Db, m: NewMessage): Promise<StoreOutcome> {
  const id = uuidv7();
  const sha = m.payload ? sha256Hex(m.payload) : '0'.repeat(64);
  const dedupKey = m.dedupKey ?? `sha256:${m.connectorId}:${m.format}:${sha}`;
  const row = {
    id,
    connector_id: m.connectorId,
    connector_kind: m.connectorKind,
    format: m.format,
    transport: m.transport,
    message_type: m.messageType ?? null,
    sender: m.sender ?? null,
    receiver: m.receiver ?? null,
    control_id: m.controlId ?? null,
    dedup_key: dedupKey,
    sha256: sha,
    size_bytes: m.sizeBytes,
    payload: m.payload,
    content_type: m.contentType ?? null,
    encoding: m.encoding ?? null,
    envelope: m.envelope,
    received_at: m.receivedAt,
    status: m.rejection ? 'rejected' : 'received',
    error_code: m.rejection?.code ?? null,
    error_message: m.rejection?.message ?? null,
    error_location: m.rejection?.location ?? null,
    processed_at: m.rejection ? m.receivedAt : null,
  };
  if (m.rejection) {
    await db('inbound_messages').insert(row);
    return { kind: 'rejected', id, error: m.rejection };
  }
  // One statement, one round trip, one commit: claim the dedup key and store the row. A readable
  // message is stored as `queued` (the caller enqueues next and sets it back to `received` if that
  // fails); one whose key is taken is stored as a `duplicate` of the key's owner.
  const cols = Object.keys(row) as Array<keyof typeof row>;
  const stored = await db.raw<{ rows: Array<{ status: string; duplicate_of: string | null }> }>(
    `WITH claim AS (
       INSERT INTO message_dedup (dedup_key, message_id, connector_id) VALUES (?, ?, ?)
       ON CONFLICT (dedup_key) DO NOTHING RETURNING message_id
     )
     INSERT INTO inbound_messages (${cols.map((c) => `"${c}"`).join(', ')}, duplicate_of)
     SELECT ${cols.map((c) => (c === 'status' ? "CASE WHEN EXISTS (SELECT 1 FROM claim) THEN 'queued' ELSE 'duplicate' END" : c === 'processed_at' ? 'CASE WHEN EXISTS (SELECT 1 FROM claim) THEN NULL ELSE now() END' : '?')).join(', ')},
            CASE WHEN EXISTS (SELECT 1 FROM claim) THEN NULL ELSE (SELECT message_id FROM message_dedup WHERE dedup_key = ?) END
     RETURNING status, duplicate_of`,
    [
      dedupKey, id, m.connectorId,
      ...cols.filter((c) => c !== 'status' && c !== 'processed_at').map((c) => (c === 'envelope' || c === 'error_location' ? (row[c] === null ? null : JSON.stringify(row[c])) : row[c])),
      dedupKey,
    ] as unknown as string[],
  );
  const r = stored.rows[0];
  if (r.status !== 'duplicate') {
    return { kind: 'stored', id };
  }
  let duplicateOf = r.duplicate_of;
  if (!duplicateOf) {
    // the key's owner committed while this statement ran, after its snapshot: read it now
    const first = await db('message_dedup').where({ dedup_key: dedupKey }).first<{ message_id: string }>('message_id');
    duplicateOf = first?.message_id ?? null;
    await db('inbound_messages').where({ id }).update({ duplicate_of: duplicateOf });
  }
  return { kind: 'duplicate', id, duplicateOf: duplicateOf ?? '' };
}

/** Loads one message by id (any partition). */
export async function getInboundMessage(db: Db | Knex.Transaction, id: string): Promise<DbInboundMessageRow | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    return undefined;
  }
  return db<DbInboundMessageRow>('inbound_messages').where({ id }).first();
}

/** queued → received when the enqueue failed: the sweeper queues it later. */
export async function markNotQueued(db: Db, id: string): Promise<void> {
  await db('inbound_messages').where({ id, status: 'queued' }).update({ status: 'received', updated_at: db.fn.now() });
}
