import { isLotBridgeError, LotBridgeError } from '../../errors';
import type { HandlerResult, MessageHandler, ProcessContext } from '../../pipeline/handler';
import { allRecordsRejected, parseWmsBody, wmsEnvelopeOf } from '../../parsers/wms';
import { applyWmsCount } from './apply-wms-count';
import { applyWmsMovement, type ApplyOutcome } from './apply-wms-movement';
import { applyWmsReading } from './apply-wms-reading';
import type { WmsRecord } from './wms-record.types';
import { validateWmsRecord } from './wms-record.validator';
import { WmsWriter } from './wms-writer';
import { reconcileAsnReceipts } from '../edi/asn-receipt';

/** Input errors of one record are collected; anything else is rethrown (transient, defect). */
function asRecordError(err: unknown): LotBridgeError {
  if (isLotBridgeError(err) && err.kind === 'input') {
    return err;
  }
  throw err;
}

function apply(w: WmsWriter, rec: WmsRecord): Promise<ApplyOutcome> {
  switch (rec.kind) {
    case 'movement':
      return applyWmsMovement(w, rec);
    case 'count':
      return applyWmsCount(w, rec);
    case 'temperature':
      return applyWmsReading(w, rec);
  }
}

/**
 * The WMS connector kind's handler: parse the body (JSON object or array, NDJSON, CSV), validate
 * each record, and map the good ones into the canonical model in the pipeline's transaction, in
 * body order. Bad records are listed in `recordErrors` with their index, line and field; when no
 * record is good the message is rejected (the record's own error for a single record, else
 * LB_ERR_WMS_ALL_RECORDS_REJECTED). A record whose source key (`wms:<connector>[@sender]:<id>`)
 * was recorded before — by this message or another — changes nothing (`alreadyApplied`).
 */
export const wmsHandler: MessageHandler = {
  kind: 'wms',
  async process(ctx: ProcessContext): Promise<HandlerResult> {
    const m = ctx.message;
    const parsed = parseWmsBody({ payload: m.payload, format: m.format, contentType: m.contentType, encoding: m.encoding });
    const total = parsed.records.length + parsed.errors.length;
    if (total === 0) {
      throw new LotBridgeError('LB_ERR_INGEST_EMPTY', 'the body holds no records', { location: { line: 1 } });
    }
    const errors: LotBridgeError[] = [...parsed.errors];
    const valid: WmsRecord[] = [];
    for (const r of parsed.records) {
      try {
        valid.push(validateWmsRecord(r, { timezone: ctx.timezone, single: parsed.single }));
      } catch (err) {
        errors.push(asRecordError(err));
      }
    }
    const w = new WmsWriter(ctx, total);
    for (const rec of valid) {
      try {
        const outcome = await apply(w, rec);
        if (outcome === 'applied') {
          w.summary.applied++;
        } else {
          w.summary.alreadyApplied++;
        }
      } catch (err) {
        errors.push(asRecordError(err));
      }
    }
    // receipts against inbound ASNs: short/over per lot once the whole message is booked
    await reconcileAsnReceipts(w);
    errors.sort((a, b) => (a.location?.index ?? 0) - (b.location?.index ?? 0));
    w.summary.rejected = errors.length;
    if (w.summary.applied + w.summary.alreadyApplied === 0) {
      throw allRecordsRejected(errors, total);
    }
    if (errors.length > 0) {
      ctx.logger.warn({ rejected: errors.length, records: total, first: errors[0].code }, 'WMS records rejected inside a processed message');
    }
    return {
      status: 'processed',
      messageType: wmsEnvelopeOf(parsed).messageType,
      ...(errors.length > 0 ? { recordErrors: errors.map((e) => e.toJSON()) } : {}),
      summary: { ...w.summary },
    };
  },
};
