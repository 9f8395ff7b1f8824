import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendCommand } from "../../../cli/actions.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { Informer } from "../../../src/kube/informer.ts";
import { apiSource } from "../../../src/kube/watch-source.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  setImage,
  spawnScrapingController,
  started,
  startTestCluster,
  statusOf,
  type TestCluster,
  waitForStatus,
} from "../../support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../../support/synthetic-metrics.ts";

// Rollouts run while the controller process is killed with SIGKILL at random moments and started again.
// Whatever the moment, every rollout must end as it would have without the kills, weights must never go
// above the plan, and a command must take effect exactly once.

const NS = "shop";
const STEPS = [
  { setWeight: 10 },
  { pause: { duration: "1s" } },
  { setWeight: 30 },
  { analysis: {} },
  { setWeight: 50 },
];
const GATED_STEPS = [{ setWeight: 10 }, { pause: {} }, { setWeight: 20 }, { pause: {} }, { setWeight: 30 }];
const MAX_WEIGHT = 50;
const HEALTHY = ["healthy-a", "healthy-b"];
const FAILING = ["failing-a", "failing-b"];

let cluster: TestCluster;
let metricsServer: { url: string; close(): Promise<void> };
const metrics = new SyntheticIstioMetrics();
const observedWeights = new Map<string, number[]>();
let routes: Informer<KubeObject>;

/** The canary weight a VirtualService shows for its rollout's route. */
function canaryWeight(vs: KubeObject): number {
  const http =
    (vs.spec as { http?: { route?: { destination: { host: string }; weight?: number }[] }[] }).http ?? [];
  let weight = 0;
  for (const route of http) {
    for (const destination of route.route ?? []) {
      if (destination.destination.host.endsWith("-canary"))
        weight = Math.max(weight, destination.weight ?? 0);
    }
  }
  return weight;
}

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
  metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  routes = new Informer(apiSource(cluster.client, "networking.istio.io/v1", "VirtualService", NS));
  routes.on((_type, vs) => {
    const seen = observedWeights.get(vs.metadata.name) ?? [];
    seen.push(canaryWeight(vs));
    observedWeights.set(vs.metadata.name, seen);
  });
  await routes.start();
  for (const name of [...HEALTHY, ...FAILING, "gated"]) {
    metrics.set(NS, name, 2_000, 0.001);
    metrics.set(NS, `${name}-primary`, 8_000, 0.001);
    await cluster.client.create(deployment(name, NS, "app:1"));
    await cluster.client.create(
      canaryRollout(name, NS, name === "gated" ? GATED_STEPS : STEPS, { progressDeadlineSeconds: 120 }),
    );
  }
});

afterAll(async () => {
  routes?.stop();
  await metricsServer?.close();
  await cluster?.close();
});

describe("controller restarts", () => {
  it("reaches the same end states through at least 30 SIGKILLs, within the plan, applying commands once", {
    timeout: 900_000,
  }, async () => {
    let child: ChildProcess | undefined;
    let kills = 0;
    let stopped = false;
    const start = () => {
      child = spawnScrapingController(cluster, metricsServer.url);
    };
    // The killer: once the controller runs, a random life of 0.2 to 2.5 s, then SIGKILL and a restart.
    const killer = (async () => {
      while (!stopped) {
        start();
        await started(child!);
        child!.stderr?.resume();
        await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 2_300));
        if (stopped) break;
        child!.kill("SIGKILL");
        await exited(child!);
        kills++;
      }
    })();

    try {
      // everyone bootstraps
      for (const name of [...HEALTHY, ...FAILING, "gated"]) {
        await waitForStatus(cluster.client, NS, name, (s) => s.phase === "Idle", "Idle", 120_000);
      }
      let round = 0;
      while (kills < 30 && round < 12) {
        round++;
        const before = new Map<string, string | undefined>();
        for (const name of [...HEALTHY, ...FAILING]) {
          before.set(name, (await statusOf(cluster.client, NS, name)).stableRevision);
          metrics.set(NS, name, 2_000, FAILING.includes(name) ? 0.3 : 0.001);
          await setImage(cluster.client, NS, name, `app:${round + 1}`);
        }
        for (const name of HEALTHY) {
          const status = await waitForStatus(
            cluster.client,
            NS,
            name,
            (s) =>
              s.phase === "Succeeded" &&
              s.revision === s.stableRevision &&
              s.stableRevision !== before.get(name),
            "Succeeded",
            120_000,
          );
          expect(status.weights?.applied).toBe(0);
        }
        for (const name of FAILING) {
          const status = await waitForStatus(
            cluster.client,
            NS,
            name,
            (s) => s.phase === "RolledBack",
            "RolledBack",
            120_000,
          );
          expect(status.stableRevision).toBe(before.get(name));
          expect(status.weights?.applied).toBe(0);
        }
      }

      // A command applied twice would skip the second manual gate.
      await setImage(cluster.client, NS, "gated", "app:gated-2");
      await waitForStatus(
        cluster.client,
        NS,
        "gated",
        (s) => s.phase === "Paused" && s.step === 1,
        "the first gate",
        120_000,
      );
      const first = await sendCommand(cluster.client, { namespace: NS, name: "gated" }, { type: "promote" });
      await waitForStatus(
        cluster.client,
        NS,
        "gated",
        (s) => s.lastCommand?.id === first,
        "the promote acknowledged",
        120_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 5_000)); // kills keep coming meanwhile
      const atSecondGate = await statusOf(cluster.client, NS, "gated");
      expect(atSecondGate).toMatchObject({ phase: "Paused", step: 3, pauseReason: "manual gate" });
      const second = await sendCommand(cluster.client, { namespace: NS, name: "gated" }, { type: "promote" });
      const done = await waitForStatus(
        cluster.client,
        NS,
        "gated",
        (s) => s.phase === "Succeeded" && s.lastCommand?.id === second,
        "Succeeded",
        120_000,
      );
      expect(done.revision).toBe(done.stableRevision);
    } finally {
      stopped = true;
      await killer;
      child?.kill("SIGTERM");
      if (child) await exited(child);
    }

    expect(kills).toBeGreaterThanOrEqual(30);
    for (const [name, weights] of observedWeights) {
      expect(Math.max(...weights), `${name} weights ${weights.join(",")}`).toBeLessThanOrEqual(
        name === "gated" ? 30 : MAX_WEIGHT,
      );
    }
  });
});
