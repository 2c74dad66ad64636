import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A BullMQ key prefix of this test run's own. */
export function testQueuePrefix(): string {
  return `lbt_${randomBytes(5).toString('hex')}`;
}

/** Deletes every Redis key under `prefix:` (SCAN, never FLUSHALL: the Redis may serve others). */
export async function cleanupRedisPrefix(prefix: string, url = TEST_REDIS_URL): Promise<number> {
  const r = new IORedis(url, { maxRetriesPerRequest: 1 });
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        n += await r.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}
