import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { silentLogger } from '../../../src/logging/logger';
import { createProcessContext } from '../../../src/pipeline/process-message';
import { processTestMessage, storeTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, ledgerOf, movement, seedMaterial } from './wms-test-data';

describe('WMS: a count and a movement of the same stock processed at the same time', () => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'CC-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('counts the movement before the count exactly once (100 in, 5 out at 09:00, count 90 at 10:00 → 90)', async () => {
    const opening = await processTestMessage(t.db, wmsHandler, { payload: JSON.stringify(movement({ movementId: 'CCR-0', location: 'CC-BIN', lot: 'CCL', quantity: 100, occurredAt: '2026-03-06T08:00:00Z' })), contentType: 'application/json' });
    expect(opening.ok).toBe(true);
    const issue = await storeTestMessage(t.db, { payload: JSON.stringify(movement({ movementId: 'CCR-1', type: 'issue', location: 'CC-BIN', lot: 'CCL', quantity: 5, occurredAt: '2026-03-06T09:00:00Z' })), contentType: 'application/json' });
    const count = await storeTestMessage(t.db, { payload: JSON.stringify(movement({ movementId: 'CCR-2', type: 'count', location: 'CC-BIN', lot: 'CCL', quantity: 90, occurredAt: '2026-03-06T10:00:00Z' })), contentType: 'application/json' });

    // worker 1 has booked the issue and not committed yet when worker 2 takes the count
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let issueBooked!: () => void;
    const booked = new Promise<void>((r) => (issueBooked = r));
    const first = t.db.transaction(async (trx) => {
      const ctx = createProcessContext(trx, issue, 'UTC', silentLogger());
      await wmsHandler.process(ctx);
      await ctx.flush();
      issueBooked();
      await released;
    });
    await booked;
    const second = t.db.transaction(async (trx) => {
      const ctx = createProcessContext(trx, count, 'UTC', silentLogger());
      await wmsHandler.process(ctx);
      await ctx.flush();
    });
    await new Promise((r) => setTimeout(r, 300));
    release();
    await Promise.all([first, second]);

    expect(await balancesOf(t.db, GTIN.eachA, 'CCL')).toEqual({ 'CC-BIN/finished': 90 });
    expect(await ledgerOf(t.db, GTIN.eachA, 'CCL')).toEqual({ 'CC-BIN/finished': 90 });
  });
});
