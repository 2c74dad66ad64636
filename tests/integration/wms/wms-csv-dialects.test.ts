import { wmsHandler } from '../../../src/normalize/wms/wms.handler';
import { processTestMessage, type HandlerRun } from '../../helpers/process-context';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-db';
import { GTIN, balancesOf, seedLocation, seedMaterial } from './wms-test-data';

/** CSV as spreadsheets and WMS exports write it: line ends, header spellings, trailing delimiters, tab files with decimal commas, windows-1252. */
describe('WMS CSV dialects', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await seedMaterial(t.db, { code: 'TEST-A', gtins: [{ gtin: GTIN.eachA }] });
    await seedLocation(t.db, { code: 'FRZ-1', minC: -25, maxC: -15 });
  });
  afterAll(async () => {
    await t.destroy();
  });
  /** Maps a CSV body as the WMS handler does one message; a rejected message throws its error. */
  const bookCsv = async (csv: string): Promise<Extract<HandlerRun, { ok: true }>['result']> => {
    const r = await processTestMessage(t.db, wmsHandler, { payload: csv, contentType: 'text/csv' });
    if (!r.ok) {
      throw r.error;
    }
    return r.result;
  };

  /**
   * The CSV reader splits records at CR LF, LF or a lone CR (old Mac/Excel "CSV (Macintosh)" exports);
   * record errors must then name the line the record is on, as they do for LF files.
   */
  describe('WMS CSV with CR-only line ends: record errors name the right line', () => {
    it('locates a bad quantity on line 3 of a CR-separated file at line 3 (not line 1)', async () => {
      const csv = [
        'movementId,type,occurredAt,location,gtin,lot,quantity',
        `CR-1,receive,2026-03-01T10:00:00Z,A1,${GTIN.eachA},LCR,5`,
        `CR-2,receive,2026-03-01T10:05:00Z,A1,${GTIN.eachA},LCR,ten`,
        `CR-3,receive,2026-03-01T10:10:00Z,A1,${GTIN.eachA},LCR,2`,
      ].join('\r') + '\r';
      const result = await bookCsv(csv);
      expect(await balancesOf(t.db, GTIN.eachA, 'LCR')).toEqual({ 'A1/finished': 7 });
      expect(result.recordErrors?.map((e) => [e.code, e.location?.index, e.location?.line, e.message])).toEqual([
        ['LB_ERR_WMS_QUANTITY', 1, 3, 'record 1 (line 3): quantity "ten" is not a number'],
      ]);
    });

    it('reads a CR-separated spreadsheet export with ";" and a decimal comma (the delimiter is taken from the header line only)', async () => {
      const csv = ['movementId;type;occurredAt;location;gtin;lot;quantity;uom', `CR-4;adjust;2026-03-02 10:00;A2;${GTIN.eachA};LCR2;2,5;EA`].join('\r') + '\r';
      const result = await bookCsv(csv);
      expect(result.recordErrors).toBeUndefined();
      expect(await balancesOf(t.db, GTIN.eachA, 'LCR2')).toEqual({ 'A2/finished': 2.5 });
    });
  });

  /** Header names as spreadsheets and WMS exports write them: other case, words split by spaces, `_` or `-`. */
  describe('WMS CSV header names with spaces, underscores and dashes', () => {
    it('reads "Movement ID", "Occurred At", "stock_state", "to-location" as movementId, occurredAt, stockState, toLocation', async () => {
      const csv = [
        'Movement ID,Type,Occurred At,Location,To-Location,GTIN,Lot,Quantity,UOM,stock_state,Reference.ASN',
        `HS-1,receive,2026-03-01T10:00:00Z,A1,,${GTIN.eachA},LHS,8,EA,pending_inspection,ASN-HS`,
        `HS-2,move,2026-03-01T11:00:00Z,A1,B1,${GTIN.eachA},LHS,3,EA,pending_inspection,`,
      ].join('\n');
      const result = await bookCsv(csv);
      expect(result.recordErrors).toBeUndefined();
      expect(await balancesOf(t.db, GTIN.eachA, 'LHS')).toEqual({ 'A1/pending_inspection': 5, 'B1/pending_inspection': 3 });
    });
  });

  /**
   * Many exports end every line with the delimiter (`a;b;c;`): an empty last column in the header and
   * an empty last cell in each row. That carries no data and must not reject the file or its rows;
   * data in an unnamed column still does.
   */
  describe('WMS CSV with a trailing delimiter on every line', () => {
    it('books the rows of a ";" export whose header and rows end with ";"', async () => {
      const csv = [
        'movementId;type;occurredAt;location;gtin;lot;quantity;uom;',
        `TD-1;receive;2026-03-01 10:00;A1;${GTIN.eachA};LTD;12;EA;`,
        `TD-2;issue;2026-03-01 11:00;A1;${GTIN.eachA};LTD;2,5;EA;`,
        '',
      ].join('\r\n');
      const result = await bookCsv(csv);
      expect(result.recordErrors).toBeUndefined();
      expect(await balancesOf(t.db, GTIN.eachA, 'LTD')).toEqual({ 'A1/finished': 9.5 });
    });

    it('books a row that ends with an extra empty cell when the header has none', async () => {
      const csv = ['movementId,type,occurredAt,location,gtin,lot,quantity', `TD-3,receive,2026-03-02T10:00:00Z,A2,${GTIN.eachA},LTD2,4,`, ''].join('\n');
      const result = await bookCsv(csv);
      expect(result.recordErrors).toBeUndefined();
      expect(await balancesOf(t.db, GTIN.eachA, 'LTD2')).toEqual({ 'A2/finished': 4 });
    });
  });

  /** A tab-separated spreadsheet export from a decimal-comma locale: "2,5" and "-18,5" are numbers there. */
  describe('WMS CSV, tab-separated with a decimal comma', () => {
    it('reads quantity "2,5" as 2.5 (not LB_ERR_WMS_QUANTITY "2,5" is not a number)', async () => {
      const csv = ['movementId\ttype\toccurredAt\tlocation\tgtin\tlot\tquantity\tuom', `TB-1\tadjust\t2026-03-01 10:00\tA1\t${GTIN.eachA}\tLTB\t2,5\tEA`, ''].join('\r\n');
      const result = await bookCsv(csv);
      expect(result.recordErrors).toBeUndefined();
      expect(await balancesOf(t.db, GTIN.eachA, 'LTB')).toEqual({ 'A1/finished': 2.5 });
    });

    it('reads celsius "-18,5" as -18.5', async () => {
      const csv = ['readingId\ttype\tsensor\tlocation\tat\tcelsius', 'TB-R1\ttemperature\tS-F1\tFRZ-1\t2026-03-01 10:00\t-18,5', ''].join('\n');
      const result = await bookCsv(csv);
      expect(result.recordErrors).toBeUndefined();
      expect((await t.db('trace_events').where({ source_key: 'wms:wms:reading:TB-R1' }).first())?.details.celsius).toBe(-18.5);
    });
  });

  /**
   * windows-1252 is not ISO-8859-1: bytes 0x80–0x9F are printable characters (€ ‚ „ … – — ‘ ’ “ ” ™ Š Ž …).
   * Node 20's TextDecoder('windows-1252') turns them into C1 control characters.
   */
  describe('WMS CSV declared windows-1252: bytes 0x80–0x9F are the windows-1252 characters', () => {
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
});
