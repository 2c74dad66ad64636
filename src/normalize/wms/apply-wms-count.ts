import { getLedgerBalanceAsOf } from '../../model/inventory/get-ledger-balance-as-of';
import { lockBalance } from '../../model/inventory/lock-balance';
import { findTraceEventBySourceKey } from '../../model/trace/find-trace-event-by-source-key';
import type { ApplyOutcome } from './apply-wms-movement';
import { bizTransactionsOf, defaultStockState, dispositionOf, WMS_EPCIS, wmsSourceKey } from './wms-mapping';
import { raiseRecalledLotMovement } from './wms-recalled-lot';
import type { WmsCount } from './wms-record.types';
import { resolveStockItem, subjectItemOf } from './wms-stock-item';
import type { WmsWriter } from './wms-writer';

/**
 * Maps a count (stock snapshot line): the balance of the lot at the location and state becomes the
 * counted quantity **as of the count's time**. The adjustment is count − SUM(ledger ≤ occurredAt),
 * booked at occurredAt, so movements after it still apply and a late count never erases them.
 * The adjustment is booked even when 0: it marks the count for changes that arrive later.
 * @param w - the message's writer
 * @param rec - the validated count
 */
export async function applyWmsCount(w: WmsWriter, rec: WmsCount): Promise<ApplyOutcome> {
  const { ctx } = w;
  const sourceKey = wmsSourceKey(w.connectorId, rec.id, rec.sender, false);
  if ((await findTraceEventBySourceKey(ctx.trx, sourceKey)) !== undefined) {
    return 'already_applied';
  }
  const item = await resolveStockItem(w, rec, sourceKey);
  const location = await w.location(rec.location);
  const state = rec.stockState ?? defaultStockState(item.material.kind);
  const counted = rec.quantity * item.factor;
  const key = { lotId: item.lot.id, locationId: location.id, stockState: state };
  // a movement of this stock in a concurrent transaction holds this lock until it commits: the
  // ledger read below then sees it (else the count would miss it and the movement miss the count)
  await lockBalance(ctx.trx, key);
  const before = await getLedgerBalanceAsOf(ctx.trx, key, rec.occurredAt.utc);
  const adjustment = counted - before;
  const epcis = WMS_EPCIS.count;
  const eventId = await w.recordEvent(
    {
      eventType: 'ObjectEvent',
      action: epcis.action,
      bizStep: epcis.bizStep,
      disposition: dispositionOf('count', state),
      eventTime: rec.occurredAt.utc.toISOString(),
      eventTimeZoneOffset: rec.occurredAt.offset,
      location: location.code,
      bizTransactions: bizTransactionsOf(rec.reference),
      sensorElementList: null,
      sourceKey,
      items: [subjectItemOf(rec, item, counted)],
      details: {
        wmsType: 'count',
        movementId: rec.id,
        ...(rec.sender === undefined ? {} : { sender: rec.sender }),
        stockState: state,
        counted,
        balanceAsOf: before,
        adjustment,
      },
    },
    location.id,
    null,
  );
  if (eventId === undefined) {
    return 'already_applied';
  }
  const change = await w.book({
    eventId, lotId: item.lot.id, gtin: rec.item.gtin, lotNumber: item.lot.lot_number, location, stockState: state, delta: adjustment,
    eventTime: rec.occurredAt.utc, reason: 'count', uom: item.material.baseUom, recordId: rec.id,
  });
  if (item.lot.status === 'recalled' && counted > 0) {
    await raiseRecalledLotMovement(w, { recordId: rec.id, type: 'count', sourceKey, lotId: item.lot.id, lotNumber: item.lot.lot_number, gtin: rec.item.gtin, location: location.code, quantity: counted, uom: item.material.baseUom });
  }
  if (adjustment !== 0) {
    await ctx.emit('inventory.moved', {
      eventId, sourceKey, movementId: rec.id, type: 'count', gtin: rec.item.gtin, materialCode: item.material.code, lotId: item.lot.id,
      lotNumber: item.lot.lot_number, eventTime: rec.occurredAt.utc.toISOString(), uom: item.material.baseUom, changes: [change],
    });
  }
  await ctx.audit({ action: 'wms.count', entityType: 'trace_event', entityId: eventId, after: { sourceKey, lotId: item.lot.id, counted, balanceAsOf: before, adjustment } });
  return 'applied';
}
