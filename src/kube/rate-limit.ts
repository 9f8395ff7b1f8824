/**
 * Client-side QPS and burst limits (a token bucket), so a controller with many rollouts does not flood
 * the API server: up to `burst` requests at once, then `qps` per second. Waiting requests go in order of
 * arrival, the background ones after all others.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly queue: (() => void)[] = [];
  private readonly background: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = Date.now();
  }

  /** Resolves when a request may go. */
  take(background = false): Promise<void> {
    this.refill();
    if (this.waiting() === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      (background ? this.background : this.queue).push(resolve);
      this.schedule();
    });
  }

  private waiting(): number {
    return this.queue.length + this.background.length;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, ((1 - this.tokens) / this.qps) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiting() > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        (this.queue.shift() ?? this.background.shift())!();
      }
      if (this.waiting() > 0) this.schedule();
    }, wait);
  }
}
