/**
 * Each traffic API end to end: the route object is created and changed through the emulator's HTTP API,
 * real requests follow it through the proxy, and the real SLO profiles' queries, run against the scraped
 * /metrics, count the canary and the baseline exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuiltInProfiles, renderQueries } from "../../../src/analysis/profiles.ts";
import type { SLOProfile } from "../../../src/api/slo-profile.ts";
import { API_CASES, CANARY_WORLD, POPULATIONS } from "./cases.ts";
import { eventually, NS, scrape, select, send, startWorld, type Tally, type World } from "./support.ts";

const THRESHOLD_MS = 50;

let profiles: Map<string, SLOProfile>;
beforeAll(async () => {
  profiles = await loadBuiltInProfiles();
});

describe.each(API_CASES)("$name", (api) => {
  let world: World;
  const tally: Tally = { byVersion: {}, byStatus: {}, total: 0 };
  const sendCounted = async (n: number) => {
    const t = await send(world.mesh, n);
    for (const [key, map] of [
      ["byVersion", tally.byVersion],
      ["byStatus", tally.byStatus],
    ] as const)
      for (const [k, v] of Object.entries(t[key])) map[k] = (map[k] ?? 0) + v;
    tally.total += t.total;
    return t;
  };

  beforeAll(async () => {
    world = await startWorld({
      provider: api.provider,
      metrics: api.metrics,
      objects: [api.object(100, 0)],
      backends: CANARY_WORLD,
    });
  });
  afterAll(() => world.close());

  it("routes by the object and follows weight changes made through the API", async () => {
    expect((await sendCounted(40)).byVersion).toEqual({ primary: 40 });
    await world.client.jsonPatch(api.ref, api.patch(0, 100));
    await eventually(async () => ((await sendCounted(10)).byVersion.canary === 10 ? true : undefined));
    expect((await sendCounted(40)).byVersion).toEqual({ canary: 40 });
    await world.client.jsonPatch(api.ref, api.patch(50, 50));
    await eventually(async () => ((await sendCounted(10)).byVersion.primary ? true : undefined));
    const half = await sendCounted(300);
    expect(Math.abs((half.byVersion.canary ?? 0) / 300 - 0.5)).toBeLessThan(0.1);
  });

  it("exports the metric families the SLO profiles read, counting canary and baseline exactly", async () => {
    const samples = await scrape(world.mesh);
    const counters = world.mesh.counters();
    const availability = profiles.get("http-availability")!;
    const latency = profiles.get("http-latency")!;
    for (const [version, workload, service] of POPULATIONS) {
      const target = { namespace: NS, workload, service };
      const requests = world.backends[version]!.requests();
      const errors = version === "canary" ? (tally.byStatus["500"] ?? 0) : 0;
      const bad = renderQueries(availability, api.metrics, target);
      expect(select(bad.total, samples), `${version} total`).toBe(requests);
      expect(select(bad.ratio, samples), `${version} 5xx`).toBe(errors);

      const fast = renderQueries(latency, api.metrics, target, { thresholdMs: THRESHOLD_MS });
      const counted = counters[workload]!;
      expect(select(fast.total, samples), `${version} latency count`).toBe(requests);
      expect(select(fast.ratio, samples), `${version} within ${THRESHOLD_MS} ms`).toBe(
        counted.latency.counts[counted.latency.bounds.indexOf(THRESHOLD_MS)],
      );
      expect(counted).toMatchObject({ requests, errors });
    }
    expect(tally.byVersion.canary).toBeGreaterThan(100);
    expect(tally.byStatus["500"]).toBeGreaterThan(10);
  });
});
