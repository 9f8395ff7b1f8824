/**
 * The product's own path, end to end: a real Prometheus scrapes the simulated mesh of every traffic API,
 * and the controller's Prometheus provider runs the built-in SLO profiles' queries for the canary and the
 * baseline. The counts must be exactly what the mesh served. Skipped when Prometheus is not installed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuiltInProfiles, renderQueries } from "../../../src/analysis/profiles.ts";
import { PrometheusProvider } from "../../../src/metrics/prometheus.ts";
import { API_CASES, CANARY_WORLD, POPULATIONS } from "./cases.ts";
import { type ScrapingPrometheus, startScrapingPrometheus, which } from "./prometheus.ts";
import { eventually, NS, send, startWorld, type World } from "./support.ts";

const installed = (await which("prometheus")) !== undefined;
const THRESHOLD_MS = 50;
const namespaceOf = (index: number) => `${NS}-${index}`;

describe.skipIf(!installed)("SLO profiles over a real Prometheus scraping the mesh", () => {
  const worlds: World[] = [];
  let prometheus: ScrapingPrometheus | undefined;

  beforeAll(async () => {
    for (const [index, api] of API_CASES.entries()) {
      // one namespace per world: the profiles' queries select by namespace, not by scrape target
      const world = await startWorld({
        namespace: namespaceOf(index),
        provider: api.provider,
        metrics: api.metrics,
        objects: [api.object(50, 50)],
        backends: CANARY_WORLD,
      });
      worlds.push(world);
      await send(world.mesh, 120);
    }
    prometheus = await startScrapingPrometheus(worlds.map((w) => w.mesh.metricsUrl));
  });
  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all(worlds.map((w) => w.close()));
  });

  it.each(API_CASES.map((api, index) => ({ ...api, index })))(
    "$name: canary and baseline counts as the mesh served them",
    async ({ metrics, index }) => {
      const world = worlds[index]!;
      const provider = new PrometheusProvider({ url: prometheus!.url, retries: 0 });
      const profiles = await loadBuiltInProfiles();
      const sum = async (query: string) =>
        (await provider.queryCounts(query, Date.now())).reduce((total, s) => total + s.value, 0);
      for (const [version, workload, service] of POPULATIONS) {
        const target = { namespace: namespaceOf(index), workload, service };
        const counted = world.mesh.counters()[workload]!;
        expect(counted.requests).toBe(world.backends[version]!.requests());
        const availability = renderQueries(profiles.get("http-availability")!, metrics, target);
        // wait for a scrape taken after the traffic
        await eventually(
          async () => ((await sum(availability.total)) === counted.requests ? true : undefined),
          20_000,
        );
        expect(await sum(availability.ratio), `${version} 5xx`).toBe(counted.errors);
        const latency = renderQueries(profiles.get("http-latency")!, metrics, target, {
          thresholdMs: THRESHOLD_MS,
        });
        expect(await sum(latency.total), `${version} latency count`).toBe(counted.requests);
        expect(await sum(latency.ratio), `${version} within ${THRESHOLD_MS} ms`).toBe(
          counted.latency.counts[counted.latency.bounds.indexOf(THRESHOLD_MS)],
        );
      }
      expect(world.mesh.counters().podinfo?.errors).toBeGreaterThan(0);
    },
  );
});
