import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, seedLocation, seedMaterial } from './wms-test-data';

/** A tab-separated spreadsheet export from a decimal-comma locale: "2,5" and "-18,5" are numbers there. */
describe('WMS CSV, tab-separated with a decimal comma', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
    await seedLocation(t.db, { code: 'FRZ-1', minC: -25, maxC: -15 });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('reads quantity "2,5" as 2.5 (not LB_ERR_WMS_QUANTITY "2,5" is not a number)', async () => {
    const csv = ['movementId\ttype\toccurredAt\tlocation\tgtin\tlot\tquantity\tuom', `TB-1\tadjust\t2026-03-01 10:00\tA1\t${GTIN.eachA}\tLTB\t2,5\tEA`, ''].join('\r\n');
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toBeUndefined();
    expect(await balancesOf(t.db, GTIN.eachA, 'LTB')).toEqual({ 'A1/finished': 2.5 });
  });

  it('reads celsius "-18,5" as -18.5', async () => {
    const csv = ['readingId\ttype\tsensor\tlocation\tat\tcelsius', 'TB-R1\ttemperature\tS-F1\tFRZ-1\t2026-03-01 10:00\t-18,5', ''].join('\n');
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toBeUndefined();
    expect((await t.db('trace_events').where({ source_key: 'wms:wms:reading:TB-R1' }).first())?.details.celsius).toBe(-18.5);
  });
});
