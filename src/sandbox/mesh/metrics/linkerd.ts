/**
 * The Linkerd proxy's inbound metrics, as the destination pod's proxy exports them once Prometheus has
 * added the pod's namespace, deployment and pod labels: `request_total`, `response_total` (status_code,
 * classification, grpc_status) and the `response_latency_ms` histogram. Linkerd classifies a response as a
 * failure when it is a 5xx, or a gRPC response with a status other than 0 (OK).
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { Recorder, RequestRecord } from "./record.ts";

/** The Linkerd proxy's buckets of response_latency_ms. */
export const LINKERD_BUCKETS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000,
  30000, 40000, 50000,
];

const PEER = ["direction", "authority", "namespace", "deployment", "pod", "tls"] as const;
const RESPONSE = [...PEER, "status_code", "classification", "grpc_status"] as const;
const LATENCY = [...PEER, "status_code"] as const;

export class LinkerdRecorder implements Recorder {
  private readonly requests: Counter<(typeof PEER)[number]>;
  private readonly responses: Counter<(typeof RESPONSE)[number]>;
  private readonly latency: Histogram<(typeof LATENCY)[number]>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "request_total",
      help: "Total count of HTTP requests.",
      labelNames: PEER,
      registers: [registry],
    });
    this.responses = new Counter({
      name: "response_total",
      help: "Total count of HTTP responses.",
      labelNames: RESPONSE,
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "response_latency_ms",
      help: "Elapsed times between a request's headers being received and its response stream completing.",
      labelNames: LATENCY,
      buckets: LINKERD_BUCKETS,
      registers: [registry],
    });
  }

  record(request: RequestRecord): void {
    const destination = request.destination;
    if (!destination) return;
    const peer = {
      direction: "inbound",
      authority: request.authority,
      namespace: destination.namespace,
      deployment: destination.workload.name,
      pod: destination.workload.pod,
      // meshed callers talk mTLS to the inbound proxy; others arrive in the clear
      tls: request.source ? "true" : "no_identity",
    };
    const grpc = request.protocol === "grpc";
    const failed = request.status >= 500 || (grpc && request.grpcStatus !== "0");
    const status_code = String(request.status);
    this.requests.inc(peer);
    this.responses.inc({
      ...peer,
      status_code,
      classification: failed ? "failure" : "success",
      grpc_status: grpc ? (request.grpcStatus ?? "") : "",
    });
    this.latency.observe({ ...peer, status_code }, request.upstreamMs);
  }
}
