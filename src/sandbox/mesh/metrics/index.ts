/** The metric dialects: which families the data plane exports, by the metrics provider the profiles read. */
import type { Registry } from "prom-client";
import type { MetricProvider } from "../../../api/slo-profile.ts";
import { ENVOY_BUCKETS, EnvoyRecorder } from "./envoy.ts";
import { ISTIO_BUCKETS, IstioRecorder } from "./istio.ts";
import { LINKERD_BUCKETS, LinkerdRecorder } from "./linkerd.ts";
import type { Recorder } from "./record.ts";

export { CountersRecorder, type WorkloadCounters } from "./counters.ts";
export type { Recorder, RequestRecord } from "./record.ts";

/** The latency histogram's bucket bounds (ms) of each dialect. */
export const LATENCY_BUCKETS: Record<MetricProvider, readonly number[]> = {
  istio: ISTIO_BUCKETS,
  linkerd: LINKERD_BUCKETS,
  gateway: ENVOY_BUCKETS,
  consul: ENVOY_BUCKETS,
};

/** A recorder that exports `dialect`'s metric families into `registry`. */
export function dialectRecorder(dialect: MetricProvider, registry: Registry): Recorder {
  switch (dialect) {
    case "istio":
      return new IstioRecorder(registry);
    case "linkerd":
      return new LinkerdRecorder(registry);
    case "gateway":
    case "consul":
      return new EnvoyRecorder(registry, dialect);
  }
}
