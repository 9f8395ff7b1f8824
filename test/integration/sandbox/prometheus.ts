/** A real Prometheus (the Debian `prometheus` package) that scrapes the given targets every second. */
import { type RunningPrometheus, runPrometheus, scrapeConfig } from "../../../src/sandbox/prometheus.ts";

export { which } from "../../../src/sandbox/prometheus.ts";

export type ScrapingPrometheus = RunningPrometheus;

/** Starts Prometheus scraping `targets` (base URLs; /metrics is scraped) and waits until it is ready. */
export function startScrapingPrometheus(targets: string[]): Promise<ScrapingPrometheus> {
  return runPrometheus({
    config: scrapeConfig(
      targets.map((t) => new URL(t).host),
      "1s",
    ),
  });
}
