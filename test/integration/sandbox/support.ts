/**
 * A sandbox world per test file: the Kubernetes API emulator, a client of its HTTP API (standing in for the
 * controller), version backends and the mesh proxy; plus requests, scrapes and polling.
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { TrafficProvider } from "../../../src/api/rollout.ts";
import type { MetricProvider } from "../../../src/api/slo-profile.ts";
import { KubeClient, type KubeObject } from "../../../src/kube/client.ts";
import {
  type Backend,
  type BackendOptions,
  startBackend,
  VERSION_HEADER,
} from "../../../src/sandbox/backends/index.ts";
import { type KubeApi, startKubeApi } from "../../../src/sandbox/kube-api/index.ts";
import {
  type EndpointSpec,
  httpCall,
  type Mesh,
  type MeshOptions,
  SOURCE_HEADER,
  startMesh,
} from "../../../src/sandbox/mesh/index.ts";

export const NS = "shop";

export interface BackendSpec extends Omit<BackendOptions, "version"> {
  /** The Service that reaches it; default `podinfo-<version>`. */
  service?: string;
  workload?: string;
  labels?: Record<string, string>;
}

export interface World {
  api: KubeApi;
  client: KubeClient;
  mesh: Mesh;
  backends: Record<string, Backend>;
  close(): Promise<void>;
}

export async function startWorld(options: {
  provider: TrafficProvider;
  /** Default: shop. */
  namespace?: string;
  metrics?: MetricProvider;
  backends: Record<string, BackendSpec>;
  /** Objects to create before the mesh starts. */
  objects?: KubeObject[];
  mesh?: Partial<MeshOptions>;
}): Promise<World> {
  const api = await startKubeApi({ port: 0 });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(api.kubeconfig());
  const client = new KubeClient(kubeConfig, { fieldManager: "stepwise" });
  const backends: Record<string, Backend> = {};
  const services: Record<string, EndpointSpec> = {};
  let mesh: Mesh | undefined;
  const close = async () => {
    await mesh?.close();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    await api.close();
  };
  const namespace = options.namespace ?? NS;
  try {
    await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    for (const object of options.objects ?? [])
      await client.create({ ...object, metadata: { ...object.metadata, namespace } });
    let seed = 1;
    for (const [version, spec] of Object.entries(options.backends)) {
      const { service, workload, labels, ...backendOptions } = spec;
      const backend = await startBackend({ seed: seed++, ...backendOptions, version });
      backends[version] = backend;
      services[service ?? `podinfo-${version}`] = { url: backend.url, workload, labels };
    }
    mesh = await startMesh({
      kubeconfig: api.kubeconfig(),
      provider: options.provider,
      metrics: options.metrics,
      namespace,
      services,
      servicePort: 9898,
      seed: 42,
      ...options.mesh,
    });
    return { api, client, mesh, backends, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Tally {
  byVersion: Record<string, number>;
  byStatus: Record<string, number>;
  total: number;
}

/** Sends `n` requests for `host` through the proxy (20 at a time) and tallies who answered how. */
export async function send(
  mesh: Mesh,
  n: number,
  options: { host?: string; path?: string; headers?: Record<string, string>; source?: string } = {},
): Promise<Tally> {
  const tally: Tally = { byVersion: {}, byStatus: {}, total: 0 };
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const answer = await httpCall(mesh.url, {
        path: options.path ?? "/",
        headers: {
          host: options.host ?? "podinfo",
          [SOURCE_HEADER]: options.source ?? "loadgenerator",
          ...options.headers,
        },
      });
      const version = String(answer.headers[VERSION_HEADER] ?? "none");
      tally.byVersion[version] = (tally.byVersion[version] ?? 0) + 1;
      tally.byStatus[answer.status] = (tally.byStatus[answer.status] ?? 0) + 1;
      tally.total++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(20, n) }, worker));
  return tally;
}

/** Polls `check` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until the proxy's routing table for `service` satisfies `ready` (the watch delivered the change). */
export function tableUpdated(
  mesh: Mesh,
  ready: (table: ReturnType<Mesh["table"]>) => boolean,
  service = "podinfo",
) {
  return eventually(async () => (ready(mesh.table(service)) ? true : undefined));
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Scrapes the mesh's /metrics and parses the Prometheus text format. */
export async function scrape(mesh: Mesh): Promise<Sample[]> {
  const answer = await httpCall(mesh.metricsUrl, { path: "/metrics" });
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
  const samples: Sample[] = [];
  for (const line of answer.body.toString("utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`cannot parse metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[name!] = value!.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`. */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** A PromQL string literal's content, unescaped. */
function unquote(text: string): string {
  return text.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

/**
 * Evaluates an instant-vector selector (`name{label="v", label=~"re", ...}`, optionally inside `sum(...)`)
 * against scraped samples and sums what it selects: enough to check that the SLO profiles' queries select
 * the series the mesh exports, without a Prometheus.
 */
export function select(query: string, samples: Sample[]): number {
  const inner = /^\s*sum\s*\((.*)\)\s*$/s.exec(query)?.[1] ?? query;
  const match = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$/s.exec(inner);
  if (!match) throw new Error(`not a plain selector: ${query}`);
  const matchers = [
    ...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g),
  ].map(([, label, op, raw]) => {
    const value = unquote(raw!);
    const regex = new RegExp(`^(?:${value})$`);
    return (labels: Record<string, string>) => {
      const actual = labels[label!] ?? "";
      switch (op) {
        case "=":
          return actual === value;
        case "!=":
          return actual !== value;
        case "=~":
          return regex.test(actual);
        default:
          return !regex.test(actual);
      }
    };
  });
  return samples
    .filter((s) => s.name === match[1] && matchers.every((m) => m(s.labels)))
    .reduce((sum, s) => sum + s.value, 0);
}
