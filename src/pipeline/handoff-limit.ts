import type { Logger } from '../logging/logger';

/** Options of {@link HandOffLimit}. */
export interface HandOffLimitOptions {
  /** LOTBRIDGE_PIPELINE_HANDOFF_MAX: the limit while other processes consume the ingest queue. */
  shared: number;
  /** LOTBRIDGE_PIPELINE_HANDOFF_MAX_ALONE: the limit while none does. */
  alone: number;
  /** How often to look (ms). */
  intervalMs: number;
  /** Workers of other processes on the ingest queue now; undefined when that cannot be told. */
  otherConsumers(): Promise<number | undefined>;
  logger: Logger;
}

/**
 * How many handed-off messages one local pipeline thread may hold: the rest of a group commit goes
 * on the `ingest` queue. The queue's overflow is for other processes (`lotbridge worker`) to share a
 * backlog; while none consumes the queue, it would only come back to this process's own threads as
 * queue jobs (a Redis round trip, a worker's pick-up, claims, smaller batches — about 10 % more CPU
 * per message sustained, measured on the HL7 bench, docs/architecture.md), so the limit is then
 * `alone`, which only guards memory. Until the first look, and whenever the consumers cannot be
 * listed (the PostgreSQL queue backend), the `shared` limit applies.
 */
export class HandOffLimit {
  private current: number;
  private isAlone: boolean | undefined;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: HandOffLimitOptions) {
    this.current = Math.max(1, opts.shared);
  }

  /** The limit now. */
  get value(): number {
    return this.current;
  }

  /** Looks now, then every `intervalMs` until {@link stop}. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Looks at the ingest queue's consumers once and sets the limit. */
  async refresh(): Promise<void> {
    let others: number | undefined;
    try {
      others = await this.opts.otherConsumers();
    } catch {
      others = undefined;
    }
    const alone = others === 0;
    this.current = alone ? Math.max(1, this.opts.alone, this.opts.shared) : Math.max(1, this.opts.shared);
    if (alone !== this.isAlone) {
      this.opts.logger.info(
        { handOffLimit: this.current, otherIngestConsumers: others ?? null },
        alone
          ? 'no other process consumes the ingest queue: the local pipeline keeps the backlog'
          : others === undefined
            ? 'the ingest queue\'s consumers cannot be listed: the local pipeline keeps at most LOTBRIDGE_PIPELINE_HANDOFF_MAX per thread'
            : 'other processes consume the ingest queue: the local pipeline keeps at most LOTBRIDGE_PIPELINE_HANDOFF_MAX per thread, the rest is shared through the queue',
      );
      this.isAlone = alone;
    }
  }
}
