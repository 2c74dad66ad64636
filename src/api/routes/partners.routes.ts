import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { LotBridgeError } from '../../errors';
import { requireRole } from '../context';
import type { HubApiContext } from '../server';
import { sendEdiDocument, type SendEdiInput } from '../../model/edi/send-edi-document';
import { createPartner, getPartner, listPartners, partnerInputSchema, updatePartner, type PartnerInput } from '../../model/edi/edi-partner-admin';

const { required: _required, ...putSchema } = partnerInputSchema;

/**
 * EDI trading partners (admin): `POST /api/v1/partners` (201 created; 200 when it completes a
 * provisional or rejected-sender record; 409 when a regular partner has that key),
 * `GET /api/v1/partners[?standard=&provisional=]`, `GET /api/v1/partners/:id`, `PUT /api/v1/partners/:id`
 * (settings and the next outbound control numbers, never at or below one used).
 * `POST /api/v1/messages/:id/ack/resend` (operator): hands the acknowledgement kept for an inbound
 * EDI message to routing again (`edi.ack` outbox event with `resend: true`; same document, same control number).
 * @param app - the Fastify instance
 * @param ctx - database and logger
 */
export function registerPartnerRoutes(app: FastifyInstance, ctx: HubApiContext): void {
  app.post<{ Body: PartnerInput }>('/api/v1/partners', { preHandler: requireRole('admin'), schema: { body: partnerInputSchema } }, async (req, reply) => {
    const r = await createPartner(ctx.db, req.body, `api-key:${req.principal?.name ?? 'unknown'}`, ctx.phi);
    if (r.created) void reply.header('Location', `/api/v1/partners/${r.view.id}`);
    return reply.status(r.created ? 201 : 200).send(r.view);
  });

  app.get<{ Querystring: { standard?: string; provisional?: boolean } }>(
    '/api/v1/partners',
    { preHandler: requireRole('admin'), schema: { querystring: { type: 'object', additionalProperties: false, properties: { standard: { enum: ['x12', 'edifact'] }, provisional: { type: 'boolean' } } } } },
    async (req) => ({ items: await listPartners(ctx.db, req.query) }),
  );

  app.get<{ Params: { id: string } }>('/api/v1/partners/:id', { preHandler: requireRole('admin') }, async (req) => getPartner(ctx.db, req.params.id));

  app.put<{ Params: { id: string }; Body: Partial<PartnerInput> }>('/api/v1/partners/:id', { preHandler: requireRole('admin'), schema: { body: putSchema } }, async (req) => {
    await getPartner(ctx.db, req.params.id);
    return updatePartner(ctx.db, req.params.id, req.body, `api-key:${req.principal?.name ?? 'unknown'}`, ctx.phi);
  });

  app.post<{ Params: { id: string }; Body: Omit<SendEdiInput, 'partnerId'> }>(
    '/api/v1/partners/:id/outbound',
    {
      preHandler: requireRole('operator'),
      schema: { body: { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { enum: ['850', 'ORDERS', '856', 'DESADV'] }, poId: { type: 'string', format: 'uuid' }, shipmentId: { type: 'string', format: 'uuid' } } } },
    },
    async (req, reply) => {
      await getPartner(ctx.db, req.params.id);
      const r = await sendEdiDocument(ctx.db, { ...req.body, partnerId: req.params.id }, `api-key:${req.principal?.name ?? 'unknown'}`);
      return reply.status(201).send(r);
    },
  );

  app.post<{ Params: { id: string } }>('/api/v1/messages/:id/ack/resend', { preHandler: requireRole('operator') }, async (req, reply) => {
    const id = req.params.id;
    const row = /^[0-9a-f-]{36}$/i.test(id)
      ? await ctx.db('edi_outbound_messages as o').join('edi_partners as p', 'p.id', 'o.partner_id').where({ 'o.inbound_message_id': id }).orderBy('o.created_at', 'desc')
        .first<{ id: string; partner_id: string; standard: string; type: string; control_number: string; status: string; outbound_destination: unknown } | undefined>('o.id', 'o.partner_id', 'o.standard', 'o.type', 'o.control_number', 'o.status', 'p.outbound_destination')
      : undefined;
    if (!row) {
      throw new LotBridgeError('LB_ERR_MESSAGE_NOT_FOUND', `message ${id} has no EDI acknowledgement to resend`);
    }
    const payload = {
      outboundMessageId: row.id, inboundMessageId: id, partnerId: row.partner_id, standard: row.standard, ackType: row.type, controlNumber: row.control_number,
      status: row.status, destination: row.outbound_destination ?? null, resend: true, requestedBy: req.principal?.name ?? 'unknown',
    };
    await ctx.db.transaction(async (trx) => {
      await trx.raw(
        `INSERT INTO outbox_events (event_id, type, payload, source_message_id, ordinal)
         SELECT ?::uuid, 'edi.ack', ?::jsonb, ?::uuid, (SELECT coalesce(max(ordinal), 0) + 1 FROM outbox_events WHERE source_message_id = ?::uuid)`,
        [uuidv7(), JSON.stringify(payload), id, id],
      );
      await trx('audit_log').insert({ chain: 'admin', actor: `api-key:${req.principal?.name ?? 'unknown'}`, action: 'edi.ack_resend', entity_type: 'edi_outbound_message', entity_id: row.id, after: JSON.stringify(payload), source_message_id: id });
    });
    return reply.status(202).send({ ...payload, ackStatus: payload.status, status: 'queued' });
  });
}
