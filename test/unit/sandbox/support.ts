/** Shared helpers for the sandbox data-plane tests: requests, objects, and many draws from a table. */
import { seededRandom } from "../../../src/analysis/random.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { decide } from "../../../src/sandbox/mesh/choose.ts";
import type { RequestFacts, RoutingTable, Workload } from "../../../src/sandbox/mesh/types.ts";

export const NS = "shop";

export function request(
  overrides: Partial<Omit<RequestFacts, "query">> & { query?: string } = {},
): RequestFacts {
  const { query, ...rest } = overrides;
  return {
    method: "GET",
    path: "/",
    headers: {},
    authority: "podinfo",
    source: undefined,
    ...rest,
    query: new URLSearchParams(query ?? ""),
  };
}

export function workload(name: string, labels: Record<string, string>): Workload {
  return { name, namespace: NS, labels, pod: `${name}-abc-def` };
}

let created = 0;

/** An object as the API server returns it; each one created a second later than the one before. */
export function object(apiVersion: string, kind: string, name: string, spec: unknown): KubeObject {
  created++;
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace: NS,
      resourceVersion: String(created),
      creationTimestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, created)).toISOString(),
    },
    spec,
  };
}

/**
 * Decides `n` times with a seeded random source and counts the outcomes: the chosen backend's service for
 * forwards, `abort:<status>`, `no-route` or `no-backend`.
 */
export function draw(
  table: RoutingTable,
  n: number,
  facts: RequestFacts = request(),
  seed = 7,
): Record<string, number> {
  const random = seededRandom(seed);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const d = decide(table, facts, random);
    const key =
      d.kind === "forward"
        ? d.backend.service
        : d.kind === "abort"
          ? `abort:${d.grpcStatus ?? d.status}`
          : d.kind;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The share (0..1) of `key` among all draws. */
export function share(counts: Record<string, number>, key: string): number {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return (counts[key] ?? 0) / total;
}
