import fs from 'node:fs';
import path from 'node:path';
import { decodeForDisplay, errorLine, maskErrorMessage, maskHl7, renderRaw, splitLines } from '../../../src/console/raw-view';
import { likeEscape, parseSearch, uuidv7Floor } from '../../../src/console/search';
import { html } from '../../../src/console/html';

const hl7 = (name: string): string => fs.readFileSync(path.join(__dirname, '../../fixtures/hl7', name), 'latin1');

describe('console raw view', () => {
  it('shows bytes that are not UTF-8 as \\xNN and keeps valid multi-byte characters', () => {
    const d = decodeForDisplay(Buffer.concat([Buffer.from('Caf'), Buffer.from([0xe9]), Buffer.from(' ü € 😀 '), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80])]));
    expect(d.text).toBe('Caf\\xE9 ü € 😀 \\xC3\\xED\\xA0\\x80');
    expect(d.invalidBytes).toBe(5);
    expect(decodeForDisplay(Buffer.from([0x4d, 0xfc, 0x6c]), '8859/1')).toMatchObject({ text: 'Mül', invalidBytes: 0 });
    // a declared single-byte charset shows 0x80–0x9F as windows-1252 (€ – ”), not as invisible C1 controls
    expect(decodeForDisplay(Buffer.from([0x80, 0x35, 0x20, 0x96, 0x20, 0x94]), 'windows-1252')).toMatchObject({ text: '€5 – ”', invalidBytes: 0 });
    expect(decodeForDisplay(Buffer.from([0x80, 0x35]), 'iso-8859-1').text).toBe('€5');
  });

  it('masks PID, NK1 and PV1-19 values of HL7 component by component, with custom delimiters too', () => {
    const m = maskHl7(hl7('adt-a01.hl7'));
    // components of 4 characters or fewer are masked whole (***), longer ones keep their first and last character
    expect(m.text).toContain('PID|1||P***1^^^S***Y^***~D***5^^^***^***||M***r^E***a^^^^^***||1***2|F|||H***5^^B***n^^1***5^***');
    expect(m.masked).toBe(5); // PID-3, -5, -7, -11 and PV1-19: no other field
    expect(m.text).toContain('MSH|^~\\&|HIS|STMARY|');
    expect(m.text).not.toMatch(/Muster|Erika|PAT0049211|19680412|V-998877/);
    const custom = maskHl7('MSH#!@$%#A#B\rPID#1##MRN0001!!!X##Doe!Jane\rNK1#1#Roe!Richard#SPO\r');
    expect(custom.text).toBe('MSH#!@$%#A#B\rPID#1##M***1!!!***##***!***\rNK1#1#***!R***d#***\r');
  });

  it('masks quoted values in an error message about a PHI field, and only there', () => {
    expect(maskErrorMessage('PID-7 "19681304" is not a date (YYYYMMDD)', { segment: 'PID', field: '7' })).toBe('PID-7 "1***4" is not a date (YYYYMMDD)');
    expect(maskErrorMessage("NK1-2 'Muster^Hans' is too long", { segment: 'NK1', field: '2' })).toBe("NK1-2 'M***s' is too long");
    expect(maskErrorMessage('FT1-10 "abc" is not a number', { segment: 'FT1', field: '10' })).toBe('FT1-10 "abc" is not a number');
    expect(maskErrorMessage('PID-1 "x1" is not a set id', { segment: 'PID', field: '1' })).toBe('PID-1 "x1" is not a set id');
  });

  it('finds the error line from line, segment index, segment occurrence or character position', () => {
    const text = hl7('dft-p03-bad-quantity-abc.hl7');
    const lines = splitLines(text, 'hl7v2');
    expect(lines.map((l) => l.segment)).toEqual(['MSH', 'EVN', 'PID', 'FT1', 'FT1']);
    expect(errorLine(lines, { segment: 'FT1', occurrence: 2, field: '10' }, text)).toBe(5);
    expect(errorLine(lines, { segment: 'FT1', segmentIndex: 4 }, text)).toBe(4);
    expect(errorLine(lines, { line: 3 }, text)).toBe(3);
    const json = '{\n "a": 1,\n "b": x\n}';
    expect(errorLine(splitLines(json, 'json'), { position: json.indexOf('x') }, json)).toBe(3);
    const out = renderRaw(lines, 'hl7v2', text, { segment: 'FT1', occurrence: 2, field: '10' }).value;
    expect(out).toContain('<mark class="errfield" title="FT1-10">abc</mark>');
    expect(out.match(/class="errline"/g)).toHaveLength(1);
  });

  it('splits X12 by its segment terminator and EDIFACT by unescaped apostrophes', () => {
    const x12 = 'ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260301*1015*^*00501*000000042*0*P*>~GS*SH*S*R*20260301*1015*42*X*005010~ST*856*0001~';
    expect(splitLines(x12, 'x12').map((l) => l.segment)).toEqual(['ISA', 'GS', 'ST']);
    expect(splitLines("UNB+UNOC:3+S+R'UNH+1+DESADV:D:96A:UN'FTX+AAI+++it?'s'", 'edifact').map((l) => l.text)).toEqual(["UNB+UNOC:3+S+R'", "UNH+1+DESADV:D:96A:UN'", "FTX+AAI+++it?'s'"]);
  });

  it('escapes everything interpolated into a page', () => {
    expect(html`<td>${'<script>alert("x")</script>'}</td>`.value).toBe('<td>&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;</td>');
  });
});

describe('console search helpers', () => {
  it('escapes LIKE wildcards and makes the smallest uuidv7 of a millisecond', () => {
    expect(likeEscape('50%_off\\')).toBe('50\\%\\_off\\\\');
    expect(uuidv7Floor(Date.UTC(2026, 2, 1))).toBe('019ca6b1-dc00-7000-8000-000000000000');
  });

  it('names the field of an invalid search', () => {
    expect(() => parseSearch({ status: 'lost' })).toThrow(/status: "lost" is not one of/);
    expect(() => parseSearch({ from: '01/03/2026' })).toThrow(/from: "01\/03\/2026" is not an ISO 8601/);
    expect(() => parseSearch({ id: "1' OR '1'='1" })).toThrow(/id: .* is not a message id/);
    expect(parseSearch({ connector: '  wms ', type: '', lot: 'L1' })).toEqual({ connector: 'wms', lot: 'L1' });
  });
});
