/**
 * The controller's RBAC is exactly what it uses. For each mesh overlay, the real controller (the CLI, with
 * the args and env of the rendered Deployment, leader election on) runs against the API emulator through
 * bootstrap and two releases of rollouts that exercise every code path that talks to the API (for Istio:
 * host and subset mode, a DestinationRule of the user's and one of its own, a dependency fault created and
 * deleted; for the Gateway API: an HTTPRoute it creates and a user's GRPCRoute; for every overlay: a user's
 * stable Service it adopts, and a user's HPA that changes, then goes). Then the emulator's request
 * log is compared with the rules the overlay binds to the controller's ServiceAccount: every request must be
 * granted, and every granted (group, resource, verb) must have been used, but for the allow-list below.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KubeClient, type KubeObject } from "../../../src/kube/client.ts";
import { type KubeApi, type RequestLogEntry, startKubeApi } from "../../../src/sandbox/kube-api/index.ts";
import {
  CONTROLLER,
  controllerGrants,
  find,
  type Grant,
  grantKey,
  kustomize,
  OVERLAYS,
  type Overlay,
  ROOT,
} from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: reads Kubernetes objects, which a precise type would only obscure
type Json = Record<string, any>;

const TEST_AGENT = "stepwise-rbac-test";
const CONTROLLER_AGENT = /^stepwise-controller(\/|$)/;
const NS = "shop";

/** Granted but never requested, on purpose. */
const ALLOWED_UNUSED: Record<string, string> = {
  "stepwise.dev rollouts/finalizers update":
    "checked by the OwnerReferencesPermissionEnforcement admission plugin when the controller sets blockOwnerDeletion on the objects it creates; no request of its own",
  "gateway.networking.k8s.io grpcroutes get":
    "a GRPCRoute is read from the informer; object-router.ts reads it from the API server only when the informer does not have it (created a moment ago) or after a write refused as stale: races these scenarios do not make",
  "stepwise.dev rollouts get":
    "reconciler.ts reads a Rollout from the API server only when its cache shows a version it cannot place (someone else wrote right after it did): a race these scenarios do not make",
};

interface Scenario {
  name: string;
  traffic: Json;
  steps?: Json[];
  /** Objects of the user's the rollout drives or shares (a DestinationRule, a GRPCRoute). */
  objects?: (name: string) => KubeObject[];
}

const DEFAULT_STEPS = [{ setWeight: 20 }, { analysis: {} }, { setWeight: 60 }];

const SCENARIOS: Record<Overlay, Scenario[]> = {
  istio: [
    {
      // host mode; a chaos step on a dependency without a VirtualService: the controller creates one and
      // deletes it when the step ends
      name: "vs-host",
      traffic: { provider: "istio" },
      steps: [
        { setWeight: 20 },
        {
          chaos: {
            fault: { abort: { httpStatus: 503, percent: 5 } },
            target: "dependency",
            host: "payments",
            duration: "2s",
          },
        },
        { analysis: {} },
        { setWeight: 60 },
      ],
    },
    {
      // subset mode with the user's DestinationRule: the controller adds its two subsets to it
      name: "dr-user",
      traffic: { provider: "istio", istio: { mode: "subset" } },
      objects: (name) => [
        {
          apiVersion: "networking.istio.io/v1",
          kind: "DestinationRule",
          metadata: { name, namespace: NS },
          spec: { host: name, subsets: [{ name: "legacy", labels: { track: "legacy" } }] },
        },
      ],
    },
    // subset mode without one: the controller creates it
    { name: "dr-new", traffic: { provider: "istio", istio: { mode: "subset" } } },
  ],
  linkerd: [
    // the controller creates the HTTPRoute
    { name: "http-route", traffic: { provider: "gateway" } },
    {
      // a GRPCRoute is always the user's (routeRef)
      name: "grpc-route",
      traffic: { provider: "gateway", routeRef: { kind: "GRPCRoute", name: "grpc-route" } },
      objects: (name) => [
        {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "GRPCRoute",
          metadata: { name, namespace: NS },
          spec: {
            parentRefs: [{ group: "", kind: "Service", name, port: 80 }],
            rules: [{ backendRefs: [{ name: `${name}-primary`, port: 80, weight: 100 }] }],
          },
        },
      ],
    },
  ],
  "linkerd-smi": [{ name: "split", traffic: { provider: "smi" } }],
  consul: [{ name: "splitter", traffic: { provider: "consul" } }],
};

/**
 * The user's own objects around the first rollout of each overlay: its stable Service (the default name),
 * which the controller adopts, and an HPA of its Deployment, from which the controller makes the primary's.
 */
function usersWorkloadObjects(name: string): KubeObject[] {
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `${name}-primary`, namespace: NS },
      spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 80 }] },
    },
    {
      ...HPA,
      metadata: { name, namespace: NS },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
        minReplicas: 2,
        maxReplicas: 4,
      },
    },
  ];
}

const HPA = { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" } as const;

/** The built-in availability profile under another name, without warm-up, judging against a bound only. */
function fastProfile(): KubeObject {
  const profile = parse(readFileSync(join(ROOT, "slo-profiles/http-availability.yaml"), "utf8")) as Json;
  profile.metadata = { name: "fast-availability", namespace: NS };
  profile.spec.gate = { ...profile.spec.gate, compare: "absolute", warmup: "0s", minRequests: 20 };
  delete profile.spec.gate.baseline;
  return profile as KubeObject;
}

/** istio_requests_total of every workload, growing with time, no errors: the controller scrapes it. */
async function startMetrics(workloads: string[]): Promise<{ url: string; server: Server }> {
  const started = Date.now();
  const server = createServer((_request, response) => {
    const seconds = (Date.now() - started) / 1000;
    const lines = ["# TYPE istio_requests_total counter"];
    for (const workload of workloads) {
      const labels = `reporter="destination",destination_workload="${workload}",destination_workload_namespace="${NS}"`;
      lines.push(`istio_requests_total{${labels},response_code="200"} ${Math.floor(seconds * 5000)}`);
    }
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(`${lines.join("\n")}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, server };
}

/**
 * The command line of the rendered Deployment's container, as the kubelet would run it ($(VAR) expanded
 * from its env), with two changes for the test: SLIs scraped from `scrapeUrl` instead of a Prometheus, and
 * /metrics on a free loopback port.
 */
function controllerCommand(
  objects: KubeObject[],
  scrapeUrl: string,
): { args: string[]; env: NodeJS.ProcessEnv } {
  const deployment = find(objects, "Deployment", "stepwise-controller") as Json;
  const container = deployment.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const entry of container.env as Json[]) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.fieldRef?.fieldPath === "metadata.namespace")
      env[entry.name] = deployment.metadata.namespace;
    else if (entry.valueFrom?.configMapKeyRef) {
      const ref = entry.valueFrom.configMapKeyRef;
      env[entry.name] = (find(objects, "ConfigMap", ref.name) as Json).data[ref.key];
    } else throw new Error(`cannot resolve env ${entry.name}`);
  }
  const expanded = (container.args as string[]).map((arg) =>
    arg.replace(/\$\(([A-Z_]+)\)/g, (_m, name: string) => env[name] ?? _m),
  );
  const args = expanded.map((arg) => {
    if (arg.startsWith("--prometheus=")) return `--scrape=${scrapeUrl}`;
    if (arg.startsWith("--metrics-addr=")) return "--metrics-addr=127.0.0.1:0";
    return arg;
  });
  expect(args).toContain(`--scrape=${scrapeUrl}`);
  expect(args).toContain("--metrics-addr=127.0.0.1:0");
  expect(args).toContain("--leader-elect");
  return { args, env: { ...process.env, ...env, TMPDIR: tmpdir() } };
}

/** Starts `node cli/bin/rollout.js <args>`; resolves with the /metrics URL once it has logged that it started. */
function startController(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [join(ROOT, "cli/bin/rollout.js"), ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the controller did not start:\n${output}`)), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    // the log: JSON lines on stderr
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      // complete lines only
      for (const line of output.split("\n").slice(0, -1)) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; metrics?: string };
        if (entry.msg === "controller started" && entry.metrics) {
          clearTimeout(timer);
          resolve({ child, url: entry.metrics, output: () => output });
        }
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the controller exited with ${code}:\n${output}`));
    });
  });
}

/** One request as RBAC sees it. */
interface Access {
  group: string;
  /** resource or resource/subresource */
  resource: string;
  verb: string;
  namespace?: string;
  name?: string;
}

const accessKey = (a: Access) => `${a.group || "core"} ${a.resource} ${a.verb}`;

function allows(grant: Grant, access: Access): boolean {
  return (
    grant.group === access.group &&
    grant.resource === access.resource &&
    grant.verb === access.verb &&
    (grant.namespace === undefined || grant.namespace === access.namespace) &&
    (grant.resourceNames === undefined ||
      (access.name !== undefined && grant.resourceNames.includes(access.name)))
  );
}

let crds: KubeObject[];
beforeAll(async () => {
  crds = (await kustomize("manifests")).filter((o) => o.kind === "CustomResourceDefinition");
});

describe.concurrent.each(Object.keys(OVERLAYS) as Overlay[])("the %s overlay", (overlay) => {
  let api: KubeApi | undefined;
  let metrics: Server | undefined;
  let controller: ChildProcess | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    controller?.kill("SIGKILL");
    metrics?.close();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("grants the controller exactly what it used", { timeout: 180_000 }, async (context) => {
    const objects = await kustomize(`manifests/overlays/${overlay}`);
    api = await startKubeApi({
      port: 0,
      controllers: { deployments: { delayMs: 30 }, garbageCollector: true },
      requestLogSize: 1_000_000,
    });
    dir = await mkdtemp(join(tmpdir(), `stepwise-rbac-${overlay}-`));
    const kubeconfig = join(dir, "kubeconfig");
    await api.writeKubeconfig(kubeconfig);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const client = new KubeClient(kc, { fieldManager: TEST_AGENT });

    for (const crd of crds) await client.create(crd);
    for (const name of [NS, CONTROLLER.namespace])
      await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    await waitFor("the CRDs to be served", async () =>
      (await client.apiGroup("stepwise.dev"))?.versions.length ? true : undefined,
    );
    await client.create(fastProfile());

    const scenarios = SCENARIOS[overlay];
    for (const [index, scenario] of scenarios.entries()) {
      const users = index === 0 ? usersWorkloadObjects(scenario.name) : [];
      for (const object of [...(scenario.objects?.(scenario.name) ?? []), ...users])
        await client.create(object);
      await client.create(deployment(scenario.name, "registry/app:1.0"));
      await client.create(rollout(scenario));
    }
    const started = await startMetrics(scenarios.flatMap((s) => [s.name, `${s.name}-primary`]));
    metrics = started.server;

    const { args, env } = controllerCommand(objects, started.url);
    const running = await startController([...args, "--kubeconfig", kubeconfig], env);
    controller = running.child;
    for (const path of ["/healthz", "/readyz"])
      expect((await fetch(`${running.url}${path}`)).status, path).toBe(200);

    try {
      // bootstrap, then two releases of each: the second repeats events of the first (a patch of the Event)
      await Promise.all(scenarios.map((s) => waitFor(`${s.name} Idle`, () => phase(client, s.name, "Idle"))));
      for (const image of ["registry/app:1.1", "registry/app:1.2"]) {
        for (const s of scenarios) await setImage(client, s.name, image);
        await Promise.all(
          scenarios.map((s) =>
            waitFor(`${s.name} ${image} Succeeded`, () => phase(client, s.name, "Succeeded", image)),
          ),
        );
      }
      // the user's HPA changes, then goes: the primary's follows, then goes too
      const first = scenarios[0]!.name;
      const primaryHpa = () =>
        client.get({ ...HPA, namespace: NS, name: `${first}-primary` }).catch(() => undefined) as Promise<
          Json | undefined
        >;
      await client.mergePatch({ ...HPA, namespace: NS, name: first }, { spec: { maxReplicas: 5 } });
      await waitFor("the primary's HPA to follow", async () =>
        (await primaryHpa())?.spec.maxReplicas === 5 ? true : undefined,
      );
      await client.delete({ ...HPA, namespace: NS, name: first });
      await waitFor("the primary's HPA to go", async () => ((await primaryHpa()) ? undefined : true));
    } catch (error) {
      throw new Error(`${(error as Error).message}\ncontroller output:\n${running.output().slice(-4000)}`);
    }
    const exposition = await (await fetch(`${running.url}/metrics`)).text();
    expect(exposition).toContain("stepwise_rollout_phase");

    // a clean stop hands the lease over (a last lease patch)
    const exited = new Promise<number | null>((resolve) => controller!.once("exit", resolve));
    controller.kill("SIGTERM");
    expect(await exited).toBe(0);
    controller = undefined;

    // Everything in the log that the test did not send is the controller's.
    const entries = api.requestLog.all().filter((e) => e.userAgent !== TEST_AGENT);
    expect(entries.length).toBeGreaterThan(0);
    // Its own client names itself (stepwise-controller/<pod name>); its watches go through client-node's
    // Watch, which does not send that User-Agent.
    for (const e of entries.filter((entry) => entry.verb !== "watch"))
      expect(e.userAgent, `${e.method} ${e.path}`).toMatch(CONTROLLER_AGENT);
    // Requests to non-resource URLs are discovery only (allowed to every authenticated client).
    const nonResource = entries.filter((e) => e.verb === "");
    for (const e of nonResource) expect(`${e.method} ${e.path}`).toMatch(/^GET \/apis?(\/[a-z0-9.-]+){0,2}$/);

    const accesses: Access[] = entries
      .filter((e: RequestLogEntry) => e.verb !== "")
      .map((e) => ({
        group: e.group,
        resource: e.subresource ? `${e.resource}/${e.subresource}` : e.resource!,
        verb: e.verb,
        ...(e.namespace ? { namespace: e.namespace } : {}),
        ...(e.name ? { name: e.name } : {}),
      }));
    const { grants } = controllerGrants(objects);

    const denied = [
      ...new Set(
        accesses
          .filter((a) => !grants.some((g) => allows(g, a)))
          .map((a) => `${accessKey(a)} ${a.namespace ?? ""} ${a.name ?? ""}`),
      ),
    ];
    expect(denied, "requests the controller made that no rule grants").toEqual([]);

    const unused = grants
      .filter((g) => !accesses.some((a) => allows(g, a)))
      .map(grantKey)
      .filter((key) => !(key in ALLOWED_UNUSED));
    expect(unused, "rules the controller never used").toEqual([]);
    // each allowance is still granted (the mesh's own only in its overlay)
    const meshGroups = Object.values(OVERLAYS).flat() as string[];
    for (const key of Object.keys(ALLOWED_UNUSED)) {
      const group = key.split(" ")[0]!;
      if (meshGroups.includes(group) && !(OVERLAYS[overlay] as readonly string[]).includes(group)) continue;
      expect(grants.map(grantKey), key).toContain(key);
    }

    // the mesh's own rules were all exercised, with no other mesh's
    const meshUsed = [
      ...new Set(accesses.filter((a) => OVERLAYS[overlay].includes(a.group as never)).map(accessKey)),
    ];
    expect(meshUsed.length).toBeGreaterThan(0);
    const otherMesh = accesses.filter(
      (a) =>
        !(OVERLAYS[overlay] as readonly string[]).includes(a.group) &&
        Object.values(OVERLAYS)
          .flat()
          .includes(a.group as never),
    );
    expect(otherMesh).toEqual([]);

    const used = [...new Set(accesses.map(accessKey))].sort();
    const discovery = [...new Set(nonResource.map((e) => e.path))].sort();
    context.annotate(`used: ${used.join("; ")} | discovery: ${discovery.join(" ")}`);
    // STEPWISE_RBAC_REPORT=1 prints what the controller used, for docs and reviews
    if (process.env.STEPWISE_RBAC_REPORT)
      console.info(`${overlay}:\n  ${used.join("\n  ")}\n  discovery: ${discovery.join(" ")}`);
  });
});

function deployment(name: string, image: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image, ports: [{ name: "http", containerPort: 80 }] }] },
      },
    },
  };
}

function rollout(scenario: Scenario): KubeObject {
  return {
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: scenario.name, namespace: NS },
    spec: {
      targetRef: { kind: "Deployment", name: scenario.name },
      service: { port: 80 },
      traffic: scenario.traffic,
      strategy: { canary: { steps: scenario.steps ?? DEFAULT_STEPS } },
      analysis: { interval: "1s", metrics: "istio", profiles: [{ name: "fast-availability" }] },
      progressDeadlineSeconds: 60,
    },
  };
}

async function setImage(client: KubeClient, name: string, image: string): Promise<void> {
  await client.jsonPatch({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name }, [
    { op: "replace", path: "/spec/template/spec/containers/0/image", value: image },
  ]);
}

/** True when the rollout is in `want` (and its primary runs `image`, when given). */
async function phase(
  client: KubeClient,
  name: string,
  want: string,
  image?: string,
): Promise<true | undefined> {
  const object = (await client.get({
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    namespace: NS,
    name,
  })) as Json;
  const status = object.status ?? {};
  if (status.phase === "RolledBack" || status.phase === "Failed")
    throw new Error(`${name} ended ${status.phase}: ${status.message}`);
  if (status.phase !== want) return undefined;
  if (!image) return true;
  const primary = (await client.get({
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: NS,
    name: `${name}-primary`,
  })) as Json;
  return primary.spec.template.spec.containers[0].image === image && status.revision === status.stableRevision
    ? true
    : undefined;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
