import { gs1Error } from './gs1-error';
import type { Gs1ScannedElement } from './gs1-scanned-element';

/** Whitespace and GS around brackets are noise in hand-written element strings (neither is in CSET 82). */
const isNoise = (ch: string | undefined): boolean => ch !== undefined && (/\s/.test(ch) || ch === '\x1d');

/**
 * Splits a bracketed element string `(01)09506000134352(17)270331(10)L2403A` into scanned elements.
 * A literal '(' inside a value is written `\(`. Whitespace between elements is ignored. `base` is the
 * 0-based offset of `s` in the original input, so positions refer to the caller's text.
 * The AI text is not looked up here (the caller reports unknown AIs).
 */
export function parseGs1Bracketed(s: string, base: number): Gs1ScannedElement[] {
  const out: Gs1ScannedElement[] = [];
  let i = 0;
  while (i < s.length) {
    if (isNoise(s[i])) {
      i++;
      continue;
    }
    if (s[i] !== '(') {
      throw gs1Error('LB_ERR_GS1_SYNTAX', `Expected '(' to start an AI at position ${base + i + 1}, found '${s[i] ?? ''}'`, base + i + 1);
    }
    const close = s.indexOf(')', i + 1);
    if (close < 0) {
      throw gs1Error('LB_ERR_GS1_SYNTAX', `The '(' at position ${base + i + 1} is never closed with ')'`, base + i + 1);
    }
    const ai = s.slice(i + 1, close);
    const aiPosition = base + i + 2;
    if (ai.length === 0) {
      throw gs1Error('LB_ERR_GS1_SYNTAX', `Empty AI '()' at position ${base + i + 1}`, base + i + 1);
    }
    let j = close + 1;
    const chars: string[] = [];
    const offsets: number[] = [];
    while (j < s.length && s[j] !== '(') {
      if (s[j] === '\\' && s[j + 1] === '(') {
        chars.push('(');
        offsets.push(base + j + 1);
        j += 2;
        continue;
      }
      chars.push(s[j] ?? '');
      offsets.push(base + j + 1);
      j++;
    }
    let from = 0;
    let to = chars.length;
    while (from < to && isNoise(chars[from])) from++;
    while (to > from && isNoise(chars[to - 1])) to--;
    const valueOffsets = offsets.slice(from, to);
    const last = valueOffsets[valueOffsets.length - 1];
    out.push({
      ai,
      value: chars.slice(from, to).join(''),
      aiPosition,
      offsets: valueOffsets,
      endPosition: last !== undefined ? last + 1 : base + close + 2,
      form: 'bracketed',
    });
    i = j;
  }
  return out;
}
