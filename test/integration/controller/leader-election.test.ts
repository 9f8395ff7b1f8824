import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TIMING, type Lease } from "../../../src/kube/leader-election.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  type Status,
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
const NAMES = ["one", "two", "three"];
const STEPS = [
  { setWeight: 10 },
  { pause: { duration: "3s" } },
  { setWeight: 40 },
  { pause: { duration: "3s" } },
];
const WRITE_VERBS = new Set(["create", "update", "patch", "delete"]);
const LEASE = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  namespace: NS,
  name: "stepwise-controller",
};

let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
const metrics = new SyntheticIstioMetrics();
const children: ChildProcess[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  for (const name of NAMES) {
    metrics.set(NS, name, 2_000, 0.001);
    metrics.set(NS, `${name}-primary`, 8_000, 0.001);
    await cluster.client.create(deployment(name, NS, "app:1"));
    await cluster.client.create(canaryRollout(name, NS, STEPS));
  }
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(children.map(exited));
  await metricsServer?.close();
  await cluster?.close();
});

/** The controller identity behind a request's User-Agent (`stepwise-controller/<identity>`). */
const identityOf = (userAgent: string) => userAgent.split("/")[1] ?? "";

describe("leader election", () => {
  it("lets only the leader write, and hands over to the other replica when the leader dies", {
    timeout: 300_000,
  }, async () => {
    for (let i = 0; i < 2; i++)
      children.push(spawnScrapingController(cluster, metricsServer.url, ["--leader-elect"]));
    await Promise.all(children.map(started));
    for (const child of children) child.stderr?.resume();
    for (const name of NAMES)
      await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle", 120_000);

    // first round: both replicas run, one leads
    for (const name of NAMES) await setImage(cluster.client, NS, name, "app:2");
    for (const name of NAMES)
      await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Succeeded", "Succeeded", 120_000);
    const writes = () =>
      cluster.api.requestLog
        .all()
        .filter(
          (e) =>
            e.userAgent.startsWith("stepwise-controller/") &&
            WRITE_VERBS.has(e.verb) &&
            e.resource !== "leases",
        );
    const writers = new Set(writes().map((e) => identityOf(e.userAgent)));
    expect(writers.size).toBe(1);
    const leader = [...writers][0]!;
    const lease = await cluster.client.get<Lease>(LEASE);
    expect(lease.spec.holderIdentity).toBe(leader);

    // the leader dies without a word; the other replica takes the lease once it expires and carries on
    const leaderChild = children.find((c) => leader.endsWith(`-${c.pid}`))!;
    const lastRenewSeen = Date.parse(lease.spec.renewTime!);
    const killedAt = Date.now();
    leaderChild.kill("SIGKILL");
    await exited(leaderChild);
    cluster.api.requestLog.clear();
    const before = new Map<string, string | undefined>();
    for (const name of NAMES) {
      before.set(name, (await statusOf(cluster.client, NS, name)).stableRevision);
      await setImage(cluster.client, NS, name, "app:3");
    }
    for (const name of NAMES) {
      const promoted = (s: Status) => s.phase === "Succeeded" && s.stableRevision !== before.get(name);
      await waitForStatus(cluster.client, NS, name, promoted, "Succeeded after the takeover", 120_000);
    }
    const after = await cluster.client.get<Lease>(LEASE);
    expect(after.spec.holderIdentity).not.toBe(leader);
    expect(after.spec.leaseTransitions).toBe((lease.spec.leaseTransitions ?? 0) + 1);
    // acquired no sooner than a lease duration after the dead leader's last renew, and within 15 s of
    // the kill (the defaults' worst case is 2 retry periods + the lease: see DEFAULT_TIMING)
    const acquired = Date.parse(after.spec.acquireTime!);
    expect(acquired - lastRenewSeen).toBeGreaterThanOrEqual(DEFAULT_TIMING.leaseDurationMs);
    expect(acquired - killedAt).toBeLessThanOrEqual(15_000);
    expect(new Set(writes().map((e) => identityOf(e.userAgent)))).toEqual(
      new Set([after.spec.holderIdentity]),
    );
  });
});
