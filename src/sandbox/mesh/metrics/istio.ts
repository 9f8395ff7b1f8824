/**
 * Istio's standard metrics: `istio_requests_total` and `istio_request_duration_milliseconds`, reported by
 * the caller's sidecar (reporter="source") and by the destination's (reporter="destination"), with the
 * standard labels. A request a fault aborted never reaches the destination, so only the source reports it,
 * with destination_workload "unknown"; a mirrored copy is reported by the destination only.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import { serviceFqdn } from "../hosts.ts";
import type { Workload } from "../types.ts";
import type { Recorder, RequestRecord } from "./record.ts";

/** Istio's default buckets of istio_request_duration_milliseconds. */
export const ISTIO_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

const LABELS = [
  "reporter",
  "source_workload",
  "source_workload_namespace",
  "source_app",
  "source_version",
  "source_canonical_service",
  "destination_workload",
  "destination_workload_namespace",
  "destination_app",
  "destination_version",
  "destination_canonical_service",
  "destination_service",
  "destination_service_name",
  "destination_service_namespace",
  "request_protocol",
  "response_code",
  "grpc_response_status",
  "response_flags",
  "connection_security_policy",
] as const;

type Labels = Record<(typeof LABELS)[number], string>;

const UNKNOWN = "unknown";

function canonicalService(workload: Workload): string {
  return (
    workload.labels["service.istio.io/canonical-name"] ??
    workload.labels["app.kubernetes.io/name"] ??
    workload.labels.app ??
    workload.name
  );
}

function peer(prefix: "source" | "destination", workload: Workload | undefined): Record<string, string> {
  return {
    [`${prefix}_workload`]: workload?.name ?? UNKNOWN,
    [`${prefix}_workload_namespace`]: workload?.namespace ?? UNKNOWN,
    [`${prefix}_app`]: workload?.labels.app ?? UNKNOWN,
    [`${prefix}_version`]: workload?.labels.version ?? UNKNOWN,
    [`${prefix}_canonical_service`]: workload ? canonicalService(workload) : UNKNOWN,
  };
}

export class IstioRecorder implements Recorder {
  private readonly requests: Counter<keyof Labels>;
  private readonly duration: Histogram<keyof Labels>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "istio_requests_total",
      help: "Requests handled by an Istio proxy.",
      labelNames: LABELS,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "istio_request_duration_milliseconds",
      help: "Duration of requests, in milliseconds.",
      labelNames: LABELS,
      buckets: ISTIO_BUCKETS,
      registers: [registry],
    });
  }

  record(request: RequestRecord): void {
    if (request.source && !request.mirror) this.report("source", request, request.durationMs);
    if (request.destination) this.report("destination", request, request.upstreamMs);
  }

  private report(reporter: "source" | "destination", request: RequestRecord, ms: number): void {
    const { service } = request;
    const labels = {
      reporter,
      ...peer("source", request.source),
      ...peer("destination", request.destination?.workload),
      destination_service: service ? serviceFqdn(service) : UNKNOWN,
      destination_service_name: service?.name ?? UNKNOWN,
      destination_service_namespace: service?.namespace ?? UNKNOWN,
      request_protocol: request.protocol,
      response_code: String(request.status),
      grpc_response_status: request.grpcStatus ?? "",
      response_flags: request.flags,
      connection_security_policy: reporter === "source" ? UNKNOWN : request.source ? "mutual_tls" : "none",
    } as Labels;
    this.requests.inc(labels);
    this.duration.observe(labels, ms);
  }
}
