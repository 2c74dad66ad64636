import type { Knex } from 'knex';
import { LotBridgeError, isLotBridgeError, type LotBridgeErrorJson } from '../../errors';
import type { HandlerResult, MessageHandler, ProcessContext, StoredMessage } from '../../pipeline/handler';
import { resolvePartner, type DbEdiPartnerRow } from '../../model/edi/edi-partners';
import { storeEdiAck } from '../../model/edi/store-edi-ack';
import { buildContrl } from '../../parsers/edifact/edifact-contrl';
import type { EdifactNote } from '../../parsers/edifact/edifact-envelope';
import { firstEdifactError, readEdifactMessage, type EdifactRead } from '../../parsers/edifact/edifact-read';
import type { EdifactDelimiters } from '../../parsers/edifact/edifact-tokenizer';
import { WmsWriter } from '../wms/wms-writer';
import { applyEdiDocument, provisionalPartnerAlert } from './apply-edi-document';
import type { EdiHandlerOptions } from './x12.handler';

function contrlBuilder(read: EdifactRead, partner: DbEdiPartnerRow) {
  return (n: { interchange: number }) => {
    const ic = partner.our_id ? { ...read.ic, recipientId: partner.our_id, recipientQualifier: partner.our_qualifier ?? read.ic.recipientQualifier } : read.ic;
    const b = buildContrl(ic, { controlRef: n.interchange, now: new Date(), ...(partner.separators ? { delimiters: partner.separators as Partial<EdifactDelimiters> } : {}) });
    return { ...b, type: 'CONTRL' as const };
  };
}

/**
 * The edifact connector kind's handler: one stored message = one interchange. The envelope is
 * checked (UCI level), every message read (UCM/UCS/UCD level); accepted messages are mapped in the
 * pipeline's transaction and the CONTRL is stored as an outbound message, kept as the message's
 * `ack` and handed to routing (`edi.ack`). When nothing is accepted the message is rejected and
 * `onFailureTx` writes the rejecting CONTRL.
 */
export function createEdifactHandler(opts: EdiHandlerOptions): MessageHandler {
  const partnerKey = (read: EdifactRead) => ({ standard: 'edifact' as const, qualifier: read.ic.senderQualifier, interchangeId: read.ic.senderId });
  return {
    kind: 'edifact',
    async process(ctx: ProcessContext): Promise<HandlerResult> {
      const read = readEdifactMessage(ctx.message.payload);
      if (read.count > 1) {
        throw new LotBridgeError('LB_ERR_EDIFACT_TRUNCATED', `the message holds ${read.count} interchanges; post them apart (the edifact connector splits a file that holds several)`, { location: { segment: 'UNB' } });
      }
      const ic = read.ic;
      const { row: partner, created } = await resolvePartner(ctx.trx, partnerKey(read), opts.unknownPartners);
      const w = new WmsWriter(ctx, read.messages.length, 'EDI');
      if (created) await w.alert(provisionalPartnerAlert(partner, ic.senderQualifier));
      if (ic.envelopeError || !read.messages.some((m) => m.doc)) {
        throw firstEdifactError(read) ?? new LotBridgeError('LB_ERR_EDIFACT_SEGMENT_MISSING', 'the interchange holds no message');
      }
      const results: Array<Record<string, unknown>> = [];
      for (const rm of read.messages) {
        if (rm.doc) results.push({ message: rm.msg.type, ref: rm.msg.ref, ...(await applyEdiDocument(w, rm.doc, partner)) });
      }
      // a CONTRL is never answered with a CONTRL
      const onlyAcks = read.messages.every((m) => m.msg.type === 'CONTRL');
      const ack = onlyAcks ? undefined : await storeEdiAck(ctx.trx, { partner, inboundMessageId: ctx.message.id, standard: 'edifact', build: contrlBuilder(read, partner) });
      if (ack) await ctx.emit(ack.event.type, ack.event.payload);
      const recordErrors = read.messages.filter((m) => !m.doc).flatMap((m) => m.msg.issues.map((i) => i.error.toJSON()));
      const types = [...new Set(read.messages.map((m) => m.msg.type))].join(',');
      return {
        status: 'processed',
        ...(types ? { messageType: types } : {}),
        ...(recordErrors.length > 0 ? { recordErrors } : {}),
        summary: {
          interchange: ic.controlRef, partner: partner.interchange_id, syntax: `${ic.syntaxId}:${ic.syntaxVersion}`, charset: ic.charset,
          messages: read.messages.length, accepted: results.length, rejected: read.messages.length - results.length,
          ack: ack ? { type: ack.view.type, status: ack.view.status, controlNumber: ack.view.controlNumber } : null, documents: results, warnings: ic.warnings,
          created: w.summary.created, events: w.summary.events, alerts: w.summary.alerts,
        },
      };
    },

    async onFailureTx(trx: Knex.Transaction, message: StoredMessage, status: 'rejected' | 'failed', error: LotBridgeErrorJson) {
      if (status !== 'rejected') return [];
      let read: EdifactRead;
      try {
        read = readEdifactMessage(message.payload);
      } catch (err) {
        if (isLotBridgeError(err)) return [];
        throw err;
      }
      if (!read.ic.senderId) return [];
      let partner: DbEdiPartnerRow;
      try {
        partner = (await resolvePartner(trx, partnerKey(read), opts.unknownPartners)).row;
      } catch (err) {
        if (!isLotBridgeError(err) || err.code !== 'LB_ERR_EDI_PARTNER_UNKNOWN') throw err;
        partner = (await resolvePartner(trx, partnerKey(read), 'record')).row;
        read.ic.envelopeError = { code: '23', tag: 'UNB', element: { position: 2, component: 1 }, error: LotBridgeError.fromJSON(error) };
      }
      if (!read.ic.envelopeError) {
        for (const rm of read.messages) {
          if (rm.doc) {
            const note = error.details?.edifact as EdifactNote | undefined;
            rm.msg.issues.push({ code: note?.code ?? '12', ...(note ? { note } : {}), error: LotBridgeError.fromJSON(error) });
            delete rm.doc;
          }
        }
      }
      const ack = await storeEdiAck(trx, { partner, inboundMessageId: message.id, standard: 'edifact', build: contrlBuilder(read, partner) });
      return [ack.event];
    },
  };
}
