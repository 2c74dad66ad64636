import type { Logger } from '../logging/logger';

/** What a {@link PollingRelay} needs. */
export interface PollingRelayOptions {
  /** Pause between polls when the last one found less than a full batch, ms. */
  pollMs: number;
  /** A poll that took this many rows polls again at once (a backlog drains without pauses). */
  batchSize: number;
  logger: Logger;
  /** Names the relay in the warning of a failed poll. */
  what: string;
}

/**
 * A loop that polls PostgreSQL for work (outbox events to relay, connector events to deliver):
 * one `tick()` at a time, again at once while ticks take full batches, after `pollMs` otherwise,
 * and after at least 2 s when a tick failed (the database is down). `stop()` waits for the tick in
 * flight. Shared by the Node-RED outbox relay and the connector deliveries.
 */
export abstract class PollingRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  protected constructor(private readonly loop: PollingRelayOptions) {}

  /** Takes one batch of work now; resolves with how many rows it took. */
  abstract tick(): Promise<number>;

  /** Starts polling. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling and waits for the tick in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) {
      return;
    }
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then((n) => this.schedule(n >= this.loop.batchSize ? 0 : this.loop.pollMs))
        .catch((err: unknown) => {
          this.loop.logger.warn({ err }, `${this.loop.what}: poll failed; retrying`);
          this.schedule(Math.max(this.loop.pollMs, 2000));
        });
    }, ms);
  }
}
