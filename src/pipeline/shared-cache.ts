/**
 * Master data looked up by the pipeline, kept for a few seconds across transactions (one per
 * worker process). Only rows read from the database go in — never rows a transaction created,
 * which a rollback could take back — and only what mappers need to stay stable for that long
 * (ids, codes, base units). Bounded: the oldest entries go first.
 */
export class SharedCache {
  private readonly entries = new Map<string, { value: unknown; until: number }>();

  constructor(
    private readonly ttlMs = 5000,
    private readonly max = 20000,
  ) {}

  get<T>(key: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value as T;
  }

  set(key: string, value: unknown): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
  }
}
