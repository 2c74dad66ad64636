import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, seedMaterial } from './wms-test-data';

/**
 * windows-1252 is not ISO-8859-1: bytes 0x80–0x9F are printable characters (€ ‚ „ … – — ‘ ’ “ ” ™ Š Ž …).
 * Node 20's TextDecoder('windows-1252') turns them into C1 control characters.
 */
describe('WMS CSV declared windows-1252: bytes 0x80–0x9F are the windows-1252 characters', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
  });
  afterAll(async () => {
    await t.destroy();
  });

  it('books the receipt at location "KÜHL–A01" (0x96 is an en dash, U+2013), not at a code holding the control character U+0096', async () => {
    const csv = Buffer.concat([
      Buffer.from('movementId;type;occurredAt;location;gtin;lot;quantity;uom\r\n', 'latin1'),
      // "KÜHL–A01" as a German Excel writes it: Ü = 0xDC, – = 0x96
      Buffer.from([...Buffer.from('CP-1;receive;2026-03-01 10:00;K', 'latin1'), 0xdc, ...Buffer.from('HL', 'latin1'), 0x96, ...Buffer.from('A01;09506000134352;L1252;4;EA\r\n', 'latin1')]),
    ]);
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv; charset=windows-1252', format: 'csv' });
    expect(r.ok).toBe(true);
    expect(await balancesOf(t.db, GTIN.eachA, 'L1252')).toEqual({ 'KÜHL\u2013A01/finished': 4 });
    expect(await t.db('locations').where({ code: 'KÜHL\u0096A01' }).first()).toBeUndefined();
  });
});
