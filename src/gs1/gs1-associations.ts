import { findGs1Ai } from './gs1-ai-lookup';
import { gs1Error } from './gs1-error';

/** An element for the association check: its AI and where it was scanned (1-based position). */
export interface Gs1AssociationInput {
  ai: string;
  position: number;
}

/** True when an AI matches a dictionary pattern such as '01', '310n' or '31nn' ('n' = any digit). */
export function aiMatchesPattern(pattern: string, ai: string): boolean {
  if (pattern.length !== ai.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    const a = ai[i] ?? '';
    if (p === 'n' ? !(a >= '0' && a <= '9') : p !== a) return false;
  }
  return true;
}

const showPattern = (p: string): string => `(${p})`;

function listAlternatives(alts: readonly (readonly string[])[]): string {
  const words = alts.map((alt) => alt.map(showPattern).join(' with '));
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1] ?? ''}`;
}

/**
 * Checks the dictionary's invalid pairings (`ex`) and mandatory associations (`req`) over a set of
 * elements (GS1 evaluates them over all carriers on one item). Throws LB_ERR_GS1_ASSOCIATION.
 */
export function checkGs1Associations(elements: readonly Gs1AssociationInput[]): void {
  const present = elements.map((e) => e.ai);

  for (const el of elements) {
    const entry = findGs1Ai(el.ai);
    if (!entry) continue;
    for (const pattern of entry.ex) {
      const other = elements.find((o) => o.ai !== el.ai && aiMatchesPattern(pattern, o.ai));
      if (other) {
        const later = other.position > el.position ? other : el;
        const earlier = later === other ? el : other;
        throw gs1Error(
          'LB_ERR_GS1_ASSOCIATION',
          `AI (${later.ai}) must not be used together with AI (${earlier.ai}) (invalid pairing) at position ${later.position}`,
          later.position,
          later.ai,
          { rule: 'ex', ai: el.ai, pattern, conflictsWith: other.ai },
        );
      }
    }
  }

  for (const el of elements) {
    const entry = findGs1Ai(el.ai);
    if (!entry) continue;
    for (const rule of entry.req) {
      const ok = rule.some((alt) => alt.every((pattern) => present.some((ai) => aiMatchesPattern(pattern, ai))));
      if (!ok) {
        throw gs1Error(
          'LB_ERR_GS1_ASSOCIATION',
          `AI (${el.ai}) requires ${listAlternatives(rule)} in the same data (mandatory association) at position ${el.position}`,
          el.position,
          el.ai,
          { rule: 'req', ai: el.ai, required: rule },
        );
      }
    }
  }
}
