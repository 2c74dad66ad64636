import { GS1_AI_TABLE } from './ai-table.generated';
import type { Gs1AiEntry } from './ai-table.generated';

const BY_AI: ReadonlyMap<string, Gs1AiEntry> = new Map(GS1_AI_TABLE.map((e) => [e.ai, e]));

/** The dictionary entry of an AI such as '01' or '3103', or undefined when no such AI exists. */
export function findGs1Ai(ai: string): Gs1AiEntry | undefined {
  return BY_AI.get(ai);
}

/**
 * The AI that starts at `index` of raw element-string data: AIs are 2-4 digits and no AI is a prefix
 * of another (the generator checks this), so at most one length matches.
 */
export function matchGs1AiAt(data: string, index: number): Gs1AiEntry | undefined {
  for (let len = 2; len <= 4; len++) {
    const candidate = data.slice(index, index + len);
    if (candidate.length < len || !/^[0-9]+$/.test(candidate)) return undefined;
    const entry = BY_AI.get(candidate);
    if (entry) return entry;
  }
  return undefined;
}
