/**
 * Group commit: callers submit one item each and wait for its result; items that arrive while
 * earlier flushes are running are written together by the next flush. At low load a flush holds
 * one item (no added latency, no timer); under load batches grow by themselves, so one round trip
 * and one WAL flush serve many messages. At most `maxInFlight` flushes run at once.
 */
export interface GroupCommitOptions {
  /** Largest number of items one flush takes. */
  maxBatch: number;
  /** Flushes running at once (each holds a pool connection while it runs). */
  maxInFlight: number;
  /**
   * Wait this long after the first item before flushing, so more join (for writes nobody waits
   * on, such as acknowledgement records); `'tick'`: until the callers of this event-loop turn have
   * submitted theirs (setImmediate). 0 (default): flush at once.
   */
  lingerMs?: number | 'tick';
  /**
   * A flush beyond the first starts only when a full batch (`maxBatch` items) waits: at moderate
   * load one flush at a time takes everything that arrived meanwhile (large batches), and only a
   * backlog runs flushes beside each other. Default false: any waiting item starts one.
   */
  extraOnlyWhenFull?: boolean;
}

/** Writes a batch; one settled result per item, in order. Must not throw for one bad item. */
export type FlushFn<I, O> = (items: I[]) => Promise<Array<PromiseSettledResult<O>>>;

interface Pending<I, O> {
  item: I;
  resolve(value: O): void;
  reject(reason: unknown): void;
}

export class GroupCommit<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private inFlight = 0;
  private inFlightItems = 0;
  private idleWaiters: Array<() => void> = [];
  /** Flush counts, sizes and times (ms, failed flushes included), for metrics and the benchmark. */
  readonly stats = { flushes: 0, items: 0, maxBatch: 0, flushMsTotal: 0, flushMsMax: 0, flushesOver5ms: 0 };

  constructor(
    private readonly flush: FlushFn<I, O>,
    private readonly opts: GroupCommitOptions,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Items submitted and not settled yet (queued or being written). */
  get pending(): number {
    return this.queue.length + this.inFlightItems;
  }

  /** Resolves when nothing is queued or being written. */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private lingering = false;

  private pump(): void {
    const linger = this.opts.lingerMs;
    if (linger && this.inFlight === 0 && this.queue.length > 0 && this.queue.length < this.opts.maxBatch) {
      if (!this.lingering) {
        this.lingering = true;
        const go = (): void => {
          this.lingering = false;
          this.pumpNow();
        };
        if (linger === 'tick') setImmediate(go);
        else setTimeout(go, linger);
      }
      return;
    }
    this.pumpNow();
  }

  private pumpNow(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      if (this.inFlight > 0 && this.opts.extraOnlyWhenFull && this.queue.length < this.opts.maxBatch) break;
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      this.inFlightItems += batch.length;
      this.stats.flushes++;
      this.stats.items += batch.length;
      this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
      void this.run(batch);
    }
  }

  private timed(ms: number): void {
    this.stats.flushMsTotal += ms;
    this.stats.flushMsMax = Math.max(this.stats.flushMsMax, ms);
    if (ms > 5) this.stats.flushesOver5ms++;
  }

  private async run(batch: Array<Pending<I, O>>): Promise<void> {
    const t0 = performance.now();
    try {
      const results = await this.flush(batch.map((p) => p.item)).finally(() => this.timed(performance.now() - t0));
      batch.forEach((p, i) => {
        const r = results[i];
        if (!r) {
          p.reject(new Error('group commit: the flush returned no result for this item'));
        } else if (r.status === 'fulfilled') {
          p.resolve(r.value);
        } else {
          p.reject(r.reason);
        }
      });
    } catch (err) {
      for (const p of batch) {
        p.reject(err);
      }
    } finally {
      this.inFlight--;
      this.inFlightItems -= batch.length;
      this.pump();
      if (this.queue.length === 0 && this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        waiters.forEach((w) => w());
      }
    }
  }
}
