/** windows-1252 characters of bytes 0x80–0x9F (Node 20's TextDecoder reads them as C1 controls); undefined bytes stay as they are. */
const CP1252_HIGH = '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';

/**
 * Decodes windows-1252 bytes: as ISO-8859-1, except 0x80–0x9F, which are the windows-1252
 * characters (€ ‚ ƒ „ … – — ‘ ’ “ ” ™ Š Ž …), not C1 control characters.
 * @param bytes - the bytes
 */
export function decodeWindows1252(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[\u0080-\u009F]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]);
}

/** The byte of each windows-1252 character of 0x80–0x9F, by character. */
const CP1252_BYTE = new Map([...CP1252_HIGH].map((c, i) => [c, 0x80 + i]));

/**
 * Encodes text as windows-1252 bytes (the inverse of {@link decodeWindows1252}); a character the
 * code page has no byte for becomes `?`.
 * @param text - the text
 */
export function encodeWindows1252(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (const c of text) {
    const code = c.codePointAt(0)!;
    out[n++] = code < 0x80 || (code >= 0xa0 && code <= 0xff) ? code : CP1252_BYTE.get(c) ?? 0x3f;
  }
  return out.subarray(0, n);
}
