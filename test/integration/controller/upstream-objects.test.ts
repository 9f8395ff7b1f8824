/**
 * Users' own route objects, as upstream projects publish them (test/fixtures/upstream, each file names its
 * source), applied with kubectl to the API emulator over HTTP and driven by the real controller: the
 * Rollout points at the object with routeRef / routes / stableService / canaryService (/ subsets), a
 * healthy release is promoted and a failing one rolled back. The object is watched throughout: every
 * version of it keeps the user's other routes, hosts, matches, retries, timeouts, headers and CORS, and
 * the user's own entries of the managed list; after each release its spec deep-equals what was applied.
 * Where upstream ships the stable and canary Services too (Argo Rollouts' stable-svc / canary-svc), they
 * are applied as well and the controller adopts them.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseSLOProfile, type SLOProfile } from "../../../src/api/slo-profile.ts";
import { ProfileAnalysis } from "../../../src/controller/analysis.ts";
import { type RunningController, startController } from "../../../src/controller/controller.ts";
import { KubeClient, type KubeObject, type ObjectRef } from "../../../src/kube/client.ts";
import { asArray, asRecord, createRouter } from "../../../src/routers/index.ts";
import { RECORD_PREFIX } from "../../../src/routers/record.ts";
import { createLogger } from "../../../src/telemetry/logger.ts";
import { ControllerMetrics } from "../../../src/telemetry/metrics.ts";
import { ADOPTED_SELECTOR_ANNOTATION } from "../../../src/workloads/adoption.ts";
import { ownerOf } from "../../../src/workloads/workloads.ts";
import {
  deployment,
  fastProfile,
  type Status,
  setImage,
  startTestCluster,
  type TestCluster,
  waitForStatus,
} from "../../support/cluster.ts";
import { SyntheticIstioMetrics } from "../../support/synthetic-metrics.ts";
import { UPSTREAM } from "../../unit/routers/support.ts";

// The built-in availability profile with warm-up and sample sizes shortened for a test that runs in
// seconds; the queries are the real ones.
const profile: SLOProfile = (() => {
  const result = parseSLOProfile(fastProfile("http-availability", "default"));
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
})();

interface Case {
  /** The upstream file and the document in it the Rollout drives. */
  file: string;
  ref: { apiVersion: string; kind: string; name: string };
  namespace: string;
  /** The Rollout (and its target Deployment). */
  rollout: string;
  traffic: Record<string, unknown>;
  /** JSON pointer (in spec) of the weighted list the controller manages; everything else must stay. */
  managed: string;
  /** Other upstream objects the case needs (a DestinationRule for subset mode, the user's Services). */
  also?: { file: string; kind: string }[];
  /** spec.service.port: the port of the user's Services where the case has them; else 8080. */
  port?: number;
}

const CASES: Case[] = [
  {
    file: "istio/argo-rollouts-rollout-vsvc.yaml",
    ref: { apiVersion: "networking.istio.io/v1alpha3", kind: "VirtualService", name: "rollout-vsvc" },
    namespace: "argo",
    rollout: "rollouts-demo",
    traffic: {
      provider: "istio",
      routeRef: { kind: "VirtualService", name: "rollout-vsvc" },
      routes: ["primary"],
      stableService: "stable-svc",
      canaryService: "canary-svc",
    },
    managed: "/http/0/route",
    // The Services Argo's docs deploy beside it: the controller adopts them.
    also: [{ file: "istio/argo-rollouts-services.yaml", kind: "Service" }],
    port: 80,
  },
  {
    file: "istio/flagger-frontend.yaml",
    ref: { apiVersion: "networking.istio.io/v1alpha3", kind: "VirtualService", name: "frontend" },
    namespace: "test",
    rollout: "podinfo",
    traffic: { provider: "istio", routeRef: { kind: "VirtualService", name: "frontend" } },
    managed: "/http/0/route",
  },
  {
    file: "istio/bookinfo-reviews-jason-v2-v3.yaml",
    ref: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", name: "reviews" },
    namespace: "bookinfo",
    rollout: "reviews",
    traffic: {
      provider: "istio",
      istio: { mode: "subset" },
      routeRef: { kind: "VirtualService", name: "reviews" },
      subsets: { stable: "v3", canary: "canary" },
    },
    managed: "/http/1/route",
    also: [{ file: "../routers/upstream-destinationrule-reviews.yaml", kind: "DestinationRule" }],
  },
  {
    file: "gateway/gateway-api-bar-route.yaml",
    ref: { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", name: "bar-route" },
    namespace: "gateway",
    rollout: "bar",
    traffic: {
      provider: "gateway",
      routeRef: { kind: "HTTPRoute", name: "bar-route" },
      stableService: "bar-svc",
      canaryService: "bar-svc-canary",
    },
    managed: "/rules/1/backendRefs",
  },
  {
    file: "gateway/gateway-api-timeout-example.yaml",
    ref: { apiVersion: "gateway.networking.k8s.io/v1beta1", kind: "HTTPRoute", name: "timeout-example" },
    namespace: "timeouts",
    rollout: "timeout",
    traffic: {
      provider: "gateway",
      routeRef: { kind: "HTTPRoute", name: "timeout-example" },
      stableService: "timeout-svc",
      canaryService: "timeout-svc-canary",
    },
    managed: "/rules/0/backendRefs",
  },
  {
    file: "smi/smi-spec-foobar-rollout.yaml",
    ref: { apiVersion: "split.smi-spec.io/v1alpha4", kind: "TrafficSplit", name: "foobar-rollout" },
    namespace: "smi",
    rollout: "foobar",
    traffic: {
      provider: "smi",
      routeRef: { kind: "TrafficSplit", name: "foobar-rollout" },
      stableService: "foobar-v1",
      canaryService: "foobar-v2",
    },
    managed: "/backends",
  },
  {
    file: "consul/consul-k8s-splitter.yaml",
    ref: { apiVersion: "consul.hashicorp.com/v1alpha1", kind: "ServiceSplitter", name: "splitter" },
    namespace: "consul",
    rollout: "splitter-app",
    traffic: {
      provider: "consul",
      routeRef: { kind: "ServiceSplitter", name: "splitter" },
      stableService: "splitter",
      canaryService: "splitter-canary",
    },
    managed: "/splits",
  },
];

let cluster: TestCluster;
let client: KubeClient;
let controller: RunningController;
const metrics = new SyntheticIstioMetrics();

beforeAll(async () => {
  // the cases make their own namespaces
  cluster = await startTestCluster({}, "stepwise-test");
  client = cluster.client;
  const controllerClient = KubeClient.fromKubeconfig(cluster.kubeconfig, {
    fieldManager: "stepwise-controller",
  });
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
  await cluster?.close();
});

/** kubectl apply of the documents of one kind in an upstream file, as a user or a GitOps tool would. */
async function kubectlApply(file: string, kind: string, namespace: string): Promise<void> {
  const docs = parseAllDocuments(await readFile(join(UPSTREAM, file), "utf8"));
  // Only the kinds the emulator serves: consul-k8s's file also holds ServiceDefaults.
  const ofKind = docs.filter((d) => (d.toJS() as KubeObject).kind === kind);
  if (ofKind.length === 0) throw new Error(`${file} has no ${kind}`);
  const child = execFile("kubectl", [
    "--kubeconfig",
    cluster.kubeconfig,
    "apply",
    "-n",
    namespace,
    "-f",
    "-",
  ]);
  const done = new Promise<void>((resolve, reject) => {
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`kubectl apply ${file}: ${stderr}`)),
    );
  });
  child.stdin?.end(ofKind.map((d) => d.toString()).join("---\n"));
  await done;
}

/** The rollout of a case reaching a status, as the test cluster reads it. */
const waitFor = (c: Case, done: (s: Status) => boolean, what: string) =>
  waitForStatus(client, c.namespace, c.rollout, done, what);

/** The object's spec is deep-equal to what was applied, and the controller's record annotation is gone. */
async function expectAsWritten(ref: ObjectRef, applied: KubeObject): Promise<void> {
  const now = await client.get(ref);
  expect(now.spec).toEqual(applied.spec);
  expect(Object.keys(now.metadata.annotations ?? {}).filter((k) => k.startsWith(RECORD_PREFIX))).toEqual([]);
}

/** The value at a JSON pointer (unescaped segments; numbers index arrays). */
function at(value: unknown, pointer: string): unknown {
  return pointer
    .split("/")
    .slice(1)
    .reduce<unknown>((v, key) => (Array.isArray(v) ? v[Number(key)] : asRecord(v)[key]), value);
}

/** The spec with the managed list taken out: what no release may change. */
function withoutManaged(spec: unknown, pointer: string): unknown {
  const copy = structuredClone(spec);
  const segments = pointer.split("/").slice(1);
  const last = segments.pop()!;
  const parent = at(copy, segments.length > 0 ? `/${segments.join("/")}` : "");
  asRecord(parent)[last] = "(managed)";
  return copy;
}

/** The managed list's entries the user wrote, as they are now (weights aside), in their order. */
function userEntries(list: unknown, original: unknown[]): unknown[] {
  const strip = (e: unknown) => {
    const { weight: _weight, ...rest } = asRecord(e);
    return rest;
  };
  const wrote = original.map(strip);
  return asArray(list)
    .map(strip)
    .filter((e) => wrote.some((w) => JSON.stringify(w) === JSON.stringify(e)));
}

/**
 * Reads the object every 50 ms until stopped and checks each version it sees: the user's parts are as
 * applied. Returns what it saw: how many versions, and whether the managed list ever moved.
 */
function watchObject(ref: ObjectRef, applied: KubeObject, managed: string) {
  const failures: string[] = [];
  let versions = 0;
  let moved = false;
  let stopped = false;
  const original = asArray(at(applied.spec, managed));
  const seen = new Set<string>();
  const loop = (async () => {
    while (!stopped) {
      const object = await client.get(ref);
      const rv = object.metadata.resourceVersion ?? "";
      if (!seen.has(rv)) {
        seen.add(rv);
        versions++;
        const list = at(object.spec, managed);
        if (JSON.stringify(list) !== JSON.stringify(original)) moved = true;
        try {
          expect(withoutManaged(object.spec, managed)).toEqual(withoutManaged(applied.spec, managed));
          expect(userEntries(list, original)).toEqual(userEntries(original, original));
        } catch (error) {
          failures.push(`resourceVersion ${rv}: ${(error as Error).message}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { failures, versions, moved };
    },
  };
}

// The cases share the controller and the emulator and run at once (their namespaces differ).
describe.concurrent.each(CASES)("$file driven by the controller", (c) => {
  it("a healthy release is promoted and a failing one rolled back; the user's object is as written after each", {
    timeout: 120_000,
  }, async () => {
    await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: c.namespace } });
    await kubectlApply(c.file, c.ref.kind, c.namespace);
    for (const { file, kind } of c.also ?? []) await kubectlApply(file, kind, c.namespace);
    const ref: ObjectRef = { ...c.ref, namespace: c.namespace };
    const applied = await client.get(ref);
    // The user's own stable and canary Services, where the case applies them.
    const adoptable = c.also?.some((a) => a.kind === "Service")
      ? [c.traffic.stableService as string, c.traffic.canaryService as string]
      : [];
    const servicesOf = () =>
      Promise.all(
        adoptable.map((name) =>
          client.get({ apiVersion: "v1", kind: "Service", namespace: c.namespace, name }),
        ),
      );
    const usersServices = await servicesOf();

    metrics.set(c.namespace, c.rollout, 2_000, 0.001);
    metrics.set(c.namespace, `${c.rollout}-primary`, 8_000, 0.001);
    await client.create(deployment(c.rollout, c.namespace, "registry/app:1.0"));
    const watch = watchObject(ref, applied, c.managed);
    let seen: Awaited<ReturnType<typeof watch.stop>>;
    try {
      await client.create({
        apiVersion: "stepwise.dev/v1alpha1",
        kind: "Rollout",
        metadata: { name: c.rollout, namespace: c.namespace },
        spec: {
          targetRef: { kind: "Deployment", name: c.rollout },
          service: { port: c.port ?? 8080 },
          traffic: c.traffic,
          strategy: { canary: { steps: [{ setWeight: 20 }, { analysis: {} }] } },
          analysis: { interval: "1s", metrics: "istio", profiles: [{ name: "http-availability" }] },
          progressDeadlineSeconds: 60,
        },
      });
      const initial = await waitFor(c, (s) => s.phase === "Idle", "Idle (bootstrapped)");
      expect((await client.get(ref)).spec).toEqual(applied.spec);
      // The user's Services are adopted: the selector they wrote is kept, to be given back.
      for (const [i, service] of (await servicesOf()).entries()) {
        expect(service.metadata.annotations?.[ADOPTED_SELECTOR_ANNOTATION]).toBe(
          JSON.stringify(asRecord(usersServices[i]?.spec).selector),
        );
      }

      await setImage(client, c.namespace, c.rollout, "registry/app:1.1");
      const promoted = await waitFor(c, (s) => s.phase === "Succeeded", "Succeeded");
      expect(promoted.stableRevision).not.toBe(initial.stableRevision);
      await expectAsWritten(ref, applied);

      metrics.set(c.namespace, c.rollout, 2_000, 0.3);
      await setImage(client, c.namespace, c.rollout, "registry/app:1.2-bad");
      const rolledBack = await waitFor(c, (s) => s.phase === "RolledBack", "RolledBack");
      expect(rolledBack.stableRevision).toBe(promoted.stableRevision);
      await expectAsWritten(ref, applied);
    } finally {
      seen = await watch.stop();
    }
    expect(seen.failures).toEqual([]);
    // The releases did move the traffic: the object was written, not left alone.
    expect(seen.moved).toBe(true);
    expect(seen.versions).toBeGreaterThan(2);
  });
});
