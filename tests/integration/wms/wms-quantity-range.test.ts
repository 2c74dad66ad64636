import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { silentLogger } from '../../../src/logging/logger';
import { processMessage, type ProcessDeps } from '../../../src/pipeline/process-message';
import { storeTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, movement, seedMaterial } from './wms-test-data';

describe('WMS: a quantity the ledger cannot hold', () => {
  let t: TestDatabase;
  let deps: ProcessDeps;

  beforeAll(async () => {
    t = await createTestDatabase();
    deps = { db: t.db, logger: silentLogger(), handlers: new Map([['wms', wmsHandler]]), timezoneOf: () => 'UTC' };
    await seedMaterial(t.db, { code: 'QR-A', gtins: [{ gtin: GTIN.eachA }, { gtin: GTIN.caseA, level: 'case', qty: 10 }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('is a record error (input), not a failed message: the good records of the body are booked', async () => {
    const body = [
      movement({ movementId: 'QR-1', location: 'QR-BIN', lot: 'QRL', quantity: 5 }),
      movement({ movementId: 'QR-2', location: 'QR-BIN', lot: 'QRL', quantity: 1e15 }),
      movement({ movementId: 'QR-3', location: 'QR-BIN', lot: 'QRL', quantity: 9e13, uom: 'CS' }), // 9e14 base units
    ];
    const m = await storeTestMessage(t.db, { payload: JSON.stringify(body), contentType: 'application/json' });
    expect(await processMessage(deps, m.id, { final: true })).toEqual({ status: 'processed', recordErrors: 2 });
    const row = await t.db('inbound_messages').where({ id: m.id }).first();
    expect(row.record_errors).toEqual([
      expect.objectContaining({ code: 'LB_ERR_WMS_QUANTITY', location: expect.objectContaining({ index: 1, field: 'quantity' }) }),
      expect.objectContaining({ code: 'LB_ERR_WMS_QUANTITY', location: expect.objectContaining({ index: 2, field: 'quantity' }) }),
    ]);
    expect(await balancesOf(t.db, GTIN.eachA, 'QRL')).toEqual({ 'QR-BIN/finished': 5 });
    expect(await t.db('alerts').where({ type: 'message_failed' })).toEqual([]);
  });
});
