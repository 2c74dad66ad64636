import type { FastifyInstance } from 'fastify';
import { isPayloadEncrypted, plainPayload } from '../../ingest/stored-payload';
import { LotBridgeError } from '../../errors';
import { getInboundMessage, type DbInboundMessageRow } from '../../ingest/message-store';
import { requireRole } from '../context';
import type { HubApiContext } from '../server';
import { reprocessMessage } from '../../pipeline/reprocess';
import type { Db } from '../../db/knex';
import { deliveryView, type DbDeliveryRow } from '../../delivery/enqueue-delivery';

/** Canonical tables whose rows carry (source_message_id, ordinal): the lineage of a message. */
export const LINEAGE_TABLES = [
  'trace_events', 'inventory_ledger', 'lots', 'serials', 'materials', 'locations', 'parties', 'lot_links', 'quality_results',
  'shipments', 'shipment_lines', 'purchase_orders', 'po_lines', 'alerts', 'outbox_events', 'device_usages', 'demand_history', 'supply_requisitions', 'invoices', 'supplier_stock_snapshots', 'deliveries',
] as const;

/** Every canonical row a message produced, per table, in ordinal order. */
export async function lineageOf(db: Db, messageId: string): Promise<Array<{ table: string; id: string | number; ordinal: number }>> {
  const parts = LINEAGE_TABLES.map((t) => db(t).where({ source_message_id: messageId }).select(db.raw('? AS "table"', [t]), db.raw('id::text AS id'), 'ordinal'));
  const rows = (await db.unionAll(parts, true).orderBy('ordinal').limit(2000)) as Array<{ table: string; id: string; ordinal: number }>;
  return rows;
}

/** The acknowledgement kept on a message (JSON text), or null. */
function parseAck(ack: string | null | undefined): Record<string, unknown> | null {
  if (!ack) {
    return null;
  }
  try {
    return JSON.parse(ack) as Record<string, unknown>;
  } catch {
    return { raw: ack };
  }
}

/** The API view of a stored message. */
export function messageView(m: DbInboundMessageRow): Record<string, unknown> {
  return {
    id: m.id,
    connectorId: m.connector_id,
    connectorKind: m.connector_kind,
    format: m.format,
    transport: m.transport,
    messageType: m.message_type,
    sender: m.sender,
    controlId: m.control_id,
    sha256: m.sha256,
    sizeBytes: m.size_bytes,
    payloadStored: m.payload !== null,
    status: m.status,
    receivedAt: m.received_at,
    processedAt: m.processed_at,
    attempts: m.attempts,
    error: m.error_code ? { code: m.error_code, message: m.error_message, location: m.error_location ?? undefined } : null,
    recordErrors: m.record_errors ?? [],
    result: m.result,
    duplicateOf: m.duplicate_of,
    ack: parseAck(m.ack),
  };
}

export function registerMessageRoutes(app: FastifyInstance, ctx: HubApiContext): void {
  app.get<{ Params: { id: string } }>('/api/v1/messages/:id', { preHandler: requireRole('ingest', 'operator', 'auditor') }, async (req) => {
    const m = await getInboundMessage(ctx.db, req.params.id);
    if (!m) {
      throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
    }
    const ack = await ctx.db('message_acks').where({ message_id: m.id }).first<{ ack: Record<string, unknown> } | undefined>('ack');
    const deliveries = (await ctx.db('deliveries').where({ source_message_id: m.id }).orderBy('created_at').limit(500)) as DbDeliveryRow[];
    return { ...messageView(m), ack: ack?.ack ?? parseAck(m.ack), canonical: await lineageOf(ctx.db, m.id), deliveries: deliveries.map(deliveryView) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/messages/:id/payload', { preHandler: requireRole('operator', 'auditor') }, async (req, reply) => {
    const m = await getInboundMessage(ctx.db, req.params.id);
    if (!m) {
      throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
    }
    if (!m.payload) {
      throw new LotBridgeError('LB_ERR_PIPELINE_NOT_REPROCESSABLE', `message ${m.id} has no stored payload (it was over the size limit)`);
    }
    if (isPayloadEncrypted(m)) {
      // a payload kept encrypted holds PHI: who read it is audited
      await ctx.db('audit_log').insert({
        chain: 'admin', actor: `api-key:${req.principal?.name ?? 'unknown'}`, action: 'message.payload_reveal', entity_type: 'inbound_message', entity_id: m.id,
        after: JSON.stringify({ role: req.principal?.role ?? null }), source_message_id: m.id,
      });
    }
    return reply.type(m.content_type ?? 'application/octet-stream').send(plainPayload(m, ctx.phi));
  });

  app.get<{ Querystring: { connector?: string; status?: string; type?: string; controlId?: string; since?: string; until?: string; limit?: number; before?: string } }>(
    '/api/v1/messages',
    {
      preHandler: requireRole('operator', 'auditor'),
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            connector: { type: 'string' }, status: { enum: ['received', 'queued', 'processed', 'rejected', 'failed', 'duplicate', 'routed'] },
            type: { type: 'string' }, controlId: { type: 'string' }, since: { type: 'string', format: 'date-time' }, until: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, before: { type: 'string', format: 'uuid' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const rows = await ctx.db<DbInboundMessageRow>('inbound_messages')
        .modify((b) => {
          if (q.connector) b.where('connector_id', q.connector);
          if (q.status) b.where('status', q.status);
          if (q.type) b.where('message_type', q.type);
          if (q.controlId) b.where('control_id', q.controlId);
          if (q.since) b.where('received_at', '>=', new Date(q.since));
          if (q.until) b.where('received_at', '<', new Date(q.until));
          if (q.before) b.where('id', '<', q.before);
        })
        .orderBy('id', 'desc')
        .limit(q.limit ?? 50)
        .select('id', 'connector_id', 'connector_kind', 'format', 'transport', 'message_type', 'sender', 'control_id', 'sha256', 'size_bytes', ctx.db.raw('payload IS NOT NULL AS has_payload'), 'status', 'received_at', 'processed_at', 'attempts', 'error_code', 'error_message', 'error_location', 'record_errors', 'result', 'duplicate_of');
      return { items: rows.map((r: DbInboundMessageRow) => ({ ...messageView({ ...r, payload: (r as unknown as { has_payload: boolean }).has_payload ? Buffer.alloc(0) : null })})), next: rows.length === (q.limit ?? 50) ? rows[rows.length - 1].id : null };
    },
  );

  app.post<{ Params: { id: string } }>('/api/v1/messages/:id/reprocess', { preHandler: requireRole('operator') }, async (req, reply) => {
    if (!ctx.pipeline) {
      throw new LotBridgeError('LB_ERR_SERVICE_UNAVAILABLE', 'this process has no queue connection');
    }
    const r = await reprocessMessage(ctx.db, ctx.pipeline, req.params.id, req.principal?.name ?? 'api');
    return reply.status(202).send(r);
  });
}
