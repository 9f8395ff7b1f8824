import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseSelector, type Series } from "../../src/metrics/exposition.ts";
import type { CounterSample, MetricsProvider } from "../../src/metrics/types.ts";

/**
 * An in-process metrics source behind the provider interface: Istio's request counter for each workload
 * grows with time at `rps`, with `errorRate` of the requests answered 503. Queries are the real profiles'
 * selectors, matched as Prometheus would.
 */
export class SyntheticIstioMetrics implements MetricsProvider {
  readonly description = "synthetic istio_requests_total";
  private readonly started = Date.now();
  readonly workloads = new Map<string, { namespace: string; rps: number; errorRate: number }>();
  down = false;

  set(namespace: string, workload: string, rps: number, errorRate: number): void {
    this.workloads.set(workload, { namespace, rps, errorRate });
  }

  async queryCounts(query: string, at: number): Promise<CounterSample[]> {
    if (this.down) throw Object.assign(new Error("synthetic outage"), { name: "ProviderError" });
    const matches = parseSelector(query);
    const seconds = Math.max(0, (at - this.started) / 1000);
    const series: Series[] = [];
    for (const [workload, { namespace, rps, errorRate }] of this.workloads) {
      const total = Math.floor(rps * seconds);
      const bad = Math.floor(total * errorRate);
      const labels = {
        reporter: "destination",
        destination_workload: workload,
        destination_workload_namespace: namespace,
      };
      series.push({
        name: "istio_requests_total",
        labels: { ...labels, response_code: "200" },
        value: total - bad,
      });
      series.push({ name: "istio_requests_total", labels: { ...labels, response_code: "503" }, value: bad });
    }
    return series.filter(matches).map(({ labels, value }) => ({ labels, value }));
  }

  async health(): Promise<void> {}
}

/** Serves a synthetic source as a /metrics endpoint, for controllers in other processes (`--scrape`). */
export async function serveMetrics(
  source: SyntheticIstioMetrics,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (_request, response) => {
    const series = await source.queryCounts("istio_requests_total", Date.now());
    const lines = series.map(({ labels, value }) => {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",");
      return `istio_requests_total{${text}} ${value}`;
    });
    response.writeHead(200, { "content-type": "text/plain" }).end(`${lines.join("\n")}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
