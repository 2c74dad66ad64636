import { decodeHl7Buffer, hl7CharsetEncoding, parseHl7Message } from '../../../../src/parsers/hl7';
import { fixture, fixtureBytes, thrown } from './hl7-test-helpers';

describe('hl7CharsetEncoding', () => {
  it.each([
    ['UNICODE UTF-8', 'utf-8'],
    ['unicode  utf-8', 'utf-8'],
    ['UNICODE', 'utf-8'],
    ['8859/1', 'latin1'],
    ['ASCII', 'latin1'],
    ['8859/2', 'iso-8859-2'],
    ['8859/15', 'iso-8859-15'],
    ['GB 18030-2000', 'gb18030'],
    ['KS X 1001', 'euc-kr'],
    ['BIG-5', 'big5'],
    ['UTF-8', 'utf-8'],
    ['ISO-8859-1', 'latin1'],
  ])('maps MSH-18 %j to the %s decoder', (msh18, decoder) => {
    expect(hl7CharsetEncoding(msh18)?.decoder).toBe(decoder);
  });

  it.each(['UNICODE UTF-16', 'UNICODE UTF-32', 'ISO IR87', 'CNS 11643-1992', 'EBCDIC'])('does not claim to decode %j', (msh18) => {
    expect(hl7CharsetEncoding(msh18)).toBeUndefined();
  });
});

describe('decodeHl7Buffer', () => {
  it('decodes ISO-8859-1 bytes declared by MSH-18 8859/1 (umlauts)', () => {
    const bytes = fixtureBytes('adt-a01-iso-8859-1-umlauts.hl7');
    expect(bytes.includes(Buffer.from([0xfc]))).toBe(true); // ü as one byte
    const decoded = decodeHl7Buffer(bytes);
    expect([decoded.charset, decoded.declared, decoded.encoding.decoder]).toEqual(['8859/1', true, 'latin1']);
    const msg = parseHl7Message(decoded.text);
    expect([msg.header.sendingFacility, msg.get('PID', 1, 5), msg.get('PID', 1, 5, 2), msg.get('PID', 1, 11), msg.get('PID', 1, 11, 3)]).toEqual([
      'KLINIKUM-SÜD',
      'Müller',
      'Jürgen',
      'Größenweg 12',
      'Düsseldorf',
    ]);
  });

  it('decodes UTF-8 bytes declared by MSH-18 UNICODE UTF-8', () => {
    const decoded = decodeHl7Buffer(fixtureBytes('adt-a01-utf8-unicode.hl7'));
    expect([decoded.charset, decoded.declared]).toEqual(['UNICODE UTF-8', true]);
    const msg = parseHl7Message(decoded.text);
    expect([msg.get('PID', 1, 5), msg.get('PID', 1, 5, 2), msg.get('NTE', 1, 3)]).toEqual(['Šimůnková', 'Zoë', 'Ärztin: Dr. Dvořák · 東京 training ✓']);
  });

  it('uses the default charset when MSH-18 is empty, and MLLP framing does not hide MSH-18', () => {
    const latin1 = Buffer.from(fixture('adt-a01.hl7').replace('Muster', 'Mäster'), 'latin1');
    expect(decodeHl7Buffer(latin1, { defaultCharset: '8859/1' })).toMatchObject({ charset: '8859/1', declared: false });
    expect(parseHl7Message(decodeHl7Buffer(latin1, { defaultCharset: '8859/1' }).text).get('PID', 1, 5)).toBe('Mäster');
    const framed = decodeHl7Buffer(fixtureBytes('adt-a01-mllp-framed.hl7'));
    expect([framed.charset, framed.declared]).toEqual(['UNICODE UTF-8', false]);
  });

  it('refuses bytes that are not valid UTF-8 under the default UTF-8 and names the byte offset (LB_ERR_INGEST_ENCODING)', () => {
    const latin1 = Buffer.from(fixture('adt-a01.hl7').replace('Muster', 'Mäster'), 'latin1');
    const err = thrown(() => decodeHl7Buffer(latin1));
    expect(err.code).toBe('LB_ERR_INGEST_ENCODING');
    const offset = latin1.indexOf(0xe4);
    expect(err.message).toBe(`byte 0xE4 at byte offset ${offset} is not valid UTF-8, the message's charset (default "UNICODE UTF-8"); set MSH-18 to the charset the sender writes (e.g. 8859/1)`);
    expect(err.location).toEqual({ position: offset });
  });

  it('refuses an MSH-18 it cannot decode, pointing at MSH-18 (LB_ERR_HL7_CHARSET)', () => {
    const bytes = Buffer.from(fixture('adt-a01-utf8-unicode.hl7').replace('UNICODE UTF-8', 'UNICODE UTF-16'), 'utf8');
    const err = thrown(() => decodeHl7Buffer(bytes));
    expect(err.code).toBe('LB_ERR_HL7_CHARSET');
    expect(err.message).toBe('MSH-18 "UNICODE UTF-16" is not a character set LotBridge can decode (use UNICODE UTF-8 or 8859/1) (segment MSH, field 18, line 1)');
    expect(err.location).toMatchObject({ segment: 'MSH', field: '18', line: 1 });
  });

  it('drops a UTF-8 byte-order mark', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixtureBytes('adt-a01.hl7')]);
    expect(decodeHl7Buffer(bytes).text.startsWith('MSH|')).toBe(true);
  });
});
