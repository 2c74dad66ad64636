import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, seedMaterial } from './wms-test-data';

/** Header names as spreadsheets and WMS exports write them: other case, words split by spaces, `_` or `-`. */
describe('WMS CSV header names with spaces, underscores and dashes', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('reads "Movement ID", "Occurred At", "stock_state", "to-location" as movementId, occurredAt, stockState, toLocation', async () => {
    const csv = [
      'Movement ID,Type,Occurred At,Location,To-Location,GTIN,Lot,Quantity,UOM,stock_state,Reference.ASN',
      `HS-1,receive,2026-03-01T10:00:00Z,A1,,${GTIN.eachA},LHS,8,EA,pending_inspection,ASN-HS`,
      `HS-2,move,2026-03-01T11:00:00Z,A1,B1,${GTIN.eachA},LHS,3,EA,pending_inspection,`,
    ].join('\n');
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toBeUndefined();
    expect(await balancesOf(t.db, GTIN.eachA, 'LHS')).toEqual({ 'A1/pending_inspection': 5, 'B1/pending_inspection': 3 });
  });
});
