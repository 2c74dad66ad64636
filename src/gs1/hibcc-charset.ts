/**
 * The HIBC character set: the 43 data characters of Code 39, in the order of their values for the
 * modulo 43 check character (ANSI/HIBC 2.x, "Check character calculation"; the same table as
 * ISO/IEC 16388 Code 39). The value of a character is its index here.
 */
export const HIBCC_CHARSET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%';

/** Human description of the set, for messages. */
export const HIBCC_CHARSET_NAME = "the HIBC character set (0-9, A-Z, '-', '.', space, '$', '/', '+', '%')";

/** The value (0-42) of a HIBC character, or -1 for any other character. */
export function hibccValue(ch: string): number {
  return ch.length === 1 ? HIBCC_CHARSET.indexOf(ch) : -1;
}

/**
 * The modulo 43 check character of `data`: the character whose value is the sum of the values of
 * every character of `data` (the leading `+` flag included), modulo 43.
 *
 * @param data - HIBC data from the `+` flag up to, not including, the check character.
 * @throws Error when `data` has a character outside the HIBC set (callers check the set first).
 */
export function hibccCheckCharacter(data: string): string {
  let sum = 0;
  for (const ch of data) {
    const v = hibccValue(ch);
    if (v < 0) {
      throw new Error(`hibccCheckCharacter: '${ch}' is not a HIBC character`);
    }
    sum += v;
  }
  return HIBCC_CHARSET[sum % 43] ?? '';
}

/** Describes a character for an error message: `'x'`, `space`, `U+0009` for a control character, `'é' (U+00E9)`. */
export function describeHibccChar(ch: string): string {
  if (ch === ' ') return 'space';
  const c = ch.codePointAt(0) ?? 0;
  const hex = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  if (c < 0x20 || c === 0x7f) return hex;
  if (c > 0x7e) return `'${ch}' (${hex})`;
  return `'${ch}'`;
}
