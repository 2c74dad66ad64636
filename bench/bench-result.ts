import IORedis from 'ioredis';

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

/** Deletes a benchmark's Redis keys (its queue prefix), so runs leave nothing behind. */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = new IORedis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [n, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = n;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
