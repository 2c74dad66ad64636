import type { Gs1AiComponent } from './ai-table.generated';

const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]$/;
const CSET39 = /^[#\-/0-9A-Z]$/;
const CSET64 = /^[A-Za-z0-9\-_]$/;
const DIGIT = /^[0-9]$/;

/** Human names of the component character sets, for messages. */
export const GS1_CSET_NAMES: Readonly<Record<Gs1AiComponent['cset'], string>> = {
  N: 'digits 0-9',
  X: 'CSET 82',
  Y: 'CSET 39',
  Z: 'CSET 64 (base64url)',
};

/** A character-set violation: the 0-based index in the data and why. */
export interface Gs1CharsetViolation {
  index: number;
  reason: string;
}

/**
 * Checks data against a component character set (N digits, X = CSET 82, Y = CSET 39, Z = CSET 64 with
 * up to two trailing '=' pads when the length is a multiple of 3). Returns the first violation, if any.
 */
export function findCharsetViolation(cset: Gs1AiComponent['cset'], data: string): Gs1CharsetViolation | undefined {
  const chars = [...data];
  let end = chars.length;
  if (cset === 'Z') {
    let pads = 0;
    while (pads < chars.length && chars[chars.length - 1 - pads] === '=') pads++;
    end = chars.length - pads;
    if (pads > 2 || (pads > 0 && chars.length % 3 !== 0)) {
      return { index: end, reason: `has invalid CSET 64 padding '${'='.repeat(pads)}'` };
    }
  }
  const re = cset === 'N' ? DIGIT : cset === 'X' ? CSET82 : cset === 'Y' ? CSET39 : CSET64;
  let index = 0;
  for (let i = 0; i < end; i++) {
    const ch = chars[i] ?? '';
    if (!re.test(ch)) {
      return { index, reason: `has a character ${describeChar(ch)} outside ${GS1_CSET_NAMES[cset]}` };
    }
    index += ch.length;
  }
  return undefined;
}

function describeChar(ch: string): string {
  const c = ch.codePointAt(0) ?? 0;
  const hex = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  if (c === 0x1d) return `<GS> (${hex})`;
  if (c < 0x20 || c === 0x7f) return hex;
  return `'${ch}' (${hex})`;
}
