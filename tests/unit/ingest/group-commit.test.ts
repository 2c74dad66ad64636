import { GroupCommit } from '../../../src/ingest/group-commit';

/** A flush function whose flushes the test finishes by hand. */
function controlled(): { flushes: number[][]; finish(i: number): void; fn: (items: number[]) => Promise<Array<PromiseSettledResult<number>>> } {
  const flushes: number[][] = [];
  const finishers: Array<() => void> = [];
  return {
    flushes,
    finish: (i) => finishers[i](),
    fn: (items) => {
      flushes.push(items);
      return new Promise((resolve) => finishers.push(() => resolve(items.map((value) => ({ status: 'fulfilled' as const, value })))));
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('runs up to maxInFlight flushes, each taking what waits', async () => {
    const c = controlled();
    const g = new GroupCommit(c.fn, { maxBatch: 3, maxInFlight: 2 });
    const all = [1, 2, 3, 4, 5, 6].map((i) => g.submit(i));
    expect(c.flushes).toEqual([[1], [2]]);
    c.finish(0);
    await tick();
    expect(c.flushes).toEqual([[1], [2], [3, 4, 5]]);
    c.finish(1);
    await tick();
    expect(c.flushes).toEqual([[1], [2], [3, 4, 5], [6]]);
    c.finish(2);
    c.finish(3);
    await expect(Promise.all(all)).resolves.toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('extraOnlyWhenFull: a flush beside a running one starts only with a full batch waiting', async () => {
    const c = controlled();
    const g = new GroupCommit(c.fn, { maxBatch: 3, maxInFlight: 2, extraOnlyWhenFull: true });
    const first = g.submit(1);
    expect(c.flushes).toEqual([[1]]);
    // one flush runs: two waiting items are not a full batch, they wait for it
    const more = [2, 3].map((i) => g.submit(i));
    expect(c.flushes).toHaveLength(1);
    expect(g.pending).toBe(3);
    // a third makes a full batch: it runs beside the first
    const third = g.submit(4);
    expect(c.flushes).toEqual([[1], [2, 3, 4]]);
    const rest = [5, 6].map((i) => g.submit(i));
    expect(c.flushes).toHaveLength(2);
    c.finish(0);
    await first;
    await tick();
    // the first finished, the second still runs: two waiting items still wait
    expect(c.flushes).toHaveLength(2);
    c.finish(1);
    await Promise.all([...more, third]);
    await tick();
    // nothing runs: what waits goes at once, full or not
    expect(c.flushes).toEqual([[1], [2, 3, 4], [5, 6]]);
    c.finish(2);
    await expect(Promise.all([...more, third, ...rest])).resolves.toEqual([2, 3, 4, 5, 6]);
    await g.drained();
  });

  it('keeps flush counts, sizes and times, failed flushes included', async () => {
    let fail = false;
    const g = new GroupCommit<number, number>(async (items) => {
      await new Promise((r) => setTimeout(r, 12));
      if (fail) throw new Error('database gone');
      return items.map((value) => ({ status: 'fulfilled' as const, value }));
    }, { maxBatch: 10, maxInFlight: 1 });
    // [1] flushes at once, [2, 3] wait for it and go together
    await Promise.all([g.submit(1), g.submit(2), g.submit(3)]);
    fail = true;
    await expect(g.submit(4)).rejects.toThrow('database gone');
    expect(g.stats).toMatchObject({ flushes: 3, items: 4, maxBatch: 2, flushesOver5ms: 3 });
    expect(g.stats.flushMsMax).toBeGreaterThanOrEqual(10);
    expect(g.stats.flushMsTotal).toBeGreaterThanOrEqual(3 * 10);
    expect(g.stats.flushMsTotal).toBeGreaterThanOrEqual(g.stats.flushMsMax);
  });
});
