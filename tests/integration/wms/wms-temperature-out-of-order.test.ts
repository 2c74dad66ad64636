import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage, type HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, movement, openAlerts, seedLocation, seedMaterial } from './wms-test-data';

/**
 * A reading that arrives late is judged against the stock that was at the location when the
 * sensor read it, not against today's stock (out-of-order events are normal).
 */
describe('WMS handler: a late temperature reading is judged against the stock at its own time', () => {
  let t: TestDatabase;
  const ok = async (body: unknown): Promise<Extract<HandlerRun, { ok: true }>> => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(body), contentType: 'application/json' });
    if (!r.ok) {
      throw r.error;
    }
    return r;
  };
  const reading = (id: string, location: string, celsius: number, at: string): Record<string, unknown> => ({
    readingId: id, type: 'temperature', sensor: 'S-COLD-9', location, at, celsius,
  });

  beforeEach(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'COLD-CHAIN', gtins: [{ gtin: GTIN.eachA }], minC: 2, maxC: 8 });
    await seedLocation(t.db, { code: 'COLD-9' });
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('opens temp_excursion for a late reading taken while the cold-chain lot was there (it has left since)', async () => {
    await ok([
      movement({ movementId: 'OO-1', location: 'COLD-9', lot: 'LC1', quantity: 10, occurredAt: '2026-03-07T08:00:00Z' }),
      movement({ movementId: 'OO-2', type: 'issue', location: 'COLD-9', lot: 'LC1', quantity: 10, occurredAt: '2026-03-07T12:00:00Z' }),
    ]);
    // the sensor read 12 °C at 10:00, while the 10 EA were at COLD-9; the reading arrives after the issue
    await ok(reading('OO-R1', 'COLD-9', 12, '2026-03-07T10:00:00Z'));
    const alerts = await openAlerts(t.db, 'temp_excursion');
    expect(alerts).toHaveLength(1);
    expect(alerts[0].message).toMatch(/material COLD-CHAIN 2\.\.8 °C/);
  });

  it('opens no temp_excursion for a late reading taken before the cold-chain lot arrived', async () => {
    await ok(movement({ movementId: 'OO-3', location: 'COLD-9', lot: 'LC2', quantity: 10, occurredAt: '2026-03-07T12:00:00Z' }));
    // 20 °C at 06:00 in an empty bin with no range of its own: nothing of COLD-CHAIN was there yet
    await ok(reading('OO-R2', 'COLD-9', 20, '2026-03-07T06:00:00Z'));
    expect(await openAlerts(t.db, 'temp_excursion')).toEqual([]);
  });
});
