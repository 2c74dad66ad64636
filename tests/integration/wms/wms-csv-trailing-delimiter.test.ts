import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, seedMaterial } from './wms-test-data';

/**
 * Many exports end every line with the delimiter (`a;b;c;`): an empty last column in the header and
 * an empty last cell in each row. That carries no data and must not reject the file or its rows;
 * data in an unnamed column still does.
 */
describe('WMS CSV with a trailing delimiter on every line', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('books the rows of a ";" export whose header and rows end with ";"', async () => {
    const csv = [
      'movementId;type;occurredAt;location;gtin;lot;quantity;uom;',
      `TD-1;receive;2026-03-01 10:00;A1;${GTIN.eachA};LTD;12;EA;`,
      `TD-2;issue;2026-03-01 11:00;A1;${GTIN.eachA};LTD;2,5;EA;`,
      '',
    ].join('\r\n');
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toBeUndefined();
    expect(await balancesOf(t.db, GTIN.eachA, 'LTD')).toEqual({ 'A1/finished': 9.5 });
  });

  it('books a row that ends with an extra empty cell when the header has none', async () => {
    const csv = ['movementId,type,occurredAt,location,gtin,lot,quantity', `TD-3,receive,2026-03-02T10:00:00Z,A2,${GTIN.eachA},LTD2,4,`, ''].join('\n');
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    expect(r.result.recordErrors).toBeUndefined();
    expect(await balancesOf(t.db, GTIN.eachA, 'LTD2')).toEqual({ 'A2/finished': 4 });
  });
});
