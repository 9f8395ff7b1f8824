import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { UnsupportedOperationError } from "../../../src/routers/errors.ts";
import { createRouter } from "../../../src/routers/index.ts";
import { type Harness, refOf, rolloutWith, startHarness, userContent } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.api.requestLog.clear();
});

function rules(object: KubeObject): Record<string, unknown>[] {
  return (object.spec as { rules: Record<string, unknown>[] }).rules;
}

function expectOneWrite(resource: string, verb = "patch") {
  const writes = h.writes();
  expect(writes.map((w) => `${w.verb} ${w.resource}/${w.name ?? ""} ${w.status}`)).toHaveLength(1);
  expect(writes[0]).toMatchObject({ verb, resource, status: verb === "create" ? 201 : 200 });
}

describe("Gateway API HTTPRoute named by routeRef", () => {
  let original: KubeObject;
  const rollout = rolloutWith({ provider: "gateway", routeRef: { kind: "HTTPRoute", name: "checkout" } });

  beforeAll(async () => {
    original = await h.createFixture("httproute-checkout");
  });

  it("steps below 1% with relative weights, one write per change, read back", async () => {
    const router = createRouter(rollout, h.client);
    expect(router.capabilities).toMatchObject({
      minStep: 0.01,
      headerMatch: true,
      mirror: true,
      abortFault: "backend",
    });
    expect(await router.ensure()).toMatchObject({ canaryWeight: 0 });
    expect(h.writes()).toEqual([]);
    for (const weight of [0.5, 1, 12.25]) {
      h.api.requestLog.clear();
      expect(await router.setWeight(weight)).toMatchObject({ wrote: true, desired: weight, applied: weight });
      expectOneWrite("httproutes");
    }
    const route = await h.other.get(refOf(original));
    expect(rules(route)[2]!.backendRefs).toEqual([
      { name: "checkout-primary", port: 8080, group: "", kind: "Service", weight: 8775 },
      { name: "checkout-canary", port: 8080, group: "", kind: "Service", weight: 1225 },
    ]);
    expect(rules(route).slice(0, 2)).toEqual(rules(original).slice(0, 2));
    h.api.requestLog.clear();
    expect(await router.setWeight(12.25)).toMatchObject({ wrote: false });
    expect(h.writes()).toEqual([]);
  });

  it("A/B rule, percentage mirror, abort fault share, finalize: one write each, then the user's route as it was", async () => {
    const router = createRouter(rollout, h.client);
    h.api.requestLog.clear();
    await router.setMatch([{ headers: { "x-beta": { prefix: "v2" } }, cookie: "beta=1" }]);
    expectOneWrite("httproutes");
    let route = await h.other.get(refOf(original));
    const ab = rules(route)[2]!;
    expect(ab).toMatchObject({
      name: "stepwise-match-checkout",
      backendRefs: [{ name: "checkout-canary", port: 8080, group: "", kind: "Service", weight: 1 }],
      timeouts: { request: "10s" },
    });
    expect(ab.matches).toEqual([
      {
        path: { type: "PathPrefix", value: "/" },
        headers: [
          { type: "RegularExpression", name: "x-beta", value: "^v2.*" },
          { type: "RegularExpression", name: "Cookie", value: ".*(?:beta=1).*" },
        ],
      },
    ]);

    h.api.requestLog.clear();
    await router.setMirror(0.5);
    expectOneWrite("httproutes");
    route = await h.other.get(refOf(original));
    expect((rules(route)[3]!.filters as unknown[]).at(-1)).toEqual({
      type: "RequestMirror",
      requestMirror: {
        backendRef: { name: "checkout-canary", port: 8080, group: "", kind: "Service" },
        fraction: { numerator: 50, denominator: 10000 },
      },
    });
    expect((await router.read()).mirror).toBe(0.5);

    h.api.requestLog.clear();
    const faulted = await router.applyFault({ abort: { httpStatus: 503, percent: 10 } });
    expectOneWrite("httproutes");
    expect(faulted.state).toMatchObject({ canaryWeight: 12.25, fault: { percent: 10 } });
    expect(faulted.state.faultWeight).toBeCloseTo(10, 2);

    await expect(router.applyFault({ delay: { fixed: 500, percent: 5 } })).rejects.toThrow(
      UnsupportedOperationError,
    );

    for (const step of [
      () => router.clearFault(),
      () => router.setMirror(null),
      () => router.setMatch(null),
      () => router.finalize(),
    ]) {
      h.api.requestLog.clear();
      expect((await step()).wrote).toBe(true);
      expectOneWrite("httproutes");
    }
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});

describe("Gateway API GRPCRoute named by routeRef", () => {
  it("splits and matches metadata headers, and finalize restores the route", async () => {
    const original = await h.createFixture("grpcroute-checkout");
    const router = createRouter(
      rolloutWith({ provider: "gateway", routeRef: { kind: "GRPCRoute", name: "checkout" } }),
      h.client,
    );
    expect(router.api).toBe("Gateway API GRPCRoute");
    h.api.requestLog.clear();
    expect(await router.setWeight(5)).toMatchObject({ wrote: true, applied: 5 });
    expectOneWrite("grpcroutes");
    h.api.requestLog.clear();
    await router.setMatch([{ headers: { "x-tenant": { exact: "beta" } } }]);
    expectOneWrite("grpcroutes");
    const route = await h.other.get(refOf(original));
    expect(rules(route)[1]).toMatchObject({
      name: "stepwise-match-checkout",
      matches: [
        {
          method: { type: "Exact", service: "shop.Checkout" },
          headers: [{ type: "Exact", name: "x-tenant", value: "beta" }],
        },
      ],
    });
    await expect(router.setMatch([{ cookie: "a=b" }])).rejects.toThrow(/gRPC requests carry no cookies/);
    h.api.requestLog.clear();
    await router.finalize();
    expectOneWrite("grpcroutes");
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});

describe("Gateway API HTTPRoute the controller creates", () => {
  it("attaches to the apex Service (GAMMA) and drives its own rule", async () => {
    await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "owned" } });
    const rollout = rolloutWith({ provider: "gateway" });
    const router = createRouter(
      { ...rollout, metadata: { ...rollout.metadata, namespace: "owned" } },
      h.client,
    );
    h.api.requestLog.clear();
    // Without ensure(), the first change creates the route: still one write.
    expect(await router.setWeight(20)).toMatchObject({ wrote: true, applied: 20 });
    expectOneWrite("httproutes", "create");
    const ref = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      namespace: "owned",
      name: "checkout",
    };
    const created = await h.other.get(ref);
    expect((created.spec as { parentRefs: unknown }).parentRefs).toEqual([
      { group: "", kind: "Service", name: "checkout", port: 8080 },
    ]);
    h.api.requestLog.clear();
    await router.setMirror(5);
    await router.setMirror(null);
    expect(h.writes()).toHaveLength(2);
    // No empty filters list is left behind.
    expect(rules(await h.other.get(ref))[0]!.filters).toBeUndefined();
  });
});
