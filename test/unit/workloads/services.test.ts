import { describe, expect, it } from "vitest";
import { parseRollout, type Rollout } from "../../../src/api/rollout.ts";
import { type KubeClient, KubeConflictError, type KubeObject } from "../../../src/kube/client.ts";
import { ServiceNotAdoptableError } from "../../../src/workloads/adoption.ts";
import type { Deployment } from "../../../src/workloads/deployments.ts";
import { type Service, servicesFor } from "../../../src/workloads/services.ts";
import { Workloads } from "../../../src/workloads/workloads.ts";

const target: Deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "checkout", namespace: "shop" },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "checkout" } },
    template: { metadata: { labels: { app: "checkout" } }, spec: {} },
  },
};
const owner = {
  apiVersion: "stepwise.dev/v1alpha1",
  kind: "Rollout",
  name: "checkout",
  uid: "u-1",
  controller: true,
};

const ROUTE_ABORT = {
  chaos: { fault: { abort: { httpStatus: 503, percent: 5 } }, target: "route", duration: "1m" },
};

/** A canary Rollout of `checkout` on port 80 (pods on 8080) with these steps after `setWeight: 10`. */
function rollout(provider: string, steps: unknown[] = [], traffic: object = {}): Rollout {
  const parsed = parseRollout({
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "checkout", namespace: "shop", generation: 1 },
    spec: {
      targetRef: { kind: "Deployment", name: "checkout" },
      service: { port: 80, targetPort: 8080 },
      traffic: { provider, ...traffic },
      strategy: { canary: { steps: [{ setWeight: 10 }, ...steps] } },
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

describe("services", () => {
  it("adds <name>-fault, selecting the fault server, for an abort on the route without a fault filter", () => {
    for (const provider of ["gateway", "smi", "consul"]) {
      const services = servicesFor(rollout(provider, [ROUTE_ABORT]), target, owner);
      expect(services.fault, provider).toEqual({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "checkout-fault",
          namespace: "shop",
          labels: services.primary.metadata.labels,
          ownerReferences: [owner],
        },
        spec: {
          selector: { "app.kubernetes.io/name": "stepwise-fault-server" },
          ports: [{ name: "http", port: 80, targetPort: 8080 }],
        },
      });
    }
  });

  it("adds no <name>-fault with Istio's fault filter, nor without a route abort", () => {
    const grpcAbort = {
      chaos: { fault: { abort: { grpcStatus: 14, percent: 5 } }, target: "route", duration: "1m" },
    };
    expect(servicesFor(rollout("gateway", [grpcAbort]), target, owner).fault).toBeDefined();
    expect(servicesFor(rollout("istio", [ROUTE_ABORT]), target, owner).fault).toBeUndefined();
    expect(servicesFor(rollout("gateway", [{ pause: {} }]), target, owner).fault).toBeUndefined();
    const delay = {
      chaos: { fault: { delay: { fixed: "1s", percent: 5 } }, target: "route", duration: "1m" },
    };
    expect(servicesFor(rollout("istio", [delay]), target, owner).fault).toBeUndefined();
  });

  it("creates <name>-fault with the other Services", async () => {
    const created: KubeObject[] = [];
    const client = { create: async (object: KubeObject) => created.push(object) } as unknown as KubeClient;
    const workloads = new Workloads(client, { get: () => undefined });
    await workloads.ensureServices(rollout("smi", [ROUTE_ABORT]), target, owner);
    expect(created.map((o) => o.metadata.name)).toEqual([
      "checkout",
      "checkout-primary",
      "checkout-canary",
      "checkout-fault",
    ]);
  });

  it("creates one Service when the apex is also the stable Service (the name Argo users often give both)", async () => {
    const created: KubeObject[] = [];
    const client = { create: async (object: KubeObject) => created.push(object) } as unknown as KubeClient;
    const workloads = new Workloads(client, { get: () => undefined });
    await workloads.ensureServices(rollout("istio", [], { stableService: "checkout" }), target, owner);
    expect(created.map((o) => [o.metadata.name, (o.spec as { selector: unknown }).selector])).toEqual([
      ["checkout", { app: "checkout-primary" }],
      ["checkout-canary", { app: "checkout" }],
    ]);
  });

  it("creates and adopts nothing for a Rollout being deleted (its finalizer gives adopted Services back)", async () => {
    const requests: string[] = [];
    const client = {
      create: async (object: KubeObject) => requests.push(`create ${object.metadata.name}`),
      get: async (ref: { name: string }) => requests.push(`get ${ref.name}`),
    } as unknown as KubeClient;
    const deleting = rollout("istio");
    deleting.metadata.deletionTimestamp = "2026-12-03T08:00:00Z";
    await new Workloads(client, { get: () => undefined }).ensureServices(deleting, target, owner);
    expect(requests).toEqual([]);
  });

  describe("with Services that exist", () => {
    /** A client over `existing` Services: create answers 409 AlreadyExists for them; patches are recorded. */
    function clientOver(existing: Service[]) {
      const patched: string[] = [];
      const byName = new Map(existing.map((service) => [service.metadata.name, service]));
      const client = {
        create: async (object: KubeObject) => {
          if (byName.has(object.metadata.name))
            throw new KubeConflictError("POST", "/", 409, "AlreadyExists", "exists");
        },
        get: async (ref: { name: string }) => structuredClone(byName.get(ref.name)),
        mergePatch: async (ref: { name: string }) => patched.push(ref.name),
      } as unknown as KubeClient;
      return { client, patched };
    }
    const existing = (name: string, port: number, owned = false): Service => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "shop", ...(owned ? { ownerReferences: [owner] } : {}) },
      spec: { selector: { app: "checkout" }, ports: [{ port }] },
    });

    it("adopts the user's stable and canary Services, and leaves its own and the apex alone", async () => {
      const { client, patched } = clientOver([
        existing("checkout", 80),
        existing("checkout-primary", 80),
        existing("checkout-canary", 80, true),
      ]);
      await new Workloads(client, { get: () => undefined }).ensureServices(rollout("istio"), target, owner);
      expect(patched).toEqual(["checkout-primary"]);
    });

    it("refuses a user's Service without the rollout's port", async () => {
      const { client, patched } = clientOver([existing("checkout-canary", 8080)]);
      const ensure = new Workloads(client, { get: () => undefined }).ensureServices(
        rollout("istio"),
        target,
        owner,
      );
      await expect(ensure).rejects.toThrow(ServiceNotAdoptableError);
      expect(patched).toEqual([]);
    });
  });
});
