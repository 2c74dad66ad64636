import type { Db } from '../db/knex';
import { LotBridgeError } from '../errors';
import { getInboundMessage } from '../ingest/message-store';
import type { Pipeline } from './pipeline';

/**
 * Puts a stored message through the pipeline again (after a fix to master data, a mapper, or the
 * message's sender). Effects are idempotent: re-running a processed message changes nothing.
 * Duplicates, oversize messages (no payload) and MLLP frames that were cut off cannot be reprocessed.
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
