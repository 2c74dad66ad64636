import { listMaterialsStockedAt } from '../../model/inventory/list-materials-stocked-at';
import { findTraceEventBySourceKey } from '../../model/trace/find-trace-event-by-source-key';
import type { ApplyOutcome } from './apply-wms-movement';
import { WMS_EPCIS, wmsSourceKey } from './wms-mapping';
import type { WmsReading } from './wms-record.types';
import type { WmsWriter } from './wms-writer';

/** A range a reading broke: the location's own, or a stored material's storage range. */
interface BrokenRange {
  source: 'location' | 'material';
  code: string;
  minC: number | null;
  maxC: number | null;
}

function outside(c: number, min: number | null, max: number | null): boolean {
  return (min !== null && c < min) || (max !== null && c > max);
}

/**
 * Maps a temperature reading: an ObjectEvent (bizStep sensor_reporting) at the location with the
 * reading as an EPCIS sensorElementList, and a critical `temp_excursion` alert (one open per
 * location) when the reading is outside the location's own range or the storage range of any
 * material with stock there at the reading's time (its ledger as of `at`: a late reading is judged
 * against the stock of its own time).
 * @param w - the message's writer
 * @param rec - the validated reading
 */
export async function applyWmsReading(w: WmsWriter, rec: WmsReading): Promise<ApplyOutcome> {
  const { ctx } = w;
  const sourceKey = wmsSourceKey(w.connectorId, rec.id, rec.sender, true);
  if ((await findTraceEventBySourceKey(ctx.trx, sourceKey)) !== undefined) {
    return 'already_applied';
  }
  const location = await w.location(rec.location);
  const broken: BrokenRange[] = [];
  const locMin = location.temp_min_c === null ? null : Number(location.temp_min_c);
  const locMax = location.temp_max_c === null ? null : Number(location.temp_max_c);
  if (outside(rec.celsius, locMin, locMax)) {
    broken.push({ source: 'location', code: location.code, minC: locMin, maxC: locMax });
  }
  for (const m of await listMaterialsStockedAt(ctx.trx, location.id, rec.occurredAt.utc)) {
    if (outside(rec.celsius, m.storageTempMinC, m.storageTempMaxC)) {
      broken.push({ source: 'material', code: m.code, minC: m.storageTempMinC, maxC: m.storageTempMaxC });
    }
  }
  const time = rec.occurredAt.utc.toISOString();
  const epcis = WMS_EPCIS.temperature;
  const eventId = await w.recordEvent(
    {
      eventType: 'ObjectEvent',
      action: epcis.action,
      bizStep: epcis.bizStep,
      disposition: null,
      eventTime: time,
      eventTimeZoneOffset: rec.occurredAt.offset,
      location: location.code,
      bizTransactions: [],
      sensorElementList: [{ sensorMetadata: { deviceID: rec.sensor, time }, sensorReport: [{ type: 'Temperature', value: rec.celsius, uom: 'CEL' }] }],
      sourceKey,
      items: [],
      details: { wmsType: 'temperature', readingId: rec.id, sensor: rec.sensor, celsius: rec.celsius, ...(broken.length > 0 ? { outOfRange: broken } : {}) },
    },
    location.id,
    null,
  );
  if (eventId === undefined) {
    return 'already_applied';
  }
  if (broken.length > 0) {
    const range = (b: BrokenRange): string => `${b.source} ${b.code} ${b.minC ?? '-∞'}..${b.maxC ?? '+∞'} °C`;
    await w.alert({
      type: 'temp_excursion',
      severity: 'critical',
      subjectType: 'location',
      subjectId: location.id,
      message: `sensor ${rec.sensor} read ${rec.celsius} °C at ${location.code} (${time}), outside ${broken.map(range).join('; ')}`,
      details: { location: location.code, sensor: rec.sensor, celsius: rec.celsius, at: time, readingId: rec.id, eventId, broken },
      dedupKey: `temp_excursion:${location.id}`,
    });
  }
  await ctx.audit({ action: 'wms.temperature', entityType: 'trace_event', entityId: eventId, after: { sourceKey, celsius: rec.celsius, outOfRange: broken.length > 0 } });
  return 'applied';
}
