import { decodeHl7Buffer, decodeHl7Bytes, encodeHl7Ack, hl7AckMimeCharset, hl7CharsetEncoding, msh18OfMimeCharset, parseHl7Message } from '../../../../src/parsers/hl7';
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

describe('windows-1252 (MSH-18 WINDOWS-1252 / CP1252, or an HTTP charset=windows-1252)', () => {
  // “Nadel” – Größe 5 € ™ Š : 0x93 0x94 0x96 0x80 0x99 0x8A are windows-1252 characters, not C1 controls
  const text = 'PID|1||P-1^^^H^MR||\u201cNadel\u201d \u2013 Gr\u00f6\u00dfe 5 \u20ac \u2122 \u0160imkov\u00e1';
  const bytes = (msh18: string): Buffer => Buffer.concat([
    Buffer.from(`MSH|^~\\&|A|B|C|D|20260301120000||ADT^A01|W1|P|2.5.1||||||${msh18}\r`, 'latin1'),
    Buffer.from([0x50, 0x49, 0x44, 0x7c, 0x31, 0x7c, 0x7c]), Buffer.from('P-1^^^H^MR||', 'latin1'),
    Buffer.from([0x93, 0x4e, 0x61, 0x64, 0x65, 0x6c, 0x94, 0x20, 0x96, 0x20, 0x47, 0x72, 0xf6, 0xdf, 0x65, 0x20, 0x35, 0x20, 0x80, 0x20, 0x99, 0x20, 0x8a, 0x69, 0x6d, 0x6b, 0x6f, 0x76, 0xe1]),
  ]);

  it.each(['WINDOWS-1252', 'cp1252'])('decodes MSH-18 %s with the code page’s characters at 0x80–0x9F', (msh18) => {
    const d = decodeHl7Buffer(bytes(msh18));
    expect(d.text.split('\r')[1]).toBe(text);
    expect(d.text).not.toMatch(/[\u0080-\u009f]/);
  });

  it('takes windows-1252 as the default for a message without MSH-18 when the HTTP charset says so', () => {
    expect(msh18OfMimeCharset('Windows-1252')).toBe('WINDOWS-1252');
    expect(decodeHl7Buffer(bytes(''), { defaultCharset: msh18OfMimeCharset('cp1252') }).text.split('\r')[1]).toBe(text);
  });

  it('maps the MIME charsets an HTTP sender writes to MSH-18 values, and none it cannot decode', () => {
    expect(['utf-8', 'UTF8', 'iso-8859-1', 'latin1', 'us-ascii', 'iso-8859-15', 'ISO_8859-2', 'windows-1252', 'shift_jis', 'iso-8859-11'].map(msh18OfMimeCharset)).toEqual([
      'UNICODE UTF-8', 'UNICODE UTF-8', '8859/1', '8859/1', 'ASCII', '8859/15', '8859/2', 'WINDOWS-1252', undefined, undefined,
    ]);
  });

  it('writes an ACK to a windows-1252 message in windows-1252 (a character it lacks as ?)', () => {
    expect([...encodeHl7Ack('MSA|AE|W1|Gr\u00f6\u00dfe \u20ac \u2013 \u4e2d', 'windows-1252')]).toEqual([
      ...Buffer.from('MSA|AE|W1|Gr', 'latin1'), 0xf6, 0xdf, 0x65, 0x20, 0x80, 0x20, 0x96, 0x20, 0x3f,
    ]);
    expect(hl7AckMimeCharset('windows-1252')).toBe('windows-1252');
    expect(decodeHl7Bytes(encodeHl7Ack(text, 'windows-1252'), hl7CharsetEncoding('CP1252')!)).toBe(text);
  });
});
