/** Caps concurrent sends per destination key in one process; waiters are served in arrival order. */
export class DestinationLimiter {
  private readonly slots = new Map<string, { active: number; waiting: Array<() => void> }>();

  /**
   * Waits for a free slot of `key` (at most `limit` held at once) and returns its release function.
   *
   * @param key - destination key (scheme, host, port or folder)
   * @param limit - slots for this key
   */
  async acquire(key: string, limit: number): Promise<() => void> {
    let s = this.slots.get(key);
    if (!s) {
      s = { active: 0, waiting: [] };
      this.slots.set(key, s);
    }
    const slot = s;
    if (slot.active >= limit) {
      await new Promise<void>((resolve) => slot.waiting.push(resolve));
    } else {
      slot.active++;
    }
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      const next = slot.waiting.shift();
      if (next) {
        next(); // the slot passes straight to the next waiter
      } else {
        slot.active--;
        if (slot.active === 0) {
          this.slots.delete(key);
        }
      }
    };
  }

  /** Sends in flight for a key (for tests and metrics). */
  active(key: string): number {
    return this.slots.get(key)?.active ?? 0;
  }
}
