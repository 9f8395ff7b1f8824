import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ConsulModel } from "../../../src/routers/consul/service-splitter.ts";
import { UnsupportedOperationError, WeightNotExpressibleError } from "../../../src/routers/errors.ts";
import type { Change, RouteModel } from "../../../src/routers/model.ts";
import { SmiModel } from "../../../src/routers/smi/traffic-split.ts";
import { applyPatch, context, fixture, withoutVersion } from "./support.ts";

function run(model: RouteModel, object: KubeObject, ...changes: Change[]): KubeObject {
  let current = object;
  for (const change of changes) current = applyPatch(current, model.plan(current, change));
  return current;
}

function backends(object: KubeObject): unknown[] {
  return (object.spec as { backends: unknown[] }).backends;
}

describe("SMI TrafficSplit", () => {
  it("v1alpha1 writes milli-quantities that add up to 1", () => {
    const model = new SmiModel(context(), "split.smi-spec.io/v1alpha1");
    const split = fixture("trafficsplit-v1alpha1");
    expect(model.parse(split)).toMatchObject({ canaryWeight: 0, stableWeight: 100 });
    const after = run(model, split, { kind: "weight", canaryPercent: 5 });
    expect(backends(after)).toEqual([
      { service: "checkout-primary", weight: "950m" },
      { service: "checkout-canary", weight: "50m" },
    ]);
    expect(model.parse(after).canaryWeight).toBe(5);
    expect(withoutVersion(run(model, after, { kind: "finalize" }))).toEqual(withoutVersion(split));
  });

  it("v1alpha2 writes integers and adds the canary backend when it is missing", () => {
    const model = new SmiModel(context(), "split.smi-spec.io/v1alpha2");
    const split = fixture("trafficsplit-v1alpha2");
    const after = run(model, split, { kind: "weight", canaryPercent: 12.5 });
    expect(backends(after)).toEqual([
      { service: "checkout-primary", weight: 875 },
      { service: "checkout-canary", weight: 125 },
    ]);
    expect(withoutVersion(run(model, after, { kind: "finalize" }))).toEqual(withoutVersion(split));
  });

  it("v1alpha3: the canary gets 50% of the split's traffic and the user's other backend keeps its 10%", () => {
    const model = new SmiModel(context(), "split.smi-spec.io/v1alpha3");
    const split = fixture("trafficsplit-v1alpha3");
    const after = run(model, split, { kind: "weight", canaryPercent: 50 });
    expect(backends(after)).toEqual([
      { service: "checkout-legacy", weight: 100 },
      { service: "checkout-primary", weight: 400 },
      { service: "checkout-canary", weight: 500 },
    ]);
    expect(model.parse(after)).toMatchObject({ canaryWeight: 50, stableWeight: 40, foreignWeight: 10 });
    expect(withoutVersion(run(model, after, { kind: "finalize" }))).toEqual(withoutVersion(split));
  });

  it("v1alpha3: a step above what the user's backend leaves is refused with what to change, nothing written", () => {
    const model = new SmiModel(context(), "split.smi-spec.io/v1alpha3");
    const split = fixture("trafficsplit-v1alpha3");
    expect(() => model.plan(split, { kind: "weight", canaryPercent: 95 })).toThrow(WeightNotExpressibleError);
    expect(() => model.plan(split, { kind: "weight", canaryPercent: 95 })).toThrow(
      "TrafficSplit shop/checkout (/spec/backends): the canary cannot get 95% of the managed route's traffic: its other destinations, checkout-legacy (weight 100), take 10% of it, which leaves the canary at most 90%; make the step at most 90%, or lower those destinations' weights (or move them to a route of their own)",
    );
  });

  it("v1alpha4 injects an abort as a share to the error backend", () => {
    const model = new SmiModel(context(), "split.smi-spec.io/v1alpha4");
    const split = fixture("trafficsplit-v1alpha4");
    const after = run(
      model,
      split,
      { kind: "weight", canaryPercent: 10 },
      { kind: "fault", fault: { abort: { httpStatus: 503, percent: 10 } } },
    );
    // Stable and canary keep their 1000 units; 10% of the total goes to the error backend on top.
    expect(backends(after)).toEqual([
      { service: "checkout-primary", weight: 900 },
      { service: "checkout-canary", weight: 100 },
      { service: "checkout-fault", weight: 111 },
    ]);
    expect(model.parse(after)).toMatchObject({ canaryWeight: 10, faultWeight: 9.990999 });
  });

  it("cannot route by header, mirror or delay, and says what to use instead", () => {
    const model = new SmiModel(context(), "split.smi-spec.io/v1alpha4");
    const split = fixture("trafficsplit-v1alpha4");
    expect(() => model.plan(split, { kind: "match", matches: [{ cookie: "a" }] })).toThrow(
      UnsupportedOperationError,
    );
    expect(() => model.plan(split, { kind: "match", matches: [{ cookie: "a" }] })).toThrow(
      "SMI TrafficSplit cannot route requests by header or cookie; use provider gateway (a Gateway API HTTPRoute, which Linkerd supports) or istio for A/B tests",
    );
    expect(() => model.plan(split, { kind: "mirror", percent: 5 })).toThrow(
      /SMI TrafficSplit cannot mirror traffic; use provider istio/,
    );
    expect(() => model.plan(split, { kind: "fault", fault: { delay: { fixed: 100, percent: 1 } } })).toThrow(
      /cannot delay requests/,
    );
    // Removing what is not there is fine.
    expect(model.plan(split, { kind: "match", matches: null }).changed).toBe(false);
  });
});

describe("Consul ServiceSplitter", () => {
  const model = new ConsulModel(context(), "consul.hashicorp.com/v1alpha1");
  const splitter = fixture("servicesplitter-checkout");
  const splits = (o: KubeObject) => (o.spec as { splits: { weight: number }[] }).splits;

  it("gives the canary its share of the splitter's traffic out of the rollout's 85%, sum kept at 100", () => {
    const after = run(model, splitter, { kind: "weight", canaryPercent: 1 });
    expect(splits(after)).toEqual([
      { weight: 84, service: "checkout-primary", requestHeaders: { set: { "x-version": "stable" } } },
      { weight: 1, service: "checkout-canary" },
      { weight: 10, service: "checkout-legacy", serviceSubset: "v1" },
      { weight: 5, service: "checkout", namespace: "eu" },
    ]);
    const sum = splits(after).reduce((total, s) => total + Math.round(s.weight * 100), 0);
    expect(sum).toBe(10000);
    expect(model.parse(after).canaryWeight).toBe(1);
  });

  it("an abort goes to the error service with the status in a request header", () => {
    const after = run(model, splitter, { kind: "fault", fault: { abort: { httpStatus: 500, percent: 2 } } });
    // Appended after the user's splits; the rollout's 85% now hold 2% (1.7) for the error service.
    expect(splits(after)[3]).toEqual({
      weight: 1.7,
      service: "checkout-fault",
      requestHeaders: { set: { "x-stepwise-fault-status": "500" } },
    });
    expect(splits(after)[0]!.weight).toBe(83.3);
    expect(withoutVersion(run(model, after, { kind: "finalize" }))).toEqual(withoutVersion(splitter));
  });

  it("cannot route by header", () => {
    expect(() =>
      model.plan(splitter, { kind: "match", matches: [{ headers: { a: { exact: "b" } } }] }),
    ).toThrow(/Consul ServiceSplitter cannot route requests by header or cookie; a Consul ServiceRouter can/);
  });
});
