import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ForeignConfigError, RouteNotFoundError } from "../../../src/routers/errors.ts";
import {
  createDestinationRule,
  createFaultVirtualService,
  IstioModel,
  planClearDependencyFault,
  planDependencyFault,
  planSubsets,
} from "../../../src/routers/istio/virtual-service.ts";
import type { Change } from "../../../src/routers/model.ts";
import { recordKey } from "../../../src/routers/record.ts";
import { applyPatch, fixture, istioContext, withoutVersion } from "./support.ts";

const model = new IstioModel(istioContext(), "networking.istio.io/v1");

function run(object: KubeObject, ...changes: Change[]): KubeObject {
  let current = object;
  for (const change of changes) current = applyPatch(current, model.plan(current, change));
  return current;
}

function http(object: KubeObject): Record<string, unknown>[] {
  return (object.spec as { http: Record<string, unknown>[] }).http;
}

function route(object: KubeObject, name: string): Record<string, unknown> {
  const found = http(object).find((r) => r.name === name);
  if (!found) throw new Error(`no route ${name}`);
  return found;
}

describe("Istio VirtualService, host mode, on a user's VirtualService", () => {
  const vs = fixture("virtualservice-checkout");

  it("manages the catch-all route to the stable host, not the debug route that also targets it", () => {
    const state = model.parse(vs);
    expect(state).toMatchObject({
      canaryWeight: 0,
      stableWeight: 100,
      match: null,
      mirror: null,
      fault: null,
      managed: false,
    });
  });

  it("sets the weight with a patch guarded by the resourceVersion and the value it replaces", () => {
    const builder = model.plan(vs, { kind: "weight", canaryPercent: 10 });
    expect(builder.ops[0]).toEqual({ op: "test", path: "/metadata/resourceVersion", value: "1" });
    expect(builder.ops).toContainEqual({ op: "test", path: "/spec/http/2/route/0/weight", value: 100 });
    expect(builder.ops).toContainEqual({ op: "replace", path: "/spec/http/2/route/0/weight", value: 90 });
    expect(builder.ops).toContainEqual({
      op: "add",
      path: "/spec/http/2/route/1",
      value: { destination: { host: "checkout-canary", port: { number: 8080 } }, weight: 10 },
    });
    // Only the managed route and the record annotation are written.
    const written = builder.ops.filter((op) => op.op !== "test").map((op) => op.path);
    expect(
      written.every((p) => p.startsWith("/spec/http/2/route") || p.startsWith("/metadata/annotations/")),
    ).toBe(true);

    const after = applyPatch(vs, builder);
    expect(model.parse(after)).toMatchObject({ canaryWeight: 10, stableWeight: 90, managed: true });
    expect(http(after)[0]).toEqual(http(vs)[0]);
    expect(http(after)[1]).toEqual(http(vs)[1]);
    expect(after.spec).toMatchObject({ tcp: (vs.spec as Record<string, unknown>).tcp, exportTo: ["."] });
  });

  it("writes nothing when the split is already as asked", () => {
    const at10 = run(vs, { kind: "weight", canaryPercent: 10 });
    expect(model.plan(at10, { kind: "weight", canaryPercent: 10 }).changed).toBe(false);
    expect(model.plan(vs, { kind: "weight", canaryPercent: 0 }).changed).toBe(false);
  });

  it("rounds to whole percents, the smallest step Istio has", () => {
    const after = run(vs, { kind: "weight", canaryPercent: 2.6 });
    expect(model.parse(after).canaryWeight).toBe(3);
  });

  it("reports drift when someone else changes the weights it set", () => {
    const at20 = run(vs, { kind: "weight", canaryPercent: 20 });
    const edited = structuredClone(at20);
    const entries = route(edited, "primary").route as { weight: number }[];
    entries[0]!.weight = 100;
    entries[1]!.weight = 0;
    expect(model.parse(edited).drift).toEqual({ expected: 20, found: 0 });
    // Re-applying fixes it and the drift is gone.
    const fixed = run(edited, { kind: "weight", canaryPercent: 20 });
    expect(model.parse(fixed)).toMatchObject({ canaryWeight: 20 });
    expect(model.parse(fixed).drift).toBeUndefined();
  });

  it("adds an A/B route before the managed route with its settings and the header and cookie matches", () => {
    const after = run(vs, {
      kind: "match",
      matches: [{ headers: { "X-Beta": { exact: "1" } } }, { cookie: "beta=true" }],
    });
    const names = http(after).map((r) => r.name);
    expect(names).toEqual(["debug-slow", "legacy-v1", "stepwise-match-checkout", "primary"]);
    const ab = route(after, "stepwise-match-checkout");
    expect(ab.match).toEqual([
      { headers: { "x-beta": { exact: "1" } } },
      { headers: { cookie: { regex: ".*(?:beta=true).*" } } },
    ]);
    expect(ab.route).toEqual([{ destination: { host: "checkout-canary", port: { number: 8080 } } }]);
    expect(ab).toMatchObject({
      timeout: "10s",
      retries: route(vs, "primary").retries,
      corsPolicy: route(vs, "primary").corsPolicy,
    });
    expect(model.parse(after).match).toEqual([
      { headers: { "X-Beta": { exact: "1" } } },
      { cookie: "beta=true" },
    ]);
    // Removing it gives back the user's routes exactly.
    const removed = run(after, { kind: "match", matches: null }, { kind: "finalize" });
    expect(withoutVersion(removed)).toEqual(withoutVersion(vs));
  });

  it("mirrors to the canary on the managed route and stops", () => {
    const after = run(vs, { kind: "mirror", percent: 25 });
    expect(route(after, "primary")).toMatchObject({
      mirror: { host: "checkout-canary", port: { number: 8080 } },
      mirrorPercentage: { value: 25 },
    });
    expect(model.parse(after).mirror).toBe(25);
    const stopped = run(after, { kind: "mirror", percent: null });
    expect(route(stopped, "primary").mirror).toBeUndefined();
    expect(model.parse(stopped).mirror).toBeNull();
  });

  it("injects a fault on the managed route and clears only its own", () => {
    const after = run(vs, { kind: "fault", fault: { abort: { grpcStatus: 14, percent: 5 } } });
    expect(route(after, "primary").fault).toEqual({
      abort: { grpcStatus: "UNAVAILABLE", percentage: { value: 5 } },
    });
    expect(route(after, "debug-slow").fault).toEqual(route(vs, "debug-slow").fault);
    const delayed = run(after, { kind: "fault", fault: { delay: { fixed: 1500, percent: 10 } } });
    expect(route(delayed, "primary").fault).toEqual({
      delay: { fixedDelay: "1.5s", percentage: { value: 10 } },
    });
    const cleared = run(delayed, { kind: "fault", fault: null });
    expect(route(cleared, "primary").fault).toBeUndefined();
    expect(route(cleared, "debug-slow").fault).toEqual(route(vs, "debug-slow").fault);
  });

  it("refuses to overwrite a fault or a mirror someone else put on the managed route", () => {
    const foreign = structuredClone(vs);
    route(foreign, "primary").fault = { abort: { httpStatus: 500, percentage: { value: 1 } } };
    route(foreign, "primary").mirror = { host: "checkout-shadow" };
    expect(() =>
      model.plan(foreign, { kind: "fault", fault: { abort: { httpStatus: 503, percent: 5 } } }),
    ).toThrow(ForeignConfigError);
    expect(() => model.plan(foreign, { kind: "mirror", percent: 5 })).toThrow(/already mirrors traffic/);
  });

  it("finalize sends everything to stable and gives back the object as the user wrote it", () => {
    const busy = run(
      vs,
      { kind: "weight", canaryPercent: 40 },
      { kind: "match", matches: [{ headers: { "x-beta": { prefix: "yes" } } }] },
      { kind: "mirror", percent: 10 },
      { kind: "fault", fault: { abort: { httpStatus: 503, percent: 5 } } },
    );
    const done = run(busy, { kind: "finalize" });
    expect(withoutVersion(done)).toEqual(withoutVersion(vs));
    expect(done.metadata.annotations?.[recordKey("checkout")]).toBeUndefined();
  });

  it("says which route is missing", () => {
    const other = structuredClone(vs);
    (other.spec as { http: unknown[] }).http = [route(vs, "legacy-v1")];
    expect(() => model.parse(other)).toThrow(RouteNotFoundError);
    expect(() => model.parse(other)).toThrow(
      /has no http route whose destinations are only checkout-primary/,
    );
    const named = new IstioModel(istioContext("host", { routeName: "nope" }), "networking.istio.io/v1");
    expect(() => named.parse(vs)).toThrow(/has no http route named "nope"/);
  });
});

describe("Istio VirtualService the controller creates", () => {
  it("holds one route to the stable and canary hosts with labels and owner", () => {
    const owned = new IstioModel(
      istioContext("host", {
        owner: { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout", name: "checkout", uid: "u1" },
      }),
      "networking.istio.io/v1",
    );
    const vs = owned.create();
    expect(vs.metadata).toMatchObject({
      name: "checkout",
      namespace: "shop",
      labels: { "app.kubernetes.io/managed-by": "stepwise", "stepwise.dev/rollout": "checkout" },
      ownerReferences: [{ kind: "Rollout", name: "checkout", uid: "u1" }],
    });
    expect(owned.parse({ ...vs, metadata: { ...vs.metadata, resourceVersion: "1" } })).toMatchObject({
      canaryWeight: 0,
    });
  });
});

describe("Istio subset mode", () => {
  const subsetModel = new IstioModel(istioContext("subset"), "networking.istio.io/v1");
  const vs = fixture("virtualservice-subset");

  it("splits between the primary and canary subsets of one host", () => {
    const after = applyPatch(vs, subsetModel.plan(vs, { kind: "weight", canaryPercent: 30 }));
    expect(route(after, "main").route).toEqual([
      { destination: { host: "checkout", subset: "primary", port: { number: 8080 } }, weight: 70 },
      { destination: { host: "checkout", subset: "canary", port: { number: 8080 } }, weight: 30 },
    ]);
    // The route had no weight field (one destination gets everything): finalize leaves it without one.
    const done = applyPatch(after, subsetModel.plan(after, { kind: "finalize" }));
    expect(withoutVersion(done)).toEqual(withoutVersion(vs));
  });

  it("keeps the stable and canary subsets in step with the pod labels, leaving the rest of the rule", () => {
    const rule = fixture("destinationrule-checkout");
    const labels = { stable: { app: "checkout-primary", rev: "7" }, canary: { app: "checkout", rev: "8" } };
    const builder = planSubsets(istioContext("subset"), rule, labels);
    const after = applyPatch(rule, builder);
    const spec = after.spec as { subsets: { name: string; labels: unknown }[]; trafficPolicy: unknown };
    expect(spec.subsets.map((s) => s.name)).toEqual(["primary", "debug", "canary"]);
    expect(spec.subsets[0]!.labels).toEqual(labels.stable);
    expect(spec.subsets[1]).toEqual((rule.spec as { subsets: unknown[] }).subsets[1]);
    expect(spec.trafficPolicy).toEqual((rule.spec as { trafficPolicy: unknown }).trafficPolicy);
    expect(planSubsets(istioContext("subset"), after, labels).changed).toBe(false);
    const created = createDestinationRule(
      istioContext("subset"),
      "networking.istio.io/v1",
      "checkout",
      labels,
    );
    expect(created.spec).toEqual({
      host: "checkout",
      subsets: [
        { name: "primary", labels: labels.stable },
        { name: "canary", labels: labels.canary },
      ],
    });
  });
});

describe("Istio dependency faults", () => {
  const ctx = istioContext();
  const target = { host: "payments", sourceLabels: [{ app: "checkout" }, { app: "checkout-primary" }] };
  const fault = { abort: { httpStatus: 503, percent: 20 } };

  it("gives back a VirtualService with only tcp routes exactly as it was (no empty http list left)", () => {
    const db: KubeObject = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "db", namespace: "shop", resourceVersion: "1" },
      spec: { hosts: ["db"], tcp: [{ route: [{ destination: { host: "db" } }] }] },
    };
    const dbTarget = { host: "db", sourceLabels: [{ app: "checkout" }] };
    const after = applyPatch(db, planDependencyFault(ctx, db, fault, dbTarget, "2030-01-01T00:00:00Z"));
    expect(http(after).map((r) => r.name)).toEqual(["stepwise-fault-checkout"]);
    const cleared = applyPatch(after, planClearDependencyFault(ctx, after));
    expect(withoutVersion(cleared)).toEqual(withoutVersion(db));
  });

  it("refuses an empty source label set, which would fault every caller of the dependency", () => {
    const payments = fixture("virtualservice-payments");
    const sets: Record<string, string>[][] = [[], [{ app: "checkout" }, {}]];
    for (const sourceLabels of sets) {
      expect(() => planDependencyFault(ctx, payments, fault, { host: "payments", sourceLabels })).toThrow(
        /non-empty label set/,
      );
    }
  });

  it("puts a sourceLabels route first in the dependency's VirtualService, routed like its catch-all (retries too)", () => {
    const payments = fixture("virtualservice-payments");
    const after = applyPatch(payments, planDependencyFault(ctx, payments, fault, target));
    const routes = http(after);
    expect(routes.map((r) => r.name)).toEqual(["stepwise-fault-checkout", "refunds", "default"]);
    expect(routes[0]).toEqual({
      name: "stepwise-fault-checkout",
      match: [{ sourceLabels: { app: "checkout" } }, { sourceLabels: { app: "checkout-primary" } }],
      route: [{ destination: { host: "payments", subset: "v1" } }],
      retries: { attempts: 2 },
      fault: { abort: { httpStatus: 503, percentage: { value: 20 } } },
    });
    expect(planDependencyFault(ctx, after, fault, target).changed).toBe(false);
    const cleared = applyPatch(after, planClearDependencyFault(ctx, after));
    expect(withoutVersion(cleared)).toEqual(withoutVersion(payments));
  });

  it("creates a VirtualService for a dependency that has none", () => {
    const vs = createFaultVirtualService(ctx, "networking.istio.io/v1", fault, target);
    expect(vs.metadata.name).toBe("checkout-fault-payments");
    expect(vs.metadata.labels).toMatchObject({
      "stepwise.dev/purpose": "fault",
      "stepwise.dev/rollout": "checkout",
    });
    expect(http(vs).map((r) => r.name)).toEqual(["stepwise-fault-checkout", "default"]);
  });
});
