/**
 * Which waiting key a worker takes first: the lowest priority number, then the earliest added. Like
 * controller-runtime's priority queue, which puts its start-up list and resyncs behind edge-triggered
 * events so that a change is not kept waiting behind every object's periodic reconcile.
 */
export const PRIORITY = {
  /** What a release under way waits on has happened: a Deployment changed, a command or an edit came. */
  progress: 0,
  /** A timer came due (a look, a retry), or a rollout with no release under way changed. */
  due: 1,
  /** Every rollout, at start and on the periodic resync. */
  resync: 2,
} as const;
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];

/**
 * A work queue of keys (namespace/name) in the manner of client-go's: a key waits at most once (at the
 * best priority it was added with), a key being worked on is never handed to a second worker, and a key
 * added while it is worked on runs again right after, at the first priority. Delayed adds keep the
 * earliest due time.
 */
export class WorkQueue {
  /** Waiting keys and the lane each waits in. */
  private readonly waiting = new Map<string, Priority>();
  /** One FIFO per priority; a key moved to a better lane leaves a stale entry behind, skipped when taken. */
  private readonly lanes: string[][] = Object.values(PRIORITY).map(() => []);
  private readonly active = new Set<string>();
  /** Keys added while worked on. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly idleWorkers: (() => void)[] = [];
  private stopped = false;

  add(key: string, priority: Priority = PRIORITY.due): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    const lane = this.waiting.get(key);
    if (lane !== undefined && lane <= priority) return;
    this.waiting.set(key, priority);
    this.lanes[priority]!.push(key);
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
    return this.waiting.size;
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

  private take(): string | undefined {
    for (const [priority, lane] of this.lanes.entries()) {
      for (let key = lane.shift(); key !== undefined; key = lane.shift()) {
        if (this.waiting.get(key) !== priority) continue; // stale: moved to a better lane, or taken
        this.waiting.delete(key);
        return key;
      }
    }
    return undefined;
  }

  private async worker(handle: (key: string) => Promise<void>): Promise<void> {
    while (!this.stopped) {
      const key = this.take();
      if (key === undefined) {
        await new Promise<void>((resolve) => this.idleWorkers.push(resolve));
        continue;
      }
      this.active.add(key);
      try {
        await handle(key);
      } finally {
        this.active.delete(key);
        // A change that came while the key was worked on may be what that work began waiting for (a
        // canary ready before the tick that scaled it wrote its status): it runs again first.
        if (this.dirty.delete(key)) this.add(key, PRIORITY.progress);
      }
    }
  }
}
