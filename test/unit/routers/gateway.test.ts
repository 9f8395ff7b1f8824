import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { RouteNotFoundError, UnsupportedOperationError } from "../../../src/routers/errors.ts";
import { GatewayModel } from "../../../src/routers/gateway/route.ts";
import type { Change } from "../../../src/routers/model.ts";
import { withinOneUnit } from "../../../src/routers/weights.ts";
import { applyPatch, context, fixture, withoutVersion } from "./support.ts";

const http = new GatewayModel(context(), "HTTPRoute", "gateway.networking.k8s.io/v1");
const grpc = new GatewayModel(context(), "GRPCRoute", "gateway.networking.k8s.io/v1");

function run(model: GatewayModel, object: KubeObject, ...changes: Change[]): KubeObject {
  let current = object;
  for (const change of changes) current = applyPatch(current, model.plan(current, change));
  return current;
}

function rules(object: KubeObject): Record<string, unknown>[] {
  return (object.spec as { rules: Record<string, unknown>[] }).rules;
}

describe("Gateway API HTTPRoute", () => {
  const route = fixture("httproute-checkout");

  it("splits with relative weights out of 10000, so a half percent is possible", () => {
    const after = run(http, route, { kind: "weight", canaryPercent: 0.5 });
    expect(rules(after)[2]!.backendRefs).toEqual([
      { name: "checkout-primary", port: 8080, weight: 9950 },
      { name: "checkout-canary", port: 8080, weight: 50 },
    ]);
    expect(http.parse(after)).toMatchObject({ canaryWeight: 0.5, stableWeight: 99.5 });
    expect(rules(after).slice(0, 2)).toEqual(rules(route).slice(0, 2));
    expect(rules(after)[2]!.filters).toEqual(rules(route)[2]!.filters);
  });

  it("reports the unit it writes in, not the user's coarse one, so 0% is never taken for 20% applied", () => {
    // As an API server stores Gateway API's bar-route (weights defaulted to 1): one backend, weight 1.
    const lone: KubeObject = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "checkout", namespace: "shop", resourceVersion: "1" },
      spec: { rules: [{ backendRefs: [{ name: "checkout-primary", port: 8080, weight: 1 }] }] },
    };
    const before = http.parse(lone);
    expect(before).toMatchObject({ canaryWeight: 0, weightUnit: 0.01 });
    expect(withinOneUnit(before.canaryWeight, 20, before.weightUnit)).toBe(false);
    const after = run(http, lone, { kind: "weight", canaryPercent: 20 });
    expect(http.parse(after)).toMatchObject({ canaryWeight: 20, weightUnit: 0.01 });
  });

  it("reads an omitted weight as 1 and writes nothing for a stable-only split", () => {
    expect(http.parse(route)).toMatchObject({ canaryWeight: 0, stableWeight: 100 });
    expect(http.plan(route, { kind: "weight", canaryPercent: 0 }).changed).toBe(false);
  });

  it("adds the A/B rule with the managed rule's path, filters and timeouts, and header matches", () => {
    const after = run(http, route, {
      kind: "match",
      matches: [{ headers: { "x-beta": { prefix: "v2." } }, cookie: "canary=1" }],
    });
    const ab = rules(after)[2]!;
    expect(ab).toEqual({
      name: "stepwise-match-checkout",
      matches: [
        {
          path: { type: "PathPrefix", value: "/" },
          headers: [
            { type: "RegularExpression", name: "x-beta", value: "^v2\\..*" },
            { type: "RegularExpression", name: "Cookie", value: ".*(?:canary=1).*" },
          ],
        },
      ],
      filters: rules(route)[2]!.filters,
      backendRefs: [{ name: "checkout-canary", port: 8080 }],
      timeouts: { request: "10s" },
    });
    expect(rules(after)[3]).toEqual(rules(route)[2]);
    expect(http.parse(after).match).toEqual([
      { headers: { "x-beta": { prefix: "v2." } }, cookie: "canary=1" },
    ]);
  });

  it("mirrors with a RequestMirror filter next to the user's own mirror, as percent or fraction", () => {
    const whole = run(http, route, { kind: "mirror", percent: 20 });
    const filters = rules(whole)[2]!.filters as unknown[];
    expect(filters.slice(0, 2)).toEqual(rules(route)[2]!.filters);
    expect(filters[2]).toEqual({
      type: "RequestMirror",
      requestMirror: { backendRef: { name: "checkout-canary", port: 8080 }, percent: 20 },
    });
    const fine = run(http, whole, { kind: "mirror", percent: 0.5 });
    expect((rules(fine)[2]!.filters as unknown[])[2]).toMatchObject({
      requestMirror: { fraction: { numerator: 50, denominator: 10000 } },
    });
    expect(http.parse(fine).mirror).toBe(0.5);
    const stopped = run(http, fine, { kind: "mirror", percent: null });
    expect(withoutVersion(run(http, stopped, { kind: "finalize" }))).toEqual(withoutVersion(route));
  });

  it("injects an abort as a weighted share to the error backend, telling it the status", () => {
    const at20 = run(http, route, { kind: "weight", canaryPercent: 20 });
    const faulted = run(http, at20, { kind: "fault", fault: { abort: { httpStatus: 503, percent: 5 } } });
    // Stable and canary keep their 10000 units; the error backend gets 5% of the total on top (526 of 10526).
    expect(rules(faulted)[2]!.backendRefs).toEqual([
      { name: "checkout-primary", port: 8080, weight: 8000 },
      { name: "checkout-canary", port: 8080, weight: 2000 },
      {
        name: "checkout-fault",
        port: 8080,
        weight: 526,
        filters: [
          {
            type: "RequestHeaderModifier",
            requestHeaderModifier: { set: [{ name: "x-stepwise-fault-status", value: "503" }] },
          },
        ],
      },
    ]);
    expect(http.parse(faulted)).toMatchObject({
      canaryWeight: 20,
      faultWeight: 4.99715,
      fault: { percent: 5 },
    });
    // A weight change keeps the fault's share.
    const at50 = run(http, faulted, { kind: "weight", canaryPercent: 50 });
    expect(http.parse(at50)).toMatchObject({ canaryWeight: 50, faultWeight: 4.99715 });
    const cleared = run(http, at50, { kind: "fault", fault: null });
    expect(http.parse(cleared)).toMatchObject({ canaryWeight: 50, faultWeight: 0, fault: null });
  });

  it("cannot delay requests and says what to use", () => {
    expect(() => http.plan(route, { kind: "fault", fault: { delay: { fixed: 1000, percent: 5 } } })).toThrow(
      UnsupportedOperationError,
    );
    expect(() => http.plan(route, { kind: "fault", fault: { delay: { fixed: 1000, percent: 5 } } })).toThrow(
      /Gateway API HTTPRoute cannot delay requests \(it has no fault filter\); use provider istio/,
    );
  });

  it("finalize gives back the route as written", () => {
    const busy = run(
      http,
      route,
      { kind: "weight", canaryPercent: 33 },
      { kind: "match", matches: [{ headers: { "x-beta": { exact: "1" } } }] },
      { kind: "mirror", percent: 3 },
      { kind: "fault", fault: { abort: { httpStatus: 500, percent: 2 } } },
    );
    expect(withoutVersion(run(http, busy, { kind: "finalize" }))).toEqual(withoutVersion(route));
  });

  it("needs a rule to the stable Service", () => {
    const other = structuredClone(route);
    (other.spec as { rules: unknown[] }).rules = rules(route).slice(0, 2);
    expect(() => http.parse(other)).toThrow(RouteNotFoundError);
  });
});

describe("Gateway API GRPCRoute", () => {
  const route = fixture("grpcroute-checkout");

  it("splits and matches on metadata headers within the method match", () => {
    const after = run(
      grpc,
      route,
      { kind: "weight", canaryPercent: 10 },
      { kind: "match", matches: [{ headers: { "x-tenant": { exact: "beta" } } }] },
    );
    expect(rules(after)[1]).toMatchObject({
      name: "stepwise-match-checkout",
      matches: [
        {
          method: { service: "shop.Checkout" },
          headers: [{ type: "Exact", name: "x-tenant", value: "beta" }],
        },
      ],
      backendRefs: [{ name: "checkout-canary", port: 8080 }],
    });
    expect(rules(after)[2]!.backendRefs).toEqual([
      { name: "checkout-primary", port: 8080, weight: 9000 },
      { name: "checkout-canary", port: 8080, weight: 1000 },
    ]);
    expect(withoutVersion(run(grpc, after, { kind: "finalize" }))).toEqual(withoutVersion(route));
  });

  it("cannot match cookies", () => {
    expect(() => grpc.plan(route, { kind: "match", matches: [{ cookie: "x" }] })).toThrow(
      /gRPC requests carry no cookies/,
    );
  });

  it("tells the error backend a gRPC status", () => {
    const after = run(grpc, route, { kind: "fault", fault: { abort: { grpcStatus: 14, percent: 10 } } });
    expect((rules(after)[1]!.backendRefs as unknown[])[1]).toMatchObject({
      name: "checkout-fault",
      filters: [{ requestHeaderModifier: { set: [{ name: "x-stepwise-fault-grpc-status", value: "14" }] } }],
    });
  });
});

describe("Gateway API rule with the user's backend, weights as coarse as 1/1", () => {
  const named = new GatewayModel(context({ routeName: "main" }), "HTTPRoute", "gateway.networking.k8s.io/v1");
  const route = structuredClone(fixture("httproute-checkout"));
  rules(route)[2]!.name = "main";
  rules(route)[2]!.backendRefs = [
    { name: "checkout-primary", port: 8080 },
    { name: "checkout-legacy", port: 8080 },
  ];

  it("multiplies every weight by one factor for a 5% step, the user's backend keeping its half", () => {
    const after = run(named, route, { kind: "weight", canaryPercent: 5 });
    expect(rules(after)[2]!.backendRefs).toEqual([
      { name: "checkout-primary", port: 8080, weight: 4500 },
      { name: "checkout-canary", port: 8080, weight: 500 },
      { name: "checkout-legacy", port: 8080, weight: 5000 },
    ]);
    expect(named.parse(after)).toMatchObject({ canaryWeight: 5, stableWeight: 45, foreignWeight: 50 });
    expect(withoutVersion(run(named, after, { kind: "finalize" }))).toEqual(withoutVersion(route));
  });

  it("does not restore the user's weights the user changed meanwhile; stable takes the rollout's units back", () => {
    const after = run(named, route, { kind: "weight", canaryPercent: 5 });
    (rules(after)[2]!.backendRefs as Record<string, unknown>[])[2]!.weight = 2000;
    const done = run(named, after, { kind: "finalize" });
    expect(rules(done)[2]!.backendRefs).toEqual([
      { name: "checkout-primary", port: 8080, weight: 5000 },
      { name: "checkout-canary", port: 8080, weight: 0 },
      { name: "checkout-legacy", port: 8080, weight: 2000 },
    ]);
  });
});
