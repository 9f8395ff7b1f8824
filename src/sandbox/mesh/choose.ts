/**
 * The routing decision for one request, in the order Envoy takes it: the first matching rule, a weighted
 * backend, then the fault filter (delay, then abort: independent draws), then the mirrors. Pure: all chance
 * comes from the given random source, drawn only where a choice is open.
 */
import type { Random } from "../../analysis/random.ts";
import { matchAny } from "./match.ts";
import type {
  BackendRef,
  HeaderOps,
  RequestFacts,
  RouteRule,
  RoutingTable,
  WeightedBackend,
} from "./types.ts";

export type Decision =
  /** No rule matched: the data plane answers 404 (Envoy's response flag NR). */
  | { kind: "no-route"; status: 404 }
  /** The rule has no backend with weight: the data plane answers `status`. */
  | { kind: "no-backend"; status: number; rule: RouteRule }
  /** The fault filter answers `status` (after `delayMs`) instead of the backend (flag FI). */
  | {
      kind: "abort";
      status: number;
      grpcStatus: number | undefined;
      delayMs: number;
      rule: RouteRule;
      backend: BackendRef;
    }
  /** Forward to `backend` (after `delayMs`), with the header changes in order, and copy to the mirrors. */
  | {
      kind: "forward";
      delayMs: number;
      rule: RouteRule;
      backend: BackendRef;
      headers: HeaderOps[];
      mirrors: BackendRef[];
    };

/** True with probability percent/100; draws only when the outcome is open. */
export function chance(random: Random, percent: number): boolean {
  if (!(percent > 0)) return false;
  if (percent >= 100) return true;
  return random.next() * 100 < percent;
}

/** A backend by relative weight; undefined when no backend has weight. */
export function pickWeighted(
  backends: readonly WeightedBackend[],
  random: Random,
): WeightedBackend | undefined {
  const live = backends.filter((b) => b.weight > 0);
  if (live.length <= 1) return live[0];
  const total = live.reduce((sum, b) => sum + b.weight, 0);
  let point = random.next() * total;
  for (const backend of live) {
    point -= backend.weight;
    if (point < 0) return backend;
  }
  return live[live.length - 1];
}

export function decide(table: RoutingTable, request: RequestFacts, random: Random): Decision {
  const rule = table.rules.find((r) => matchAny(r.when, request));
  if (!rule) return { kind: "no-route", status: 404 };
  const chosen = pickWeighted(rule.backends, random);
  if (!chosen) return { kind: "no-backend", status: table.noBackendStatus, rule };
  const { delay, abort } = rule.fault ?? {};
  const delayMs = delay && chance(random, delay.percent) ? delay.ms : 0;
  if (abort && chance(random, abort.percent)) {
    return {
      kind: "abort",
      status: abort.httpStatus,
      grpcStatus: abort.grpcStatus,
      delayMs,
      rule,
      backend: chosen.backend,
    };
  }
  return {
    kind: "forward",
    delayMs,
    rule,
    backend: chosen.backend,
    headers: [rule.headers, chosen.headers],
    mirrors: rule.mirrors.filter((m) => chance(random, m.percent)).map((m) => m.backend),
  };
}
