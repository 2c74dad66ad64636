import type { Gs1AiEntry } from './ai-table.generated';
import { GS1_SKIPPED_LINTERS } from './ai-table.generated';
import type { Gs1UncheckedLinter } from './gs1-decoded';
import { gs1Error, showValue } from './gs1-error';
import { findCharsetViolation } from './gs1-charset';
import { gs1Linters } from './gs1-linters';
import type { Gs1LintContext } from './gs1-linters';
import type { Gs1ScannedElement } from './gs1-scanned-element';
import { positionOf } from './gs1-scanned-element';

function isSkipped(name: string): name is keyof typeof GS1_SKIPPED_LINTERS {
  return Object.prototype.hasOwnProperty.call(GS1_SKIPPED_LINTERS, name);
}

function lengthRule(entry: Gs1AiEntry): string {
  if (entry.minLength === entry.maxLength) return `exactly ${entry.maxLength}`;
  return entry.minLength <= 1 ? `at most ${entry.maxLength}` : `${entry.minLength} to ${entry.maxLength}`;
}

/**
 * Validates one scanned element against its dictionary entry: overall length, then each component's
 * character set, then each component's linters (check digits, dates, …). Throws the first problem as a
 * LotBridgeError; returns the linters it knowingly skipped.
 */
export function validateGs1Element(el: Gs1ScannedElement, entry: Gs1AiEntry, ctx: Gs1LintContext): Gs1UncheckedLinter[] {
  const { ai, value } = el;
  const len = value.length;
  const shown = showValue(value);

  if (len < entry.minLength || len > entry.maxLength) {
    const tooLong = len > entry.maxLength;
    const position = tooLong ? positionOf(el, entry.maxLength) : len === 0 ? el.endPosition : positionOf(el, 0);
    const hint = tooLong && el.form === 'raw' && entry.fnc1Required ? ' (is an FNC1/GS separator missing before the next AI?)' : '';
    const what = len === 0 ? 'is empty' : `is ${len} characters long`;
    throw gs1Error(
      'LB_ERR_GS1_LENGTH',
      `AI (${ai}) value ${shown} ${what} (${entry.title || `AI (${ai})`} takes ${lengthRule(entry)} characters)${hint} at position ${position}`,
      position,
      ai,
      { value, length: len, minLength: entry.minLength, maxLength: entry.maxLength },
    );
  }

  // Split the value into components: each consumes a prefix of its length; optional ones may be absent.
  const parts: Array<{ start: number; data: string; index: number }> = [];
  let at = 0;
  entry.components.forEach((c, index) => {
    const rest = len - at;
    if (rest === 0 && c.optional) return;
    const take = Math.min(c.max, rest);
    if (take < c.min) {
      const position = positionOf(el, at);
      throw gs1Error(
        'LB_ERR_GS1_LENGTH',
        `AI (${ai}) value ${shown} is incomplete: component ${index + 1} needs ${c.min === c.max ? c.min : `at least ${c.min}`} characters at position ${position}`,
        position,
        ai,
        { value, component: index + 1 },
      );
    }
    parts.push({ start: at, data: value.slice(at, at + take), index });
    at += take;
  });
  if (at < len) {
    const position = positionOf(el, at);
    throw gs1Error('LB_ERR_GS1_LENGTH', `AI (${ai}) value ${shown} has ${len - at} characters too many at position ${position}`, position, ai, { value });
  }

  for (const p of parts) {
    const c = entry.components[p.index];
    if (!c) continue;
    const bad = findCharsetViolation(c.cset, p.data);
    if (bad) {
      const position = positionOf(el, p.start + bad.index);
      throw gs1Error('LB_ERR_GS1_CHARSET', `AI (${ai}) value ${shown} ${bad.reason} at position ${position}`, position, ai, { value, cset: c.cset });
    }
  }

  const unchecked: Gs1UncheckedLinter[] = [];
  for (const p of parts) {
    const c = entry.components[p.index];
    if (!c) continue;
    for (const name of c.linters) {
      if (isSkipped(name)) {
        unchecked.push({ ai, linter: name, reason: GS1_SKIPPED_LINTERS[name] });
        continue;
      }
      const linter = gs1Linters[name];
      const failure = linter.lint(p.data, ctx);
      if (failure) {
        const position = positionOf(el, p.start + failure.offset);
        throw gs1Error(linter.code, `AI (${ai}) value ${shown} ${failure.reason} at position ${position}`, position, ai, {
          value,
          linter: name,
          component: p.index + 1,
        });
      }
    }
  }
  return unchecked;
}
