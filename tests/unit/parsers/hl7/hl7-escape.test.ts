import { DEFAULT_HL7_DELIMITERS as D, escapeHl7, readDelimiters, unescapeHl7, type Hl7Delimiters } from '../../../../src/parsers/hl7';

const CUSTOM = readDelimiters('MSH#$*@!#') as Hl7Delimiters;
const V27 = readDelimiters('MSH|^~\\&#|') as Hl7Delimiters;

describe('unescapeHl7', () => {
  it.each([
    ['\\F\\\\S\\\\T\\\\R\\\\E\\', '|^&~\\'],
    ['a\\X0D\\b\\X0A\\c', 'a\rb\nc'],
    ['line 1\\.br\\line 2\\.sp\\line 3', 'line 1\nline 2\nline 3'],
    ['\\H\\bold\\N\\ \\.in+4\\indented\\.fi\\', 'bold indented'],
    ['\\XC3A4\\', 'ä'],
    ['\\XE4\\', 'ä'],
    ['\\C2842\\Latin\\M2442\\', 'Latin'],
    ['keep \\Zfoo\\ local', 'keep \\Zfoo\\ local'],
    ['keep \\Q\\ unknown', 'keep \\Q\\ unknown'],
    ['bad hex \\XZZ\\ and \\X0\\', 'bad hex \\XZZ\\ and \\X0\\'],
    ['unterminated \\F', 'unterminated \\F'],
    ['no escapes at all', 'no escapes at all'],
    ['', ''],
  ])('decodes %j as %j', (text, expected) => {
    expect(unescapeHl7(text, D)).toBe(expected);
  });

  it('reads \\X..\\ bytes as the message charset says', () => {
    expect(unescapeHl7('\\XC3A4\\', D, 'latin1')).toBe('Ã¤');
    expect(unescapeHl7('\\XE4\\', D, 'latin1')).toBe('ä');
    expect(unescapeHl7('\\XC3A4\\', D, 'utf-8')).toBe('ä');
  });

  it('uses the message escape character and delimiters (MSH#$*@!)', () => {
    expect(unescapeHl7('a@F@b@S@c@T@d@R@e@E@f\\S\\', CUSTOM)).toBe('a#b$c!d*e@f\\S\\');
  });

  it('decodes \\P\\ to the truncation character only when MSH-2 declares one (v2.7+)', () => {
    expect(unescapeHl7('50\\P\\', V27)).toBe('50#');
    expect(unescapeHl7('50\\P\\', D)).toBe('50\\P\\');
  });
});

describe('escapeHl7', () => {
  it('escapes the escape character first, then every delimiter, CR and LF', () => {
    expect(escapeHl7('C:\\x|y^z&w~v\r\nend', D)).toBe('C:\\E\\x\\F\\y\\S\\z\\T\\w\\R\\v\\X0D\\\\X0A\\end');
    expect(escapeHl7('plain text', D)).toBe('plain text');
  });

  it('escapes with custom delimiters and the v2.7 truncation character', () => {
    expect(escapeHl7('a#b$c!d*e@f|g', CUSTOM)).toBe('a@F@b@S@c@T@d@R@e@E@f|g');
    expect(escapeHl7('50#', V27)).toBe('50\\P\\');
  });

  it.each([D, CUSTOM, V27])('round-trips any text through escape and unescape (%#)', (d) => {
    const text = 'Müller | O\\Brien ^ 1&2 ~ #3 $4 !5 @6 *7 \r\n done \\X41\\';
    expect(unescapeHl7(escapeHl7(text, d), d)).toBe(text);
  });
});

describe('readDelimiters', () => {
  it('reads four or five encoding characters and refuses the rest', () => {
    expect(readDelimiters('MSH|^~\\&|X')).toEqual(D);
    expect(V27).toMatchObject({ truncation: '#' });
    expect(readDelimiters('MSH|^~\\&')).toEqual(D);
    expect(readDelimiters('MSH|^~\\|')).toMatchObject({ field: 2 });
    expect(readDelimiters('MSH|^~\\&#!|')).toMatchObject({ field: 2 });
    expect(readDelimiters('MSH|^~ &|')).toMatchObject({ field: 2 });
    expect(readDelimiters('MSH')).toEqual({ field: 1, problem: 'has no field separator (MSH-1)' });
  });
});
