import type { ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TIMING, type Lease } from "../../../src/kube/leader-election.ts";
import type { RequestLogEntry } from "../../../src/sandbox/kube-api/request-log.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  setImage,
  spawnController,
  started,
  startTestCluster,
  type TestCluster,
  waitForStatus,
} from "../../support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../../support/synthetic-metrics.ts";

// Two real controller processes elect a leader over the emulator's HTTP API. A standby with a wrong wall
// clock must not take the lease from a live leader; a leader frozen (SIGSTOP) past its lease must not
// write once the other replica has taken over, even after it runs again (SIGCONT).

const NS = "shop";
const NAME = "web";
const LEASE = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  namespace: NS,
  name: "stepwise-controller",
};
const WRITE_VERBS = new Set(["create", "update", "patch", "delete"]);

let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
const metrics = new SyntheticIstioMetrics();
let children: ChildProcess[] = [];

interface Replica {
  child: ChildProcess;
  identity: () => string;
  log: () => string;
}

/** `rollout controller --leader-elect`; `env` reaches only this process. */
async function replica(env: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const child = spawnController(
    [
      "--kubeconfig",
      cluster.kubeconfig,
      "-n",
      NS,
      "--scrape",
      metricsServer.url,
      "--metrics-addr",
      "127.0.0.1:0",
      "--leader-elect",
    ],
    env,
  );
  children.push(child);
  let text = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  await started(child);
  return { child, identity: () => `-${child.pid}`, log: () => text };
}

/** The Lease's spec; empty before any replica created it. */
const holder = async (): Promise<Lease["spec"]> =>
  (await cluster.client.get<Lease>(LEASE).catch(() => undefined))?.spec ?? {};
const byReplica = (entry: RequestLogEntry, r: Replica) =>
  entry.userAgent.startsWith("stepwise-controller/") && entry.userAgent.endsWith(r.identity());
const isWrite = (entry: RequestLogEntry) => WRITE_VERBS.has(entry.verb) && entry.resource !== "leases";

async function until(what: string, done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  metrics.set(NS, NAME, 2_000, 0.001);
  metrics.set(NS, `${NAME}-primary`, 8_000, 0.001);
  await cluster.client.create(deployment(NAME, NS, "app:1"));
  // many short steps: the leader writes (route, status, Events) every couple of seconds for a minute
  const steps = Array.from({ length: 19 }, (_, i) => [
    { setWeight: 5 * (i + 1) },
    { pause: { duration: "2s" } },
  ]).flat();
  await cluster.client.create(canaryRollout(NAME, NS, steps, { progressDeadlineSeconds: 600 }));
});

afterEach(async () => {
  for (const child of children) {
    child.kill("SIGCONT");
    child.kill("SIGTERM");
  }
  await Promise.all(children.map(exited));
  children = [];
});

afterAll(async () => {
  await metricsServer?.close();
  await cluster?.close();
});

describe("fenced leadership", () => {
  it("a standby whose wall clock runs 30 s ahead does not take the lease from a live leader", {
    timeout: 120_000,
  }, async () => {
    const leader = await replica();
    await until(
      "the first replica leads",
      async () => (await holder()).holderIdentity?.endsWith(leader.identity()) ?? false,
      30_000,
    );
    const transitions = (await holder()).leaseTransitions;
    cluster.api.requestLog.clear();
    const skewed = await replica({ STEPWISE_TEST_WALL_CLOCK_OFFSET_MS: "30000" });
    // two whole lease durations and more: any takeover would have happened by now
    await sleep(2 * DEFAULT_TIMING.leaseDurationMs + 2 * DEFAULT_TIMING.retryPeriodMs);
    const lease = await holder();
    expect(lease.holderIdentity?.endsWith(leader.identity())).toBe(true);
    expect(lease.leaseTransitions).toBe(transitions);
    const log = cluster.api.requestLog.all();
    // the standby did read the Lease all along (it was campaigning), and never wrote anything
    expect(
      log.filter((e) => byReplica(e, skewed) && e.resource === "leases" && e.verb === "get").length,
    ).toBeGreaterThan(5);
    expect(log.filter((e) => byReplica(e, skewed) && WRITE_VERBS.has(e.verb))).toEqual([]);
    expect(skewed.log()).not.toContain("became the leader");
  });

  it("a leader frozen past its lease makes no write after the new leader's first write", {
    timeout: 180_000,
  }, async () => {
    const first = await replica();
    await until(
      "the first replica leads",
      async () => (await holder()).holderIdentity?.endsWith(first.identity()) ?? false,
      30_000,
    );
    const second = await replica();
    await waitForStatus(cluster.client, NS, NAME, (s) => s.phase === "Idle", "Idle", 60_000);
    await setImage(cluster.client, NS, NAME, "app:2");
    await waitForStatus(
      cluster.client,
      NS,
      NAME,
      (s) => (s.weights?.desired ?? 0) >= 5,
      "the first step",
      60_000,
    );

    cluster.api.requestLog.clear();
    // the leader is writing
    await until(
      "the leader writes",
      async () => cluster.api.requestLog.all().some((e) => byReplica(e, first) && isWrite(e)),
      30_000,
    );
    first.child.kill("SIGSTOP");
    const frozenAt = Date.now();
    await until(
      "the second replica takes the lease",
      async () => (await holder()).holderIdentity?.endsWith(second.identity()) ?? false,
      30_000,
    );
    const firstWriteOfSecond = () =>
      cluster.api.requestLog.all().findIndex((e) => byReplica(e, second) && isWrite(e));
    await until("the new leader writes", async () => firstWriteOfSecond() >= 0, 30_000);
    // frozen longer than a lease, then running again: its timers and queued reconciles all fire now
    await sleep(Math.max(0, frozenAt + DEFAULT_TIMING.leaseDurationMs + 2_000 - Date.now()));
    first.child.kill("SIGCONT");
    await until("the old leader notices", async () => first.log().includes("lost the leadership"), 30_000);
    await sleep(3 * DEFAULT_TIMING.retryPeriodMs);

    const log = cluster.api.requestLog.all();
    const cut = firstWriteOfSecond();
    const late = log.slice(cut).filter((e) => byReplica(e, first) && isWrite(e));
    expect(
      late.map((e) => `${e.verb} ${e.resource}/${e.name}${e.subresource ? `/${e.subresource}` : ""}`),
    ).toEqual([]);
    // the old leader is alive and reading again (so "no writes" is not just "no requests")
    expect(log.slice(cut).filter((e) => byReplica(e, first)).length).toBeGreaterThan(0);
    // and the new leader carries on with the rollout
    expect(log.slice(cut).filter((e) => byReplica(e, second) && isWrite(e)).length).toBeGreaterThan(0);
  });
});

describe("lease flags", () => {
  it.each([
    [["--leader-elect-lease-duration", "soon"], "--leader-elect-lease-duration soon: expected a duration"],
    [
      ["--leader-elect-renew-deadline", "10s"],
      "--leader-elect-renew-deadline 10s: must be shorter than --leader-elect-lease-duration (10s)",
    ],
    [
      ["--leader-elect-retry-period", "7s"],
      "--leader-elect-retry-period 7s: must be shorter than --leader-elect-renew-deadline (7s)",
    ],
  ])("%j exits 2 naming the flag", { timeout: 30_000 }, async (args, message) => {
    const child = spawnController([
      "--kubeconfig",
      cluster.kubeconfig,
      "--scrape",
      metricsServer.url,
      "--leader-elect",
      ...args,
    ]);
    let text = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    await exited(child);
    expect(child.exitCode).toBe(2);
    expect(text).toContain(message);
  });
});
