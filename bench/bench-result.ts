/** One benchmark's figures, the baseline measured in the same run, and the ratio the target is set on. */
export interface BenchResult {
  name: string;
  figures: Record<string, number>;
  baseline: Record<string, number>;
  /** figure ÷ baseline (higher is better unless `lowerIsBetter`). */
  ratio: number;
  target: number;
  lowerIsBetter?: boolean;
  pass: boolean;
  notes?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) {
    return NaN;
  }
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
