import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { parse, parseAllDocuments } from "yaml";
import { BUILT_IN_PROFILE_DIR, loadBuiltInProfiles } from "../analysis/profiles.ts";
import { parseRollout, type TrafficProvider } from "../api/rollout.ts";
import { type MetricProvider, parseSLOProfile } from "../api/slo-profile.ts";
import { clusterProfileLookup, ProfileAnalysis } from "../controller/analysis.ts";
import { type RunningController, startController } from "../controller/controller.ts";
import { DEFAULT_FAULT_STATUS } from "../faults/answer.ts";
import { startFaultServer } from "../faults/server.ts";
import { KubeClient, type KubeObject } from "../kube/client.ts";
import { PrometheusProvider } from "../metrics/prometheus.ts";
import { ScrapingProvider } from "../metrics/scrape.ts";
import type { MetricsProvider } from "../metrics/types.ts";
import { PACKAGE_ROOT } from "../package-root.ts";
import { createRouter, type TrafficState } from "../routers/index.ts";
import { ControllerMetrics } from "../telemetry/metrics.ts";
import { type Deployment, revisionOf } from "../workloads/deployments.ts";
import { ownerOf } from "../workloads/workloads.ts";
import { type Backend, type Behaviour, startBackend } from "./backends/index.ts";
import { type KubeApi, startKubeApi } from "./kube-api/index.ts";
import { type Mesh, startMesh } from "./mesh/index.ts";
import { type RunningPrometheus, runPrometheus, scrapeConfig, which } from "./prometheus.ts";
import { startTraffic, type Traffic } from "./traffic/index.ts";
import { type RouteStyle, upstreamRoutes } from "./upstream-routes.ts";

export const MESHES = ["istio", "linkerd", "smi", "gateway", "consul"] as const;
export type SandboxMesh = (typeof MESHES)[number];
export const SCENARIOS = [
  "healthy",
  "errors",
  "latency",
  "slow-start",
  "flaky-dependency",
  "flaky-dependency-fallback",
] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The service the flaky-dependency scenarios' versions call, and the chaos step's target. */
export const DEPENDENCY = "payments";

/** Which traffic API and which metric families stand for each mesh. */
const MESH_SETUP: Record<SandboxMesh, { provider: TrafficProvider; metrics: MetricProvider; label: string }> =
  {
    istio: { provider: "istio", metrics: "istio", label: "Istio VirtualService" },
    linkerd: { provider: "gateway", metrics: "linkerd", label: "Linkerd with Gateway API HTTPRoute" },
    smi: { provider: "smi", metrics: "linkerd", label: "Linkerd with SMI TrafficSplit" },
    gateway: { provider: "gateway", metrics: "gateway", label: "Envoy gateway with HTTPRoute" },
    consul: { provider: "consul", metrics: "consul", label: "Consul ServiceSplitter" },
  };

const CANARY_BEHAVIOUR: Record<Scenario, Behaviour> = {
  healthy: { scenario: "healthy" },
  errors: { scenario: "errors", errorRate: 0.05, status: 503 },
  latency: { scenario: "latency" },
  "slow-start": { scenario: "slow-start", warmupMs: 20_000 },
  // The stable version copes with a failing dependency; the new one does, or does not.
  "flaky-dependency": { scenario: "flaky-dependency", fallback: false },
  "flaky-dependency-fallback": { scenario: "flaky-dependency", fallback: true },
};

function callsDependency(scenario: Scenario): boolean {
  return CANARY_BEHAVIOUR[scenario].scenario === "flaky-dependency";
}

/** Why a scenario cannot run on a mesh, or undefined when it can. */
export function unsupportedScenario(mesh: SandboxMesh, scenario: Scenario): string | undefined {
  if (!callsDependency(scenario) || MESH_SETUP[mesh].provider === "istio") return undefined;
  return `the ${scenario} scenario needs --mesh istio: its chaos gate injects the fault on the calls to ${DEPENDENCY} from the rollout's pods only, which takes Istio's sourceLabels`;
}

/**
 * The chaos gate of the flaky-dependency scenarios: half the calls to the dependency fail, for 60 s, long
 * enough for the demo profile to pass a canary that copes at 20 requests a second (about 45 s at 50%).
 */
const CHAOS_STEP = {
  chaos: {
    target: "dependency",
    host: DEPENDENCY,
    fault: { abort: { httpStatus: 503, percent: 50 } },
    duration: "60s",
    profiles: ["demo-http-availability"],
  },
};

export const NAMESPACE = "demo";
export const APP = "podinfo";
const DEMO_PORT = 80;

export interface SandboxOptions {
  mesh: SandboxMesh;
  scenario: Scenario;
  rps: number;
  /** Use Prometheus when its binary is on PATH (default); false forces the built-in scraper. */
  prometheus?: boolean;
  /** Where the controller logs (JSON lines); by default stepwise-sandbox-<pid>.log in the temp directory. */
  logFile?: string;
  seed?: number;
  /** Whose route objects the demo drives: the controller's own (default), or a user's, named the Argo way. */
  routes?: RouteStyle;
}

export interface Sandbox {
  client: KubeClient;
  api: KubeApi;
  mesh: Mesh;
  traffic: Traffic;
  /** The revision of the demo's new version, to wait for. */
  revision: string;
  /** "Prometheus (scraping every 2s)" or "built-in scraper (no prometheus binary)". */
  metricsSource: string;
  meshLabel: string;
  logFile: string;
  /** The demo rollout's traffic as its route object shows it now. */
  route(): Promise<TrafficState>;
  stop(): Promise<void>;
}

/**
 * The demo's SLO profiles: the built-in ones, with a short warm-up and a tolerance of 2% so a demo at
 * 20 requests a second decides within a minute or so. They are created as SLOProfile objects, as a user
 * would add their own.
 */
async function demoProfiles(): Promise<KubeObject[]> {
  const profiles: KubeObject[] = [];
  for (const [name, gate] of [
    ["http-availability", { warmup: "5s", tolerance: 0.02 }],
    ["http-latency", { warmup: "5s" }],
  ] as const) {
    const doc = parse(await readFile(join(BUILT_IN_PROFILE_DIR, `${name}.yaml`), "utf8"));
    doc.metadata = { name: `demo-${name}`, namespace: NAMESPACE };
    // A floor of half the tolerance: a canary shown to be under it passes whatever the baseline does, so
    // a clean canary passes at 50% of 20 requests a second in about 45 s (rollout lint --rps says so).
    doc.spec.gate = {
      ...doc.spec.gate,
      ...gate,
      baseline: { ...doc.spec.gate.baseline, minBadRate: (gate.tolerance ?? doc.spec.gate.tolerance) / 2 },
    };
    if (!parseSLOProfile(doc).ok) throw new Error(`the demo profile from ${name} does not parse`);
    profiles.push(doc);
  }
  return profiles;
}

function demoDeployment(image: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: APP, namespace: NAMESPACE },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: APP } },
      template: {
        metadata: { labels: { app: APP } },
        spec: { containers: [{ name: "app", image, ports: [{ containerPort: 9898 }] }] },
      },
    },
  };
}

function demoRollout(
  setup: (typeof MESH_SETUP)[SandboxMesh],
  scenario: Scenario,
  traffic: Record<string, unknown> = { provider: setup.provider },
): KubeObject {
  const steps: unknown[] = [{ setWeight: 20 }, { pause: { duration: "5s" } }, { setWeight: 50 }];
  if (callsDependency(scenario)) steps.push(CHAOS_STEP);
  return {
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: APP, namespace: NAMESPACE },
    spec: {
      targetRef: { kind: "Deployment", name: APP },
      service: { port: DEMO_PORT },
      traffic,
      strategy: { canary: { steps } },
      analysis: {
        interval: "5s",
        metrics: setup.metrics,
        profiles: [{ name: "demo-http-availability" }, { name: "demo-http-latency" }],
      },
      progressDeadlineSeconds: 120,
    },
  };
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`the sandbox did not get ready: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The whole product on one machine: the API emulator with simulated Deployment readiness, the mesh's
 * data plane with one backend per version, Prometheus (or the built-in scraper), the controller, traffic,
 * and a demo Rollout whose new version is started right away.
 */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const setup = MESH_SETUP[options.mesh];
  const unsupported = unsupportedScenario(options.mesh, options.scenario);
  if (unsupported) throw new Error(unsupported);
  const dir = await mkdtemp(join(tmpdir(), "stepwise-sandbox-"));
  // outside the working directory, so it can be read after the sandbox is gone
  const logFile = options.logFile ?? join(tmpdir(), `stepwise-sandbox-${process.pid}.log`);
  const stops: (() => Promise<void> | void)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step();
  };
  try {
    const api = await startKubeApi({
      port: 0,
      controllers: { deployments: { delayMs: 1_500 }, garbageCollector: true },
    });
    stops.push(() => api.close());
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    const client = new KubeClient(kc, { fieldManager: "sandbox", userAgent: "sandbox" });
    for (const file of ["rollouts.stepwise.dev.yaml", "sloprofiles.stepwise.dev.yaml"]) {
      const text = await readFile(join(PACKAGE_ROOT, "manifests/crds", file), "utf8");
      for (const doc of parseAllDocuments(text)) await client.create(doc.toJS() as KubeObject);
    }
    await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    for (const profile of await demoProfiles()) await client.create(profile);

    const backends: Backend[] = [];
    const backend = async (version: string, behaviour: Behaviour) => {
      const started = await startBackend({
        version,
        behaviour,
        ...(options.seed ? { seed: options.seed + backends.length } : {}),
      });
      backends.push(started);
      stops.push(() => started.close());
      return started;
    };
    const withDependency = callsDependency(options.scenario);
    const stable = await backend(
      "1.0.0",
      withDependency ? { scenario: "flaky-dependency", fallback: true } : { scenario: "healthy" },
    );
    const canary = await backend("1.1.0", CANARY_BEHAVIOUR[options.scenario]);
    // the error backend of abort faults where the traffic API has no fault filter, as a cluster runs it
    const fault = await startFaultServer({ port: 0, host: "127.0.0.1", defaultStatus: DEFAULT_FAULT_STATUS });
    stops.push(() => fault.close());
    const dependency = await backend("payments", { scenario: "healthy" });
    const upstream =
      options.routes === "upstream" ? upstreamRoutes(setup.provider, APP, NAMESPACE, DEMO_PORT) : undefined;
    const primaryEndpoint = {
      url: stable.url,
      workload: `${APP}-primary`,
      labels: { app: `${APP}-primary` },
    };
    const mesh = await startMesh({
      kubeconfig: api.kubeconfig(),
      provider: setup.provider,
      metrics: setup.metrics,
      namespace: NAMESPACE,
      services: {
        [APP]: primaryEndpoint,
        [upstream?.stableService ?? `${APP}-primary`]: primaryEndpoint,
        [upstream?.canaryService ?? `${APP}-canary`]: {
          url: canary.url,
          workload: APP,
          labels: { app: APP },
        },
        [`${APP}-fault`]: fault.url,
        [DEPENDENCY]: dependency.url,
      },
      ...(options.seed ? { seed: options.seed } : {}),
    });
    stops.push(() => mesh.close());
    if (withDependency) {
      // each version calls the dependency through the mesh as its own workload, so a fault can single it out
      stable.setDependency({ url: mesh.url, host: DEPENDENCY, source: primaryEndpoint.workload });
      canary.setDependency({ url: mesh.url, host: DEPENDENCY, source: APP });
    }

    let provider: MetricsProvider;
    let metricsSource: string;
    if (options.prometheus !== false && (await which("prometheus"))) {
      const prometheus: RunningPrometheus = await runPrometheus({
        config: scrapeConfig([new URL(mesh.metricsUrl).host]),
      });
      stops.push(() => prometheus.stop());
      provider = new PrometheusProvider({ url: prometheus.url });
      metricsSource = `Prometheus at ${prometheus.url} (scraping every 2s)`;
    } else {
      const scraper = new ScrapingProvider(`${mesh.metricsUrl}/metrics`);
      await scraper.start();
      stops.push(() => scraper.stop());
      provider = scraper;
      metricsSource = "built-in scraper (no prometheus binary on PATH)";
    }

    const builtIn = await loadBuiltInProfiles();
    const profiles = new Map<string, KubeObject>();
    for (const object of await client.list("stepwise.dev/v1alpha1", "SLOProfile", NAMESPACE)) {
      profiles.set(object.metadata.name, object);
    }
    const controllerClient = new KubeClient(kc, {
      fieldManager: "stepwise-controller",
      userAgent: "stepwise-controller",
    });
    const logger = pino(
      { level: "info", base: { component: "stepwise" } },
      pino.destination({ dest: logFile, sync: true }),
    );
    const controller: RunningController = await startController({
      client: controllerClient,
      namespace: NAMESPACE,
      analysis: new ProfileAnalysis(
        provider,
        clusterProfileLookup(
          builtIn,
          (_ns, name) => profiles.get(name),
          () => {},
        ),
      ),
      routerFor: (rollout, reads) =>
        createRouter(rollout, controllerClient, { owner: ownerOf(rollout), reads }),
      logger,
      metrics: new ControllerMetrics(),
      resyncMs: 5_000,
    });
    stops.push(() => controller.stop());

    const traffic = startTraffic({ url: mesh.url, host: APP, rps: options.rps });
    stops.push(async () => {
      await traffic.stop();
    });

    // The stable version first, as a cluster would have it; then the new version starts the rollout.
    await client.create(demoDeployment("ghcr.io/stefanprodan/podinfo:6.7.0"));
    for (const object of upstream?.objects ?? []) await client.create(object);
    await client.create(demoRollout(setup, options.scenario, upstream?.traffic));
    await waitUntil(async () => {
      const rollout = await client.get({
        apiVersion: "stepwise.dev/v1alpha1",
        kind: "Rollout",
        namespace: NAMESPACE,
        name: APP,
      });
      return (rollout.status as { phase?: string } | undefined)?.phase === "Idle";
    }, "the demo rollout's stable version did not start");
    const updated = await client.jsonPatch<Deployment>(
      { apiVersion: "apps/v1", kind: "Deployment", namespace: NAMESPACE, name: APP },
      [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/image",
          value: "ghcr.io/stefanprodan/podinfo:6.7.1",
        },
      ],
    );
    const revision = revisionOf(updated.spec.template);
    const route = async () => {
      const parsed = parseRollout(
        await client.get({
          apiVersion: "stepwise.dev/v1alpha1",
          kind: "Rollout",
          namespace: NAMESPACE,
          name: APP,
        }),
      );
      if (!parsed.ok) throw new Error("the demo rollout no longer parses");
      return createRouter(parsed.value, client).read();
    };
    return {
      client,
      api,
      mesh,
      traffic,
      revision,
      metricsSource,
      meshLabel: setup.label,
      logFile,
      route,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
