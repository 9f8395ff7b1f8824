/**
 * The controller is killed (SIGKILL) during chaos steps and started again only after the faults expired
 * (issue #9). Whatever the status says, the restarted controller removes them as it starts (its first
 * resync), and each rollout goes on as the engine decides: the healthy ones pass the gate and wait at the
 * next one, the one that went bad meanwhile is rolled back, the one whose Deployment was deleted waits for it.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
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
  statusOf,
  type TestCluster,
  waitForStatus,
} from "../../support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../../support/synthetic-metrics.ts";

const NS = "shop";
const ISTIO = "networking.istio.io/v1";
const fault = { abort: { httpStatus: 503, percent: 30 } };
const chaosSteps = (chaos: Record<string, unknown>) => [
  { setWeight: 20 },
  { chaos: { fault, duration: "4s", ...chaos } },
  { pause: {} },
];
/**
 * name -> its chaos step's target. While the controller is down, `lost` has its status forget the fault,
 * `regressed` turns bad and `orphaned` loses its target Deployment.
 */
const ROLLOUTS = {
  dependency: { target: "dependency", host: "payments" },
  route: { target: "route" },
  lost: { target: "dependency", host: "ledger" },
  regressed: { target: "route" },
  orphaned: { target: "route" },
} as const;
type Name = keyof typeof ROLLOUTS;

let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
const metrics = new SyntheticIstioMetrics();
let child: ChildProcess | undefined;

function startController(): Promise<void> {
  child = spawnScrapingController(cluster, metricsServer.url);
  child.stderr?.resume();
  return started(child);
}

/** Where each rollout's fault lives now: its fault route in its VirtualService, or a fault VirtualService. */
async function faultsInCluster(): Promise<string[]> {
  const found: string[] = [];
  for (const vs of await cluster.client.list(ISTIO, "VirtualService", NS)) {
    if (vs.metadata.labels?.["stepwise.dev/purpose"] === "fault") {
      found.push(`created ${vs.metadata.name}`);
      continue;
    }
    const http = (vs.spec as { http?: { name?: string; fault?: unknown }[] }).http ?? [];
    for (const route of http) if (route.fault) found.push(`route ${vs.metadata.name}/${route.name}`);
  }
  return found.sort();
}

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  let value = await probe();
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  for (const [name, chaos] of Object.entries(ROLLOUTS)) {
    // clean traffic: the chaos step's 4 s are enough for a Pass (a 0.1% canary next to a 0.1% baseline
    // needs far longer to be shown within 2x of it)
    metrics.set(NS, name, 2_000, 0);
    metrics.set(NS, `${name}-primary`, 8_000, 0);
    await cluster.client.create(deployment(name, NS, "app:1"));
    await cluster.client.create(canaryRollout(name, NS, chaosSteps(chaos), { progressDeadlineSeconds: 120 }));
  }
});

afterAll(async () => {
  child?.kill("SIGTERM");
  if (child) await exited(child);
  await metricsServer?.close();
  await cluster?.close();
});

describe("a controller crash during chaos steps", () => {
  it("leaves faults that a restart removes at once after their expiry; the rollouts go on as decided", {
    timeout: 300_000,
  }, async () => {
    await startController();
    const names = Object.keys(ROLLOUTS) as Name[];
    for (const name of names)
      await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle");
    for (const name of names) await setImage(cluster.client, NS, name, "app:2");
    const expiries: number[] = [];
    for (const name of names) {
      const during = await waitForStatus(
        cluster.client,
        NS,
        name,
        (s) => s.fault !== undefined,
        "the chaos step",
      );
      expiries.push(Date.parse(during.fault!.expiresAt));
    }
    child!.kill("SIGKILL");
    await exited(child!);

    // While the controller is down nothing removes the faults.
    expect(await faultsInCluster()).toEqual([
      "created dependency-fault-payments",
      "created lost-fault-ledger",
      "route orphaned/primary",
      "route regressed/primary",
      "route route/primary",
    ]);
    // `lost`'s status write of the fault never happened, as if the crash came between the two writes.
    await cluster.client.mergePatchStatus(
      { ...ROLLOUT_TYPE, namespace: NS, name: "lost" },
      {
        status: { fault: null },
      },
    );
    // `regressed` turns bad while nobody watches, and `orphaned`'s Deployment is deleted.
    metrics.set(NS, "regressed", 2_000, 0.4);
    await cluster.client.delete({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: NS,
      name: "orphaned",
    });
    expect((await statusOf(cluster.client, NS, "lost")).fault).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, Math.max(...expiries) - Date.now() + 500));
    expect((await faultsInCluster()).length).toBe(5);

    await startController();
    // The default resync is 60 s; the faults go well within it, with the sweep as the controller starts.
    expect(await waitFor(faultsInCluster, (found) => found.length === 0, "faults after the restart")).toEqual(
      [],
    );

    for (const name of ["dependency", "route", "lost"] as const) {
      const status = await waitForStatus(
        cluster.client,
        NS,
        name,
        (s) => s.phase === "Paused",
        "the gate after the chaos step",
      );
      expect(status).toMatchObject({ step: 2, pauseReason: "manual gate", weights: { desired: 20 } });
      expect(status.fault).toBeUndefined();
    }
    const regressed = await waitForStatus(
      cluster.client,
      NS,
      "regressed",
      (s) => s.phase === "RolledBack",
      "the rollback",
    );
    expect(regressed.weights).toMatchObject({ desired: 0, applied: 0 });
    await waitForStatus(
      cluster.client,
      NS,
      "orphaned",
      (s) => s.message === "waiting for Deployment orphaned",
      "waiting for its Deployment",
    );
    const routes: KubeObject[] = await cluster.client.list(ISTIO, "VirtualService", NS);
    expect(routes.map((vs) => vs.metadata.name).sort()).toEqual([...names].sort());
  });
});
