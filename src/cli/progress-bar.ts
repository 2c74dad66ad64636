/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (so logs and CI output
 * stay clean). Written here rather than taken from npm: it is thirty lines and has no dependencies.
 */
export class ProgressBar {
  private last = 0;
  private lastDone = 0;
  private drawn = false;
  private readonly started = Date.now();

  /**
   * @param label - text before the bar, e.g. `stock.csv`
   * @param total - the 100% value (bytes or rows)
   * @param unit - `bytes` shows MiB; `rows` shows counts
   * @param stream - where to draw (default process.stderr)
   */
  constructor(
    private readonly label: string,
    private total: number,
    private readonly unit: 'bytes' | 'rows',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** True when the bar draws anything (stderr is a TTY). */
  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  /** Changes the 100% value (e.g. once the rows of a file are counted). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** Redraws at most ten times a second. */
  update(done: number, note = ''): void {
    const now = Date.now();
    if (!this.enabled || (now - this.last < 100 && done < this.total)) {
      return;
    }
    this.last = now;
    this.lastDone = done;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 30;
    const fill = Math.round(frac * width);
    const fmt = (n: number): string => (this.unit === 'bytes' ? `${(n / 2 ** 20).toFixed(1)} MiB` : n.toLocaleString('en-US'));
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? ` ${fmt(done / secs)}/s` : '';
    this.stream.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${fmt(done)}/${fmt(this.total)}${rate} ${note}\x1b[K`);
    this.drawn = true;
  }

  /** Shows a phase name after the bar (e.g. `book_ledger`), keeping the progress drawn last. */
  phase(name: string): void {
    if (this.enabled) {
      this.last = 0;
      this.update(this.lastDone, name);
    }
  }

  /** Clears the line. */
  done(): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
    }
  }
}
