import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorCode } from '../../../src/errors/codes';
import { isLotBridgeError } from '../../../src/errors/lotbridge-error';
import type { MessageLocation } from '../../../src/errors/lotbridge-error';
import { decodeGs1 } from '../../../src/gs1/gs1-decode';
import type { Gs1DecodeOptions } from '../../../src/gs1/gs1-decode';

const NOW = new Date('2026-03-01T12:00:00Z');
const GS = '\x1d';
const fixture = (name: string): string => readFileSync(join(__dirname, '../../fixtures/gs1', name), 'latin1');

/** Decodes and returns the LotBridgeError it must throw (fails the test when nothing is thrown). */
function decodeError(text: string, opts: Gs1DecodeOptions = { now: NOW }): { code: ErrorCode; message: string; location?: MessageLocation } {
  try {
    decodeGs1(text, opts);
  } catch (err) {
    if (isLotBridgeError(err)) return { code: err.code, message: err.message, location: err.location };
    throw err;
  }
  throw new Error(`expected decodeGs1(${JSON.stringify(text)}) to throw`);
}

const FULL_ELEMENTS = [
  { ai: '01', value: '09506000134352', title: 'GTIN' },
  { ai: '17', value: '270331', title: 'USE BY or EXPIRY' },
  { ai: '10', value: 'L2403A', title: 'BATCH/LOT' },
  { ai: '21', value: 'S1', title: 'SERIAL' },
];

describe('decodeGs1: accepted input forms', () => {
  it('decodes a bracketed element string in the order scanned, with convenience fields', () => {
    expect(decodeGs1(fixture('bracketed-gtin-expiry-lot-serial.txt'), { now: NOW })).toEqual({
      scheme: 'gs1',
      input: 'bracketed',
      elements: FULL_ELEMENTS,
      gtin: '09506000134352',
      lot: 'L2403A',
      expiry: '2027-03-31',
      serial: 'S1',
    });
  });

  it.each([
    ['raw-datamatrix-d2-gs-separated-crlf.txt', ']d2'],
    ['raw-gs1-128-c1.txt', ']C1'],
    ['raw-gs1-qr-q3.txt', ']Q3'],
  ])('decodes raw scanner output %s with symbology %s and GS separators', (file, symbology) => {
    const d = decodeGs1(fixture(file), { now: NOW });
    expect(d).toMatchObject({ scheme: 'gs1', input: 'raw', symbology, gtin: '09506000134352', lot: 'L2403A', expiry: '2027-03-31', serial: 'S1' });
    expect(d.elements.map((e) => [e.ai, e.value])).toEqual(FULL_ELEMENTS.map((e) => [e.ai, e.value]));
  });

  it('decodes GS1 DataBar (]e0) with a predefined-length measure AI followed by a lot', () => {
    const d = decodeGs1(fixture('raw-gs1-databar-e0-net-weight.txt'), { now: NOW });
    expect(d.symbology).toBe(']e0');
    expect(d.elements).toEqual([
      { ai: '01', value: '09506000134352', title: 'GTIN' },
      { ai: '3103', value: '000195', title: 'NET WEIGHT (kg)' },
      { ai: '10', value: 'L2403A', title: 'BATCH/LOT' },
    ]);
  });

  it('accepts a leading GS as FNC1 in first position and raw data without a symbology identifier', () => {
    const d = decodeGs1(fixture('raw-leading-gs-fnc1-first.txt'), { now: NOW });
    expect(d.input).toBe('raw');
    expect(d.symbology).toBeUndefined();
    expect(d.elements.map((e) => e.ai)).toEqual(['01', '10', '17']);
    expect(d).toMatchObject({ lot: 'L2403A', expiry: '2027-03-31' });
  });

  it('accepts raw data whose predefined-length elements are followed by a (redundant) GS and ends in a GS', () => {
    const d = decodeGs1(`]d20109506000134352${GS}17270331${GS}10L1${GS}`, { now: NOW });
    expect(d.elements.map((e) => [e.ai, e.value])).toEqual([
      ['01', '09506000134352'],
      ['17', '270331'],
      ['10', 'L1'],
    ]);
  });

  it('decodes a GS1 Digital Link URI: path key and qualifier, then query attributes', () => {
    const d = decodeGs1(fixture('digital-link-lot-path-expiry-query.txt'), { now: NOW });
    expect(d).toEqual({
      scheme: 'gs1',
      input: 'digital-link',
      elements: [
        { ai: '01', value: '09506000134352', title: 'GTIN' },
        { ai: '10', value: 'L2403A', title: 'BATCH/LOT' },
        { ai: '17', value: '270331', title: 'USE BY or EXPIRY' },
      ],
      gtin: '09506000134352',
      lot: 'L2403A',
      expiry: '2027-03-31',
    });
  });

  it('percent-decodes Digital Link values, ignores non-AI query parameters and the fragment, and accepts any host and a path prefix', () => {
    const d = decodeGs1('HTTPS://Scan.Example.org/shop/items/01/09506000134352/10/L%2F24%2503/21/S%2D1?linkType=gs1:pip&17=270331#top', { now: NOW });
    expect(d.elements.map((e) => [e.ai, e.value])).toEqual([
      ['01', '09506000134352'],
      ['10', 'L/24%03'],
      ['21', 'S-1'],
      ['17', '270331'],
    ]);
  });

  it('pads a GTIN-13 in a Digital Link path to 14 digits', () => {
    expect(decodeGs1('https://id.gs1.org/01/9506000134352', { now: NOW }).gtin).toBe('09506000134352');
  });

  it('accepts a Digital Link URI from a plain QR Code (]Q1)', () => {
    const d = decodeGs1(']Q1https://id.example.com/01/09506000134352/21/ABC', { now: NOW });
    expect(d).toMatchObject({ input: 'digital-link', symbology: ']Q1', serial: 'ABC' });
  });

  it('trims whitespace, CR and LF at the ends and tolerates spaces between bracketed elements', () => {
    const d = decodeGs1(' \t(01) 09506000134352 (10) L2403A\r\n', { now: NOW });
    expect(d.elements.map((e) => [e.ai, e.value])).toEqual([
      ['01', '09506000134352'],
      ['10', 'L2403A'],
    ]);
  });

  it('reads an escaped parenthesis inside a bracketed value', () => {
    expect(decodeGs1('(01)09506000134352(10)AB\\(1)', { now: NOW }).lot).toBe('AB(1)');
  });
});

describe('decodeGs1: GTIN forms', () => {
  it.each([
    ['GTIN-8', '(01)00000096385074', '00000096385074'],
    ['GTIN-12', '(01)00036000291452', '00036000291452'],
    ['GTIN-13', '(01)09506000134352', '09506000134352'],
  ])('accepts a %s padded to 14 digits', (_kind, text, gtin) => {
    expect(decodeGs1(text, { now: NOW }).gtin).toBe(gtin);
  });

  it.each([
    [']E09506000134352', '09506000134352', ']E0'],
    [']E00036000291452', '00036000291452', ']E0'],
    [']E496385074', '00000096385074', ']E4'],
    ['9506000134352', '09506000134352', undefined],
    ['96385074', '00000096385074', undefined],
  ])('reads EAN/UPC or a bare number %s as GTIN %s', (text, gtin, symbology) => {
    const d = decodeGs1(text, { now: NOW });
    expect(d.elements).toEqual([{ ai: '01', value: gtin, title: 'GTIN' }]);
    expect(d.symbology).toBe(symbology);
  });

  it('takes gtin from (02) when there is no (01), with sscc and quantity from (00) and (37)', () => {
    const d = decodeGs1('(00)106141412345678908(02)09506000134352(37)24', { now: NOW });
    expect(d).toMatchObject({ sscc: '106141412345678908', gtin: '09506000134352', quantity: 24 });
  });
});

describe('decodeGs1: dates', () => {
  it('resolves DD=00 to the last day of the month for expiry and best before, and the first for production', () => {
    const d = decodeGs1('(01)09506000134352(11)240300(15)270200(17)280200', { now: NOW });
    expect(d).toMatchObject({ productionDate: '2024-03-01', bestBefore: '2027-02-28', expiry: '2028-02-29' });
  });

  it('applies the GS1 century rule: YY within -49…+50 years of the current year', () => {
    const at = (yy: string, now: Date): string | undefined => decodeGs1(`(01)09506000134352(17)${yy}1231`, { now }).expiry;
    expect(at('76', NOW)).toBe('2076-12-31'); // +50
    expect(at('77', NOW)).toBe('1977-12-31'); // +51 → previous century
    expect(at('99', NOW)).toBe('1999-12-31');
    expect(at('24', new Date('2080-06-01T00:00:00Z'))).toBe('2124-12-31'); // -56 → next century
    expect(at('31', new Date('2080-06-01T00:00:00Z'))).toBe('2031-12-31'); // -49
  });

  it('checks leap years in the century the rule picks', () => {
    expect(decodeGs1('(01)09506000134352(17)000229', { now: NOW }).expiry).toBe('2000-02-29');
    const e = decodeError('(01)09506000134352(17)000229', { now: new Date('2075-01-01T00:00:00Z') });
    expect(e.code).toBe('LB_ERR_GS1_DATE');
  });

  it('rejects (17) 2026-02-30 with the AI and the position of the day', () => {
    const e = decodeError('(01)09506000134352(17)260230');
    expect(e.code).toBe('LB_ERR_GS1_DATE');
    expect(e.location).toEqual({ position: 27, path: '(17)' });
    expect(e.message).toBe("AI (17) value '260230' has an invalid day '30' (February 2026 has 28 days) at position 27");
  });

  it('rejects month 13 and a time with hour 24', () => {
    expect(decodeError('(01)09506000134352(17)261301')).toMatchObject({ code: 'LB_ERR_GS1_DATE', location: { position: 25, path: '(17)' } });
    expect(decodeError('(01)09506000134352(7003)2703312460')).toMatchObject({ code: 'LB_ERR_GS1_DATE', location: { position: 31, path: '(7003)' } });
  });

  it('rejects day 00 where the dictionary says yymmdd, not yymmd0', () => {
    expect(decodeError('(01)09506000134352(7006)260300')).toMatchObject({ code: 'LB_ERR_GS1_DATE', location: { path: '(7006)' } });
  });
});

describe('decodeGs1: errors name the AI and the position', () => {
  it('rejects empty input', () => {
    expect(decodeError('')).toMatchObject({ code: 'LB_ERR_GS1_EMPTY', location: { position: 1 } });
    expect(decodeError(' \r\n')).toMatchObject({ code: 'LB_ERR_GS1_EMPTY' });
    expect(decodeError(']d2')).toMatchObject({ code: 'LB_ERR_GS1_EMPTY' });
  });

  it('rejects a wrong GTIN check digit, bracketed, pointing at the check digit', () => {
    const e = decodeError('(01)09506000134353');
    expect(e).toEqual({
      code: 'LB_ERR_GS1_CHECK_DIGIT',
      message: "AI (01) value '09506000134353' has a wrong check digit (expected 2) at position 18",
      location: { position: 18, path: '(01)' },
    });
  });

  it('rejects a wrong check digit in raw data after a symbology identifier', () => {
    expect(decodeError(fixture('raw-bad-gtin-check-digit.txt'))).toMatchObject({
      code: 'LB_ERR_GS1_CHECK_DIGIT',
      location: { position: 19, path: '(01)' },
    });
  });

  it('rejects a wrong SSCC check digit and a wrong check digit in a Digital Link path', () => {
    expect(decodeError('(00)106141412345678909')).toMatchObject({ code: 'LB_ERR_GS1_CHECK_DIGIT', location: { position: 22, path: '(00)' } });
    expect(decodeError('https://id.example.com/01/09506000134353')).toMatchObject({
      code: 'LB_ERR_GS1_CHECK_DIGIT',
      location: { position: 40, path: '(01)' },
    });
  });

  it('checks the alphanumeric check character pair (csumalpha) of a GMN', () => {
    expect(decodeGs1('(8013)1987654Ad4X4bL5ttr2310c2K', { now: NOW }).elements[0]?.value).toBe('1987654Ad4X4bL5ttr2310c2K');
    const e = decodeError('(8013)1987654Ad4X4bL5ttr2310cXK');
    expect(e.code).toBe('LB_ERR_GS1_CHECK_DIGIT');
    expect(e.message).toContain('expected 2K');
    expect(e.location).toEqual({ position: 30, path: '(8013)' });
  });

  it.each([
    ['(99X)ABC', '(99X)'],
    ['(01)09506000134352(23)123', '(23)'],
  ])('rejects the unknown AI in %s', (text, path) => {
    const e = decodeError(text);
    expect(e.code).toBe('LB_ERR_GS1_UNKNOWN_AI');
    expect(e.location?.path).toBe(path);
    expect(e.message).toContain(`AI ${path} is not a GS1 Application Identifier`);
  });

  it('rejects an unknown AI in raw data at its position', () => {
    expect(decodeError(`]d20109506000134352231234`)).toMatchObject({ code: 'LB_ERR_GS1_UNKNOWN_AI', location: { position: 20 } });
  });

  it('rejects a lot longer than 20 characters', () => {
    const e = decodeError('(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU');
    expect(e.code).toBe('LB_ERR_GS1_LENGTH');
    expect(e.location).toEqual({ position: 43, path: '(10)' });
    expect(e.message).toContain('is 21 characters long (BATCH/LOT takes at most 20 characters)');
  });

  it('rejects a GTIN of the wrong length', () => {
    expect(decodeError('(01)0950600013435')).toMatchObject({ code: 'LB_ERR_GS1_LENGTH', location: { position: 5, path: '(01)' } });
  });

  it('rejects a lot with a character outside CSET 82 at that character', () => {
    const e = decodeError('(01)09506000134352(10)L24é03');
    expect(e.code).toBe('LB_ERR_GS1_CHARSET');
    expect(e.location).toEqual({ position: 26, path: '(10)' });
    expect(e.message).toContain("'é' (U+00E9) outside CSET 82");
  });

  it('rejects a letter in a numeric AI as a charset error', () => {
    expect(decodeError('(01)0950600013435O')).toMatchObject({ code: 'LB_ERR_GS1_CHARSET', location: { position: 18, path: '(01)' } });
  });

  it('rejects an overlong lot when the FNC1 before the next AI is missing, and says so', () => {
    const e = decodeError(fixture('raw-missing-fnc1-overlong-lot.txt'));
    expect(e.code).toBe('LB_ERR_GS1_LENGTH');
    expect(e.location).toEqual({ position: 42, path: '(10)' });
    expect(e.message).toContain('FNC1/GS separator missing');
  });

  it('rejects a predefined-length value cut short by the end of the data', () => {
    expect(decodeError(']C1011234')).toMatchObject({ code: 'LB_ERR_GS1_LENGTH', location: { path: '(01)' } });
  });

  it('rejects (10) without (01) as a mandatory-association error', () => {
    const e = decodeError('(10)L2403A(17)270331');
    expect(e.code).toBe('LB_ERR_GS1_ASSOCIATION');
    expect(e.location).toEqual({ position: 2, path: '(10)' });
    expect(e.message).toBe('AI (10) requires (01), (02), (03), (8006) or (8026) in the same data (mandatory association) at position 2');
  });

  it('accepts (10) alone when the caller checks associations over several carriers itself', () => {
    expect(decodeGs1('(10)L2403A', { now: NOW, checkAssociations: false }).lot).toBe('L2403A');
  });

  it('rejects an invalid pairing (two net weights in kg) at the later AI', () => {
    expect(decodeError('(01)09506000134352(3100)000100(3101)000010')).toMatchObject({
      code: 'LB_ERR_GS1_ASSOCIATION',
      location: { position: 32, path: '(3101)' },
    });
  });

  it('rejects the same AI twice with different values, and keeps one copy of an identical repeat', () => {
    expect(decodeError('(01)09506000134352(10)A(10)B')).toMatchObject({ code: 'LB_ERR_GS1_DUPLICATE_AI', location: { position: 25, path: '(10)' } });
    expect(decodeGs1('(01)09506000134352(10)A(10)A', { now: NOW }).elements.map((e) => e.ai)).toEqual(['01', '10']);
  });

  it('rejects a value that fails another linter with LB_ERR_GS1_INVALID_VALUE', () => {
    // (8006) ITIP: piece 03 of total 02
    expect(decodeError('(8006)095060001343520302')).toMatchObject({ code: 'LB_ERR_GS1_INVALID_VALUE', location: { position: 21, path: '(8006)' } });
  });

  it('rejects an HIBC-looking input as not GS1 (HIBCC is decoded elsewhere)', () => {
    const e = decodeError(fixture('hibc-not-gs1.txt'));
    expect(e.code).toBe('LB_ERR_GS1_SYNTAX');
    expect(e.location).toEqual({ position: 1 });
    expect(e.message).toContain('HIBC');
  });

  it('rejects symbology identifiers that do not carry GS1 data', () => {
    expect(decodeError(']C0ABC123')).toMatchObject({ code: 'LB_ERR_GS1_SYNTAX', location: { position: 1 } });
    expect(decodeError(']E0123')).toMatchObject({ code: 'LB_ERR_GS1_SYNTAX' });
  });

  it('rejects malformed bracketed input', () => {
    expect(decodeError('(01')).toMatchObject({ code: 'LB_ERR_GS1_SYNTAX', location: { position: 1 } });
    expect(decodeError('(01)09506000134352(10)')).toMatchObject({ code: 'LB_ERR_GS1_LENGTH', location: { path: '(10)' } });
  });

  it('positions refer to the untrimmed input', () => {
    expect(decodeError('  (01)09506000134353')).toMatchObject({ location: { position: 20 } });
  });
});

describe('decodeGs1: Digital Link rules', () => {
  it('rejects a URI without a primary key in its path', () => {
    expect(decodeError('https://example.com/products/123')).toMatchObject({ code: 'LB_ERR_GS1_SYNTAX' });
  });

  it('rejects qualifiers in the wrong order', () => {
    const e = decodeError('https://id.example.com/01/09506000134352/21/S1/10/L1');
    expect(e.code).toBe('LB_ERR_GS1_SYNTAX');
    expect(e.location).toEqual({ position: 48, path: '(10)' });
  });

  it('rejects a query AI that is not a Digital Link data attribute, and an unknown query AI', () => {
    expect(decodeError('https://id.example.com/01/09506000134352?21=S1')).toMatchObject({ code: 'LB_ERR_GS1_SYNTAX', location: { path: '(21)' } });
    expect(decodeError('https://id.example.com/01/09506000134352?23=1')).toMatchObject({ code: 'LB_ERR_GS1_UNKNOWN_AI', location: { path: '(23)' } });
  });

  it('rejects a bad percent-encoding and maps charset errors to the encoded position', () => {
    expect(decodeError('https://id.example.com/01/09506000134352/10/A%ZZ')).toMatchObject({ code: 'LB_ERR_GS1_SYNTAX', location: { position: 46 } });
    expect(decodeError('https://id.example.com/01/09506000134352/10/A%20B')).toMatchObject({ code: 'LB_ERR_GS1_CHARSET', location: { position: 46, path: '(10)' } });
  });
});

describe('decodeGs1: checks the decoder does not run', () => {
  it('lists a skipped dictionary linter in `unchecked` instead of passing it silently', () => {
    const d = decodeGs1('(01)09506000134352(422)276', { now: NOW });
    expect(d.unchecked).toEqual([{ ai: '422', linter: 'iso3166', reason: expect.stringContaining('ISO 3166') }]);
  });

  it('has no `unchecked` field when every check ran', () => {
    expect(decodeGs1('(01)09506000134352(17)270331', { now: NOW })).not.toHaveProperty('unchecked');
  });
});
