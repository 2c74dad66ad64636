import { isLotBridgeError, LotBridgeError } from '../../errors';
import type { HandlerResult, MessageHandler, ProcessContext } from '../../pipeline/handler';
import { allRecordsRejected, parseWmsBody, wmsEnvelopeOf } from '../../parsers/wms';
import { applyWmsCount } from './apply-wms-count';
import { applyWmsMovement, type ApplyOutcome } from './apply-wms-movement';
import { applyWmsReading } from './apply-wms-reading';
import type { WmsMovement, WmsRecord } from './wms-record.types';
import { validateWmsRecord } from './wms-record.validator';
import { WmsWriter } from './wms-writer';
import { reconcileAsnReceipts } from '../edi/asn-receipt';
import { applyWmsMovementsBatch, setBasedMovement, type PlannedWmsMessage } from './apply-wms-movements-batch';

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

/** A message's body parsed and its records validated (input errors of records collected). */
interface ReadMessage {
  parsed: ReturnType<typeof parseWmsBody>;
  total: number;
  errors: LotBridgeError[];
  valid: WmsRecord[];
}

function readMessage(ctx: ProcessContext): ReadMessage {
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
  return { parsed, total, errors, valid };
}

/** The message's verdict once its records are applied: processed (with its record errors), or rejected when no record was good. */
async function finish(w: WmsWriter, read: ReadMessage, errors: LotBridgeError[]): Promise<HandlerResult> {
  // receipts against inbound ASNs: short/over per lot once the whole message is booked
  await reconcileAsnReceipts(w);
  errors.sort((a, b) => (a.location?.index ?? 0) - (b.location?.index ?? 0));
  w.summary.rejected = errors.length;
  if (w.summary.applied + w.summary.alreadyApplied === 0) {
    throw allRecordsRejected(errors, read.total);
  }
  if (errors.length > 0) {
    w.ctx.logger.warn({ rejected: errors.length, records: read.total, first: errors[0].code }, 'WMS records rejected inside a processed message');
  }
  return {
    status: 'processed',
    messageType: wmsEnvelopeOf(read.parsed).messageType,
    ...(errors.length > 0 ? { recordErrors: errors.map((e) => e.toJSON()) } : {}),
    summary: { ...w.summary },
  };
}

/**
 * One record after another, in body order. Bookings take balance rows in record order, so two
 * transactions doing this at once could deadlock on rows they share: one at a time (a per-kind
 * advisory lock, held to COMMIT; set-based chunks lock in key order and do not take it).
 */
async function mapOneByOne(ctx: ProcessContext, read: ReadMessage): Promise<HandlerResult> {
  await ctx.trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', ['lotbridge:map:wms']);
  const errors = [...read.errors];
  const w = new WmsWriter(ctx, read.total);
  for (const rec of read.valid) {
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
  return finish(w, read, errors);
}

/**
 * The WMS connector kind's handler: parse the body (JSON object or array, NDJSON, CSV), validate
 * each record, and map the good ones into the canonical model in the pipeline's transaction, in
 * body order. Bad records are listed in `recordErrors` with their index, line and field; when no
 * record is good the message is rejected (the record's own error for a single record, else
 * LB_ERR_WMS_ALL_RECORDS_REJECTED). A record whose source key (`wms:<connector>[@sender]:<id>`)
 * was recorded before — by this message or another — changes nothing (`alreadyApplied`).
 *
 * A batch (processMany) maps runs of consecutive messages whose records are all plain movements
 * (setBasedMovement) set-based with applyWmsMovementsBatch; a message with a count, a reading, a
 * ship or an ASN receipt ends the run and is mapped on its own, so the batch's order
 * is kept. The rows written are the same either way (tests/integration/wms/wms-batch-equivalence.test.ts).
 */
export const wmsHandler: MessageHandler = {
  kind: 'wms',
  async process(ctx: ProcessContext): Promise<HandlerResult> {
    return mapOneByOne(ctx, readMessage(ctx));
  },
  async processMany(ctxs: ProcessContext[]): Promise<HandlerResult[]> {
    const results = new Array<HandlerResult>(ctxs.length);
    let run: Array<{ i: number; read: ReadMessage; planned: PlannedWmsMessage }> = [];
    const flush = async (): Promise<void> => {
      if (run.length === 0) return;
      const done = run;
      run = [];
      await applyWmsMovementsBatch(ctxs[0].trx, done.map((x) => x.planned));
      for (const x of done) results[x.i] = await finish(x.planned.w, x.read, x.planned.errors);
    };
    for (const [i, ctx] of ctxs.entries()) {
      const read = readMessage(ctx);
      if (read.valid.length > 0 && read.valid.every(setBasedMovement)) {
        run.push({ i, read, planned: { w: new WmsWriter(ctx, read.total), movements: read.valid as WmsMovement[], errors: [...read.errors] } });
      } else {
        await flush();
        results[i] = await mapOneByOne(ctx, read);
      }
    }
    await flush();
    return results;
  },
};
