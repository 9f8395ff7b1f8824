import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { RolloutStatus } from "../../../src/api/rollout.ts";
import { Reconciler } from "../../../src/controller/reconciler.ts";
import {
  type KubeClient,
  KubeConflictError,
  KubeNotFoundError,
  type KubeObject,
  type ObjectRef,
} from "../../../src/kube/client.ts";
import type { EventRecorder } from "../../../src/kube/events.ts";
import { RouteNotFoundError, WeightNotExpressibleError } from "../../../src/routers/errors.ts";
import type { TrafficRouter, TrafficState } from "../../../src/routers/traffic-router.ts";
import { createLogger } from "../../../src/telemetry/logger.ts";
import { ControllerMetrics } from "../../../src/telemetry/metrics.ts";
import { type Deployment, primaryFor, revisionOf } from "../../../src/workloads/deployments.ts";

/**
 * The reconciler against a fake API server (one Rollout, with resourceVersions and conditional status
 * writes), a fake informer that can lag behind it, a router that records its writes, and a real HTTP
 * webhook.
 */
class FakeApi {
  rollout: KubeObject;
  version = 1;
  gets = 0;
  statusWrites: RolloutStatus[] = [];
  /** Set to make the next status writes fail with 409 (someone else changed the status). */
  conflicts = 0;

  constructor(rollout: KubeObject) {
    this.rollout = { ...rollout, metadata: { ...rollout.metadata, uid: "u-1", resourceVersion: "1" } };
  }

  /** Someone else writes the object (a spec edit, an annotation): a new resourceVersion. */
  edit(change: (object: KubeObject) => void): void {
    const next = structuredClone(this.rollout);
    change(next);
    next.metadata.resourceVersion = String(++this.version);
    this.rollout = next;
  }

  client(): KubeClient {
    const api = this;
    return {
      async get(ref: ObjectRef) {
        api.gets++;
        if (ref.kind !== "Rollout")
          throw new KubeNotFoundError("GET", ref.name, 404, "NotFound", "not found");
        return structuredClone(api.rollout);
      },
      async create(object: KubeObject) {
        return object;
      },
      async mergePatch(
        ref: ObjectRef,
        patch: { metadata?: { resourceVersion?: string; finalizers?: string[] } },
      ) {
        if (ref.kind !== "Rollout") return patch as KubeObject;
        // the controller's only write to the Rollout itself: its finalizer, conditional on the version
        if (patch.metadata?.resourceVersion !== api.rollout.metadata.resourceVersion)
          throw new KubeConflictError(
            "PATCH",
            "rollouts/checkout",
            409,
            "Conflict",
            "the object has been modified",
          );
        api.edit((o) => {
          o.metadata.finalizers = patch.metadata?.finalizers;
        });
        return structuredClone(api.rollout);
      },
      async mergePatchStatus(
        _ref: ObjectRef,
        patch: { metadata: { resourceVersion: string }; status: unknown },
      ) {
        if (api.conflicts > 0) {
          api.conflicts--;
          api.edit((o) => {
            o.status = { ...(o.status as object), message: "written by someone else" };
          });
        }
        if (patch.metadata.resourceVersion !== api.rollout.metadata.resourceVersion)
          throw new KubeConflictError(
            "PATCH",
            "rollouts/checkout/status",
            409,
            "Conflict",
            "the object has been modified",
          );
        const status = mergeStatus(
          api.rollout.status as Record<string, unknown>,
          patch.status as Record<string, unknown>,
        );
        api.edit((o) => {
          o.status = status;
        });
        api.statusWrites.push(status as RolloutStatus);
        return structuredClone(api.rollout);
      },
    } as unknown as KubeClient;
  }
}

function mergeStatus(
  old: Record<string, unknown> = {},
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...old };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (
      value &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      out[key] &&
      typeof out[key] === "object"
    )
      out[key] = mergeStatus(out[key] as Record<string, unknown>, value as Record<string, unknown>);
    else out[key] = value;
  }
  return out;
}

class FakeRouter {
  weight = 0;
  writes: number[] = [];
  notExpressibleAbove = 100;
  /** Set to make ensure() fail as a router does when the route object is not there. */
  missing?: RouteNotFoundError;

  router(): TrafficRouter {
    const fake = this;
    const state = (): TrafficState =>
      ({
        canaryWeight: fake.weight,
        stableWeight: 100 - fake.weight,
        faultWeight: 0,
        match: null,
        mirror: null,
        fault: null,
        managed: true,
      }) as unknown as TrafficState;
    return {
      api: "fake",
      capabilities: {
        minStep: 1,
        headerMatch: true,
        cookieMatch: true,
        mirror: true,
        delayFault: true,
        abortFault: "filter",
        dependencyFault: true,
      },
      ensure: async () => {
        if (fake.missing) throw fake.missing;
        return state();
      },
      read: async () => state(),
      async setWeight(weight: number) {
        if (weight > fake.notExpressibleAbove) {
          const left = fake.notExpressibleAbove;
          throw new WeightNotExpressibleError(
            "VirtualService shop/checkout",
            weight,
            left,
            1,
            `its other destinations keep ${100 - left}%`,
          );
        }
        fake.weight = weight;
        fake.writes.push(weight);
        return { wrote: true, state: state(), desired: weight, applied: weight };
      },
      setMatch: async () => ({ wrote: false, state: state() }),
      setMirror: async () => ({ wrote: false, state: state() }),
      clearFault: async () => ({ wrote: false, state: state() }),
      clearExpiredFaults: async () => false,
    } as unknown as TrafficRouter;
  }
}

const target = (image: string): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "checkout", namespace: "shop", generation: 1 },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: "checkout" } },
    template: { metadata: { labels: { app: "checkout" } }, spec: { containers: [{ name: "app", image }] } },
  },
  status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
});

function rolloutObject(status: RolloutStatus, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "checkout", namespace: "shop", generation: 1 },
    spec: {
      targetRef: { kind: "Deployment", name: "checkout" },
      service: { port: 80 },
      traffic: { provider: "istio" },
      strategy: { canary: { steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }] } },
      analysis: { interval: "1s" },
      ...spec,
    },
    status,
  };
}

interface Harness {
  api: FakeApi;
  route: FakeRouter;
  events: { reason: string; message: string }[];
  reconciler: Reconciler;
  /** What the informer shows; by default whatever the API server has now. */
  cache: { stale?: KubeObject };
}

function harness(rollout: KubeObject, deployments: { target: Deployment; primary: Deployment }): Harness {
  const api = new FakeApi(rollout);
  const route = new FakeRouter();
  const events: { reason: string; message: string }[] = [];
  const cache: Harness["cache"] = {};
  const reconciler = new Reconciler({
    client: api.client(),
    rollouts: { get: () => structuredClone(cache.stale ?? api.rollout) },
    deployments: {
      get: (_ns, name) => (name === "checkout" ? deployments.target : deployments.primary),
    },
    analysis: {
      evaluate: async () => [{ profile: "http-availability", verdict: "Pass" }],
      forget: () => {},
    },
    events: {
      record: async (_about: KubeObject, reason: string, message: string) => {
        events.push({ reason, message });
      },
    } as unknown as EventRecorder,
    metrics: new ControllerMetrics(),
    logger: createLogger("silent"),
    routerFor: () => route.router(),
  });
  return { api, route, events, reconciler, cache };
}

const owner = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout", name: "checkout", uid: "u-1" };
const v1 = target("checkout:1");
const v2 = target("checkout:2");
const primaryV1 = primaryFor(v1, 1, owner);
primaryV1.status = v1.status;
const rev1 = revisionOf(v1.spec.template);
const rev2 = revisionOf(v2.spec.template);

/** A Rollout paused at its manual gate with 30% on the canary of rev2. */
function pausedAt30(): RolloutStatus {
  return {
    phase: "Paused",
    revision: rev2,
    stableRevision: rev1,
    step: 1,
    stepStartedAt: "2026-12-01T10:00:00.000Z",
    weights: { desired: 30, applied: 30 },
    pauseReason: "manual gate",
    message: "manual gate",
  };
}

let server: Server | undefined;
afterEach(() => server?.close());

describe("reconciler", () => {
  it("holds on an invalid spec edit (no terminal phase, no route write), then goes on once it is fixed", async () => {
    const h = harness(rolloutObject(pausedAt30()), { target: v2, primary: primaryV1 });
    h.route.weight = 30;
    h.api.edit((o) => {
      (o.spec as Record<string, unknown>).strategy = {
        canary: { steps: [{ setWeight: 30 }, { setWeight: 10 }] },
      };
    });
    await h.reconciler.reconcile("shop/checkout");
    await h.reconciler.reconcile("shop/checkout");
    const held = h.api.rollout.status as RolloutStatus;
    expect(held.phase).toBe("Paused");
    expect(held.message).toMatch(/^invalid spec: spec\.strategy\.canary\.steps\[1\]\.setWeight: /);
    expect(held.conditions?.find((c) => c.type === "SpecValid")).toMatchObject({
      status: "False",
      reason: "InvalidSpec",
    });
    expect(h.route.writes).toEqual([]);
    expect(h.events.filter((e) => e.reason === "InvalidSpec")).toHaveLength(1);
    // fixed: the rollout goes on from where it held
    h.api.edit((o) => {
      (o.spec as Record<string, unknown>).strategy = {
        canary: { steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }] },
      };
      o.metadata.annotations = { "stepwise.dev/command": JSON.stringify({ id: "p1", type: "promote" }) };
    });
    await h.reconciler.reconcile("shop/checkout");
    const fixed = h.api.rollout.status as RolloutStatus;
    expect(fixed.conditions?.find((c) => c.type === "SpecValid")?.status).toBe("True");
    // the same tick sees the route take 60% and goes on past the last step, to the promotion
    expect(fixed).toMatchObject({ phase: "Promoting", weights: { desired: 60, applied: 60 } });
    expect(h.route.writes).toEqual([60]);
  });

  it("holds on a refusal (the route object is missing) with RouteReady=False and the remedy, then goes on", async () => {
    const h = harness(rolloutObject(pausedAt30()), { target: v2, primary: primaryV1 });
    h.route.weight = 30;
    h.route.missing = new RouteNotFoundError(
      "VirtualService shop/checkout-vs",
      "does not exist; create it, or fix spec.traffic.routeRef",
    );
    h.api.edit((o) => {
      o.metadata.annotations = { "stepwise.dev/command": JSON.stringify({ id: "p1", type: "promote" }) };
    });
    expect(await h.reconciler.reconcile("shop/checkout")).toBe(1_000); // looks again at the analysis interval
    await h.reconciler.reconcile("shop/checkout");
    const held = h.api.rollout.status as RolloutStatus;
    expect(held.phase).toBe("Paused");
    for (const type of ["RouteReady", "Ready"])
      expect(held.conditions?.find((c) => c.type === type)).toMatchObject({
        status: "False",
        reason: "RouteNotFound",
        message: "VirtualService shop/checkout-vs: does not exist; create it, or fix spec.traffic.routeRef",
      });
    expect(h.events.filter((e) => e.reason === "RouteNotFound")).toHaveLength(1);
    expect(h.route.writes).toEqual([]);
    // the user creates the object: the command waiting in the annotation is carried out
    h.route.missing = undefined;
    await h.reconciler.reconcile("shop/checkout");
    const fixed = h.api.rollout.status as RolloutStatus;
    expect(fixed).toMatchObject({ phase: "Promoting", weights: { desired: 60, applied: 60 } });
    expect(fixed.conditions?.find((c) => c.type === "RouteReady")?.status).toBe("True");
    expect(h.route.writes).toEqual([60]);
  });

  it("decides from the API server's Rollout, not a stale cache older than its own last write", async () => {
    const h = harness(rolloutObject(pausedAt30()), { target: v2, primary: primaryV1 });
    h.route.weight = 30;
    const before = structuredClone(h.api.rollout); // what a lagging cache still shows later
    h.api.edit((o) => {
      o.metadata.annotations = { "stepwise.dev/command": JSON.stringify({ id: "p1", type: "promote" }) };
    });
    await h.reconciler.reconcile("shop/checkout"); // promote: step 2, 60%
    expect(h.route.writes).toEqual([60]);
    // an API outage: the informer relists from a cache that is behind our write
    h.cache.stale = before;
    const gets = h.api.gets;
    await h.reconciler.reconcile("shop/checkout");
    expect(h.api.gets).toBeGreaterThan(gets);
    expect(h.route.writes).toEqual([60]); // never back to 30
    expect((h.api.rollout.status as RolloutStatus).step).toBeGreaterThanOrEqual(2);
  });

  it("after a status conflict re-reads the Rollout and backs off, doubling", async () => {
    const h = harness(rolloutObject(pausedAt30()), { target: v2, primary: primaryV1 });
    h.route.weight = 30;
    h.api.edit((o) => {
      o.metadata.annotations = { "stepwise.dev/command": JSON.stringify({ id: "p1", type: "promote" }) };
    });
    h.api.conflicts = 2;
    const first = await h.reconciler.reconcile("shop/checkout");
    const gets = h.api.gets;
    expect(first).toBe(500);
    const second = await h.reconciler.reconcile("shop/checkout");
    expect(second).toBe(1_000);
    expect(h.api.gets).toBeGreaterThan(gets);
  });

  it("holds with RouteReady=False when the route cannot express the step, with one Warning Event", async () => {
    const h = harness(rolloutObject(pausedAt30()), { target: v2, primary: primaryV1 });
    h.route.weight = 30;
    h.route.notExpressibleAbove = 50;
    h.api.edit((o) => {
      o.metadata.annotations = { "stepwise.dev/command": JSON.stringify({ id: "p1", type: "promote" }) };
    });
    await h.reconciler.reconcile("shop/checkout");
    await h.reconciler.reconcile("shop/checkout");
    const status = h.api.rollout.status as RolloutStatus;
    expect(status).toMatchObject({ phase: "Progressing", step: 2 });
    expect(status.conditions?.find((c) => c.type === "RouteReady")).toMatchObject({
      status: "False",
      reason: "WeightNotExpressible",
      message:
        "VirtualService shop/checkout: the canary cannot get 60% of the managed route's traffic: its other destinations keep 50%",
    });
    expect(h.events.filter((e) => e.reason === "WeightNotExpressible")).toHaveLength(1);
    expect(h.route.weight).toBe(30);
  });

  it("files the pre-rollout answer under the new revision's gate and posts the new status", async () => {
    const bodies: { phase: string; revision: string }[] = [];
    server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        bodies.push(JSON.parse(text));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}/pre`;
    const idle: RolloutStatus = {
      phase: "Idle",
      revision: rev1,
      stableRevision: rev1,
      weights: { desired: 0 },
    };
    const h = harness(rolloutObject(idle, { webhooks: [{ type: "pre-rollout", url }] }), {
      target: v2,
      primary: primaryV1,
    });
    await h.reconciler.reconcile("shop/checkout");
    expect(bodies).toEqual([
      expect.objectContaining({ type: "pre-rollout", phase: "Initializing", revision: rev2 }),
    ]);
    await h.reconciler.reconcile("shop/checkout");
    expect(bodies).toHaveLength(1); // the answer was kept for this gate
    // the release went on: 30% on the canary, and the same tick reached the pause after it
    expect(h.api.rollout.status).toMatchObject({ phase: "Paused", step: 1, weights: { applied: 30 } });
  });
});
