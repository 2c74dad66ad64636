import { matchGs1AiAt } from './gs1-ai-lookup';
import { gs1Error } from './gs1-error';
import type { Gs1ScannedElement } from './gs1-scanned-element';

/** FNC1 as transmitted by scanners: ASCII 29 (GS); U+241D (the visible "GS" symbol) is accepted too. */
export const isGs1Separator = (ch: string | undefined): boolean => ch === '\x1d' || ch === '\u241d';

/**
 * Splits raw element-string data (AIs and values run together, FNC1 sent as GS) into scanned elements.
 * Predefined-length AIs (dictionary flag "*") take exactly their length; every other value runs to the
 * next GS or the end. Leading, repeated and trailing GS are tolerated. `base` is the 0-based offset of
 * `s` in the original input.
 */
export function parseGs1Raw(s: string, base: number): Gs1ScannedElement[] {
  const out: Gs1ScannedElement[] = [];
  let i = 0;
  while (i < s.length) {
    if (isGs1Separator(s[i])) {
      i++;
      continue;
    }
    const ch = s[i] ?? '';
    if (ch < '0' || ch > '9') {
      throw gs1Error('LB_ERR_GS1_SYNTAX', `Expected an AI (digits) at position ${base + i + 1}, found '${ch}'`, base + i + 1);
    }
    const entry = matchGs1AiAt(s, i);
    if (!entry) {
      const digits = /^[0-9]{1,4}/.exec(s.slice(i))?.[0] ?? ch;
      throw gs1Error(
        'LB_ERR_GS1_UNKNOWN_AI',
        `No GS1 Application Identifier starts the data '${digits}…' at position ${base + i + 1}`,
        base + i + 1,
        undefined,
        { digits },
      );
    }
    const start = i + entry.ai.length;
    let end = start;
    if (entry.predefinedLength) {
      while (end < s.length && end - start < entry.maxLength && !isGs1Separator(s[end])) end++;
    } else {
      while (end < s.length && !isGs1Separator(s[end])) end++;
    }
    const offsets: number[] = [];
    for (let k = start; k < end; k++) offsets.push(base + k + 1);
    out.push({ ai: entry.ai, value: s.slice(start, end), aiPosition: base + i + 1, offsets, endPosition: base + end + 1, form: 'raw' });
    i = end;
  }
  return out;
}
