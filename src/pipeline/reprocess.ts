import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import { getInboundMessage } from '../ingest/message-store';
import type { Pipeline } from './pipeline';

/** The message that holds a rejected message's dedup key now: the sender's resend of it. */
export interface SupersedingMessage {
  id: string;
  status: string;
}

/**
 * For rejected messages: the message that took each one's dedup key since (a rejected message
 * holds no key, so the sender's corrected resend with the same control number was taken as new
 * and holds it). Reprocessing the old one would process the same interchange or message a second
 * time, in the version that was rejected: mapped again (where a mapping is not idempotent across
 * message ids, applied twice) and acknowledged a second time. One statement for all.
 * @param db - knex instance
 * @param messages - rejected messages: id and dedup key
 * @returns message id → the message holding its key, for those whose key another message holds
 */
export async function supersedingMessages(db: Db, messages: Array<{ id: string; dedupKey: string | null }>): Promise<Map<string, SupersedingMessage>> {
  const withKey = messages.filter((m): m is { id: string; dedupKey: string } => m.dedupKey !== null);
  if (withKey.length === 0) return new Map();
  const r = await db.raw<{ rows: Array<{ id: string; holder: string; status: string }> }>(
    `SELECT x.id, d.message_id AS holder, im.status
       FROM unnest(?::uuid[], ?::text[]) AS x(id, dedup_key)
       JOIN message_dedup d ON d.dedup_key = x.dedup_key AND d.message_id <> x.id
       JOIN inbound_messages im ON im.id = d.message_id`,
    [withKey.map((m) => m.id), withKey.map((m) => m.dedupKey)] as unknown as string[],
  );
  return new Map(r.rows.map((x) => [x.id, { id: x.holder, status: x.status }]));
}

function supersededError(id: string, dedupKey: string, by: SupersedingMessage): LotBridgeError {
  return new LotBridgeError(
    'LB_ERR_PIPELINE_NOT_REPROCESSABLE',
    `message ${id} was rejected, and message ${by.id} (${by.status}) with the same dedup key ${JSON.stringify(dedupKey)} came in since — the sender's resend of it; ` +
      `reprocessing ${id} would process it a second time, in the version that was rejected. Reprocess ${by.id} if it needs it`,
    { details: { supersededBy: by.id, supersededByStatus: by.status, dedupKey } },
  );
}

/**
 * Puts a stored message through the pipeline again (after a fix to master data, a mapper, or the
 * message's sender). Effects are idempotent: re-running a processed message changes nothing.
 * Duplicates, oversize messages (no payload), MLLP frames that were cut off and rejected messages
 * whose dedup key a later message holds (the sender's resend, see {@link supersedingMessages})
 * cannot be reprocessed.
 */
export async function reprocessMessage(db: Db, pipeline: Pipeline, id: string, actor: string): Promise<{ messageId: string; status: 'queued'; previousStatus: string }> {
  const m = await getInboundMessage(db, id);
  if (!m) {
    throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${id}`);
  }
  if (m.status === 'duplicate') {
    throw new LotBridgeError('LB_ERR_PIPELINE_NOT_REPROCESSABLE', `message ${id} is a duplicate of ${m.duplicate_of}; reprocess that one`);
  }
  if (!m.payload) {
    throw new LotBridgeError('LB_ERR_PIPELINE_NOT_REPROCESSABLE', `message ${id} has no stored payload (it was over the size limit); ask the sender to split it`);
  }
  if (m.status === 'rejected' && m.error_code === 'LB_ERR_MLLP_FRAME_TRUNCATED') {
    // the bytes of a frame that never ended are part of a message: cut at a segment boundary they
    // parse, and mapping them would book part of it (the sender's resend, another message, books it again)
    throw new LotBridgeError('LB_ERR_PIPELINE_NOT_REPROCESSABLE', `message ${id} is an MLLP frame that was cut off (LB_ERR_MLLP_FRAME_TRUNCATED): it holds part of a message; the sender resends the whole one`);
  }
  if (m.status === 'rejected') {
    const resend = (await supersedingMessages(db, [{ id, dedupKey: m.dedup_key }])).get(id);
    if (resend) throw supersededError(id, m.dedup_key, resend);
  }
  const old = await pipeline.ingestQueue.getJob(id);
  const state = old ? await old.getState() : undefined;
  if (state === 'active') {
    throw new LotBridgeError('LB_ERR_API_CONFLICT', `message ${id} is being processed right now; reprocess it when it has finished`);
  }
  await db.transaction(async (trx) => {
    await trx('inbound_messages').where({ id }).update({ status: 'queued', error_code: null, error_message: null, error_location: null, processed_at: null, updated_at: trx.fn.now() });
    if (m.status === 'rejected') {
      // reclaim the dedup key if no newer message took it
      await trx.raw('INSERT INTO message_dedup (dedup_key, message_id, connector_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [m.dedup_key, id, m.connector_id]);
    }
    await trx('audit_log').insert({ chain: 'admin', actor, action: 'message.reprocess', entity_type: 'inbound_message', entity_id: id, before: JSON.stringify({ status: m.status }), source_message_id: id });
  });
  if (old && state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') {
    await old.remove();
  }
  await pipeline.ingestQueue.add(m.message_type ?? m.format, { messageId: id, connectorId: m.connector_id }, { ...pipeline.jobOptions(), jobId: id });
  return { messageId: id, status: 'queued', previousStatus: m.status };
}
