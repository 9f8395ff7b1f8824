/**
 * Every example under manifests/examples/ promotes a release end to end (issue #10): rendered with the real
 * `kubectl kustomize`, applied with the real `kubectl apply` to a fresh API emulator, served by the
 * simulated mesh data plane (the Rollout's traffic provider and metric dialect) with a backend per version,
 * judged by the controller in process on the mesh's own metrics (built-in scraper), released by changing
 * the Deployment's image. The test asserts the outcome: phase Succeeded, the new revision is the stable one
 * and runs as the primary, the route sends all traffic to the primary again with no match, mirror or fault
 * left, and the new version did serve traffic on the way.
 *
 * The one transformation, the same for every example (test/support/examples.ts, speedUp/speedUpProfile):
 * - the Rollout's analysis.interval is 2s (set where the example leaves the 15s default);
 * - every duration the rollout waits out (pause, chaos, abTest.duration, scaleDownDelay) is capped at 90s;
 * - every deadline (an analysis step's duration, blueGreen.analysisDuration) is capped at 2m;
 * - every SLO profile's warm-up (the built-in ones and the example's own) is capped at 5s;
 * - every SLO profile's baseline floor is at least half its tolerance (the built-in one, a tenth, would
 *   make a 2.5% step wait for over an hour at this traffic; the gate's statistics are tested elsewhere).
 * Tolerances, sample sizes, steps, weights and everything else are as written. With them a profile with a
 * 1% tolerance needs about 1,100 clean canary requests before it passes a gate, whatever the durations:
 * at 200 requests a second (RPS) linkerd-smi's 2.5% step alone takes about 4 minutes. So the examples that
 * need the most traffic (trafficCost) start first; the chaos step's 90s leave the canary's 20% (40 rps)
 * about twice the time it needs to pass during the fault, as the step requires.
 *
 * Backends: the stable (podinfo-primary) and the new version (the canary) are healthy; a chaos step's
 * dependency (chaos-gate's payments) is a healthy backend of its own, and then both versions call it through
 * the mesh as their own workload and fall back gracefully when it fails (flaky-dependency with fallback),
 * so the controller's sourceLabels-scoped fault on that dependency is really exercised. An A/B test gets
 * half of its requests with the header its first match asks for.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { describe, it } from "vitest";
import type { KubeObject } from "../../src/kube/client.ts";
import { ROLLOUT_TYPE, waitForStatus } from "../support/cluster.ts";
import {
  exampleDirs,
  faultedCalls,
  type RunningExample,
  renderExample,
  startExample,
  trafficCost,
} from "../support/examples.ts";

const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.7.1";
const TERMINAL = ["Succeeded", "RolledBack", "Failed"];

// Every part of every example shares this process: a stalled event loop is the first suspect of a slow gate.
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

/**
 * What a person would look at when an example does not promote: the status, traffic, the log's end and how
 * long this process's event loop stalled.
 */
async function diagnosis(example: RunningExample): Promise<string> {
  const { metadata } = example.rollout;
  const object: KubeObject = await example.client.get({
    ...ROLLOUT_TYPE,
    namespace: example.namespace,
    name: metadata.name,
  });
  const log = example
    .log()
    .filter((line) => !line.includes('"level":20'))
    .slice(-40)
    .join("\n");
  return [
    `status: ${JSON.stringify(object.status, null, 1)}`,
    `traffic at ${example.rps} rps: ${JSON.stringify(example.traffic.counts())}`,
    `mesh: ${JSON.stringify(Object.values(example.mesh.counters()).map((c) => [c.workload, c.requests, c.errors]))}`,
    `event loop delay since the file started: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    `controller log (end):\n${log}`,
  ].join("\n");
}

// The examples that need the most traffic first, so the others run beside them rather than after them.
const examples = (await Promise.all(exampleDirs().map(renderExample))).sort(
  (a, b) => trafficCost(b.rollout) - trafficCost(a.rollout) || a.dir.localeCompare(b.dir),
);

describe.concurrent("every example promotes a release end to end", () => {
  it.for(examples.map((rendered) => [rendered.dir, rendered] as const))(
    "%s",
    { timeout: 480_000 },
    async ([, rendered], { expect }) => {
      const example = await startExample(rendered, { newImage: NEW_IMAGE });
      try {
        const { client, namespace, rollout, mesh, traffic, versions } = example;
        const name = rollout.metadata.name;
        const target = rollout.spec.targetRef.name;

        // the stable version first, as the cluster has it once the example is applied
        const idle = await waitForStatus(
          client,
          namespace,
          name,
          (s) => s.phase === "Idle" && s.stableRevision !== undefined,
          "Idle with a stable revision",
          90_000,
        );
        const revision = await example.release();
        expect(revision).not.toBe(idle.stableRevision);

        const final = await waitForStatus(
          client,
          namespace,
          name,
          (s) => s.revision === revision && (TERMINAL.includes(s.phase ?? "") || s.phase === "Paused"),
          "a terminal phase (or a pause) for the new revision",
          420_000,
        ).catch(async (error: Error) => {
          throw new Error(`${error.message}\n${await diagnosis(example)}`);
        });
        const seen = traffic.counts();
        const why = final.phase === "Succeeded" ? "" : await diagnosis(example);
        expect(final.phase, why).toBe("Succeeded");

        // the new revision is the stable one, and the primary runs it
        expect(final.stableRevision).toBe(revision);
        const primary = await client.get({
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace,
          name: `${target}-primary`,
        });
        expect(primary.metadata.annotations?.["stepwise.dev/revision"]).toBe(revision);
        const containers = (primary.spec as { template: { spec: { containers: { image: string }[] } } })
          .template.spec.containers;
        expect(containers[0]?.image).toBe(NEW_IMAGE);

        // the route sends everything to the primary again, with nothing of the release left on it
        const route = await example.route();
        expect(route).toMatchObject({
          canaryWeight: 0,
          stableWeight: 100,
          faultWeight: 0,
          match: null,
          mirror: null,
          fault: null,
        });
        for (const service of example.otherServices)
          expect(
            mesh.table(service).rules.filter((rule) => rule.fault),
            `faults left on ${service}`,
          ).toEqual([]);

        // the data plane served the new version to clients on the way
        expect(mesh.counters()[target]?.requests ?? 0).toBeGreaterThan(0);
        expect(seen.byVersion[versions.canary] ?? 0, JSON.stringify(seen)).toBeGreaterThan(0);
        // a dependency fault hit the calls of both versions' pods (its sourceLabels), and is gone now
        for (const step of rollout.spec.strategy.canary?.steps ?? []) {
          if (step.chaos?.target !== "dependency") continue;
          const calls = await faultedCalls(mesh, step.chaos.host!);
          expect(calls[target] ?? 0, JSON.stringify(calls)).toBeGreaterThan(0);
          expect(calls[`${target}-primary`] ?? 0, JSON.stringify(calls)).toBeGreaterThan(0);
        }
        if (rollout.spec.strategy.abTest)
          expect(seen.tagged.byVersion[versions.canary] ?? 0, JSON.stringify(seen.tagged)).toBeGreaterThan(0);
      } finally {
        await example.stop();
      }
    },
  );
});
