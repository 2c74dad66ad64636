import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLotBridgeError } from '../../../src/errors/lotbridge-error';
import { decodeGs1 } from '../../../src/gs1/gs1-decode';
import { udiContradictions } from '../../../src/udi/udi-contradictions';
import { decodeUdi, looksLikeHibcc } from '../../../src/udi/udi-decode';

const NOW = new Date('2026-03-01T12:00:00Z');
const gs1Fixture = (name: string): string => readFileSync(join(__dirname, '../../fixtures/gs1', name), 'latin1');

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isLotBridgeError(err)) return err.code;
    throw err;
  }
  throw new Error('expected an error');
}

describe('decodeUdi: GS1 or HIBCC', () => {
  it.each([
    ['+A123BJC5D6E71G', true],
    ['  *+A123BJC5D6E71G*', true],
    [']C0+A99912345/$$52001510X33', true],
    [']d1*+A123BJC5D6E71G*', true],
    ['(01)09506000134352(10)L1', false],
    [']d201095060001343521727033110L2403A', false],
    ['https://id.example.com/01/09506000134352', false],
  ])('sends %j to the HIBC decoder: %s', (text, hibcc) => {
    expect(looksLikeHibcc(text)).toBe(hibcc);
  });

  it('decodes GS1 data exactly as decodeGs1 does, with scheme gs1', () => {
    const text = gs1Fixture('raw-datamatrix-d2-gs-separated-crlf.txt');
    const d = decodeUdi(text, { now: NOW });
    expect(d).toEqual(decodeGs1(text, { now: NOW }));
    expect(d).toMatchObject({ scheme: 'gs1', gtin: '09506000134352', lot: 'L2403A', expiry: '2027-03-31', serial: 'S1' });
  });

  it('decodes the HIBC data decodeGs1 rejects', () => {
    const text = gs1Fixture('hibc-not-gs1.txt');
    expect(errorCode(() => decodeGs1(text, { now: NOW }))).toBe('LB_ERR_GS1_SYNTAX');
    expect(decodeUdi(text, { now: NOW })).toMatchObject({ scheme: 'hibcc', lic: 'A999', product: '1234', unitOfMeasure: 5, lot: '10X3', expiry: '2020-01-15' });
  });

  it('keeps the GS1 error codes for bad GS1 data and gives HIBCC codes for bad HIBC data', () => {
    expect(errorCode(() => decodeUdi('(01)09506000134353', { now: NOW }))).toBe('LB_ERR_GS1_CHECK_DIGIT');
    expect(errorCode(() => decodeUdi('+A99912345/$$52001510X34', { now: NOW }))).toBe('LB_ERR_HIBCC_CHECK_CHARACTER');
    expect(errorCode(() => decodeUdi('   '))).toBe('LB_ERR_GS1_EMPTY');
  });
});

describe('udiContradictions', () => {
  const gs1 = decodeUdi('(01)09506000134352(17)270331(10)L2403A(21)SN-0001', { now: NOW });
  const gs1MonthOnly = decodeUdi('(01)09506000134352(17)270300(10)L2403A', { now: NOW });
  const hibcc = decodeUdi('+J123AQ3451/$$3231231BC34567/S4012R', { now: NOW });
  const hibccMmyy = decodeUdi('+$$02231162074ZA', { now: NOW });

  it('finds nothing when the given values agree, in any of their usual spellings', () => {
    expect(udiContradictions(gs1, { lot: 'L2403A', expiry: '20270331', serial: 'SN-0001', gtin: '9506000134352' })).toEqual([]);
    expect(udiContradictions(gs1, { expiry: '2027-03-31T00:00:00Z', gtin: '(01)09506000134352' })).toEqual([]);
    expect(udiContradictions(gs1, { expiry: '202703310000+0100' })).toEqual([]);
    expect(udiContradictions(hibcc, { lot: 'bc34567', expiry: '2023-12-31', serial: ' 4012 ', gtin: '+J123AQ3451R' })).toEqual([]);
    expect(udiContradictions(hibcc, { gtin: 'J123AQ3451' })).toEqual([]);
  });

  it('lists each field that differs, with both values and a sentence', () => {
    const found = udiContradictions(gs1, { lot: 'L2403B', expiry: '2027-04-30', serial: 'SN-0002', gtin: '09506000134369' });
    expect(found.map((c) => [c.field, c.udiValue, c.givenValue])).toEqual([
      ['lot', 'L2403A', 'L2403B'],
      ['expiry', '2027-03-31', '2027-04-30'],
      ['serial', 'SN-0001', 'SN-0002'],
      ['gtin', '09506000134352', '09506000134369'],
    ]);
    expect(found[0]?.message).toBe("The UDI's lot 'L2403A' contradicts the given lot 'L2403B'");
    expect(udiContradictions(hibcc, { gtin: 'J123AQ3452', serial: '4013' }).map((c) => c.field)).toEqual(['serial', 'gtin']);
  });

  it('compares GS1 lots case-sensitively and HIBC lots ignoring case', () => {
    expect(udiContradictions(gs1, { lot: 'l2403a' }).map((c) => c.field)).toEqual(['lot']);
    expect(udiContradictions(hibcc, { lot: 'BC34567' })).toEqual([]);
  });

  it('compares by month when either side knows only the month', () => {
    expect(udiContradictions(gs1MonthOnly, { expiry: '2027-03-15' })).toEqual([]);
    expect(udiContradictions(hibccMmyy, { expiry: '20230201' })).toEqual([]);
    expect(udiContradictions(gs1, { expiry: '202703' })).toEqual([]);
    expect(udiContradictions(hibccMmyy, { expiry: '2023-03-01' })[0]).toMatchObject({ field: 'expiry', udiValue: '2023-02-28' });
    expect(udiContradictions(gs1, { expiry: '2027-03-30' }).map((c) => c.field)).toEqual(['expiry']);
  });

  it('reports a given expiry that is not a date, and skips fields either side lacks', () => {
    expect(udiContradictions(gs1, { expiry: 'next March' })[0]?.message).toContain('not a date');
    expect(udiContradictions(hibccMmyy, { serial: 'X1', gtin: 'A9991' })).toEqual([]);
    expect(udiContradictions(gs1, { lot: '', expiry: null, serial: undefined })).toEqual([]);
  });
});
