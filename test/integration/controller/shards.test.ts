import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leaseName } from "../../../src/controller/controller.ts";
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

// Two shards of the real controller on one emulator, each with its own --shard-selector and Lease: every
// Rollout is reconciled by exactly one of them (the emulator's request log shows who wrote what), and a
// Rollout relabelled to the other shard changes hands without both acting on it.

const NS = "shop";
const SHARD_B = "stepwise.dev/shard=b";
const SHARD_A = "stepwise.dev/shard!=b"; // everything that is not b, unlabelled Rollouts included
let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
const shards: ChildProcess[] = [];
const metrics = new SyntheticIstioMetrics();

/** Who wrote a Rollout's status (user agents of the status PATCHes), from the emulator's request log. */
function statusWriters(name: string, since = 0): Set<string> {
  return new Set(
    cluster.api.requestLog
      .all({ resource: "rollouts", subresource: "status", name, method: "PATCH" })
      .filter((e) => Date.parse(e.time) >= since && e.status < 300)
      .map((e) => e.userAgent.split(" ")[0]!.split("/").slice(0, 2).join("/")),
  );
}

async function newRollout(name: string, shard?: string) {
  metrics.set(NS, name, 2_000, 0.001);
  metrics.set(NS, `${name}-primary`, 8_000, 0.001);
  await cluster.client.create(deployment(name, NS, `${name}:1`, 1));
  const rollout = canaryRollout(name, NS, [{ setWeight: 50 }]);
  if (shard) rollout.metadata.labels = { "stepwise.dev/shard": shard };
  await cluster.client.create(rollout);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  for (const selector of [SHARD_A, SHARD_B]) {
    const shard = spawnScrapingController(cluster, metricsServer.url, [
      "--shard-selector",
      selector,
      "--leader-elect",
      "--leader-elect-retry-period",
      "500ms",
    ]);
    shards.push(shard);
    await started(shard);
    shard.stderr?.resume();
  }
});

afterAll(async () => {
  for (const shard of shards) shard.kill("SIGTERM");
  await Promise.all(shards.map(exited));
  await metricsServer?.close();
  await cluster?.close();
});

describe("two shards", { timeout: 120_000 }, () => {
  it("each Rollout is reconciled by exactly one shard, each shard leading its own Lease", async () => {
    await Promise.all([
      newRollout("a1"),
      newRollout("a2", "a"),
      newRollout("b1", "b"),
      newRollout("b2", "b"),
    ]);
    for (const name of ["a1", "a2", "b1", "b2"]) {
      await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle", 60_000);
      await setImage(cluster.client, NS, name, `${name}:2`);
    }
    for (const name of ["a1", "a2", "b1", "b2"])
      await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Succeeded", "Succeeded", 60_000);
    const writers = Object.fromEntries(["a1", "a2", "b1", "b2"].map((n) => [n, [...statusWriters(n)]]));
    for (const list of Object.values(writers)) expect(list).toHaveLength(1);
    expect(writers.a1).toEqual(writers.a2);
    expect(writers.b1).toEqual(writers.b2);
    expect(writers.a1).not.toEqual(writers.b1);
    const leases = await cluster.client.list("coordination.k8s.io/v1", "Lease", NS);
    const names = leases.map((l) => l.metadata.name);
    expect(names).toEqual(expect.arrayContaining([leaseName(SHARD_A), leaseName(SHARD_B)]));
    expect(leaseName(SHARD_A)).not.toBe(leaseName(SHARD_B));
  });

  it("a Rollout relabelled to the other shard is from then on reconciled by that shard alone", async () => {
    const [before] = statusWriters("a1");
    const [other] = statusWriters("b1");
    const ref = { ...ROLLOUT_TYPE, namespace: NS, name: "a1" };
    await cluster.client.mergePatch(ref, { metadata: { labels: { "stepwise.dev/shard": "b" } } });
    const movedAt = Date.now();
    const old = (await cluster.client.get(ref)).status as { revision?: string };
    await setImage(cluster.client, NS, "a1", "a1:3");
    await waitForStatus(
      cluster.client,
      NS,
      "a1",
      (s) => s.phase === "Succeeded" && s.revision !== old.revision,
      "the new revision promoted",
      60_000,
    );
    const after = [...statusWriters("a1", movedAt)];
    expect(after).toEqual([other]);
    expect(after).not.toContain(before);
  });
});
