import { checkGln, gs1CheckDigit, normalizeGtin } from '../../../../src/model/master-data/gs1-keys';
import { decodeCsv, normalizeColumnName } from '../../../../src/model/master-data/import/read-csv-file';

describe('GS1 keys for master data', () => {
  it('left-pads GTIN-8, -12 and -13 to 14 digits and checks the mod-10 check digit', () => {
    expect(normalizeGtin('09506000134352')).toEqual({ ok: true, gtin: '09506000134352' });
    expect(normalizeGtin(' 9506000134352 ')).toEqual({ ok: true, gtin: '09506000134352' });
    expect(normalizeGtin('614141000036')).toEqual({ ok: true, gtin: '00614141000036' });
    expect(normalizeGtin('96385074')).toEqual({ ok: true, gtin: '00000096385074' });
    expect(gs1CheckDigit('1950600013435')).toBe(9);
  });

  it('says why a GTIN is refused: wrong check digit, wrong length, not digits', () => {
    expect(normalizeGtin('09506000134353')).toEqual({ ok: false, reason: 'GTIN "09506000134353" has check digit 3; expected 2' });
    expect(normalizeGtin('123456789')).toMatchObject({ ok: false, reason: expect.stringMatching(/has 9 digits/) });
    expect(normalizeGtin('0950600013435X')).toMatchObject({ ok: false, reason: expect.stringMatching(/digits only/) });
  });

  it('checks GLNs (13 digits, check digit)', () => {
    expect(checkGln('5412345000013')).toEqual({ ok: true, gln: '5412345000013' });
    expect(checkGln('5412345000014')).toMatchObject({ ok: false, reason: expect.stringMatching(/expected 3/) });
    expect(checkGln('541234500001')).toMatchObject({ ok: false });
  });
});

describe('CSV header and bytes', () => {
  it('reads camelCase, spaces and dashes in column names as snake_case', () => {
    expect(['stockState', 'Stock State', 'stock-state', ' GTIN_Case '].map(normalizeColumnName)).toEqual(['stock_state', 'stock_state', 'stock_state', 'gtin_case']);
  });

  it('takes UTF-8 when the bytes are UTF-8, else Windows-1252', () => {
    expect(decodeCsv(Buffer.from('Größe', 'utf8'), 'auto')).toEqual({ text: 'Größe', encoding: 'utf8' });
    expect(decodeCsv(Buffer.from('Größe', 'latin1'), 'auto')).toEqual({ text: 'Größe', encoding: 'latin1' });
    expect(() => decodeCsv(Buffer.from('Größe', 'latin1'), 'utf8')).toThrow(/--encoding latin1/);
    // windows-1252's own characters at 0x80–0x9F (Node 20's TextDecoder gave C1 control characters)
    const cp1252 = Buffer.from([0x4b, 0xdc, 0x48, 0x4c, 0x96, 0x41, 0x30, 0x31, 0x20, 0x80, 0x35, 0x20, 0x93, 0x78, 0x94]);
    expect(decodeCsv(cp1252, 'latin1').text).toBe('KÜHL–A01 €5 “x”');
    expect(decodeCsv(cp1252, 'auto')).toEqual({ text: 'KÜHL–A01 €5 “x”', encoding: 'latin1' });
  });
});
