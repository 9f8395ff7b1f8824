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

function splits(object: KubeObject): { weight: number; service?: string }[] {
  return (object.spec as { splits: { weight: number; service?: string }[] }).splits;
}

function expectOneWrite(verb = "patch") {
  const writes = h.writes();
  expect(writes.map((w) => `${w.verb} ${w.resource}/${w.name ?? ""} ${w.status}`)).toHaveLength(1);
  expect(writes[0]).toMatchObject({
    verb,
    resource: "servicesplitters",
    status: verb === "create" ? 201 : 200,
  });
}

function total(object: KubeObject): number {
  return splits(object).reduce((sum, s) => sum + Math.round(s.weight * 100), 0) / 100;
}

describe("Consul ServiceSplitter named by routeRef", () => {
  const rollout = rolloutWith({
    provider: "consul",
    routeRef: { kind: "ServiceSplitter", name: "checkout" },
  });

  it("splits the rollout's share with float percentages that add up to 100, one write per change", async () => {
    const original = await h.createFixture("servicesplitter-checkout");
    const router = createRouter(rollout, h.client);
    expect(router.capabilities).toMatchObject({ minStep: 0.01, headerMatch: false, mirror: false });
    // A step is a share of the splitter's traffic: 2% is 2 of its 100, out of the rollout's 85.
    for (const weight of [2, 20, 40]) {
      h.api.requestLog.clear();
      expect(await router.setWeight(weight)).toMatchObject({ wrote: true, desired: weight, applied: weight });
      expectOneWrite();
      const now = await h.other.get(refOf(original));
      expect(total(now)).toBe(100);
      // The user's splits keep their place, weight and fields.
      expect(
        splits(now).filter((s) => s.service !== "checkout-primary" && s.service !== "checkout-canary"),
      ).toEqual(splits(original).slice(1));
    }
    const now = await h.other.get(refOf(original));
    expect(splits(now).slice(0, 2)).toEqual([
      { weight: 45, service: "checkout-primary", requestHeaders: { set: { "x-version": "stable" } } },
      { weight: 40, service: "checkout-canary" },
    ]);

    h.api.requestLog.clear();
    const faulted = await router.applyFault({ abort: { httpStatus: 503, percent: 4 } });
    expectOneWrite();
    expect(faulted.state).toMatchObject({ canaryWeight: 40, faultWeight: 4, fault: { percent: 4 } });
    const withFault = await h.other.get(refOf(original));
    expect(total(withFault)).toBe(100);
    expect(splits(withFault).at(-1)).toEqual({
      weight: 3.4,
      service: "checkout-fault",
      requestHeaders: { set: { "x-stepwise-fault-status": "503" } },
    });

    h.api.requestLog.clear();
    await expect(router.setMatch([{ cookie: "beta=1" }])).rejects.toThrow(UnsupportedOperationError);
    await expect(router.setMatch([{ cookie: "beta=1" }])).rejects.toThrow(
      "Consul ServiceSplitter cannot route requests by header or cookie; a Consul ServiceRouter can, but Stepwise does not drive ServiceRouters; use provider istio or gateway for A/B tests",
    );
    await expect(router.setMirror(1)).rejects.toThrow(/cannot mirror traffic/);
    await expect(
      router.applyFault(
        { abort: { httpStatus: 503, percent: 4 } },
        { target: "dependency", host: "payments", sourceLabels: [] },
      ),
    ).rejects.toThrow(/cannot inject a fault on a dependency/);
    expect(h.writes()).toEqual([]);

    h.api.requestLog.clear();
    expect(await router.finalize()).toMatchObject({ wrote: true, applied: 0 });
    expectOneWrite();
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});

describe("Consul ServiceSplitter the controller creates", () => {
  it("is named after the service and holds the stable and canary splits", async () => {
    await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "owned" } });
    const rollout = rolloutWith({ provider: "consul" });
    const router = createRouter(
      { ...rollout, metadata: { ...rollout.metadata, namespace: "owned" } },
      h.client,
    );
    h.api.requestLog.clear();
    await router.ensure();
    expectOneWrite("create");
    h.api.requestLog.clear();
    expect(await router.setWeight(12.5)).toMatchObject({ wrote: true, applied: 12.5 });
    expectOneWrite();
    const created = await h.other.get({
      apiVersion: "consul.hashicorp.com/v1alpha1",
      kind: "ServiceSplitter",
      namespace: "owned",
      name: "checkout",
    });
    expect(splits(created)).toEqual([
      { weight: 87.5, service: "checkout-primary" },
      { weight: 12.5, service: "checkout-canary" },
    ]);
  });
});
