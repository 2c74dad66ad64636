import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorCode } from '../../../src/errors/codes';
import { isLotBridgeError } from '../../../src/errors/lotbridge-error';
import type { MessageLocation } from '../../../src/errors/lotbridge-error';
import { HIBCC_CHARSET, hibccCheckCharacter } from '../../../src/gs1/hibcc-charset';
import { decodeHibcc } from '../../../src/gs1/hibcc-decode';

const NOW = new Date('2026-03-01T12:00:00Z');
const fixture = (name: string): string => readFileSync(join(__dirname, '../../fixtures/udi', name), 'latin1');
/** Appends the modulo 43 check character, for data made up for a case. */
const withCheck = (data: string): string => data + hibccCheckCharacter(data);

function decodeError(text: string): { code: ErrorCode; message: string; location?: MessageLocation } {
  try {
    decodeHibcc(text, { now: NOW });
  } catch (err) {
    if (isLotBridgeError(err)) return { code: err.code, message: err.message, location: err.location };
    throw err;
  }
  throw new Error(`expected decodeHibcc(${JSON.stringify(text)}) to throw`);
}

describe('hibccCheckCharacter (modulo 43 over the Code 39 set)', () => {
  it.each([
    ['+A123BJC5D6E71', 'G'],
    ['+A99912345/$$52001510X3', '3'],
    ['+$$52001510X3G', 'D'],
    ['+H123ABC01234567890', 'D'],
    ['+A99912345/$$52001510X3/16D20111212/S77DEFG45', '7'],
    ['+A99912349/$10X3/16D20111231/14D20200131/Q500', 'Z'],
  ])('gives the published check character of %s', (data, check) => {
    expect(hibccCheckCharacter(data)).toBe(check);
  });

  it('numbers the 43 characters 0-9, A-Z, -, ., space, $, /, +, %', () => {
    expect(HIBCC_CHARSET).toHaveLength(43);
    expect(HIBCC_CHARSET.indexOf('%')).toBe(42);
  });
});

describe('decodeHibcc: primary and secondary data', () => {
  it('decodes a primary symbol alone, inside Code 39 start/stop characters', () => {
    expect(decodeHibcc(fixture('hibcc-primary-only-code39-stars.txt'), { now: NOW })).toEqual({
      scheme: 'hibcc',
      structure: 'primary',
      lic: 'A123',
      product: 'BJC5D6E7',
      unitOfMeasure: 1,
      deviceIdentifier: 'A123BJC5D6E71',
      checkCharacter: 'G',
    });
  });

  it('decodes primary and secondary concatenated with / under one check character (]d1, $$5 YYJJJ expiry)', () => {
    expect(decodeHibcc(fixture('hibcc-concatenated-julian-expiry-lot.txt'), { now: NOW })).toEqual({
      scheme: 'hibcc',
      symbology: ']d1',
      structure: 'concatenated',
      lic: 'A999',
      product: '1234',
      unitOfMeasure: 5,
      deviceIdentifier: 'A99912345',
      lot: '10X3',
      expiry: '2020-01-15',
      expiryFormat: 'YYJJJ',
      checkCharacter: '3',
    });
  });

  it('links a primary and a separate secondary symbol whose link character is the primary check character', () => {
    const d = decodeHibcc(fixture('hibcc-linked-primary-secondary-crlf.txt'), { now: NOW });
    expect(d).toMatchObject({ structure: 'linked', lic: 'A123', product: 'BJC5D6E7', lot: '10X3', expiry: '2020-01-15', checkCharacter: 'G', linkCharacter: 'G' });
    // the same two symbols scanned into one line, and in the other order on two lines
    expect(decodeHibcc('+A123BJC5D6E71G+$$52001510X3GD', { now: NOW })).toEqual(d);
    expect(decodeHibcc('+$$52001510X3GD\t+A123BJC5D6E71G', { now: NOW })).toEqual(d);
  });

  it('decodes a secondary symbol alone with the superseded five-digit Julian date YYJJJ after the flag', () => {
    expect(decodeHibcc(fixture('hibcc-secondary-legacy-julian-date.txt'), { now: NOW })).toEqual({
      scheme: 'hibcc',
      structure: 'secondary',
      lot: '3C001',
      expiry: '2005-09-28',
      expiryFormat: 'YYJJJ',
      checkCharacter: '7',
      linkCharacter: 'L',
    });
  });

  it('decodes $$3 YYMMDD with a lot and a supplementary /S serial number', () => {
    expect(decodeHibcc(fixture('hibcc-yymmdd-lot-supplementary-serial.txt'), { now: NOW })).toMatchObject({
      structure: 'concatenated', lic: 'J123', product: 'AQ345', unitOfMeasure: 1, expiry: '2023-12-31', expiryFormat: 'YYMMDD', lot: 'BC34567', serial: '4012',
    });
  });

  it('reads $+ as a serial number (no date), alone and concatenated', () => {
    expect(decodeHibcc('+$+0001LE', { now: NOW })).toEqual({ scheme: 'hibcc', structure: 'secondary', serial: '0001', checkCharacter: 'E', linkCharacter: 'L' });
    const d = decodeHibcc('+A99912345/$+77DEFG45-', { now: NOW });
    expect(d).toMatchObject({ structure: 'concatenated', serial: '77DEFG45', checkCharacter: '-' });
    expect(d.lot).toBeUndefined();
  });

  it('reads $$+ with a date format as an expiry and a serial number, and /Q as the quantity', () => {
    expect(decodeHibcc('+A99912345/$$+3261231SN42/Q129', { now: NOW })).toMatchObject({ serial: 'SN42', expiry: '2026-12-31', quantity: 12 });
  });

  it('decodes the quantity formats: $$9 five digits then MMDDYY, $$8 two digits then YYMMDD', () => {
    expect(decodeHibcc(fixture('hibcc-quantity-5-digit-mmddyy.txt'), { now: NOW })).toMatchObject({
      symbology: ']C0', lic: 'E251', product: '3079NL', quantity: 10, expiry: '2022-03-31', expiryFormat: 'MMDDYY', lot: '2021050425-1',
    });
    expect(decodeHibcc('+A99912345/$$8053261231LOT7M', { now: NOW })).toMatchObject({ quantity: 5, expiry: '2026-12-31', lot: 'LOT7' });
    expect(decodeHibcc('+A99912345/$$9000123260831LOTJ', { now: NOW })).toMatchObject({ quantity: 12, expiry: '2026-08-31', lot: 'LOT' });
  });

  it('reads the supplementary /16D manufacture date and /14D expiry (YYYYMMDD)', () => {
    expect(decodeHibcc(fixture('hibcc-supplementary-14d-16d.txt'), { now: NOW })).toMatchObject({
      lot: '10X3', manufactureDate: '2011-12-31', expiry: '2020-01-31', expiryFormat: 'YYYYMMDD',
    });
    expect(decodeHibcc('+A99912349/$10X3/16D20111231/14D20200131/Q500Z', { now: NOW })).toMatchObject({ unitOfMeasure: 9, quantity: 500 });
  });

  it.each([
    ['$$0223', 'MMYY', '2023-02-28', undefined],
    ['$$20928053C001', 'MMDDYY', '2005-09-28', undefined],
    ['$$4050928223C001', 'YYMMDDHH', '2005-09-28', 22],
    ['$$605271223C001', 'YYJJJHH', '2005-09-28', 22],
  ])('decodes the date format of %s (%s)', (secondary, format, expiry, hour) => {
    const d = decodeHibcc(withCheck(`+A99912345/${secondary}`), { now: NOW });
    expect(d.expiryFormat).toBe(format);
    expect(d.expiry).toBe(expiry);
    expect(d.expiryHour).toBe(hour);
  });

  it('takes $$7 as no date and MMYY as the last day of the month', () => {
    expect(decodeHibcc(withCheck('+A99912345/$$7LOT1'), { now: NOW })).toEqual(expect.objectContaining({ lot: 'LOT1' }));
    expect(decodeHibcc(withCheck('+A99912345/$$7LOT1'), { now: NOW }).expiry).toBeUndefined();
    expect(decodeHibcc('+$$02231162074ZA', { now: NOW })).toMatchObject({ structure: 'secondary', expiry: '2023-02-28', lot: '1162074', linkCharacter: 'Z' });
  });

  it('lets a /14D expiry refine a $$ MMYY expiry of the same month', () => {
    expect(decodeHibcc(withCheck('+A99912345/$$1226LOT/14D20261215'), { now: NOW })).toMatchObject({ expiry: '2026-12-15', expiryFormat: 'YYYYMMDD' });
  });

  it('accepts a space as the check or link character, and _ for it as in a Code 39 caption', () => {
    expect(decodeHibcc('+A999SPACE00 ', { now: NOW })).toMatchObject({ product: 'SPACE0', checkCharacter: ' ' });
    expect(decodeHibcc('*+A999SPACE00_*', { now: NOW })).toMatchObject({ checkCharacter: ' ' });
    // concatenated data whose check character is a space, at the very end of the text
    expect(decodeHibcc('+A99912345/$$1226LOT ', { now: NOW })).toMatchObject({ lot: 'LOT', expiry: '2026-12-31', checkCharacter: ' ' });
    // a secondary symbol with a space check character, linked to a primary with a '+' check character
    expect(decodeHibcc('+A999L9991+\n+$$3261231LOT1+ ', { now: NOW })).toMatchObject({ structure: 'linked', checkCharacter: '+', linkCharacter: '+', lot: 'LOT1' });
    expect(decodeHibcc('+A999L9991++$$3261231LOT1+ ', { now: NOW })).toMatchObject({ structure: 'linked', lot: 'LOT1' });
  });

  it('ignores trailing spaces that are not a check character, and CR/LF', () => {
    expect(decodeHibcc('  +A123BJC5D6E71G  \r\n', { now: NOW })).toMatchObject({ structure: 'primary', checkCharacter: 'G' });
  });

  it('reads a primary whose check character is / as a separate symbol, not as concatenation', () => {
    expect(decodeHibcc('+A999L8991/+$$3261231LOT1/.', { now: NOW })).toMatchObject({ structure: 'linked', checkCharacter: '/', lot: 'LOT1' });
  });
});

describe('decodeHibcc: errors name the element and the position', () => {
  it('rejects a wrong check character with the expected one', () => {
    const e = decodeError(fixture('hibcc-wrong-check-character.txt'));
    expect(e.code).toBe('LB_ERR_HIBCC_CHECK_CHARACTER');
    expect(e.location).toEqual({ position: 24, path: 'checkCharacter' });
    expect(e.message).toContain("is '3'");
    expect(e.message).toContain('position 24');
  });

  it('rejects a secondary whose link character is not the primary check character', () => {
    const e = decodeError(fixture('hibcc-wrong-link-character.txt'));
    expect(e.code).toBe('LB_ERR_HIBCC_LINK_CHARACTER');
    expect(e.location).toEqual({ position: 30, path: 'linkCharacter' });
    expect(e.message).toMatch(/link character 'H'.*check character 'G'/);
  });

  it('rejects month 13 at the month digits', () => {
    const e = decodeError(fixture('hibcc-month-13.txt'));
    expect(e).toMatchObject({ code: 'LB_ERR_HIBCC_DATE', location: { position: 17, path: 'expiry' } });
    expect(e.message).toContain("invalid month '13'");
  });

  it.each([
    ['Julian day 400', '+A99912345/$$5264001LOT', 17, "Julian day '400'"],
    ['29 February in a common year', '+A99912345/$$3260229LOT', 19, "invalid day '29'"],
    ['hour 24', '+A99912345/$$428022824LOT', 21, "invalid hour '24'"],
    ['day 00 of a Julian date with hour', '+A99912345/$$62800012LOT', 17, "Julian day '000'"],
    ['a truncated date', '+A99912345/$$052', 14, 'too short'],
    ['a /14D expiry that is not 8 digits', '+A99912345/$10X3/14D2020013', 21, 'YYYYMMDD'],
  ])('rejects %s with LB_ERR_HIBCC_DATE', (_name, data, position, text) => {
    const e = decodeError(withCheck(data));
    expect(e.code).toBe('LB_ERR_HIBCC_DATE');
    expect(e.location?.position).toBe(position);
    expect(e.message).toContain(text);
  });

  it.each([
    ['an unknown supplementary identifier', '+A99912345/$10X3/17D20111231', 'LB_ERR_HIBCC_SYNTAX', 18, 'supplementary'],
    ['a quantity that is not the last supplementary field', '+A99912345/$10X3/Q500/S123', 'LB_ERR_HIBCC_SYNTAX', 22, 'quantity'],
    ['a unit of measure that is not a digit', '+A9991234X', 'LB_ERR_HIBCC_SYNTAX', 10, 'unitOfMeasure'],
    ['$$ without a format digit', '+A99912345/$$ALOT', 'LB_ERR_HIBCC_SYNTAX', 14, 'format'],
    ['a lot with a character outside 0-9 A-Z - .', '+A99912345/$LOT%1', 'LB_ERR_HIBCC_CHARSET', 16, 'lot'],
    ['a lot longer than 18 characters', '+A99912345/$$7ABCDEFGHIJKLMNOPQRS', 'LB_ERR_HIBCC_LENGTH', 33, 'lot'],
    ['a product number longer than 18 characters', '+A99912345678901234567890', 'LB_ERR_HIBCC_LENGTH', 24, 'product'],
    ['two different expiry dates', '+A99912345/$$3261231LOT1/14D20270131', 'LB_ERR_HIBCC_CONFLICT', 26, 'expiry'],
    ['$+ with no serial number', '+A99912345/$+', 'LB_ERR_HIBCC_SYNTAX', 14, 'serial'],
    ['an empty secondary data', '+A99912345/', 'LB_ERR_HIBCC_SYNTAX', 12, 'secondary'],
  ])('rejects %s', (_name, data, code, position, path) => {
    expect(decodeError(withCheck(data))).toMatchObject({ code, location: { position, path } });
  });

  it('rejects lower-case data and characters outside the HIBC set', () => {
    expect(decodeError('+a99912345$')).toMatchObject({ code: 'LB_ERR_HIBCC_CHARSET', location: { position: 2 } });
    expect(decodeError('+A999123#45X')).toMatchObject({ code: 'LB_ERR_HIBCC_CHARSET', location: { position: 9 } });
  });

  it('rejects Provider Applications data, two primaries and unknown symbology identifiers', () => {
    expect(decodeError('+/EO5232013')).toMatchObject({ code: 'LB_ERR_HIBCC_SYNTAX', location: { position: 2, path: 'flag' } });
    expect(decodeError('+A123BJC5D6E71G\n+A123BJC5D6E71G')).toMatchObject({ code: 'LB_ERR_HIBCC_SYNTAX', location: { position: 17 } });
    expect(decodeError(']E0+A123BJC5D6E71G')).toMatchObject({ code: 'LB_ERR_HIBCC_SYNTAX', location: { position: 1, path: 'symbology' } });
    expect(decodeError('*+A123BJC5D6E71G')).toMatchObject({ code: 'LB_ERR_HIBCC_SYNTAX', location: { position: 1 } });
  });

  it('checks the check character before the structure, so corrupt data says so', () => {
    expect(decodeError('+A99912345/$$3261331LOT4').code).toBe('LB_ERR_HIBCC_CHECK_CHARACTER');
  });
});

describe('decodeHibcc robustness', () => {
  /** Small deterministic PRNG (mulberry32) so a failure can be replayed. */
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const SEEDS = [
    '+A99912345/$$52001510X33',
    '*+A123BJC5D6E71G*\r\n*+$$52001510X3GD*',
    ']C0+E2513079NL1/$$90001020331222021050425-1P',
    '+A99912349/$10X3/16D20111231/14D20200131/Q500Z',
    '+A999L9991++$$3261231LOT1+ ',
  ];
  const ALPHABET = '0123456789AZaz$/+%-. _*]\r\n\t\x1dé';

  it('answers any mutated input with a result or a LotBridgeError with a position inside the text', () => {
    const rand = prng(20261126);
    for (let n = 0; n < 4000; n++) {
      const chars = [...(SEEDS[n % SEEDS.length] ?? '')];
      const edits = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rand() * (chars.length + 1));
        const ch = ALPHABET[Math.floor(rand() * ALPHABET.length)] ?? '0';
        const op = rand();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.7) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      const text = chars.join('');
      try {
        const d = decodeHibcc(text, { now: NOW });
        expect(d.scheme).toBe('hibcc');
      } catch (err) {
        if (!isLotBridgeError(err)) throw new Error(`decodeHibcc(${JSON.stringify(text)}) threw ${String(err)}`);
        expect(err.code).toMatch(/^LB_ERR_HIBCC_/);
        const position = err.location?.position ?? 0;
        if (position < 1 || position > text.length + 1) throw new Error(`decodeHibcc(${JSON.stringify(text)}): position ${position} outside the text`);
        expect([text, err.message.includes(`at position ${position}`)]).toEqual([text, true]);
      }
    }
  });
});
