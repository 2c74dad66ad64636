import type { Knex } from 'knex';
import { v7 as uuidv7 } from 'uuid';
import { allocateControlNumbers, type DbEdiPartnerRow } from './edi-partners';

/** The acknowledgement as `GET /api/v1/messages/{id}` shows it in field `ack`. */
export interface EdiAckView {
  /** Id of the outbound message (edi_outbound_messages) that holds the ack. */
  messageId: string;
  type: '997' | '999' | 'TA1' | 'CONTRL';
  controlNumber: string;
  status: 'accepted' | 'rejected' | 'partial';
  raw: string;
}

/** The outbox event that hands an ack to routing (the deliver queue). */
export interface EdiAckEvent {
  type: 'edi.ack';
  payload: Record<string, unknown>;
}

/**
 * Stores the acknowledgement of an inbound interchange: takes the partner's next control numbers,
 * builds the ack with them, stores it as an outbound message linked to the inbound one, keeps it
 * as the inbound message's `ack`, and returns the `edi.ack` outbox event (the caller writes it in
 * the same transaction) that routes it to the partner's outbound destination.
 * @param db - the transaction
 * @param input - partner, inbound message, and the builder given the allocated numbers
 */
export async function storeEdiAck(
  db: Knex,
  input: {
    partner: DbEdiPartnerRow;
    inboundMessageId: string;
    standard: 'x12' | 'edifact';
    build(numbers: { interchange: number; group: number }): Omit<EdiAckView, 'messageId'>;
  },
): Promise<{ view: EdiAckView; event: EdiAckEvent }> {
  const numbers = await allocateControlNumbers(db, input.partner.id);
  const built = input.build(numbers);
  const id = uuidv7();
  await db('edi_outbound_messages').insert({
    id,
    partner_id: input.partner.id,
    standard: input.standard,
    type: built.type,
    control_number: String(numbers.interchange).padStart(9, '0'),
    status: built.status,
    inbound_message_id: input.inboundMessageId,
    raw: built.raw,
  });
  const view: EdiAckView = { messageId: id, type: built.type, controlNumber: built.controlNumber, status: built.status, raw: built.raw };
  await db.raw(
    `INSERT INTO message_acks (message_id, ack) VALUES (?, ?::jsonb)
     ON CONFLICT (message_id) DO UPDATE SET ack = EXCLUDED.ack, created_at = now()`,
    [input.inboundMessageId, JSON.stringify(view)],
  );
  return {
    view,
    event: {
      type: 'edi.ack',
      payload: {
        outboundMessageId: id,
        inboundMessageId: input.inboundMessageId,
        partnerId: input.partner.id,
        standard: input.standard,
        ackType: built.type,
        controlNumber: built.controlNumber,
        status: built.status,
        destination: input.partner.outbound_destination ?? null,
      },
    },
  };
}
