import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage, type HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, movement, openAlerts, seedLocation, seedMaterial } from './wms-test-data';

describe('WMS handler: temperature readings', () => {
  let t: TestDatabase;
  let coldId: string;
  const ok = async (body: unknown): Promise<Extract<HandlerRun, { ok: true }>> => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(body), contentType: 'application/json' });
    if (!r.ok) {
      throw r.error;
    }
    return r;
  };
  const reading = (id: string, location: string, celsius: number, at = '2026-03-07T10:00:00Z'): Record<string, unknown> => ({
    readingId: id, type: 'temperature', sensor: 'S-COLD-1', location, at, celsius,
  });

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'VACCINE-LIKE', gtins: [{ gtin: GTIN.eachA }], minC: 2, maxC: 8 });
    await seedMaterial(t.db, { code: 'AMBIENT', gtins: [{ gtin: GTIN.eachB }] });
    coldId = await seedLocation(t.db, { code: 'COLD-1' });
    await seedLocation(t.db, { code: 'FREEZER-1', minC: -25, maxC: -15 });
    await ok([
      movement({ movementId: 'T-0', location: 'COLD-1', lot: 'LT1', quantity: 10 }),
      movement({ movementId: 'T-1', location: 'COLD-1', gtin: GTIN.eachB, lot: 'LT2', quantity: 10 }),
    ]);
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('records a reading inside every range as a sensor_reporting event with EPCIS sensor elements, and no alert', async () => {
    const r = await ok(reading('R-1', 'COLD-1', 5.5));
    expect(r.result.messageType).toBe('temperature');
    const ev = await t.db('trace_events').where({ source_key: 'wms:wms:reading:R-1' }).first();
    expect(ev).toMatchObject({
      biz_step: 'sensor_reporting',
      location_id: coldId,
      sensor_readings: [{ sensorMetadata: { deviceID: 'S-COLD-1', time: '2026-03-07T10:00:00.000Z' }, sensorReport: [{ type: 'Temperature', value: 5.5, uom: 'CEL' }] }],
    });
    expect(await t.db('trace_event_items').where({ event_id: ev.id })).toEqual([]);
    expect(await openAlerts(t.db, 'temp_excursion')).toEqual([]);
  });

  it('opens one critical temp_excursion per location when a reading leaves the range of a material stocked there', async () => {
    const r = await ok([reading('R-2', 'COLD-1', 9.2, '2026-03-07T11:00:00Z'), reading('R-3', 'COLD-1', 11, '2026-03-07T11:05:00Z')]);
    expect(r.result.summary).toMatchObject({ applied: 2, alerts: 1 });
    const alerts = await openAlerts(t.db, 'temp_excursion');
    expect(alerts).toEqual([
      expect.objectContaining({
        severity: 'critical',
        subject_type: 'location',
        subject_id: coldId,
        dedup_key: `temp_excursion:${coldId}`,
        message: expect.stringMatching(/S-COLD-1 read 9.2 °C at COLD-1 .*material VACCINE-LIKE 2\.\.8 °C/),
      }),
    ]);
    expect(alerts[0].details).toMatchObject({ readingId: 'R-2', broken: [{ source: 'material', code: 'VACCINE-LIKE', minC: 2, maxC: 8 }] });
    const outbox = await t.db('outbox_events').where({ type: 'alert.opened' });
    expect(outbox.map((o: { payload: { type: string } }) => o.payload.type)).toEqual(['temp_excursion']);
  });

  it("checks the location's own range, and ignores materials with no stock there", async () => {
    await ok(reading('R-4', 'FREEZER-1', -10));
    const alerts = (await openAlerts(t.db, 'temp_excursion')).filter((a) => a.details.location === 'FREEZER-1');
    expect(alerts).toHaveLength(1);
    expect(alerts[0].details).toMatchObject({ broken: [{ source: 'location', code: 'FREEZER-1', minC: -25, maxC: -15 }] });
    await ok(reading('R-5', 'EMPTY-ROOM', 40));
    expect((await openAlerts(t.db, 'temp_excursion')).filter((a) => a.details.location === 'EMPTY-ROOM')).toEqual([]);
  });

  it('records a reading once when it is sent again', async () => {
    const again = await ok(reading('R-1', 'COLD-1', 5.5));
    expect(again.result.summary).toMatchObject({ applied: 0, alreadyApplied: 1 });
    expect(await t.db('trace_events').where({ source_key: 'wms:wms:reading:R-1' })).toHaveLength(1);
  });

  it('rejects a reading without a number of degrees', async () => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(reading('R-6', 'COLD-1', Number.NaN)), contentType: 'application/json' });
    expect(r.ok ? undefined : [r.error.code, r.error.location]).toEqual(['LB_ERR_WMS_RECORD_INVALID', { index: 0, line: 1, path: '/celsius', field: 'celsius' }]);
  });
});
