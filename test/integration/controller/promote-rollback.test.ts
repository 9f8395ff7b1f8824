import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { parseSLOProfile, type SLOProfile } from "../../../src/api/slo-profile.ts";
import { ProfileAnalysis } from "../../../src/controller/analysis.ts";
import { type RunningController, startController } from "../../../src/controller/controller.ts";
import { KubeClient, type KubeObject } from "../../../src/kube/client.ts";
import { createRouter } from "../../../src/routers/index.ts";
import { type KubeApi, startKubeApi } from "../../../src/sandbox/kube-api/index.ts";
import { createLogger } from "../../../src/telemetry/logger.ts";
import { ControllerMetrics } from "../../../src/telemetry/metrics.ts";
import { ownerOf } from "../../../src/workloads/workloads.ts";
import { SyntheticIstioMetrics } from "../../support/synthetic-metrics.ts";

const root = join(import.meta.dirname, "../../..");

// The built-in availability profile, with warm-up and sample sizes shortened for a test that runs in
// seconds; the queries are the real ones.
const profile: SLOProfile = (() => {
  const doc = parse(readFileSync(join(root, "slo-profiles/http-availability.yaml"), "utf8"));
  doc.spec.gate = { ...doc.spec.gate, warmup: "0s", minRequests: 20 };
  const result = parseSLOProfile(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
})();

let api: KubeApi;
let client: KubeClient;
let controller: RunningController;
const metrics = new SyntheticIstioMetrics();

beforeAll(async () => {
  api = await startKubeApi({
    port: 0,
    controllers: { deployments: { delayMs: 30 }, garbageCollector: true },
  });
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  client = new KubeClient(kc, { fieldManager: "test" });
  for (const file of ["rollouts.stepwise.dev.yaml", "sloprofiles.stepwise.dev.yaml"]) {
    for (const doc of parseAllDocuments(readFileSync(join(root, "manifests/crds", file), "utf8"))) {
      await client.create(doc.toJS() as KubeObject);
    }
  }
  await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
  const controllerClient = new KubeClient(kc, { fieldManager: "stepwise-controller" });
  controller = await startController({
    client: controllerClient,
    analysis: new ProfileAnalysis(metrics, () => profile),
    routerFor: (rollout, reads) =>
      createRouter(rollout, controllerClient, { owner: ownerOf(rollout), reads }),
    logger: createLogger((process.env.TEST_LOG_LEVEL ?? "silent") as "silent"),
    metrics: new ControllerMetrics(),
    resyncMs: 1_000,
  });
});

afterAll(async () => {
  await controller?.stop();
  await api?.close();
});

function deployment(name: string, image: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "shop" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image }] } },
    },
  };
}

function rollout(name: string, provider: string): KubeObject {
  return {
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name, namespace: "shop" },
    spec: {
      targetRef: { kind: "Deployment", name },
      service: { port: 80 },
      traffic: { provider },
      strategy: { canary: { steps: [{ setWeight: 20 }, { analysis: {} }, { setWeight: 60 }] } },
      analysis: { interval: "1s", metrics: "istio", profiles: [{ name: "http-availability" }] },
      progressDeadlineSeconds: 60,
    },
  };
}

type Status = { phase?: string; stableRevision?: string; revision?: string; weights?: { applied?: number } };

async function waitFor(name: string, done: (status: Status) => boolean, what: string): Promise<Status> {
  const deadline = Date.now() + 60_000;
  let status: Status = {};
  while (Date.now() < deadline) {
    const object = await client.get({
      apiVersion: "stepwise.dev/v1alpha1",
      kind: "Rollout",
      namespace: "shop",
      name,
    });
    status = (object.status ?? {}) as Status;
    if (done(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not reach ${what}; status: ${JSON.stringify(status)}`);
}

const ROUTE_OBJECTS: Record<string, { apiVersion: string; kind: string }> = {
  istio: { apiVersion: "networking.istio.io/v1", kind: "VirtualService" },
  smi: { apiVersion: "split.smi-spec.io/v1alpha4", kind: "TrafficSplit" },
  gateway: { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute" },
  consul: { apiVersion: "consul.hashicorp.com/v1alpha1", kind: "ServiceSplitter" },
};

describe.each((process.env.TEST_PROVIDERS ?? "istio,smi,gateway,consul").split(","))(
  "controller on the emulator with %s",
  (provider) => {
    it("promotes a healthy canary and rolls a failing one back, all traffic on the primary at the end", {
      timeout: 120_000,
    }, async () => {
      const name = `app-${provider}`;
      metrics.set("shop", name, 2_000, 0.001);
      metrics.set("shop", `${name}-primary`, 8_000, 0.001);
      await client.create(deployment(name, "registry/app:1.0"));
      await client.create(rollout(name, provider));
      const initial = await waitFor(name, (s) => s.phase === "Idle", "Idle (bootstrapped)");
      const route = { ...ROUTE_OBJECTS[provider]!, namespace: "shop", name };
      expect(initial.stableRevision).toBeDefined();

      // a healthy new version is promoted
      await client.jsonPatch({ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name }, [
        { op: "replace", path: "/spec/template/spec/containers/0/image", value: "registry/app:1.1" },
      ]);
      const promoted = await waitFor(name, (s) => s.phase === "Succeeded", "Succeeded");
      expect(promoted.stableRevision).toBe(promoted.revision);
      expect(promoted.stableRevision).not.toBe(initial.stableRevision);
      const primary = await client.get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "shop",
        name: `${name}-primary`,
      });
      expect(JSON.stringify(primary.spec)).toContain("registry/app:1.1");
      expect(await client.get(route)).toBeDefined();
      expect(promoted.weights?.applied).toBe(0);

      // a failing new version is rolled back
      metrics.set("shop", name, 2_000, 0.3);
      await client.jsonPatch({ apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name }, [
        { op: "replace", path: "/spec/template/spec/containers/0/image", value: "registry/app:1.2-bad" },
      ]);
      const rolledBack = await waitFor(name, (s) => s.phase === "RolledBack", "RolledBack");
      expect(rolledBack.stableRevision).toBe(promoted.stableRevision);
      expect(rolledBack.weights?.applied).toBe(0);
      const target = await client.get<KubeObject & { spec: { replicas: number } }>({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "shop",
        name,
      });
      expect(target.spec.replicas).toBe(0);
      const primaryAfter = await client.get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "shop",
        name: `${name}-primary`,
      });
      expect(JSON.stringify(primaryAfter.spec)).toContain("registry/app:1.1");
    });
  },
);
