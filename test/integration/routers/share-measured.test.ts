/**
 * "The share is the truth", measured: the SMI spec's own canary TrafficSplit (website-v1 at 90, a third
 * backend website-v2 at 10) with the rollout's canary added at a 10% step. Requests go through the
 * sandbox mesh, which routes by the TrafficSplit as stored in the emulator; the canary answers 10% of
 * them, website-v2 keeps its 10%, and the stable backend gets the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRollout } from "../../../src/api/rollout.ts";
import { createRouter } from "../../../src/routers/index.ts";
import { upstream } from "../../unit/routers/support.ts";
import { NS, send, startWorld, tableUpdated, type World } from "../sandbox/support.ts";

const REQUESTS = 2_000;

let world: World;

beforeAll(async () => {
  world = await startWorld({
    provider: "smi",
    backends: {
      v1: { service: "website-v1" },
      v2: { service: "website-v2" },
      canary: { service: "website-canary" },
    },
    objects: [upstream("smi/smi-spec-website-canary.yaml", "TrafficSplit")],
  });
});

afterAll(async () => {
  await world?.close();
});

describe("a TrafficSplit with a backend of the user's next to the rollout's", () => {
  it("gives the canary 10% of the split's requests at a 10% step; the user's backend keeps its 10%", async () => {
    const parsed = parseRollout({
      apiVersion: "stepwise.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: "website", namespace: NS },
      spec: {
        targetRef: { kind: "Deployment", name: "website" },
        service: { port: 9898 },
        traffic: {
          provider: "smi",
          routeRef: { kind: "TrafficSplit", name: "canary" },
          stableService: "website-v1",
          canaryService: "website-canary",
        },
        strategy: { canary: { steps: [{ setWeight: 10 }] } },
      },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const router = createRouter(parsed.value, world.client);

    const before = await send(world.mesh, 200, { host: "website" });
    expect(before.byVersion.canary).toBeUndefined();

    const result = await router.setWeight(10);
    expect(result.applied).toBe(10);
    await tableUpdated(world.mesh, (t) => t.rules[0]?.backends.length === 3, "website");

    const tally = await send(world.mesh, REQUESTS, { host: "website" });
    expect(tally.byStatus).toEqual({ "200": REQUESTS });
    const share = (version: string) => ((tally.byVersion[version] ?? 0) * 100) / REQUESTS;
    // Binomial noise at n = 2000, p = 0.1: one standard deviation is 0.67%; the bounds are 3.7 of them.
    expect(share("canary")).toBeGreaterThan(7.5);
    expect(share("canary")).toBeLessThan(12.5);
    expect(share("v2")).toBeGreaterThan(7.5);
    expect(share("v2")).toBeLessThan(12.5);
    expect(share("v1")).toBeGreaterThan(75);
    expect(share("v1")).toBeLessThan(85);
  });
});
