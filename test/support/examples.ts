/**
 * One example of manifests/examples/ run end to end, as a user would run it, on one machine: rendered with
 * the real `kubectl kustomize`, applied with the real `kubectl apply` to a fresh API emulator (after the
 * project's CRDs), a simulated mesh data plane with one backend per version, the controller in process
 * (with the built-in scraper on the mesh's metrics), traffic, and a release started by changing the
 * Deployment's image.
 *
 * Everything about the world is derived from the rendered objects: the traffic provider and the metric
 * dialect from the Rollout, the pods' labels from the target Deployment (primaryLabels for the stable pods,
 * the template's labels for the new ones), the Services the controller creates from the Rollout's name, a
 * dependency (another Service of the example) from its Deployment, the dependency a chaos step hurts from
 * the step, and the requests an A/B test matches from its match. The only changes to the example are the
 * ones speedUp (its Rollout) and speedUpProfile (the profiles it uses) make.
 */
import { Writable } from "node:stream";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { loadBuiltInProfiles } from "../../src/analysis/profiles.ts";
import { formatDuration, parseDuration } from "../../src/api/duration.ts";
import { metricsDialect, parseRollout, type Rollout } from "../../src/api/rollout.ts";
import { BASELINE_DEFAULTS, parseSLOProfile, type SLOProfile } from "../../src/api/slo-profile.ts";
import { ProfileAnalysis } from "../../src/controller/analysis.ts";
import { type RunningController, startController } from "../../src/controller/controller.ts";
import { KubeClient, type KubeObject } from "../../src/kube/client.ts";
import { ScrapingProvider } from "../../src/metrics/scrape.ts";
import { createRouter, type TrafficState } from "../../src/routers/index.ts";
import { type Backend, type Behaviour, startBackend } from "../../src/sandbox/backends/index.ts";
import { type EndpointSpec, type Mesh, startMesh } from "../../src/sandbox/mesh/index.ts";
import { startTraffic, type Traffic, type TrafficOptions } from "../../src/sandbox/traffic/index.ts";
import { createLogger } from "../../src/telemetry/logger.ts";
import { ControllerMetrics } from "../../src/telemetry/metrics.ts";
import { type Deployment, primaryLabels, revisionOf } from "../../src/workloads/deployments.ts";
import { ownerOf } from "../../src/workloads/workloads.ts";
import { type Harness, startHarness } from "../integration/emulator/harness.ts";
import {
  idOf,
  kustomizations,
  kustomize,
  openCrd,
  THIRD_PARTY_CRDS,
} from "../integration/manifests/support.ts";
import { ROLLOUT_TYPE, ROOT, setImage } from "./cluster.ts";

// --- the speed-up --------------------------------------------------------------------------------------

/** Durations a rollout waits out (pause, chaos, A/B test, scale-down delay) are capped at this. */
export const WAIT_CAP_MS = 90_000;
/** Deadlines (an analysis step's duration, blue-green's analysisDuration) are capped at this. */
export const DEADLINE_CAP_MS = 120_000;
/** Every Rollout's analysis.interval (set where the example leaves the default). */
export const ANALYSIS_INTERVAL = "2s";
/** Every profile's warm-up is capped at this. */
export const WARMUP_CAP_MS = 5_000;

const DURATION_KEYS = new Set(["duration", "analysisDuration", "scaleDownDelay"]);

function cap(text: string, maxMs: number): string {
  const ms = parseDuration(text);
  return ms === undefined || ms <= maxMs ? text : formatDuration(maxMs);
}

/**
 * The one change made to every example's Rollout, so a release takes a minute or two instead of the tens
 * of minutes its production durations add up to: analysis.interval becomes ANALYSIS_INTERVAL; every
 * duration a rollout waits out becomes at most WAIT_CAP_MS; every deadline (an analysis step's duration,
 * blue-green's analysisDuration) at most DEADLINE_CAP_MS. Nothing else changes. Returns a copy.
 */
export function speedUp(rollout: KubeObject): KubeObject {
  const copy = structuredClone(rollout);
  const walk = (node: unknown, parentKey: string | undefined): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, parentKey);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const record = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if (typeof value === "string" && DURATION_KEYS.has(key) && parseDuration(value) !== undefined) {
        if (key === "analysisDuration" || parentKey === "analysis") record[key] = cap(value, DEADLINE_CAP_MS);
        else record[key] = cap(value, WAIT_CAP_MS);
      } else walk(value, key);
    }
  };
  const spec = copy.spec as { analysis?: Record<string, unknown>; strategy?: unknown };
  walk(spec.strategy, "strategy");
  spec.analysis = { ...spec.analysis, interval: ANALYSIS_INTERVAL };
  return copy;
}

/** The baseline floor every profile gets at least, as a share of its tolerance. */
export const FLOOR_SHARE_OF_TOLERANCE = 0.5;

/**
 * The change made to every profile (built-in or the example's own): the warm-up capped at WARMUP_CAP_MS,
 * and the floor under which a canary passes whatever its baseline does raised to at least half the
 * tolerance. The built-in floor (a tenth of the tolerance) makes a clean canary wait for about 5,000
 * requests, which a 2.5% step at test traffic takes over an hour to see; at half the tolerance it is about
 * 1,000, as before issue 16. This test is about each example's wiring, not the gate's statistics (those
 * have tests and a bench of their own).
 */
export function speedUpProfile(profile: SLOProfile): SLOProfile {
  const gate = profile.spec.gate;
  const floor = Math.max(
    gate.baseline.minBadRate ?? gate.tolerance * BASELINE_DEFAULTS.minBadRateShareOfTolerance,
    gate.tolerance * FLOOR_SHARE_OF_TOLERANCE,
  );
  return {
    ...profile,
    spec: {
      ...profile.spec,
      gate: {
        ...gate,
        warmup: Math.min(gate.warmup, WARMUP_CAP_MS),
        baseline: { ...gate.baseline, minBadRate: floor },
      },
    },
  };
}

// --- the examples ---------------------------------------------------------------------------------------

/** Every example directory (relative to the repository): each kustomization under manifests/examples/. */
export function exampleDirs(): string[] {
  return kustomizations().filter((dir) => dir.startsWith("manifests/examples/"));
}

const yamlOf = (objects: KubeObject[]) => objects.map((o) => stringify(o)).join("---\n");

function labelsMatch(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The header values an A/B test's first match asks for; a regular expression or a cookie cannot be guessed. */
function taggedRequests(rollout: Rollout): TrafficOptions["tagged"] | undefined {
  const match = rollout.spec.strategy.abTest?.match[0];
  if (!match) return undefined;
  if (match.cookie !== undefined)
    throw new Error(`the A/B test matches a cookie (${match.cookie}); the test cannot make one up`);
  const headers: Record<string, string> = {};
  for (const [name, condition] of Object.entries(match.headers ?? {})) {
    const value = condition.exact ?? condition.prefix;
    if (value === undefined)
      throw new Error(`the A/B test matches header ${name} by regex; the test cannot make a value up`);
    headers[name] = value;
  }
  return { share: TAGGED_SHARE, headers };
}

/** The share of requests that carry an A/B test's header. */
export const TAGGED_SHARE = 0.5;

/**
 * Requests a second of every example's traffic. A profile with a 1% tolerance needs about 1,100 clean
 * canary requests before it passes a step, so a step at a small share takes long (2.5% of 200 rps: about
 * 4 minutes); three examples at once keep one Node process (the test's) at about 600 requests a second,
 * which a shared 2-core machine serves. The mesh records latency in simulated time, so a stall of that
 * machine slows the examples down but does not fail a latency gate.
 */
export const RPS = 200;

/**
 * The canary's shares of the traffic at the gates that judge it (analysis steps, chaos steps, the final
 * gate before promotion): the weight set before each, all requests for a blue-green preview (a mirror) and
 * switch, the tagged share for an A/B test.
 */
export function judgedShares(rollout: Rollout): number[] {
  const { canary, abTest, blueGreen } = rollout.spec.strategy;
  // blue-green: the preview on the mirror, then the final gate after the switch
  if (blueGreen) return blueGreen.previewAnalysis ? [1, 1] : [1];
  if (abTest) return [TAGGED_SHARE];
  const shares: number[] = [];
  let weight = 0;
  for (const step of canary?.steps ?? []) {
    if (step.setWeight !== undefined) weight = step.setWeight;
    if (step.analysis || step.chaos) shares.push(weight / 100);
  }
  const last = canary?.steps.at(-1);
  if (!last?.analysis) shares.push(weight / 100); // the final gate judges the last share afresh
  return shares;
}

/** How many requests in all an example needs per clean request its canary must serve at each gate. */
export function trafficCost(rollout: Rollout): number {
  return judgedShares(rollout).reduce((sum, share) => sum + 1 / share, 0);
}

/** One example rendered with the real `kubectl kustomize`, its Rollout sped up (speedUp) and parsed. */
export interface RenderedExample {
  dir: string;
  objects: KubeObject[];
  rollout: Rollout;
}

export async function renderExample(dir: string): Promise<RenderedExample> {
  const rendered = await kustomize(dir);
  const rollouts = rendered.filter((o) => o.kind === "Rollout");
  if (rollouts.length !== 1)
    throw new Error(`${dir} renders ${rollouts.length} Rollouts; the test runs examples with one`);
  const objects = rendered.map((o) => (o.kind === "Rollout" ? speedUp(o) : o));
  const parsed = parseRollout(objects.find((o) => o.kind === "Rollout"));
  if (!parsed.ok) throw new Error(`${dir}: the Rollout does not parse: ${JSON.stringify(parsed.errors)}`);
  return { dir, objects, rollout: parsed.value };
}

/**
 * Calls to `host` that the mesh's fault filter answered (Envoy's response flag FI), by calling workload, as
 * the callers' sidecars report them in Istio's metrics: the evidence that a dependency fault hit traffic.
 */
export async function faultedCalls(mesh: Mesh, host: string): Promise<Record<string, number>> {
  if (mesh.dialect !== "istio")
    throw new Error(`dependency faults are read from Istio's metrics; this mesh exports ${mesh.dialect}'s`);
  const metric = await mesh.registry.getSingleMetric("istio_requests_total")?.get();
  const calls: Record<string, number> = {};
  for (const { labels, value } of metric?.values ?? []) {
    const flags = String(labels.response_flags ?? "").split(",");
    if (labels.reporter !== "source" || labels.destination_service_name !== host || !flags.includes("FI"))
      continue;
    const source = String(labels.source_workload);
    calls[source] = (calls[source] ?? 0) + value;
  }
  return calls;
}

// --- one example, running -------------------------------------------------------------------------------

export interface RunningExample {
  dir: string;
  namespace: string;
  /** The Rollout as rendered and sped up, parsed. */
  rollout: Rollout;
  client: KubeClient;
  harness: Harness;
  mesh: Mesh;
  traffic: Traffic;
  rps: number;
  /** Version names of the stable and the new backends (the images' tags). */
  versions: { stable: string; canary: string };
  /** Services other than the rollout's own, with backends (a dependency such as payments). */
  otherServices: string[];
  /** The controller's log lines so far (JSON). */
  log(): string[];
  /** The rollout's traffic as its route object shows it now. */
  route(): Promise<TrafficState>;
  /** Patches the target Deployment's image to the new one; returns the new revision. */
  release(): Promise<string>;
  stop(): Promise<void>;
}

/** An image's tag (`6.7.1`), which names the version its backend answers as. */
function tagOf(image: string): string {
  return /:([^:/]+)$/.exec(image)?.[1] ?? image;
}

/**
 * Applies a rendered example to a fresh emulator and starts its data plane, the controller and the
 * traffic; the controller then makes the current image the stable primary (phase Idle) on its own.
 */
export async function startExample(
  example: RenderedExample,
  options: { newImage: string },
): Promise<RunningExample> {
  const { dir, objects, rollout } = example;
  const stops: (() => Promise<unknown> | unknown)[] = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step();
  };
  try {
    const namespace = rollout.metadata.namespace ?? "default";
    const name = rollout.metadata.name;
    const target = objects.find(
      (o) =>
        o.kind === "Deployment" &&
        o.metadata.name === rollout.spec.targetRef.name &&
        (o.metadata.namespace ?? namespace) === namespace,
    ) as Deployment | undefined;
    if (!target)
      throw new Error(`${dir}: no Deployment ${rollout.spec.targetRef.name} among ${objects.map(idOf)}`);

    // the cluster: the project's CRDs, the third-party kinds the example needs, then the example
    const harness = await startHarness({
      port: 0,
      controllers: { deployments: { delayMs: 200 }, garbageCollector: true },
    });
    stops.push(() => harness.close());
    const crds = await harness.kubectl(
      ["apply", "-f", `${ROOT}/manifests/crds`, "-f", "-"],
      yamlOf(THIRD_PARTY_CRDS.map(openCrd)),
    );
    if (crds.code !== 0) throw new Error(`applying the CRDs failed: ${crds.stderr}`);
    await harness.kubectlOk(["wait", "--for=condition=Established", "--timeout=20s", "crd", "--all"]);
    const applied = await harness.kubectl(["apply", "-f", "-"], yamlOf(objects));
    if (applied.code !== 0) throw new Error(`kubectl apply of ${dir} failed: ${applied.stderr}`);

    const kc = new KubeConfig();
    kc.loadFromString(harness.api.kubeconfig());
    const client = new KubeClient(kc, { fieldManager: "test", userAgent: "test" });

    // the data plane: the stable and the new version, the fault backend, and any other Service's backend
    const backend = async (version: string, behaviour: Behaviour): Promise<Backend> => {
      const started = await startBackend({ version, behaviour });
      stops.push(() => started.close());
      return started;
    };
    const chaos = rollout.spec.strategy.canary?.steps.find((s) => s.chaos?.target === "dependency")?.chaos;
    const appBehaviour: Behaviour = chaos
      ? { scenario: "flaky-dependency", fallback: true }
      : { scenario: "healthy" };
    const image = (target.spec.template.spec as { containers: { image: string }[] }).containers[0]!.image;
    const versions = { stable: tagOf(image), canary: tagOf(options.newImage) };
    const stable = await backend(versions.stable, appBehaviour);
    const canary = await backend(versions.canary, appBehaviour);
    const fault = await backend("fault", { scenario: "fault" });
    const primaryEndpoint: EndpointSpec = {
      url: stable.url,
      workload: `${target.metadata.name}-primary`,
      labels: primaryLabels(target),
    };
    const canaryEndpoint: EndpointSpec = {
      url: canary.url,
      workload: target.metadata.name,
      labels: { ...target.spec.template.metadata?.labels },
    };
    const services: Record<string, string | EndpointSpec> = {
      // the apex Service selects the stable pods (or, for Istio subsets, both kinds: the subsets decide)
      [name]: primaryEndpoint,
      [`${name}-primary`]: primaryEndpoint,
      [`${name}-canary`]: canaryEndpoint,
      [`${name}-fault`]: fault.url,
    };
    const otherServices: string[] = [];
    for (const service of objects.filter((o) => o.kind === "Service" && !(o.metadata.name in services))) {
      const selector = (service.spec as { selector?: Record<string, string> }).selector ?? {};
      const workload = objects.find(
        (o) =>
          o.kind === "Deployment" &&
          o !== target &&
          labelsMatch((o as Deployment).spec.template.metadata?.labels ?? {}, selector),
      ) as Deployment | undefined;
      if (!workload) throw new Error(`${dir}: no Deployment serves Service ${service.metadata.name}`);
      const started = await backend(service.metadata.name, { scenario: "healthy" });
      services[service.metadata.name] = {
        url: started.url,
        workload: workload.metadata.name,
        labels: { ...workload.spec.template.metadata?.labels },
      };
      otherServices.push(service.metadata.name);
    }
    if (chaos && !otherServices.includes(chaos.host!))
      throw new Error(`${dir}: the chaos step's dependency ${chaos.host} is not a Service of the example`);
    const mesh = await startMesh({
      kubeconfig: harness.api.kubeconfig(),
      provider: rollout.spec.traffic.provider,
      metrics: metricsDialect(rollout.spec),
      namespace,
      services,
      servicePort: rollout.spec.service.port,
    });
    stops.push(() => mesh.close());
    if (chaos) {
      for (const [version, endpoint] of [
        [stable, primaryEndpoint],
        [canary, canaryEndpoint],
      ] as const) {
        version.setDependency({ url: mesh.url, host: chaos.host!, source: endpoint.workload! });
      }
    }

    // the controller, as `rollout controller --scrape` runs it, with the example's profiles
    const scraper = new ScrapingProvider(`${mesh.metricsUrl}/metrics`);
    await scraper.start();
    stops.push(() => scraper.stop());
    const builtIn = await loadBuiltInProfiles();
    const own = new Map<string, SLOProfile>();
    for (const object of await client.list("stepwise.dev/v1alpha1", "SLOProfile", namespace)) {
      const result = parseSLOProfile(object);
      if (!result.ok) throw new Error(`${dir}: SLOProfile ${object.metadata.name} does not parse`);
      own.set(object.metadata.name, result.value);
    }
    const lookup = (_namespace: string, profile: string) => {
      const found = own.get(profile) ?? builtIn.get(profile);
      return found && speedUpProfile(found);
    };
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        if (lines.length > 2_000) lines.splice(0, lines.length - 2_000);
        done();
      },
    });
    const controllerClient = new KubeClient(kc, {
      fieldManager: "stepwise-controller",
      userAgent: "stepwise-controller",
    });
    const controller: RunningController = await startController({
      client: controllerClient,
      namespace,
      analysis: new ProfileAnalysis(scraper, lookup),
      routerFor: (r, reads) => createRouter(r, controllerClient, { owner: ownerOf(r), reads }),
      logger: createLogger("info", sink),
      metrics: new ControllerMetrics(),
      resyncMs: 5_000,
    });
    stops.push(() => controller.stop());

    const rps = RPS;
    const tagged = taggedRequests(rollout);
    const traffic = startTraffic({ url: mesh.url, host: name, rps, ...(tagged ? { tagged } : {}) });
    stops.push(() => traffic.stop());

    return {
      dir,
      namespace,
      rollout,
      client,
      harness,
      mesh,
      traffic,
      rps,
      versions,
      otherServices,
      log: () => [...lines],
      async route() {
        const current = parseRollout(await client.get({ ...ROLLOUT_TYPE, namespace, name }));
        if (!current.ok) throw new Error(`${dir}: the Rollout no longer parses`);
        return createRouter(current.value, client).read();
      },
      async release() {
        await setImage(client, namespace, target.metadata.name, options.newImage);
        const updated = await client.get<Deployment>({
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace,
          name: target.metadata.name,
        });
        return revisionOf(updated.spec.template);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
