/**
 * Envoy's upstream cluster statistics as its Prometheus endpoint exports them (tag extraction turns
 * `cluster.<name>.upstream_rq_503` into `envoy_cluster_upstream_rq{envoy_response_code="503"}`):
 * `envoy_cluster_upstream_rq` (per code), `envoy_cluster_upstream_rq_xx` (per class),
 * `envoy_cluster_upstream_rq_total` and the `envoy_cluster_upstream_rq_time` histogram.
 *
 * Two Envoy data planes, told apart by which Envoy reports and how it names the cluster:
 * - gateway: the proxy in front of the backends, one cluster per backend Service, named Contour-style
 *   `<namespace>/<service>/<port>`;
 * - consul: each workload's own sidecar, whose inbound cluster is `local_app`; Prometheus adds the pod's
 *   `namespace` and `pod` labels.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { Endpoint } from "../topology.ts";
import type { Recorder, RequestRecord } from "./record.ts";

/** Envoy's default histogram buckets (milliseconds for upstream_rq_time). */
export const ENVOY_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

export type EnvoyFlavour = "gateway" | "consul";

const CLUSTER_LABELS: Record<EnvoyFlavour, readonly string[]> = {
  gateway: ["envoy_cluster_name"],
  consul: ["envoy_cluster_name", "namespace", "pod"],
};

function clusterLabels(flavour: EnvoyFlavour, endpoint: Endpoint): Record<string, string> {
  return flavour === "gateway"
    ? { envoy_cluster_name: `${endpoint.namespace}/${endpoint.service}/${endpoint.port}` }
    : { envoy_cluster_name: "local_app", namespace: endpoint.namespace, pod: endpoint.workload.pod };
}

export class EnvoyRecorder implements Recorder {
  private readonly byCode: Counter;
  private readonly byClass: Counter;
  private readonly total: Counter;
  private readonly time: Histogram;

  constructor(
    registry: Registry,
    private readonly flavour: EnvoyFlavour,
  ) {
    const cluster = CLUSTER_LABELS[flavour];
    const registers = [registry];
    this.byCode = new Counter({
      name: "envoy_cluster_upstream_rq",
      help: "Upstream requests by response code.",
      labelNames: [...cluster, "envoy_response_code"],
      registers,
    });
    this.byClass = new Counter({
      name: "envoy_cluster_upstream_rq_xx",
      help: "Upstream requests by response code class.",
      labelNames: [...cluster, "envoy_response_code_class"],
      registers,
    });
    this.total = new Counter({
      name: "envoy_cluster_upstream_rq_total",
      help: "Total upstream requests.",
      labelNames: cluster,
      registers,
    });
    this.time = new Histogram({
      name: "envoy_cluster_upstream_rq_time",
      help: "Upstream request time, in milliseconds.",
      labelNames: cluster,
      buckets: ENVOY_BUCKETS,
      registers,
    });
  }

  record(request: RequestRecord): void {
    if (!request.destination) return;
    const cluster = clusterLabels(this.flavour, request.destination);
    const code = String(request.status);
    this.byCode.inc({ ...cluster, envoy_response_code: code });
    this.byClass.inc({ ...cluster, envoy_response_code_class: code.slice(0, 1) });
    this.total.inc(cluster);
    this.time.observe(cluster, request.upstreamMs);
  }
}
