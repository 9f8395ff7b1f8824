/** One request as the data plane saw it: what every metrics dialect records from. */
import type { Endpoint } from "../topology.ts";
import type { Workload } from "../types.ts";

export interface RequestRecord {
  /** The caller; undefined for a client outside the mesh (no sidecar reports for it). */
  source: Workload | undefined;
  /** The Service the chosen route destination names, when a destination was chosen. */
  service: { name: string; namespace: string } | undefined;
  /** The backend whose sidecar handled the request; undefined when it never got there (fault, no route). */
  destination: Endpoint | undefined;
  protocol: "http" | "grpc";
  /** The Host / :authority the request was sent with. */
  authority: string;
  status: number;
  /** The grpc-status of a gRPC response; undefined otherwise. */
  grpcStatus: string | undefined;
  /** Envoy's response flags: "-", or FI (fault abort), DI (fault delay), NR (no route), UH/UF (no backend). */
  flags: string;
  /** The time the caller's sidecar saw, fault delay included; in simulated time (SERVICE_TIME_HEADER). */
  durationMs: number;
  /** The time the destination's sidecar saw (0 when the request never got there); in simulated time too. */
  upstreamMs: number;
  /** A mirrored copy: only the destination's side reports it. */
  mirror: boolean;
}

export interface Recorder {
  record(request: RequestRecord): void;
}
