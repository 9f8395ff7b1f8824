import { parseExposition, parseSelector, type Series } from "./exposition.ts";
import { type CounterSample, type MetricsProvider, ProviderError } from "./types.ts";

/**
 * A metrics provider without Prometheus: it scrapes one /metrics endpoint itself every `intervalMs`,
 * keeps the scrapes of the last `retainMs`, and answers instant queries (plain selectors only) from the
 * newest scrape at or before the asked time. The sandbox uses it when no `prometheus` binary is installed.
 */
export class ScrapingProvider implements MetricsProvider {
  readonly description: string;
  /** Its history starts with its first scrape. */
  readonly hasHistory = false;
  private readonly history: { at: number; series: Series[] }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastError: unknown;

  constructor(
    private readonly url: string,
    private readonly intervalMs = 2_000,
    private readonly retainMs = 3_600_000,
  ) {
    this.description = `built-in scraper of ${url}`;
  }

  async start(): Promise<void> {
    await this.scrape();
    this.timer = setInterval(() => void this.scrape(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async scrape(): Promise<void> {
    try {
      const response = await fetch(this.url, { signal: AbortSignal.timeout(this.intervalMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const at = Date.now();
      let series: Series[];
      try {
        series = parseExposition(await response.text());
      } catch (error) {
        throw new ProviderError(
          "invalid-response",
          `${this.url} is not a metrics page: ${(error as Error).message}`,
        );
      }
      this.history.push({ at, series });
      while (this.history.length > 1 && this.history[0]!.at < at - this.retainMs) this.history.shift();
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error;
    }
  }

  async queryCounts(query: string, at: number): Promise<CounterSample[]> {
    let matches: (series: Series) => boolean;
    try {
      matches = parseSelector(query);
    } catch (error) {
      throw new ProviderError("query", (error as Error).message);
    }
    // A page that did not parse is an error at once: what it says is not evidence, old scrapes are stale.
    if (this.lastError instanceof ProviderError) throw this.lastError;
    const newest = this.history.at(-1);
    if (!newest || (this.lastError && newest.at < Date.now() - 3 * this.intervalMs)) {
      throw new ProviderError("unreachable", `cannot scrape ${this.url}: ${String(this.lastError)}`);
    }
    // Before the first scrape nothing was counted yet: series seen later count from zero.
    const scrape = this.history.findLast((entry) => entry.at <= at);
    if (!scrape) return [];
    return scrape.series.filter(matches).map(({ labels, value }) => ({ labels, value }));
  }

  async health(): Promise<void> {
    if (this.lastError)
      throw new ProviderError("unreachable", `cannot scrape ${this.url}: ${String(this.lastError)}`);
  }
}
