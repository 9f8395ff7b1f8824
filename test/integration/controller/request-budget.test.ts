import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendCommand } from "../../../src/client/actions.ts";
import type { RequestLogEntry } from "../../../src/sandbox/kube-api/index.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  setImage,
  spawnScrapingController,
  started,
  startTestCluster,
  type TestCluster,
  waitForStatus,
} from "../../support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../../support/synthetic-metrics.ts";

// What one weight step costs the API server, from the emulator's request log, with the real controller
// process: one route write, one status write, and no GET (the route and API discovery come from its
// caches). Also after a restart: once the new process has listed, a step is served from its cache.

const NS = "shop";
const NAME = "web";
let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
let controller: ChildProcess | undefined;
const metrics = new SyntheticIstioMetrics();

const fromController = (entry: RequestLogEntry) => entry.userAgent.startsWith("stepwise-controller");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startController(): Promise<ChildProcess> {
  const child = spawnScrapingController(cluster, metricsServer.url);
  await started(child);
  child.stderr?.resume();
  return child;
}

/** The controller's requests from `since` on, by what they are. */
function requestsSince(since: number) {
  const entries = cluster.api.requestLog
    .all()
    .filter((entry) => fromController(entry) && Date.parse(entry.time) >= since);
  return {
    routeWrites: entries.filter((e) => e.resource === "virtualservices" && e.method !== "GET"),
    statusWrites: entries.filter((e) => e.resource === "rollouts" && e.subresource === "status"),
    // a read of one object or of discovery; lists and watches are the informers'
    gets: entries.filter((e) => e.method === "GET" && e.verb !== "list" && e.verb !== "watch"),
  };
}

/** Resumes the rollout paused at `step`; returns the requests from the command until the next pause. */
async function resumeThroughWeightStep(step: number, weight: number) {
  await waitForStatus(cluster.client, NS, NAME, (s) => s.phase === "Paused" && s.step === step, "paused");
  await sleep(500); // whatever the last tick still sends is before the window
  const since = Date.now();
  await sendCommand(cluster.client, { namespace: NS, name: NAME }, { type: "resume" });
  await waitForStatus(
    cluster.client,
    NS,
    NAME,
    (s) => s.phase === "Paused" && s.step === step + 2 && s.weights?.applied === weight,
    `paused after ${weight}%`,
  );
  await sleep(1_000); // a second status write, if the controller made one, would come in this time
  return requestsSince(since);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  metricsServer = await serveMetrics(metrics);
  metrics.set(NS, NAME, 2_000, 0.001);
  metrics.set(NS, `${NAME}-primary`, 8_000, 0.001);
  await cluster.client.create(fastProfile("fast-availability", NS));
  await cluster.client.create(deployment(NAME, NS, `${NAME}:1`, 1));
  // a long look interval: no analysis look writes the status while the test counts
  const steps = [
    { setWeight: 10 },
    { pause: {} },
    { setWeight: 30 },
    { pause: {} },
    { setWeight: 50 },
    { pause: {} },
  ];
  await cluster.client.create(
    canaryRollout(NAME, NS, steps, {
      analysis: { interval: "60s", profiles: [{ name: "fast-availability" }] },
    }),
  );
  controller = await startController();
  await waitForStatus(cluster.client, NS, NAME, (s) => s.phase === "Idle", "Idle");
  await setImage(cluster.client, NS, NAME, `${NAME}:2`);
});

afterAll(async () => {
  controller?.kill("SIGTERM");
  if (controller) await exited(controller);
  await metricsServer?.close();
  await cluster?.close();
});

describe("the API requests of a weight step", { timeout: 120_000 }, () => {
  it("are one route write and one status write, and no GET", async () => {
    const { routeWrites, statusWrites, gets } = await resumeThroughWeightStep(1, 30);
    expect(routeWrites.map((e) => `${e.method} ${e.name}`)).toEqual([`PATCH ${NAME}`]);
    expect(statusWrites).toHaveLength(1);
    expect(gets.map((e) => e.path)).toEqual([]);
  });

  it("are the same after a restart, once the new process has listed", async () => {
    controller?.kill("SIGTERM");
    await exited(controller!);
    const restartedAt = Date.now();
    controller = await startController();
    // the new process reconciles the rollout at start, and lists the route's kind on its first read
    const listed = () =>
      cluster.api.requestLog
        .all({ resource: "virtualservices", verb: "list" })
        .some((e) => fromController(e) && Date.parse(e.time) >= restartedAt);
    for (let waited = 0; !listed() && waited < 30_000; waited += 100) await sleep(100);
    expect(listed()).toBe(true);
    const { routeWrites, statusWrites, gets } = await resumeThroughWeightStep(3, 50);
    expect(routeWrites.map((e) => `${e.method} ${e.name}`)).toEqual([`PATCH ${NAME}`]);
    expect(statusWrites).toHaveLength(1);
    expect(gets.map((e) => e.path)).toEqual([]);
  });
});
