import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { KubeClient, type KubeObject } from "../../src/kube/client.ts";
import { type KubeApi, type KubeApiOptions, startKubeApi } from "../../src/sandbox/kube-api/index.ts";

export const ROOT = join(import.meta.dirname, "../..");
export { ROLLOUT as ROLLOUT_TYPE } from "../../cli/actions.ts";

import { ROLLOUT as ROLLOUT_TYPE } from "../../cli/actions.ts";

/** An emulator with the project's CRDs applied, a namespace, a kubeconfig file and a client. */
export interface TestCluster {
  api: KubeApi;
  client: KubeClient;
  kubeconfig: string;
  namespace: string;
  close(): Promise<void>;
}

export async function startTestCluster(
  options: KubeApiOptions = {},
  namespace = "shop",
): Promise<TestCluster> {
  const api = await startKubeApi({
    port: 0,
    controllers: { deployments: { delayMs: 30 }, garbageCollector: true },
    ...options,
  });
  const dir = await mkdtemp(join(tmpdir(), "stepwise-test-"));
  const kubeconfig = join(dir, "kubeconfig");
  await api.writeKubeconfig(kubeconfig);
  const client = KubeClient.fromKubeconfig(kubeconfig, { fieldManager: "test", userAgent: "test" });
  for (const file of ["rollouts.stepwise.dev.yaml", "sloprofiles.stepwise.dev.yaml"]) {
    for (const doc of parseAllDocuments(readFileSync(join(ROOT, "manifests/crds", file), "utf8"))) {
      await client.create(doc.toJS() as KubeObject);
    }
  }
  await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  return {
    api,
    client,
    kubeconfig,
    namespace,
    async close() {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The built-in availability profile as an SLOProfile object, with warm-up and sample size for tests. */
export function fastProfile(name: string, namespace: string): KubeObject {
  const doc = parse(readFileSync(join(ROOT, "slo-profiles/http-availability.yaml"), "utf8"));
  doc.metadata = { name, namespace };
  doc.spec.gate = { ...doc.spec.gate, warmup: "0s", minRequests: 20 };
  return doc;
}

export function deployment(name: string, namespace: string, image: string, replicas = 2): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image }] } },
    },
  };
}

export async function setImage(
  client: KubeClient,
  namespace: string,
  name: string,
  image: string,
): Promise<void> {
  await client.jsonPatch({ apiVersion: "apps/v1", kind: "Deployment", namespace, name }, [
    { op: "replace", path: "/spec/template/spec/containers/0/image", value: image },
  ]);
}

export type Status = {
  phase?: string;
  step?: number;
  stableRevision?: string;
  revision?: string;
  pauseReason?: string;
  message?: string;
  weights?: { desired?: number; applied?: number; observed?: number };
  analysis?: { profile: string; verdict: string; canary?: { total: number }; baseline?: { total: number } }[];
  fault?: { target: string; host?: string; expiresAt: string };
  lastCommand?: { id: string };
};

export async function statusOf(client: KubeClient, namespace: string, name: string): Promise<Status> {
  const object = await client.get({ ...ROLLOUT_TYPE, namespace, name });
  return (object.status ?? {}) as Status;
}

/** Polls until `done` holds for the rollout's status, or fails after `timeoutMs` naming what it waited for. */
export async function waitForStatus(
  client: KubeClient,
  namespace: string,
  name: string,
  done: (status: Status) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  let status: Status = {};
  while (Date.now() < deadline) {
    status = await statusOf(client, namespace, name);
    if (done(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`${name} did not reach ${what} within ${timeoutMs} ms; status: ${JSON.stringify(status)}`);
}

/** `rollout controller` in a child process, as it runs in a cluster. */
export function spawnController(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, "cli/bin/rollout.js"), "controller", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return child;
}

/** `rollout controller` for the test cluster's namespace, reading `metricsUrl` with its built-in scraper. */
export function spawnScrapingController(
  cluster: TestCluster,
  metricsUrl: string,
  moreArgs: string[] = [],
): ChildProcess {
  return spawnController([
    "--kubeconfig",
    cluster.kubeconfig,
    "-n",
    cluster.namespace,
    "--scrape",
    metricsUrl,
    "--metrics-addr",
    "127.0.0.1:0",
    ...moreArgs,
  ]);
}

/** Resolves when the controller logs that it started (its caches are synced), or when it exits. */
export function started(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('"msg":"controller started"')) done();
    };
    const done = () => {
      child.stderr?.off("data", onData);
      resolve();
    };
    child.stderr?.on("data", onData);
    child.once("exit", done);
  });
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** A canary Rollout of the Deployment of the same name, judged by the test profile `fast-availability`. */
export function canaryRollout(
  name: string,
  namespace: string,
  steps: unknown[],
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: ROLLOUT_TYPE.apiVersion,
    kind: ROLLOUT_TYPE.kind,
    metadata: { name, namespace },
    spec: {
      targetRef: { kind: "Deployment", name },
      service: { port: 80 },
      traffic: { provider: "istio" },
      strategy: { canary: { steps } },
      analysis: { interval: "1s", profiles: [{ name: "fast-availability" }] },
      ...spec,
    },
  };
}
