/**
 * The weight contract through the Kubernetes API emulator over HTTP, on upstream objects as their
 * projects publish them (Gateway API's traffic-splitting guide, Istio's bookinfo), with the user's own
 * backend in the managed rule: a step N gives the canary N% of the rule's traffic within one weight
 * unit (read back by kubectl, an independent client), the user's backend keeps its share, a step the
 * rule cannot express is refused without a write, and finalize gives back the object as written.
 *
 * Upstream rules have no names; the user names the one Stepwise is to manage (a one-field edit), since
 * a rule with someone else's backend in it is only managed when named.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { WeightNotExpressibleError } from "../../../src/routers/errors.ts";
import { GatewayModel } from "../../../src/routers/gateway/route.ts";
import { IstioRouter } from "../../../src/routers/istio/router.ts";
import type { IstioContext } from "../../../src/routers/istio/virtual-service.ts";
import { ObjectRouter } from "../../../src/routers/object-router.ts";
import type { RouterContext, TrafficRouter } from "../../../src/routers/traffic-router.ts";
import { fixtureSource } from "../../unit/routers/support.ts";
import { type Harness, refOf, startHarness, userContent } from "./harness.ts";

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

/** Creates an upstream fixture in `namespace` as the other writer, then names its first rule/route. */
async function placeUpstream(name: string, namespace: string, ruleName?: string): Promise<KubeObject> {
  await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const source = fixtureSource(name);
  source.metadata.namespace = namespace;
  const created = await h.other.create(source);
  if (ruleName === undefined) return created;
  const list = created.kind === "HTTPRoute" ? "rules" : "http";
  return h.other.jsonPatch(refOf(created), [{ op: "add", path: `/spec/${list}/0/name`, value: ruleName }]);
}

/** The object as kubectl (an independent client) shows it. */
async function viaKubectl(object: KubeObject): Promise<KubeObject> {
  const kind = object.kind === "HTTPRoute" ? "httproutes.gateway.networking.k8s.io" : "virtualservices";
  const out = await h.kubectl(
    "get",
    kind,
    object.metadata.name,
    "-n",
    object.metadata.namespace!,
    "-o",
    "json",
  );
  return JSON.parse(out) as KubeObject;
}

/** Each destination's share of the managed rule's traffic, in percent, from its raw weights. */
function sharesOf(entries: { key: string; weight: number }[]): Record<string, number> {
  const total = entries.reduce((sum, e) => sum + e.weight, 0);
  return Object.fromEntries(entries.map((e) => [e.key, (e.weight * 100) / total]));
}

function backendShares(route: KubeObject): Record<string, number> {
  const refs = (route.spec as { rules: { backendRefs: { name: string; weight?: number }[] }[] }).rules[0]!
    .backendRefs;
  return sharesOf(refs.map((b) => ({ key: b.name, weight: b.weight ?? 1 })));
}

function destinationShares(vs: KubeObject): Record<string, number> {
  const route = (vs.spec as { http: { route: { destination: { subset: string }; weight?: number }[] }[] })
    .http[0]!.route;
  return sharesOf(route.map((d) => ({ key: d.destination.subset, weight: d.weight ?? 0 })));
}

function expectWrites(count: number, resource: string): void {
  const writes = h.writes();
  expect(writes.map((w) => `${w.verb} ${w.resource}/${w.name ?? ""} ${w.status}`)).toHaveLength(count);
  for (const write of writes) expect(write).toMatchObject({ verb: "patch", resource, status: 200 });
}

function gatewayRouter(ctx: RouterContext): TrafficRouter {
  const model = new GatewayModel(ctx, "HTTPRoute", "gateway.networking.k8s.io/v1");
  return new ObjectRouter(h.client, ctx, async () => model, model.api, model.capabilities);
}

/** The rollout "foo" whose stable backend is `stable` and whose canary is foo-canary, on foo-route's rule "split". */
function fooContext(namespace: string, stable: string): RouterContext {
  return {
    rollout: "foo",
    namespace,
    service: "foo",
    port: 8080,
    stableService: stable,
    canaryService: "foo-canary",
    faultService: "foo-fault",
    routeRef: { kind: "HTTPRoute", name: "foo-route" },
    routeName: "split",
  };
}

describe("HTTPRoute rule with a third backend (Gateway API traffic-split-3: foo-v1 at 0, foo-v2 at 1)", () => {
  it("a 60% step gives the canary 60% of the rule (not 100%), 5-49% are never 0, finalize restores 0 / 1", async () => {
    const original = await placeUpstream("upstream-httproute-traffic-split-3", "split-3", "split");
    const router = gatewayRouter(fooContext("split-3", "foo-v2"));
    expect(await router.ensure()).toMatchObject({ canaryWeight: 0, stableWeight: 100, foreignWeight: 0 });

    for (const step of [5, 10, 25, 49, 60]) {
      h.api.requestLog.clear();
      const result = await router.setWeight(step);
      expectWrites(1, "httproutes");
      const unit = result.state.weightUnit;
      expect(Math.abs(result.applied - step)).toBeLessThan(unit);
      expect(unit).toBeLessThanOrEqual(0.01);
      const shares = backendShares(await viaKubectl(original));
      expect(shares["foo-canary"]).toBeGreaterThan(0);
      expect(Math.abs(shares["foo-canary"]! - step)).toBeLessThan(unit);
      expect(shares["foo-canary"]!).toBeLessThanOrEqual(step + unit);
      expect(shares["foo-v1"]).toBe(0);
    }

    h.api.requestLog.clear();
    const done = await router.finalize();
    expect(done).toMatchObject({ wrote: true, applied: 0 });
    expectWrites(1, "httproutes");
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});

describe("HTTPRoute rule with the user's backend at 10% (Gateway API traffic-split-2: foo-v1 90, foo-v2 10)", () => {
  it("steps of 5-49% give the canary that share of the rule, foo-v2 keeps 10%; 95% is refused, nothing written", async () => {
    const original = await placeUpstream("upstream-httproute-traffic-split-2", "split-2", "split");
    const router = gatewayRouter(fooContext("split-2", "foo-v1"));

    for (const step of [5, 12.5, 30, 49]) {
      const result = await router.setWeight(step);
      expect(Math.abs(result.applied - step)).toBeLessThan(result.state.weightUnit);
      const shares = backendShares(await h.other.get(refOf(original)));
      expect(Math.abs(shares["foo-canary"]! - step)).toBeLessThan(result.state.weightUnit);
      expect(shares["foo-v2"]).toBeCloseTo(10, 9);
      expect(shares["foo-v1"]).toBeCloseTo(90 - shares["foo-canary"]!, 9);
    }

    h.api.requestLog.clear();
    const refused = await router.setWeight(95).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WeightNotExpressibleError);
    expect((refused as Error).message).toMatch(
      /^HTTPRoute split-2\/foo-route \(\/spec\/rules\/0\/backendRefs\): the canary cannot get 95% of the managed route's traffic: its other destinations, foo-v2 \(weight \d+\), take 10% of it, which leaves the canary at most 90%; make the step at most 90%/,
    );
    expect(h.writes()).toEqual([]);
    expect((await router.read()).canaryWeight).toBeCloseTo(49, 1);

    await router.finalize();
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});

describe("VirtualService route with a 10% foreign destination (Istio bookinfo reviews 90-10)", () => {
  const ctx: IstioContext = {
    rollout: "reviews",
    namespace: "bookinfo",
    service: "reviews",
    port: 9080,
    stableService: "reviews-primary",
    canaryService: "reviews-canary",
    faultService: "reviews-fault",
    routeRef: { kind: "VirtualService", name: "reviews" },
    routeName: "reviews-split",
    mode: "subset",
    subsets: { stable: "v1", canary: "v3" },
  };
  let original: KubeObject;
  let router: TrafficRouter;

  beforeAll(async () => {
    original = await placeUpstream("upstream-virtualservice-reviews-90-10", "bookinfo", "reviews-split");
    const rule = fixtureSource("upstream-destinationrule-reviews");
    rule.metadata.namespace = "bookinfo";
    await h.other.create(rule);
    router = new IstioRouter(h.client, ctx);
    await router.ensure();
  });

  it("a 25% step is applied within one unit (25 of the route, not 25.56), v2 keeps its 10", async () => {
    h.api.requestLog.clear();
    const result = await router.setWeight(25);
    expectWrites(1, "virtualservices");
    expect(result.state.weightUnit).toBe(1);
    expect(Math.abs(result.applied - 25)).toBeLessThan(result.state.weightUnit);
    const shares = destinationShares(await viaKubectl(original));
    expect(shares).toEqual({ v1: 65, v3: 25, v2: 10 });
  });

  it("12.5% on whole-percent weights is applied as 13 and is not drift afterwards", async () => {
    const result = await router.setWeight(12.5);
    expect(result).toMatchObject({ desired: 12.5, applied: 13 });
    const state = await router.read();
    expect(state.drift).toBeUndefined();
    h.api.requestLog.clear();
    expect(await router.setWeight(12.5)).toMatchObject({ wrote: false });
    expect(h.writes()).toEqual([]);
  });

  it("a step above what v2 leaves is refused and nothing is written; finalize gives back the route as written", async () => {
    h.api.requestLog.clear();
    await expect(router.setWeight(95)).rejects.toThrow(WeightNotExpressibleError);
    await expect(router.setWeight(95)).rejects.toThrow(/reviews subset v2 \(weight 10\), take 10% of it/);
    expect(h.writes()).toEqual([]);
    await router.finalize();
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});
