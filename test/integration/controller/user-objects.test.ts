import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEANUP_FINALIZER } from "../../../src/controller/cleanup.ts";
import { KubeNotFoundError, type KubeObject } from "../../../src/kube/client.ts";
import type { Deployment } from "../../../src/workloads/deployments.ts";
import type { Service } from "../../../src/workloads/services.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  ROLLOUT_TYPE,
  setImage,
  spawnScrapingController,
  started,
  startTestCluster,
  type TestCluster,
  waitForStatus,
} from "../../support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../../support/synthetic-metrics.ts";

// Rollouts on the user's own route objects, through the real controller process over HTTP: a deleted
// Rollout leaves a working mesh (the emulator's garbage collector is on, so owned objects go as soon as
// the finalizer lets the Rollout go), and a route object that is not there is a refusal the user sees.

const NS = "shop";
let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
let controller: ChildProcess;
const metrics = new SyntheticIstioMetrics();

/** The user's own VirtualService: an admin route of theirs, and the route the Rollout manages. */
function userRoute(name: string): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: NS },
    spec: {
      hosts: [name],
      http: [
        {
          name: "admin",
          match: [{ uri: { prefix: "/admin" } }],
          route: [{ destination: { host: `${name}-admin` } }],
          retries: { attempts: 3, perTryTimeout: "2s" },
        },
        {
          name: "main",
          timeout: "5s",
          route: [
            { destination: { host: `${name}-stable` }, weight: 100 },
            { destination: { host: `${name}-canary` }, weight: 0 },
          ],
        },
      ],
    },
  };
}

/** A Service of the user's, selecting their app's pods whatever the version, as before any release. */
function userService(name: string): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: NS },
    spec: { selector: { app: "mid" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
  };
}
const SERVICE = (name: string) => ({ apiVersion: "v1", kind: "Service", namespace: NS, name });
const VS = (name: string) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  namespace: NS,
  name,
});
const ROLLOUT = (name: string) => ({ ...ROLLOUT_TYPE, namespace: NS, name });

async function gone(ref: Parameters<TestCluster["client"]["get"]>[0], within: number): Promise<boolean> {
  const deadline = Date.now() + within;
  while (Date.now() < deadline) {
    try {
      await cluster.client.get(ref);
    } catch (error) {
      if (error instanceof KubeNotFoundError) return true;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

async function newRollout(name: string, steps: unknown[]) {
  metrics.set(NS, name, 2_000, 0.001);
  metrics.set(NS, `${name}-primary`, 8_000, 0.001);
  await cluster.client.create(userRoute(name));
  await cluster.client.create(userService(`${name}-stable`));
  await cluster.client.create(deployment(name, NS, `${name}:1`, 1));
  await cluster.client.create(
    canaryRollout(name, NS, steps, {
      progressDeadlineSeconds: 120,
      traffic: {
        provider: "istio",
        routeRef: { kind: "VirtualService", name },
        routes: ["main"],
        stableService: `${name}-stable`,
        canaryService: `${name}-canary`,
      },
    }),
  );
  await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle", 60_000);
}

beforeAll(async () => {
  cluster = await startTestCluster({
    controllers: { deployments: { delayMs: 500 }, garbageCollector: true },
  });
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  controller = spawnScrapingController(cluster, metricsServer.url);
  await started(controller);
  controller.stderr?.resume();
});

afterAll(async () => {
  controller?.kill("SIGTERM");
  if (controller) await exited(controller);
  await metricsServer?.close();
  await cluster?.close();
});

describe("a deleted Rollout", { timeout: 120_000 }, () => {
  it("at a 30% step with a fault on its route: all traffic back on stable, no fault, then it goes", async () => {
    const name = "mid";
    await newRollout(name, [
      { setWeight: 30 },
      { chaos: { fault: { abort: { httpStatus: 503, percent: 10 } }, target: "route", duration: "5m" } },
    ]);
    const rollout = await cluster.client.get(ROLLOUT(name));
    expect(rollout.metadata.finalizers).toContain(CLEANUP_FINALIZER);
    const adopted = await cluster.client.get<Service>(SERVICE(`${name}-stable`));
    expect(adopted.spec.selector).not.toEqual(userService(`${name}-stable`).spec.selector);
    const applied = structuredClone((await cluster.client.get(VS(name))).spec);
    await setImage(cluster.client, NS, name, `${name}:2`);
    await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.step === 1 && s.fault !== undefined,
      "the fault",
      60_000,
    );
    const during = (await cluster.client.get(VS(name))).spec as { http: { fault?: unknown }[] };
    expect(during.http.some((route) => route.fault)).toBe(true);

    await cluster.client.delete(ROLLOUT(name));
    // one resync is 60 s; the deletion is a watch event, so it must not take anywhere near that
    expect(await gone(ROLLOUT(name), 15_000)).toBe(true);
    const after = await cluster.client.get(VS(name));
    expect(after.spec).toEqual(applied);
    // the user's Service is theirs again, as they wrote it
    const restored = await cluster.client.get<Service>(SERVICE(`${name}-stable`));
    expect(restored.spec.selector).toEqual(userService(`${name}-stable`).spec.selector);
    expect(restored.metadata.annotations ?? {}).toEqual({});
    // the target Deployment is the user's: it stays, scaled to serve; the primary went with the Rollout
    const target = await cluster.client.get<Deployment>({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: NS,
      name,
    });
    expect(target.spec.replicas).toBeGreaterThanOrEqual(1);
    expect(
      await gone(
        { apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: `${name}-primary` },
        10_000,
      ),
    ).toBe(true);
  });

  it("after a promotion, with its canary scaled to zero: the user's Deployment is scaled back up", async () => {
    const name = "done";
    await newRollout(name, [{ setWeight: 50 }]);
    await setImage(cluster.client, NS, name, `${name}:2`);
    await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Succeeded", "Succeeded", 60_000);
    const deploymentRef = { apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name };
    expect((await cluster.client.get<Deployment>(deploymentRef)).spec.replicas).toBe(0);
    await cluster.client.delete(ROLLOUT(name));
    expect(await gone(ROLLOUT(name), 15_000)).toBe(true);
    expect((await cluster.client.get<Deployment>(deploymentRef)).spec.replicas).toBe(1);
  });
});

describe("a refusal", { timeout: 120_000 }, () => {
  it("a routeRef object that does not exist: RouteReady False with the remedy, one Warning Event; goes on once created", async () => {
    const name = "early";
    await cluster.client.create(deployment(name, NS, `${name}:1`, 1));
    await cluster.client.create(
      canaryRollout(name, NS, [{ setWeight: 30 }], {
        traffic: {
          provider: "istio",
          routeRef: { kind: "VirtualService", name },
          stableService: `${name}-stable`,
          canaryService: `${name}-canary`,
        },
      }),
    );
    type Conditions = { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
    const held = (await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) =>
        (s as Conditions).conditions?.some((c) => c.type === "RouteReady" && c.status === "False") ?? false,
      "the refusal",
      30_000,
    )) as Conditions;
    const routeReady = held.conditions?.find((c) => c.type === "RouteReady");
    expect(routeReady).toMatchObject({ reason: "RouteNotFound" });
    expect(routeReady?.message).toContain(`VirtualService ${NS}/${name}`);
    expect(routeReady?.message).toContain("fix spec.traffic.routeRef");
    const events = await cluster.client.list("v1", "Event", NS);
    const warnings = events.filter(
      (e) =>
        (e as { reason?: string }).reason === "RouteNotFound" &&
        (e as { involvedObject?: { name?: string } }).involvedObject?.name === name,
    );
    expect(warnings).toHaveLength(1);
    await cluster.client.create(userRoute(name));
    const idle = (await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.phase === "Idle",
      "Idle",
      30_000,
    )) as Conditions;
    expect(idle.conditions?.find((c) => c.type === "RouteReady")?.status).toBe("True");
  });
});
