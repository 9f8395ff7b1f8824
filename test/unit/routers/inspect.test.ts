import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../../../src/kube/client.ts";
import { type InspectContext, inspectRouteObject, ownRouteObjectName } from "../../../src/routers/inspect.ts";
import { fixture } from "./support.ts";

const UPSTREAM = join(import.meta.dirname, "../../fixtures/upstream");

/** The documents of an upstream fixture file (verbatim upstream YAML, see the comment in each). */
function upstream(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(join(UPSTREAM, path), "utf8")).map((d) => d.toJS() as KubeObject);
}

/** The Rollout `name` with Stepwise's default names (`<name>-primary`, `<name>-canary`). */
function ctx(name: string, namespace: string, more: Partial<InspectContext> = {}): InspectContext {
  return {
    rollout: name,
    namespace,
    service: name,
    stableService: `${name}-primary`,
    canaryService: `${name}-canary`,
    faultService: `${name}-fault`,
    ...more,
  };
}

describe("inspectRouteObject: what a route object offers a Rollout, as the routers read it", () => {
  it("a VirtualService as a platform team writes it: its named routes, those to the stable Service, no problem", () => {
    expect(inspectRouteObject(fixture("virtualservice-checkout"), ctx("checkout", "shop"))).toEqual({
      routes: ["debug-slow", "legacy-v1", "primary"],
      stableRoutes: ["debug-slow", "primary"],
      problems: [],
    });
  });

  it("a route named that is not in the object: RouteNotFound, in the router's words", () => {
    const inspection = inspectRouteObject(
      fixture("virtualservice-checkout"),
      ctx("checkout", "shop", { routeName: "main" }),
    );
    expect(inspection?.problems).toEqual([
      {
        reason: "RouteNotFound",
        object: "VirtualService shop/checkout",
        detail: 'has no http route named "main"',
      },
    ]);
  });

  it("a route named that exists but does not send to the stable Service: NoStableRoute with the remedy", () => {
    const inspection = inspectRouteObject(
      fixture("virtualservice-checkout"),
      ctx("checkout", "shop", { routeName: "legacy-v1" }),
    );
    expect(inspection?.problems).toEqual([
      {
        reason: "NoStableRoute",
        object: "VirtualService shop/checkout",
        detail: 'http route "legacy-v1" has no destination checkout-primary; add one (weight 100)',
      },
    ]);
  });

  it("Istio's bookinfo reviews-v3 (upstream, unedited): no route to reviews-primary", () => {
    const [vs] = upstream("istio/bookinfo-virtual-service-reviews-v3.yaml");
    expect(inspectRouteObject(vs!, ctx("reviews", "default"))).toEqual({
      routes: [],
      stableRoutes: [],
      problems: [
        {
          reason: "NoStableRoute",
          object: "VirtualService reviews",
          detail:
            "has no http route whose destinations are only reviews-primary (and reviews-canary); add such a route, or name the route to manage",
        },
      ],
    });
  });

  it("Argo Rollouts' subset example (upstream, unedited): clean in subset mode with its subset names, refused with ours", () => {
    const [, vs] = upstream("argo-rollouts/istio-subset-split.yaml");
    const argoNames = ctx("istio-subset-split", "default", {
      routeName: "primary",
      istio: { mode: "subset", subsets: { stable: "stable", canary: "canary" } },
    });
    expect(inspectRouteObject(vs!, argoNames)).toEqual({
      routes: ["primary"],
      stableRoutes: ["primary"],
      problems: [],
    });
    const defaults = {
      ...argoNames,
      istio: { mode: "subset" as const, subsets: { stable: "primary", canary: "canary" } },
    };
    expect(inspectRouteObject(vs!, defaults)?.problems).toEqual([
      {
        reason: "NoStableRoute",
        object: "VirtualService istio-subset-split-vsvc",
        detail:
          'http route "primary" has no destination istio-subset-split subset primary; add one (weight 100)',
      },
    ]);
  });

  it("a stable Service written as a FQDN counts only in its namespace", () => {
    const vs: KubeObject = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "podinfo" },
      spec: {
        http: [
          { name: "main", route: [{ destination: { host: "podinfo-primary.shop.svc.cluster.local" } }] },
        ],
      },
    };
    expect(inspectRouteObject(vs, ctx("podinfo", "shop"))?.problems).toEqual([]);
    expect(inspectRouteObject(vs, ctx("podinfo", "staging"))?.problems).toHaveLength(1);
  });

  it("the Gateway API traffic-splitting example (upstream, unedited): refused with default names, clean with its own Services", () => {
    const [route] = upstream("gateway/traffic-split-2.yaml");
    expect(inspectRouteObject(route!, ctx("foo", "default"))?.problems).toEqual([
      {
        reason: "NoStableRoute",
        object: "HTTPRoute foo-route",
        detail:
          "has no rule whose backendRefs are only foo-primary (and foo-canary); add such a rule, or name the rule to manage",
      },
    ]);
    const own = ctx("foo", "default", { stableService: "foo-v1", canaryService: "foo-v2" });
    expect(inspectRouteObject(route!, own)).toEqual({ routes: [], stableRoutes: [], problems: [] });
  });

  it("an HTTPRoute and a GRPCRoute whose managed rule shares nothing with the user's rules", () => {
    expect(inspectRouteObject(fixture("httproute-checkout"), ctx("checkout", "shop"))?.problems).toEqual([]);
    expect(inspectRouteObject(fixture("grpcroute-checkout"), ctx("checkout", "shop"))?.problems).toEqual([]);
    expect(
      inspectRouteObject(fixture("httproute-checkout"), ctx("checkout", "shop", { routeName: "main" }))
        ?.problems,
    ).toEqual([
      { reason: "RouteNotFound", object: "HTTPRoute shop/checkout", detail: 'has no rule named "main"' },
    ]);
  });

  it("splitters: one list of backends, a route name does not apply; a missing stable backend is named", () => {
    for (const name of ["trafficsplit-v1alpha4", "servicesplitter-checkout"]) {
      expect(inspectRouteObject(fixture(name), ctx("checkout", "shop", { routeName: "primary" }))).toEqual({
        routes: [],
        stableRoutes: [],
        problems: [],
      });
    }
    expect(inspectRouteObject(fixture("trafficsplit-v1alpha4"), ctx("payments", "shop"))?.problems).toEqual([
      {
        reason: "NoStableRoute",
        object: "TrafficSplit shop/checkout",
        detail:
          "has no backend payments-primary in spec.backends; add it (the stable service) to let Stepwise split traffic",
      },
    ]);
  });

  it("never throws on whatever a file holds under spec: lint reads objects nobody validated (fuzz)", () => {
    const kinds = ["VirtualService", "HTTPRoute", "GRPCRoute", "TrafficSplit", "ServiceSplitter"];
    const entry = fc.dictionary(
      fc.constantFrom("name", "route", "destination", "host", "backendRefs", "service", "weight", "subset"),
      fc.anything(),
      { maxKeys: 4 },
    );
    const spec = fc.oneof(
      fc.anything(),
      fc.record({
        http: fc.array(entry),
        rules: fc.array(entry),
        backends: fc.array(entry),
        splits: fc.array(entry),
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...kinds), spec, fc.option(fc.string()), (kind, value, routeName) => {
        const object = {
          apiVersion: "x/v1",
          kind,
          metadata: { name: "checkout" },
          spec: value,
        } as KubeObject;
        const inspection = inspectRouteObject(
          object,
          ctx("checkout", "shop", routeName === null ? {} : { routeName }),
        );
        expect(inspection?.problems.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it("another kind is not a route object", () => {
    const service: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "checkout" } };
    expect(inspectRouteObject(service, ctx("checkout", "shop"))).toBeUndefined();
  });

  it("the route object the controller drives without a routeRef is the one it would create", () => {
    for (const kind of ["VirtualService", "HTTPRoute", "GRPCRoute", "TrafficSplit", "ServiceSplitter"])
      expect(ownRouteObjectName(kind, ctx("checkout", "shop"))).toBe("checkout");
    expect(ownRouteObjectName("Service", ctx("checkout", "shop"))).toBeUndefined();
  });
});
