import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, seedMaterial } from './wms-test-data';

/**
 * The CSV reader splits records at CR LF, LF or a lone CR (old Mac/Excel "CSV (Macintosh)" exports);
 * record errors must then name the line the record is on, as they do for LF files.
 */
describe('WMS CSV with CR-only line ends: record errors name the right line', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('locates a bad quantity on line 3 of a CR-separated file at line 3 (not line 1)', async () => {
    const csv = [
      'movementId,type,occurredAt,location,gtin,lot,quantity',
      `CR-1,receive,2026-03-01T10:00:00Z,A1,${GTIN.eachA},LCR,5`,
      `CR-2,receive,2026-03-01T10:05:00Z,A1,${GTIN.eachA},LCR,ten`,
      `CR-3,receive,2026-03-01T10:10:00Z,A1,${GTIN.eachA},LCR,2`,
    ].join('\r') + '\r';
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(await balancesOf(t.db, GTIN.eachA, 'LCR')).toEqual({ 'A1/finished': 7 });
    expect(r.result.recordErrors?.map((e) => [e.code, e.location?.index, e.location?.line, e.message])).toEqual([
      ['LB_ERR_WMS_QUANTITY', 1, 3, 'record 1 (line 3): quantity "ten" is not a number'],
    ]);
  });

  it('reads a CR-separated spreadsheet export with ";" and a decimal comma (the delimiter is taken from the header line only)', async () => {
    const csv = ['movementId;type;occurredAt;location;gtin;lot;quantity;uom', `CR-4;adjust;2026-03-02 10:00;A2;${GTIN.eachA};LCR2;2,5;EA`].join('\r') + '\r';
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toBeUndefined();
    expect(await balancesOf(t.db, GTIN.eachA, 'LCR2')).toEqual({ 'A2/finished': 2.5 });
  });
});
