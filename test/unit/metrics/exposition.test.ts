import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { parseExposition, parseSelector } from "../../../src/metrics/exposition.ts";
import { ScrapingProvider } from "../../../src/metrics/scrape.ts";
import { ProviderError } from "../../../src/metrics/types.ts";

const text = `# HELP istio_requests_total Total requests.
# TYPE istio_requests_total counter
istio_requests_total{reporter="destination",destination_workload="podinfo",response_code="200"} 1520
istio_requests_total{reporter="destination",destination_workload="podinfo",response_code="503"} 7
istio_requests_total{reporter="source",destination_workload="podinfo",response_code="200"} 1519
response_latency_ms_bucket{direction="inbound",deployment="podinfo-primary",le="500.0"} 99 1700000000000
escaped{path="a\\"b\\\\c"} 1
up 1
`;

describe("text exposition and selectors", () => {
  const series = parseExposition(text);

  it("reads every sample with its labels and value, skipping comments", () => {
    expect(series).toHaveLength(6);
    expect(series[1]).toEqual({
      name: "istio_requests_total",
      labels: { reporter: "destination", destination_workload: "podinfo", response_code: "503" },
      value: 7,
    });
    expect(series[3]?.value).toBe(99);
    expect(series[4]?.labels.path).toBe('a"b\\c');
    expect(series[5]).toEqual({ name: "up", labels: {}, value: 1 });
  });

  it("matches =, !=, =~ and !~ as Prometheus does (regexes anchored)", () => {
    const select = (query: string) => series.filter(parseSelector(query)).map((s) => s.value);
    expect(select('istio_requests_total{reporter="destination", response_code=~"5.."}')).toEqual([7]);
    expect(select('istio_requests_total{reporter!="destination"}')).toEqual([1519]);
    expect(select('istio_requests_total{response_code!~"2.."}')).toEqual([7]);
    expect(select('istio_requests_total{response_code=~"5"}')).toEqual([]);
    expect(select('response_latency_ms_bucket{le=~"500(\\\\.0)?"}')).toEqual([99]);
    expect(select("up")).toEqual([1]);
    expect(select('istio_requests_total{missing=""}')).toHaveLength(3);
  });

  it("refuses a page that is not an exposition, naming the line, instead of reading it as no series", () => {
    expect(() => parseExposition("<html><body>502 Bad Gateway</body></html>\n")).toThrow(
      "line 1 is not a metric sample: <html>",
    );
    expect(() => parseExposition('up 1\nistio_requests_total{code="200" 5\n')).toThrow(/line 2/);
  });

  it("makes the scraper answer an invalid-response error for a garbage page (an Error verdict, not NoData)", async () => {
    const server = createServer((_request, response) => response.end("<html>oops</html>\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const scraper = new ScrapingProvider(`http://127.0.0.1:${port}/metrics`, 60_000);
    try {
      await scraper.start();
      const refused = await scraper.queryCounts("istio_requests_total", Date.now()).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ProviderError);
      expect((refused as ProviderError).kind).toBe("invalid-response");
      expect((refused as Error).message).toContain("is not a metrics page: line 1 is not a metric sample");
    } finally {
      scraper.stop();
      server.close();
    }
  });

  it("refuses what is not a plain selector", () => {
    expect(() => parseSelector("sum(rate(x[5m]))")).toThrow(/only plain selectors/);
  });
});
