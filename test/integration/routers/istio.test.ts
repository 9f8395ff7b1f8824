import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type JsonPatchOperation,
  KubeClient,
  KubeInvalidError,
  type KubeObject,
  type ObjectRef,
} from "../../../src/kube/client.ts";
import { ConflictError, ForeignConfigError, RouteNotFoundError } from "../../../src/routers/errors.ts";
import { createRouter } from "../../../src/routers/index.ts";
import { type Harness, racingClient, refOf, rolloutWith, startHarness, userContent } from "./harness.ts";

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

const VS = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", namespace: "shop" };
const withRef = rolloutWith({ provider: "istio", routeRef: { kind: "VirtualService", name: "checkout" } });

function http(object: KubeObject): Record<string, unknown>[] {
  return (object.spec as { http: Record<string, unknown>[] }).http;
}

function routeNamed(object: KubeObject, name: string): Record<string, unknown> {
  return http(object).find((r) => r.name === name)!;
}

/** The one write of an operation: a JSON patch (or a create/delete) that the server accepted. */
function expectOneWrite(resource: string, verb = "patch") {
  const writes = h.writes();
  expect(writes.map((w) => `${w.verb} ${w.resource}/${w.name ?? ""} ${w.status}`)).toHaveLength(1);
  expect(writes[0]).toMatchObject({ verb, resource, status: verb === "create" ? 201 : 200 });
  if (verb === "patch") expect(writes[0]!.contentType).toBe("application/json-patch+json");
}

describe("Istio on a user's VirtualService (routeRef, host mode)", () => {
  let original: KubeObject;

  beforeAll(async () => {
    original = await h.createFixture("virtualservice-checkout");
  });

  it("ensure() checks the object and writes nothing", async () => {
    const router = createRouter(withRef, h.client);
    const state = await router.ensure();
    expect(state).toMatchObject({ canaryWeight: 0, stableWeight: 100, managed: false, match: null });
    expect(h.writes()).toEqual([]);
  });

  it("writes once per split change, reads the object first, and writes nothing when unchanged", async () => {
    const router = createRouter(withRef, h.client);
    for (const weight of [5, 25, 50]) {
      h.api.requestLog.clear();
      const result = await router.setWeight(weight);
      expect(result).toMatchObject({ wrote: true, desired: weight, applied: weight });
      expectOneWrite("virtualservices");
      // A read before the guarded PATCH, whose response is the object as stored: no read after it.
      const log = h.api.requestLog.all({
        resource: "virtualservices",
        name: "checkout",
        userAgent: "stepwise",
      });
      expect(log.map((e) => e.verb)).toEqual(["get", "patch"]);
    }
    h.api.requestLog.clear();
    const again = await router.setWeight(50);
    expect(again).toMatchObject({ wrote: false, applied: 50 });
    expect(h.writes()).toEqual([]);
    // kubectl, as an independent client, sees the split.
    const seen = JSON.parse(
      await h.kubectl("get", "virtualservice", "checkout", "-n", "shop", "-o", "json"),
    ) as KubeObject;
    expect(routeNamed(seen, "primary").route).toEqual([
      { destination: { host: "checkout-primary", port: { number: 8080 } }, weight: 50 },
      { destination: { host: "checkout-canary", port: { number: 8080 } }, weight: 50 },
    ]);
  });

  it("detects drift when someone else changes the weights, reports it, and re-applies", async () => {
    const router = createRouter(withRef, h.client);
    const current = await h.other.get({ ...VS, name: "checkout" });
    const index = http(current).findIndex((r) => r.name === "primary");
    await h.other.jsonPatch({ ...VS, name: "checkout" }, [
      { op: "replace", path: `/spec/http/${index}/route/0/weight`, value: 100 },
      { op: "replace", path: `/spec/http/${index}/route/1/weight`, value: 0 },
    ]);
    const state = await router.read();
    expect(state.drift).toEqual({ expected: 50, found: 0 });
    h.api.requestLog.clear();
    const result = await router.setWeight(50);
    expect(result).toMatchObject({ wrote: true, applied: 50, drift: { expected: 50, found: 0 } });
    expectOneWrite("virtualservices");
    expect((await router.read()).drift).toBeUndefined();
  });

  it("on 409 Conflict re-reads and decides again instead of re-sending", async () => {
    const router = createRouter(withRef, h.client);
    h.api.faults.conflictNextWrites(1, { resource: "virtualservices", name: "checkout" });
    const result = await router.setWeight(60);
    expect(result).toMatchObject({ wrote: true, applied: 60 });
    const log = h.api.requestLog.all({
      resource: "virtualservices",
      name: "checkout",
      userAgent: "stepwise",
    });
    expect(log.map((e) => `${e.verb} ${e.status}`)).toEqual(["get 200", "patch 409", "get 200", "patch 200"]);
    expect(h.writes().filter((w) => w.status === 200)).toHaveLength(1);
  });

  it("gives up with ConflictError when every write conflicts, reading again before each attempt", async () => {
    const router = createRouter(withRef, h.client);
    h.api.faults.conflictNextWrites(5, { resource: "virtualservices", name: "checkout" });
    await expect(router.setWeight(65)).rejects.toThrow(ConflictError);
    const log = h.api.requestLog.all({
      resource: "virtualservices",
      name: "checkout",
      userAgent: "stepwise",
    });
    expect(log.map((e) => `${e.verb} ${e.status}`)).toEqual(Array(5).fill(["get 200", "patch 409"]).flat());
    h.api.faults.clear();
  });

  it("a patch refused on an unchanged object is an error, not a conflict to retry", async () => {
    // A client whose patches carry a test that can never hold.
    class BrokenClient extends KubeClient {
      override jsonPatch<T extends KubeObject = KubeObject>(
        ref: ObjectRef,
        ops: JsonPatchOperation[],
      ): Promise<T> {
        return super.jsonPatch<T>(ref, [...ops, { op: "test", path: "/spec/hosts/0", value: "nope" }]);
      }
    }
    const config = new KubeConfig();
    config.loadFromFile(h.kubeconfig);
    const broken = new BrokenClient(config);
    const router = createRouter(withRef, broken);
    await expect(router.setWeight(66)).rejects.toThrow(KubeInvalidError);
    const patches = h.api.requestLog.all({
      resource: "virtualservices",
      verb: "patch",
      userAgent: "stepwise",
    });
    expect(patches.map((e) => e.status)).toEqual([422]);
  });

  it("when another writer edits between read and write, the conditional patch is refused and the other change is kept", async () => {
    const racing = racingClient(h.kubeconfig);
    const router = createRouter(withRef, racing);
    racing.raceNextRead(async () => {
      const current = await h.other.get({ ...VS, name: "checkout" });
      const index = http(current).findIndex((r) => r.name === "primary");
      await h.other.jsonPatch({ ...VS, name: "checkout" }, [
        { op: "replace", path: `/spec/http/${index}/timeout`, value: "7s" },
      ]);
    });
    const result = await router.setWeight(70);
    expect(result).toMatchObject({ wrote: true, applied: 70 });
    // The other writer's edit lands first; the controller's patch, computed from the older read, is
    // refused by its test operations; the controller reads again and writes once more.
    const patches = h.api.requestLog
      .all({ resource: "virtualservices", name: "checkout", verb: "patch" })
      .map((e) => `${e.userAgent} ${e.status}`);
    expect(patches).toEqual(["gitops 200", "stepwise 422", "stepwise 200"]);
    const after = await h.other.get({ ...VS, name: "checkout" });
    expect(routeNamed(after, "primary").timeout).toBe("7s");
    // Put the user's timeout back for the comparisons below.
    const index = http(after).findIndex((r) => r.name === "primary");
    await h.other.jsonPatch({ ...VS, name: "checkout" }, [
      { op: "replace", path: `/spec/http/${index}/timeout`, value: "10s" },
    ]);
  });

  it("A/B match, mirror, fault and finalize: one write each, and finalize gives back the user's object", async () => {
    const router = createRouter(withRef, h.client);
    const steps: [string, () => Promise<{ wrote: boolean }>][] = [
      ["match", () => router.setMatch([{ headers: { "x-beta": { exact: "1" } } }, { cookie: "beta=yes" }])],
      ["mirror", () => router.setMirror(20)],
      ["fault", () => router.applyFault({ abort: { httpStatus: 503, percent: 5 } })],
      ["clear", () => router.clearFault()],
      ["unmatch", () => router.setMatch(null)],
      ["unmirror", () => router.setMirror(null)],
      ["finalize", () => router.finalize()],
    ];
    for (const [name, step] of steps) {
      h.api.requestLog.clear();
      const result = await step();
      expect(result.wrote, name).toBe(true);
      expectOneWrite("virtualservices");
      if (name === "match") {
        const vs = await h.other.get({ ...VS, name: "checkout" });
        expect(http(vs).map((r) => r.name)).toEqual([
          "debug-slow",
          "legacy-v1",
          "stepwise-match-checkout",
          "primary",
        ]);
        expect((await router.read()).match).toHaveLength(2);
      }
      if (name === "fault") {
        const vs = await h.other.get({ ...VS, name: "checkout" });
        expect(routeNamed(vs, "primary").fault).toEqual({
          abort: { httpStatus: 503, percentage: { value: 5 } },
        });
        expect(routeNamed(vs, "debug-slow").fault).toEqual(routeNamed(original, "debug-slow").fault);
      }
    }
    const final = await h.other.get({ ...VS, name: "checkout" });
    expect(userContent(final)).toEqual(userContent(original));
    h.api.requestLog.clear();
    expect((await router.finalize()).wrote).toBe(false);
    expect(h.writes()).toEqual([]);
  });

  it("refuses to overwrite a fault someone else set on the managed route", async () => {
    const router = createRouter(withRef, h.client);
    const current = await h.other.get({ ...VS, name: "checkout" });
    const index = http(current).findIndex((r) => r.name === "primary");
    await h.other.jsonPatch({ ...VS, name: "checkout" }, [
      {
        op: "add",
        path: `/spec/http/${index}/fault`,
        value: { abort: { httpStatus: 500, percentage: { value: 1 } } },
      },
    ]);
    h.api.requestLog.clear();
    await expect(router.applyFault({ abort: { httpStatus: 503, percent: 5 } })).rejects.toThrow(
      ForeignConfigError,
    );
    expect(h.writes()).toEqual([]);
    await h.other.jsonPatch({ ...VS, name: "checkout" }, [
      { op: "remove", path: `/spec/http/${index}/fault` },
    ]);
  });

  it("says so when the routeRef object or its route is missing", async () => {
    const missing = createRouter(
      rolloutWith({ provider: "istio", routeRef: { kind: "VirtualService", name: "nope" } }),
      h.client,
    );
    await expect(missing.setWeight(10)).rejects.toThrow(RouteNotFoundError);
    await expect(missing.setWeight(10)).rejects.toThrow(
      "VirtualService shop/nope: does not exist; create it, or fix spec.traffic.routeRef",
    );
    await h.other.create({
      apiVersion: VS.apiVersion,
      kind: "VirtualService",
      metadata: { name: "elsewhere", namespace: "shop" },
      spec: { hosts: ["other"], http: [{ route: [{ destination: { host: "other" } }] }] },
    });
    const wrong = createRouter(
      rolloutWith({ provider: "istio", routeRef: { kind: "VirtualService", name: "elsewhere" } }),
      h.client,
    );
    await expect(wrong.ensure()).rejects.toThrow(
      /has no http route whose destinations are only checkout-primary/,
    );
    expect(h.writes()).toEqual([]);
  });
});

describe("Istio objects the controller creates", () => {
  it("creates its VirtualService (labels, owner) on ensure(), then drives it", async () => {
    const rollout = rolloutWith({ provider: "istio" });
    const owner = {
      apiVersion: "stepwise.dev/v1alpha1",
      kind: "Rollout",
      name: "checkout",
      uid: "rollout-uid-1",
      controller: true,
    };
    // Its own namespace, so the user's checkout VirtualService above does not collide.
    await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "owned" } });
    const router = createRouter(
      { ...rollout, metadata: { ...rollout.metadata, namespace: "owned" } },
      h.client,
      { owner },
    );
    h.api.requestLog.clear();
    await router.ensure();
    expectOneWrite("virtualservices", "create");
    const created = await h.other.get({ ...VS, namespace: "owned", name: "checkout" });
    expect(created.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "stepwise",
      "stepwise.dev/rollout": "checkout",
    });
    expect(created.metadata.ownerReferences).toEqual([owner]);
    h.api.requestLog.clear();
    await router.ensure();
    expect(h.writes()).toEqual([]);
    h.api.requestLog.clear();
    expect(await router.setWeight(10)).toMatchObject({ wrote: true, applied: 10 });
    expectOneWrite("virtualservices");
    h.api.requestLog.clear();
    expect(await router.finalize()).toMatchObject({ wrote: true, applied: 0 });
    expectOneWrite("virtualservices");
  });

  it("subset mode: keeps the DestinationRule subsets in step with the pod labels and splits between them", async () => {
    await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "subsets" } });
    const place = (o: KubeObject): KubeObject => ({
      ...o,
      metadata: { ...o.metadata, namespace: "subsets" },
    });
    const { fixtureSource } = await import("../../unit/routers/support.ts");
    const rule = await h.other.create(place(fixtureSource("destinationrule-checkout")));
    const vs = await h.other.create(place(fixtureSource("virtualservice-subset")));
    const rollout = rolloutWith({
      provider: "istio",
      istio: { mode: "subset" },
      routeRef: { kind: "VirtualService", name: "checkout" },
    });
    const router = createRouter(
      { ...rollout, metadata: { ...rollout.metadata, namespace: "subsets" } },
      h.client,
    );
    const labels = {
      stable: { app: "checkout-primary" },
      canary: { app: "checkout", "pod-template-hash": "7c9f" },
    };
    h.api.requestLog.clear();
    await router.ensure({ subsetLabels: labels });
    expectOneWrite("destinationrules");
    const synced = await h.other.get({
      ...VS,
      kind: "DestinationRule",
      namespace: "subsets",
      name: "checkout",
    });
    const spec = synced.spec as { subsets: { name: string; labels: unknown }[]; trafficPolicy: unknown };
    expect(spec.subsets.map((s) => s.name)).toEqual(["primary", "debug", "canary"]);
    expect(spec.subsets[2]!.labels).toEqual(labels.canary);
    expect(spec.trafficPolicy).toEqual((rule.spec as { trafficPolicy: unknown }).trafficPolicy);
    h.api.requestLog.clear();
    await router.ensure({ subsetLabels: labels });
    expect(h.writes()).toEqual([]);

    h.api.requestLog.clear();
    expect(await router.setWeight(30)).toMatchObject({ wrote: true, applied: 30 });
    expectOneWrite("virtualservices");
    const split = await h.other.get(refOf(vs));
    expect(routeNamed(split, "main").route).toEqual([
      { destination: { host: "checkout", subset: "primary", port: { number: 8080 } }, weight: 70 },
      { destination: { host: "checkout", subset: "canary", port: { number: 8080 } }, weight: 30 },
    ]);
    await router.finalize();
    expect(userContent(await h.other.get(refOf(vs)))).toEqual(userContent(vs));
  });
});

describe("Istio dependency faults", () => {
  const target = { target: "dependency" as const, host: "payments", sourceLabels: [{ app: "checkout" }] };

  it("puts a sourceLabels fault route into the dependency's VirtualService and takes it out again", async () => {
    const payments = await h.createFixture("virtualservice-payments");
    const router = createRouter(withRef, h.client);
    h.api.requestLog.clear();
    const result = await router.applyFault({ delay: { fixed: 2000, percent: 50 } }, target);
    expect(result).toMatchObject({ wrote: true, carrier: { kind: "VirtualService", name: "payments" } });
    expectOneWrite("virtualservices");
    const faulted = await h.other.get(refOf(payments));
    expect(http(faulted)[0]).toEqual({
      name: "stepwise-fault-checkout",
      match: [{ sourceLabels: { app: "checkout" } }],
      // routed like the catch-all, its retries included
      route: [{ destination: { host: "payments", subset: "v1" } }],
      retries: { attempts: 2 },
      fault: { delay: { fixedDelay: "2s", percentage: { value: 50 } } },
    });
    h.api.requestLog.clear();
    expect((await router.clearFault()).wrote).toBe(true);
    expectOneWrite("virtualservices");
    expect(userContent(await h.other.get(refOf(payments)))).toEqual(userContent(payments));
  });

  it("creates a VirtualService for a dependency that has none, and deletes it", async () => {
    const router = createRouter(withRef, h.client);
    h.api.requestLog.clear();
    const result = await router.applyFault(
      { abort: { httpStatus: 500, percent: 10 } },
      { ...target, host: "inventory" },
    );
    expect(result.carrier.name).toBe("checkout-fault-inventory");
    expectOneWrite("virtualservices", "create");
    h.api.requestLog.clear();
    await router.clearFault();
    expect(h.writes().map((w) => `${w.verb} ${w.name}`)).toEqual(["delete checkout-fault-inventory"]);
  });
});
