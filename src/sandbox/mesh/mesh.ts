/**
 * The simulated mesh data plane: a proxy on loopback that routes requests as `provider`'s data plane would
 * under the route objects it watches on the API server, and a metrics endpoint in the dialect the SLO
 * profiles read.
 */
import { createServer } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { seededRandom } from "../../analysis/random.ts";
import { ROLLOUT_DEFAULTS } from "../../api/defaults.ts";
import type { TrafficProvider } from "../../api/rollout.ts";
import type { MetricProvider } from "../../api/slo-profile.ts";
import { KubeClient } from "../../kube/client.ts";
import { parseServiceHost } from "./hosts.ts";
import { closeServer, listen } from "./http.ts";
import {
  CountersRecorder,
  dialectRecorder,
  LATENCY_BUCKETS,
  type WorkloadCounters,
} from "./metrics/index.ts";
import { MeshProxy } from "./proxy.ts";
import { type EndpointSpec, Topology } from "./topology.ts";
import type { RoutingTable } from "./types.ts";
import type { Protocol } from "./views/index.ts";
import { ROUTE_KINDS } from "./views/index.ts";
import { RouteObjects } from "./watch.ts";

export interface MeshOptions {
  /** Kubeconfig YAML of the API server to watch (the emulator's `kubeconfig()`). */
  kubeconfig: string;
  /** Whose route objects the data plane obeys: istio, smi, gateway or consul. */
  provider: TrafficProvider;
  /** Whose metric families it exports; by default the provider's mesh (smi and gateway: linkerd). */
  metrics?: MetricProvider;
  /** The namespace of the services and route objects (default "default"). */
  namespace?: string;
  /**
   * The Services the proxy reaches: name -> backend URL, or the URL with the serving workload's name and
   * pod labels, e.g. `{"podinfo-primary": {url, workload: "podinfo-primary"}, "podinfo-canary": {url,
   * workload: "podinfo"}, "podinfo-fault": url}`.
   */
  services: Readonly<Record<string, string | EndpointSpec>>;
  /** The Services' port, for route destinations that name none (default 80); it appears in metric labels. */
  servicePort?: number;
  /** Seed of the random source of weighted choices, faults and mirroring (default: random). */
  seed?: number;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Proxy port (default 0: any free port). */
  port?: number;
  /** Metrics port (default 0: any free port). */
  metricsPort?: number;
  /** Watch errors (the watches retry on their own). */
  onError?: (error: unknown) => void;
}

export interface Mesh {
  /** Send requests here, with the Service in the Host header (`podinfo`, `podinfo.<ns>.svc.cluster.local`). */
  url: string;
  /** Prometheus scrape endpoint: `${metricsUrl}/metrics`. */
  metricsUrl: string;
  /** The prom-client registry behind `/metrics`. */
  registry: Registry;
  /** The dialect exported. */
  dialect: MetricProvider;
  /** Cumulative request counts per destination workload (see WorkloadCounters). */
  counters(): Record<string, WorkloadCounters>;
  /** The routing table the proxy applies to a Service (name or FQDN) now, for inspection. */
  table(service: string, protocol?: Protocol): RoutingTable;
  /** Stops watching, aborts requests in flight and closes both servers. */
  close(): Promise<void>;
}

export async function startMesh(options: MeshOptions): Promise<Mesh> {
  const namespace = options.namespace ?? "default";
  const host = options.host ?? "127.0.0.1";
  const dialect = options.metrics ?? ROLLOUT_DEFAULTS.metricsByProvider[options.provider];
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(options.kubeconfig);
  const client = new KubeClient(kubeConfig, { fieldManager: "stepwise-sandbox-mesh" });
  const routes = await RouteObjects.start(
    client,
    namespace,
    ROUTE_KINDS[options.provider],
    options.onError ?? (() => {}),
  );

  const registry = new Registry();
  const counters = new CountersRecorder(LATENCY_BUCKETS[dialect]);
  const topology = new Topology(namespace, options.services, options.servicePort ?? 80);
  const proxy = new MeshProxy({
    provider: options.provider,
    routes: { objects: (kind) => routes.objects(kind), generation: () => routes.generation },
    topology,
    recorders: [dialectRecorder(dialect, registry), counters],
    random: seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32)),
  });
  const proxyServer = createServer({ keepAlive: true }, (req, res) => void proxy.handle(req, res));
  const metricsServer = createServer((req, res) => {
    if (new URL(req.url ?? "/", "http://metrics").pathname !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`),
    );
  });
  const close = async () => {
    routes.stop();
    proxy.close();
    await Promise.all([closeServer(proxyServer), closeServer(metricsServer)]);
  };
  try {
    const url = await listen(proxyServer, options.port ?? 0, host);
    const metricsUrl = await listen(metricsServer, options.metricsPort ?? 0, host);
    return {
      url,
      metricsUrl,
      registry,
      dialect,
      counters: () => counters.snapshot(),
      table: (service, protocol) =>
        proxy.table(parseServiceHost(service, namespace) ?? { name: service, namespace }, protocol),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
