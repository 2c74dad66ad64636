import type { Knex } from 'knex';
import { LotBridgeError, isLotBridgeError, type LotBridgeErrorJson } from '../../errors';
import type { HandlerResult, MessageHandler, ProcessContext, StoredMessage } from '../../pipeline/handler';
import { resolvePartner, type DbEdiPartnerRow } from '../../model/edi/edi-partners';
import { storeEdiAck } from '../../model/edi/store-edi-ack';
import { buildX12Ack } from '../../parsers/x12/x12-ack';
import { firstX12Error, readX12Message, type X12Read } from '../../parsers/x12/x12-read';
import type { X12Delimiters } from '../../parsers/x12/x12-tokenizer';
import { WmsWriter } from '../wms/wms-writer';
import { applyEdiDocument, provisionalPartnerAlert } from './apply-edi-document';

/** Options of the X12 handler. */
export interface EdiHandlerOptions {
  /** LOTBRIDGE_EDI_UNKNOWN_PARTNERS. */
  unknownPartners: 'accept' | 'reject';
}

function ackBuilder(read: X12Read, partner: DbEdiPartnerRow) {
  return (n: { interchange: number; group: number }) =>
    buildX12Ack(partner.our_id ? { ...read.ic, receiverId: partner.our_id, receiverQualifier: partner.our_qualifier ?? read.ic.receiverQualifier } : read.ic, {
      type: partner.ack_type === '999' ? '999' : '997',
      interchangeControlNumber: n.interchange,
      groupControlNumber: n.group,
      now: new Date(),
      ...(partner.separators ? { delimiters: partner.separators as Partial<X12Delimiters> } : {}),
    });
}

function setTypes(read: X12Read): string | undefined {
  const ids = [...new Set(read.sets.map((s) => s.set.id))];
  return ids.length > 0 ? ids.join(',') : undefined;
}

/**
 * The x12 connector kind's handler. One stored message = one interchange (the connector splits
 * files that hold several). The envelope is checked (TA1 level), every transaction set is read
 * (997 AK5 level); the accepted sets are mapped in the pipeline's transaction and the 997/999 (with
 * a TA1 when ISA14 asks) is stored as an outbound message, kept as the message's `ack`, and handed
 * to routing as an `edi.ack` outbox event. Rejected sets are listed in `recordErrors`. When nothing
 * is accepted the message is rejected, and `onFailureTx` writes the rejecting TA1/997.
 */
export function createX12Handler(opts: EdiHandlerOptions): MessageHandler {
  return {
    kind: 'x12',
    async process(ctx: ProcessContext): Promise<HandlerResult> {
      const read = readX12Message(ctx.message.payload);
      if (read.count > 1) {
        throw new LotBridgeError('LB_ERR_X12_STRUCTURE', `the message holds ${read.count} interchanges; post them apart (the x12 connector splits a file that holds several)`, { location: { segment: 'ISA' } });
      }
      const ic = read.ic;
      const { row: partner, created } = await resolvePartner(ctx.trx, { standard: 'x12', qualifier: ic.senderQualifier, interchangeId: ic.senderId }, opts.unknownPartners);
      const w = new WmsWriter(ctx, read.sets.length, 'EDI');
      if (created) {
        await w.alert(provisionalPartnerAlert(partner, ic.senderQualifier));
      }
      const bad = firstX12Error(read);
      if (!ic.envelopeError && read.sets.length === 0 && ic.ta1s.length > 0) {
        // an interchange acknowledgement (TA1) of ours: recorded, never answered
        const acks = [];
        for (const t of ic.ta1s) {
          acks.push(await applyEdiDocument(w, { kind: 'functional_ack', ref: { interchangeControlNumber: t.controlNumber }, status: t.code === 'R' ? 'rejected' : 'accepted', code: `${t.code}/${t.note}` }, partner));
        }
        return { status: 'processed', messageType: 'TA1', summary: { interchange: ic.controlNumber, partner: partner.interchange_id, ta1: acks } };
      }
      if (ic.envelopeError || !read.sets.some((s) => s.doc)) {
        throw bad ?? new LotBridgeError('LB_ERR_X12_STRUCTURE', 'the interchange holds no transaction set');
      }
      const results: Array<Record<string, unknown>> = [];
      for (const rs of read.sets) {
        if (rs.doc) {
          results.push({ set: rs.set.id, controlNumber: rs.set.controlNumber, ...(await applyEdiDocument(w, rs.doc, partner)) });
        }
      }
      // functional acknowledgements (997/999 groups, FA) are never acknowledged in turn
      const onlyAcks = ic.groups.every((g) => g.functionalId === 'FA');
      const ack = onlyAcks ? undefined : await storeEdiAck(ctx.trx, { partner, inboundMessageId: ctx.message.id, standard: 'x12', build: ackBuilder(read, partner) });
      if (ack) await ctx.emit(ack.event.type, ack.event.payload);
      const rejected = read.sets.filter((s) => !s.doc).flatMap((s) => s.set.issues.map((i) => i.error.toJSON()));
      const groupErrors = ic.groups.flatMap((g) => g.issues.map((i) => i.error.toJSON()));
      const recordErrors = [...groupErrors, ...rejected];
      return {
        status: 'processed',
        messageType: setTypes(read),
        ...(recordErrors.length > 0 ? { recordErrors } : {}),
        summary: {
          interchange: ic.controlNumber, partner: partner.interchange_id, sets: read.sets.length, accepted: results.length, rejected: read.sets.length - results.length,
          ack: ack ? { type: ack.view.type, status: ack.view.status, controlNumber: ack.view.controlNumber } : null, documents: results, warnings: ic.warnings,
          created: w.summary.created, events: w.summary.events, alerts: w.summary.alerts,
        },
      };
    },

    async onFailureTx(trx: Knex.Transaction, message: StoredMessage, status: 'rejected' | 'failed', error: LotBridgeErrorJson) {
      if (status !== 'rejected') {
        return []; // a failed message (our trouble, not the partner's) is acknowledged once it is processed
      }
      let read: X12Read;
      try {
        read = readX12Message(message.payload);
      } catch (err) {
        if (isLotBridgeError(err)) return []; // no readable ISA: nobody to answer
        throw err;
      }
      const ic = read.ic;
      if (!ic.senderId) return [];
      let partner: DbEdiPartnerRow;
      try {
        partner = (await resolvePartner(trx, { standard: 'x12', qualifier: ic.senderQualifier, interchangeId: ic.senderId }, opts.unknownPartners)).row;
      } catch (err) {
        if (!isLotBridgeError(err) || err.code !== 'LB_ERR_EDI_PARTNER_UNKNOWN') throw err;
        // an unknown sender is answered with TA1 006 under a provisional record that is not a partner yet
        partner = (await resolvePartner(trx, { standard: 'x12', qualifier: ic.senderQualifier, interchangeId: ic.senderId }, 'record')).row;
        ic.envelopeError = { ta1: '006', error: LotBridgeError.fromJSON(error) };
      }
      if (!ic.envelopeError && read.sets.some((s) => s.doc)) {
        // rejected for a reason found while mapping: every set it held is rejected with it
        for (const rs of read.sets) {
          if (rs.doc) {
            const x12 = error.details?.x12 as { segmentId: string; position: number; code: string; elements: [] } | undefined;
            rs.set.issues.push({ setCode: '5', ...(x12 ? { segment: x12 } : {}), error: LotBridgeError.fromJSON(error) });
            delete rs.doc;
          }
        }
      }
      const ack = await storeEdiAck(trx, { partner, inboundMessageId: message.id, standard: 'x12', build: ackBuilder(read, partner) });
      return [ack.event];
    },
  };
}
