/**
 * A work queue of keys (namespace/name) in the manner of client-go's: a key waits at most once, a key
 * being worked on is never handed to a second worker, and a key added while it is worked on runs again
 * right after. Delayed adds keep the earliest due time.
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly idleWorkers: (() => void)[] = [];
  private stopped = false;

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.order.push(key);
    this.idleWorkers.shift()?.();
  }

  /** Adds the key after `ms`, unless an add already due sooner is pending. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const due = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { due, timer });
  }

  get length(): number {
    return this.order.length;
  }

  /** Runs `workers` loops calling `handle` for each key until `shutDown`. */
  async run(workers: number, handle: (key: string) => Promise<void>): Promise<void> {
    await Promise.all(Array.from({ length: workers }, () => this.worker(handle)));
  }

  shutDown(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.idleWorkers.splice(0)) wake();
  }

  private async worker(handle: (key: string) => Promise<void>): Promise<void> {
    while (!this.stopped) {
      const key = this.order.shift();
      if (key === undefined) {
        await new Promise<void>((resolve) => this.idleWorkers.push(resolve));
        continue;
      }
      this.waiting.delete(key);
      this.active.add(key);
      try {
        await handle(key);
      } finally {
        this.active.delete(key);
        if (this.dirty.delete(key)) this.add(key);
      }
    }
  }
}
