import { fillRandom, pooledRandomBytes } from '../../../src/security/random-pool';

describe('random pool', () => {
  it('hands out fresh bytes of the asked length, never the same bytes twice, across refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const b = pooledRandomBytes(8);
      expect(b.length).toBe(8);
      seen.add(b.toString('hex'));
    }
    expect(seen.size).toBe(2000);
  });

  it('returns its own buffer: writing to one value does not change the next', () => {
    const a = pooledRandomBytes(16);
    const copy = Buffer.from(a);
    a.fill(0);
    const b = pooledRandomBytes(16);
    expect(b.equals(Buffer.alloc(16))).toBe(false);
    expect(copy.equals(Buffer.alloc(16))).toBe(false);
  });

  it('fills a slice of a target at an offset and leaves the rest alone, also for requests larger than the pool serves', () => {
    for (const n of [12, 300, 5000]) {
      const target = Buffer.alloc(n + 8, 0xee);
      fillRandom(target, 4, n);
      expect(target.subarray(0, 4).equals(Buffer.alloc(4, 0xee))).toBe(true);
      expect(target.subarray(4 + n).equals(Buffer.alloc(4, 0xee))).toBe(true);
      expect(target.subarray(4, 4 + n).equals(Buffer.alloc(n, 0xee))).toBe(false);
    }
    expect(pooledRandomBytes(1000).length).toBe(1000);
  });
});
