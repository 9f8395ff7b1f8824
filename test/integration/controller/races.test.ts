import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendCommand } from "../../../cli/actions.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { Informer } from "../../../src/kube/informer.ts";
import { apiSource } from "../../../src/kube/watch-source.ts";
import { type Deployment, REVISION_ANNOTATION, revisionOf } from "../../../src/workloads/deployments.ts";
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

// Real races against the controller process over HTTP: a revert while the primary is being promoted, an
// invalid edit mid-rollout, a new revision during an A/B test, and an API outage around a step. The
// emulator's Deployments take 2.5 s to roll out, so that each race has a window to happen in.

const NS = "shop";
let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
let controller: ChildProcess;
const metrics = new SyntheticIstioMetrics();
/** Every version of every VirtualService, as a watch of our own saw them. */
const routeHistory = new Map<string, KubeObject[]>();
let routes: Informer<KubeObject>;

interface HttpRoute {
  name?: string;
  match?: unknown[];
  route?: { destination: { host: string }; weight?: number }[];
}
const httpOf = (vs: KubeObject) => (vs.spec as { http?: HttpRoute[] }).http ?? [];
const canaryWeightOf = (vs: KubeObject) =>
  Math.max(
    0,
    ...httpOf(vs)
      .filter((route) => !route.match)
      .flatMap((route) => route.route ?? [])
      .filter((d) => d.destination.host.endsWith("-canary"))
      .map((d) => d.weight ?? 0),
  );

/** The revision the target Deployment's pod template is now. */
async function targetRevision(name: string): Promise<string> {
  const target = await cluster.client.get<Deployment>({
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: NS,
    name,
  });
  return revisionOf(target.spec.template);
}

/** The rollout's terminal status: whichever of Succeeded, RolledBack or Failed comes first. */
function endOf(name: string) {
  const ended = (s: { phase?: string }) => ["Succeeded", "RolledBack", "Failed"].includes(s.phase ?? "");
  return waitForStatus(cluster.client, NS, name, ended, "an end", 90_000);
}

async function newRollout(name: string, steps: unknown[], spec: Record<string, unknown> = {}) {
  metrics.set(NS, name, 2_000, 0.001);
  metrics.set(NS, `${name}-primary`, 8_000, 0.001);
  await cluster.client.create(deployment(name, NS, `${name}:1`, 1));
  await cluster.client.create(canaryRollout(name, NS, steps, { progressDeadlineSeconds: 120, ...spec }));
  return waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle", 60_000);
}

beforeAll(async () => {
  cluster = await startTestCluster({
    controllers: { deployments: { delayMs: 2_500 }, garbageCollector: true },
  });
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  routes = new Informer(apiSource(cluster.client, "networking.istio.io/v1", "VirtualService", NS));
  routes.on((_type, vs) => {
    const seen = routeHistory.get(vs.metadata.name) ?? [];
    seen.push(vs);
    routeHistory.set(vs.metadata.name, seen);
  });
  await routes.start();
  controller = spawnScrapingController(cluster, metricsServer.url);
  await started(controller);
  controller.stderr?.resume();
});

afterAll(async () => {
  controller?.kill("SIGTERM");
  if (controller) await exited(controller);
  routes?.stop();
  await metricsServer?.close();
  await cluster?.close();
});

describe("controller races", { timeout: 180_000 }, () => {
  it("a target set back to stable while the primary is being promoted ends with the primary on stable", async () => {
    const name = "revert";
    const idle = await newRollout(name, [{ setWeight: 50 }]);
    await setImage(cluster.client, NS, name, `${name}:2`);
    await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Promoting", "Promoting", 60_000);
    await setImage(cluster.client, NS, name, `${name}:1`);
    const end = await endOf(name);
    expect(end.phase).toBe("RolledBack");
    expect(end.stableRevision).toBe(idle.stableRevision);
    const primary = await cluster.client.get<
      KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }
    >({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: NS,
      name: `${name}-primary`,
    });
    expect(primary.metadata.annotations?.[REVISION_ANNOTATION]).toBe(idle.stableRevision);
    expect(primary.spec.template.spec.containers[0]!.image).toBe(`${name}:1`);
    expect(primary.status).toMatchObject({ readyReplicas: 1, updatedReplicas: 1 });
    expect(canaryWeightOf(routeHistory.get(name)!.at(-1)!)).toBe(0);
  });

  it("an invalid edit at 30% holds the rollout there; once fixed it goes on", async () => {
    const name = "edited";
    await newRollout(name, [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }]);
    await setImage(cluster.client, NS, name, `${name}:2`);
    await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.phase === "Paused" && s.step === 1,
      "the gate",
      60_000,
    );
    const ref = { ...ROLLOUT_TYPE, namespace: NS, name };
    await cluster.client.mergePatch(ref, {
      spec: { strategy: { canary: { steps: [{ setWeight: 30 }, { setWeight: 10 }] } } },
    });
    const held = await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => (s.message ?? "").startsWith("invalid spec"),
      "the invalid spec reported",
      30_000,
    );
    const conditions = (
      (await cluster.client.get(ref)).status as { conditions: { type: string; status: string }[] }
    ).conditions;
    expect(conditions.find((c) => c.type === "SpecValid")?.status).toBe("False");
    expect(held.phase).toBe("Paused");
    expect(held.message).toContain("spec.strategy.canary.steps[1].setWeight");
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // a few resyncs
    expect(canaryWeightOf(routeHistory.get(name)!.at(-1)!)).toBe(30);
    await cluster.client.mergePatch(ref, {
      spec: { strategy: { canary: { steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 60 }] } } },
    });
    await sendCommand(cluster.client, { namespace: NS, name }, { type: "promote" });
    const done = await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.phase === "Succeeded",
      "Succeeded",
      60_000,
    );
    expect(done.revision).toBe(done.stableRevision);
    expect(Math.max(...routeHistory.get(name)!.map(canaryWeightOf))).toBe(60);
  });

  it("a new revision during an A/B step removes the match route until its own canary is ready", async () => {
    const name = "ab";
    await newRollout(name, [], {
      strategy: { abTest: { match: [{ headers: { "x-beta": { exact: "1" } } }], duration: "5m" } },
    });
    await setImage(cluster.client, NS, name, `${name}:2`);
    await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.phase === "Progressing" && s.step === 1,
      "the A/B analysis",
      60_000,
    );
    expect(httpOf(routeHistory.get(name)!.at(-1)!).some((route) => route.match)).toBe(true);
    const changedAt = routeHistory.get(name)!.length;
    await setImage(cluster.client, NS, name, `${name}:3`);
    const third = await targetRevision(name);
    const restarted = await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.revision === third && s.phase === "Progressing" && s.step === 1,
      "the new revision's A/B step",
      60_000,
    );
    // Between the new image and the new revision's own A/B step, the route first lost its match route,
    // and every version before that was the old revision's (the canary pods take 2.5 s to roll out).
    const after = routeHistory.get(name)!.slice(changedAt);
    const withoutMatch = after.findIndex((vs) => !httpOf(vs).some((route) => route.match));
    expect(withoutMatch).toBe(0);
    expect(restarted.revision).not.toBe(restarted.stableRevision);
  });

  it("an API outage around a step never makes the route go back and forth", async () => {
    const name = "outage";
    await newRollout(name, [
      { setWeight: 20 },
      { pause: { duration: "4s" } },
      { setWeight: 40 },
      { pause: { duration: "4s" } },
      { setWeight: 60 },
      { pause: { duration: "4s" } },
      { setWeight: 80 },
    ]);
    const start = routeHistory.get(name)?.length ?? 0;
    await setImage(cluster.client, NS, name, `${name}:2`);
    const second = await targetRevision(name);
    // at 20%, in the pause before 40%
    await waitForStatus(
      cluster.client,
      NS,
      name,
      (s) => s.revision === second && s.phase === "Progressing" && s.step === 1,
      "the first pause",
      60_000,
    );
    // 4 s in which the API server answers nothing but 503, then 8 s more in which the controller's
    // Rollout and Deployment watches and lists still fail (its cache goes stale) while reads and writes
    // of single objects go through again.
    cluster.api.faults.failNext(1_000_000, 503);
    cluster.api.faults.dropWatches();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    cluster.api.faults.clear();
    for (const resource of ["rollouts", "deployments"])
      cluster.api.faults.failNext(1_000_000, 503, { match: { verb: ["watch", "list"], resource } });
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    cluster.api.faults.clear();
    await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Succeeded", "Succeeded", 90_000);
    const weights = routeHistory
      .get(name)!
      .slice(start)
      .map(canaryWeightOf)
      .filter((w, i, all) => i === 0 || w !== all[i - 1]);
    // up in steps, then all back to the primary once: never back and forth
    expect(weights).toEqual([20, 40, 60, 80, 0]);
  });

  it("a 60% step on an HTTPRoute rule with a third backend gives the canary 60% of the rule, never 100%", async () => {
    const name = "wgw";
    const history: KubeObject[] = [];
    const watch = new Informer(apiSource(cluster.client, "gateway.networking.k8s.io/v1", "HTTPRoute", NS));
    watch.on((_type, route) => history.push(route));
    await watch.start();
    try {
      await cluster.client.create({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name, namespace: NS },
        spec: {
          parentRefs: [{ name: "wgw", kind: "Service", group: "", port: 80 }],
          rules: [
            {
              name: "split",
              backendRefs: [
                { name: "wgw-primary", port: 80, weight: 9 },
                { name: "legacy", port: 80, weight: 1 },
              ],
            },
          ],
        },
      });
      await newRollout(name, [{ setWeight: 60 }, { pause: { duration: "2s" } }], {
        traffic: { provider: "gateway", routeRef: { kind: "HTTPRoute", name }, routes: ["split"] },
        analysis: { interval: "1s", metrics: "istio", profiles: [{ name: "fast-availability" }] },
      });
      await setImage(cluster.client, NS, name, `${name}:2`);
      const done = await endOf(name);
      expect(done.phase).toBe("Succeeded");
      const shares = history.map((route) => {
        const refs = (route.spec as { rules: { backendRefs: { name: string; weight?: number }[] }[] })
          .rules[0]!.backendRefs;
        const total = refs.reduce((sum, ref) => sum + (ref.weight ?? 1), 0);
        const share = (backend: string) =>
          (refs.filter((ref) => ref.name === backend).reduce((sum, ref) => sum + (ref.weight ?? 1), 0) *
            100) /
          total;
        return { canary: share("wgw-canary"), legacy: share("legacy") };
      });
      expect(Math.max(...shares.map((s) => s.canary))).toBeCloseTo(60, 1);
      for (const share of shares) expect(share.legacy).toBeCloseTo(10, 1);
      expect(shares.at(-1)!.canary).toBe(0);
    } finally {
      watch.stop();
    }
  });

  it("a 25% step on a VirtualService route with a 10% foreign destination is applied, not rolled back", async () => {
    const name = "wvs";
    const start = routeHistory.get(name)?.length ?? 0;
    await cluster.client.create({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name, namespace: NS },
      spec: {
        hosts: [name],
        http: [
          {
            name: "primary",
            route: [
              { destination: { host: "wvs-primary" }, weight: 90 },
              { destination: { host: "legacy" }, weight: 10 },
            ],
          },
        ],
      },
    });
    await newRollout(name, [{ setWeight: 25 }, { pause: { duration: "2s" } }], {
      traffic: { provider: "istio", routeRef: { kind: "VirtualService", name }, routes: ["primary"] },
    });
    await setImage(cluster.client, NS, name, `${name}:2`);
    const done = await endOf(name);
    expect(done.phase).toBe("Succeeded");
    const versions = routeHistory.get(name)!.slice(start);
    const weightOf = (vs: KubeObject, host: string) =>
      httpOf(vs)[0]!
        .route!.filter((d) => d.destination.host === host)
        .reduce((sum, d) => sum + (d.weight ?? 0), 0);
    expect(Math.max(...versions.map((vs) => weightOf(vs, "wvs-canary")))).toBe(25);
    for (const vs of versions) expect(weightOf(vs, "legacy")).toBe(10);
    expect(weightOf(versions.at(-1)!, "wvs-canary")).toBe(0);
  });
});
