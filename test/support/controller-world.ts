/**
 * What the CLI and TUI end-to-end tests run against: the API emulator, synthetic Istio metrics, and the
 * controller as its own process reading them with its scraper. Each rollout asked for gets a Deployment,
 * metrics (its error rate for the canary, a clean baseline) and a canary Rollout judged by the fast test
 * profile; startControllerWorld returns once all of them are Idle.
 */
import type { ChildProcess } from "node:child_process";
import type { KubeObject } from "../../src/kube/client.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  type Status,
  spawnScrapingController,
  started,
  startTestCluster,
  type TestCluster,
  waitForStatus,
} from "./cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "./synthetic-metrics.ts";

export const TEST_PROFILE = "fast-availability";

export interface ControllerWorld {
  cluster: TestCluster;
  metrics: SyntheticIstioMetrics;
  /** How the controller is doing, for failure messages: running or how it exited, and its last log lines. */
  state(): string;
  /** Polls the rollout's status until `done` (2 minutes at most); a failure says how the controller is doing. */
  waitUntil(name: string, done: (status: Status) => boolean, what: string): Promise<Status>;
  /** Stops the controller (SIGTERM, SIGKILL after 20 s), the metrics server and the emulator. */
  close(): Promise<void>;
}

export async function startControllerWorld(
  namespace: string,
  rollouts: Record<
    string,
    {
      steps: unknown[];
      errorRate: number;
      /** More Rollout spec fields (spec.traffic, say). */
      spec?: Record<string, unknown>;
      /** The user's objects that exist before the Rollout (a Service, an autoscaler). */
      objects?: KubeObject[];
    }
  >,
): Promise<ControllerWorld> {
  const cluster = await startTestCluster({}, namespace);
  const metrics = new SyntheticIstioMetrics();
  const metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile(TEST_PROFILE, namespace));
  const controller: ChildProcess = spawnScrapingController(cluster, metricsServer.url);
  let log = "";
  controller.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  });
  const running = () => controller.exitCode === null && controller.signalCode === null;
  const state = () =>
    `controller ${running() ? "running" : `exited with ${controller.exitCode ?? controller.signalCode}`}; its log ends:\n${log.slice(-4_000)}`;
  const waitUntil = async (name: string, done: (status: Status) => boolean, what: string) => {
    try {
      return await waitForStatus(cluster.client, namespace, name, done, what, 120_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${state()}`);
    }
  };
  const close = async () => {
    if (running()) {
      controller.kill("SIGTERM");
      const stopped = await Promise.race([
        exited(controller).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000)),
      ]);
      if (!stopped) {
        console.warn(`the controller did not stop within 20 s of SIGTERM; killing it\n${state()}`);
        controller.kill("SIGKILL");
        await exited(controller);
      }
    }
    await metricsServer.close();
    await cluster.close();
  };

  try {
    await started(controller);
    if (!running()) throw new Error(`the controller exited early:\n${log}`);
    for (const [name, { steps, errorRate, spec, objects }] of Object.entries(rollouts)) {
      metrics.set(namespace, name, 2_000, errorRate);
      metrics.set(namespace, `${name}-primary`, 8_000, 0.001);
      for (const object of objects ?? []) await cluster.client.create(object);
      await cluster.client.create(deployment(name, namespace, "registry/app:1"));
      await cluster.client.create(
        canaryRollout(name, namespace, steps, { progressDeadlineSeconds: 300, ...spec }),
      );
    }
    for (const name of Object.keys(rollouts)) await waitUntil(name, (s) => s.phase === "Idle", "Idle");
  } catch (error) {
    await close();
    throw error;
  }
  return { cluster, metrics, state, waitUntil, close };
}
