import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestLogEntry } from "../../../src/sandbox/kube-api/request-log.ts";
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

// The API server loses its data while the controller runs (the emulator's wipe: resourceVersions restart
// lower than the controller has seen, watches are cut) and the objects are applied again, with new uids.
// The controller must drop what it cached about objects that are gone and reconcile the new Rollout
// within one resync (60 s).

const NS = "shop";
const STEPS = [{ setWeight: 20 }, { pause: { duration: "5m" } }];
const WRITE_VERBS = new Set(["create", "update", "patch", "delete"]);
const RESYNC_MS = 60_000;

let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
const metrics = new SyntheticIstioMetrics();
let controller: ChildProcess;
let log = "";
/** Where the controller serves /metrics (it logs the address it got at start). */
let metricsUrl = "";

const controllerWrites = () =>
  cluster.api.requestLog
    .all()
    .filter((e) => e.userAgent.startsWith("stepwise-controller/") && WRITE_VERBS.has(e.verb));
const about = (name: string) => (e: { name?: string }) =>
  e.name === name || (e.name?.startsWith(`${name}-`) ?? false) || (e.name?.startsWith(`${name}.`) ?? false);

/** The controller's per-rollout phase series (stepwise_rollout_phase) from its /metrics. */
async function rolloutSeries(): Promise<string> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("stepwise_rollout_phase{"))
    .join("\n");
}

async function apply(...names: string[]): Promise<void> {
  await cluster.client.create(fastProfile("fast-availability", NS));
  for (const name of names) {
    metrics.set(NS, name, 2_000, 0.001);
    metrics.set(NS, `${name}-primary`, 8_000, 0.001);
    await cluster.client.create(deployment(name, NS, "app:1"));
    await cluster.client.create(canaryRollout(name, NS, STEPS, { progressDeadlineSeconds: 600 }));
  }
}

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
  metricsServer = await serveMetrics(metrics);
  await apply("web", "old");
  controller = spawnScrapingController(cluster, metricsServer.url);
  controller.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  });
  await started(controller);
  metricsUrl = /"metrics":"([^"]+)"/.exec(log)?.[1] ?? "";
  if (!metricsUrl) throw new Error(`the controller did not log its metrics address:\n${log}`);
});

afterAll(async () => {
  controller?.kill("SIGTERM");
  if (controller) await exited(controller);
  await metricsServer?.close();
  await cluster?.close();
});

describe("recovery from a relist", () => {
  it("reconciles the re-created Rollout and forgets the lost one after the API server lost its data", {
    timeout: 180_000,
  }, async () => {
    for (const name of ["web", "old"]) {
      await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle", 60_000);
      await setImage(cluster.client, NS, name, "app:2");
    }
    for (const name of ["web", "old"])
      await waitForStatus(cluster.client, NS, name, (s) => s.weights?.desired === 20, "20%", 60_000);
    const before = await cluster.client.get({ ...ROLLOUT_TYPE, namespace: NS, name: "web" });
    const rvBefore = Number(cluster.api.resourceVersion());
    // what the controller keeps per rollout shows in its /metrics
    expect(await rolloutSeries()).toContain('rollout="old"');

    cluster.api.wipe();
    cluster.api.requestLog.clear();
    expect(Number(cluster.api.resourceVersion())).toBeLessThan(rvBefore);
    // the same Rollout applied again (a new object, new uid); "old" is not
    await cluster.client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await apply("web");
    const recreated = await cluster.client.get({ ...ROLLOUT_TYPE, namespace: NS, name: "web" });
    expect(recreated.metadata.uid).not.toBe(before.metadata.uid);

    // a new object: a fresh start at the Deployment's current image, nothing carried over
    await waitForStatus(
      cluster.client,
      NS,
      "web",
      (s) => s.phase === "Idle",
      "Idle on the re-created Rollout",
      RESYNC_MS,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\ncontroller log:\n${log.slice(-4_000)}`);
    });
    // Once it has relisted, the lost rollout is forgotten: its series are gone, and none of its timers
    // reaches the API any more (writes between the wipe and the relist cannot be helped: the
    // controller does not know yet).
    const deadline = Date.now() + RESYNC_MS;
    while ((await rolloutSeries()).includes('rollout="old"') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rolloutSeries()).not.toContain('rollout="old"');
    expect(await rolloutSeries()).toContain('rollout="web"');
    cluster.api.requestLog.clear();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const text = (e: RequestLogEntry) => `${e.status} ${e.verb} ${e.resource}/${e.name}`;
    expect(controllerWrites().filter(about("old")).map(text)).toEqual([]);
    expect(
      controllerWrites()
        .filter((e) => e.status >= 400)
        .map(text),
    ).toEqual([]);
  });
});
