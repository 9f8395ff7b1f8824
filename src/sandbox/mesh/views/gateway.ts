/**
 * Gateway API HTTPRoute and GRPCRoute as a GAMMA mesh (Linkerd, Istio's Gateway API mode) applies them to
 * traffic for a Service: routes whose parentRefs name the Service (group "", kind Service).
 *
 * - Every match of every rule of every attached route competes; the most specific wins, as the spec orders
 *   them. HTTPRoute: exact path, then the longest path prefix, then a method match, then more header
 *   matches, then more query matches. GRPCRoute: the longest service, then the longest method, then more
 *   header matches. Ties go to the oldest route, then namespace/name, then the first rule and match.
 *   A rule without matches matches every request (HTTPRoute: path prefix "/"). No match is a 404.
 * - backendRefs weights are relative (default 1); all weights 0, or a backend that does not exist, is a 500.
 * - Filters: RequestHeaderModifier (rule and backendRef level) and RequestMirror (`percent`, or
 *   `fraction` numerator/denominator; 100% when neither). Other filters are not modelled.
 */
import type { KubeObject } from "../../../kube/client.ts";
import { escapeRegex } from "../../../routers/index.ts";
import type { ServiceName } from "../hosts.ts";
import { fullRegex } from "../match.ts";
import type {
  HeaderCondition,
  HeaderOps,
  Mirror,
  QueryCondition,
  RequestCondition,
  RouteRule,
  RoutingTable,
  StringMatch,
  WeightedBackend,
} from "../types.ts";
import {
  asArray,
  asRecord,
  describeObject,
  headerOpsFromLists,
  num,
  oldestFirst,
  spec,
  str,
} from "./common.ts";

export type GatewayRouteKind = "HTTPRoute" | "GRPCRoute";

/** A match and the sort key that ranks it among all matches. */
interface Candidate {
  rank: number[];
  rule: RouteRule;
}

function attachesTo(route: KubeObject, service: ServiceName): boolean {
  const namespace = route.metadata.namespace ?? service.namespace;
  return asArray(spec(route).parentRefs).some((p) => {
    const ref = asRecord(p);
    return (
      ref.group === "" &&
      ref.kind === "Service" &&
      ref.name === service.name &&
      (str(ref.namespace) ?? namespace) === service.namespace
    );
  });
}

/** An HTTPHeaderMatch / HTTPQueryParamMatch / GRPCHeaderMatch value: Exact (default) or RegularExpression. */
function valueMatch(entry: Record<string, unknown>): StringMatch {
  const value = String(entry.value ?? "");
  return entry.type === "RegularExpression"
    ? { kind: "regex", pattern: fullRegex(value) }
    : { kind: "exact", value };
}

function headerConditions(list: unknown): HeaderCondition[] {
  return asArray(list)
    .map(asRecord)
    .map((h) => ({ name: String(h.name ?? "").toLowerCase(), match: valueMatch(h) }));
}

/** An HTTPRouteMatch as a condition, with its precedence rank (smaller ranks first). */
function httpMatch(match: Record<string, unknown>): { condition: RequestCondition; rank: number[] } {
  const path = asRecord(match.path);
  const type = str(path.type) ?? "PathPrefix";
  const value = str(path.value) ?? "/";
  const condition: RequestCondition = {
    path:
      type === "Exact"
        ? { kind: "exact", value }
        : type === "RegularExpression"
          ? { kind: "regex", pattern: fullRegex(value) }
          : { kind: "pathPrefix", value },
    headers: headerConditions(match.headers),
    query: asArray(match.queryParams)
      .map(asRecord)
      .map((q): QueryCondition => ({ name: String(q.name ?? ""), match: valueMatch(q) })),
  };
  const method = str(match.method);
  if (method !== undefined) condition.method = { kind: "exact", value: method };
  const pathRank = type === "Exact" ? 0 : type === "PathPrefix" ? 1 : 2;
  return {
    condition,
    rank: [
      pathRank,
      -value.length,
      method === undefined ? 1 : 0,
      -condition.headers.length,
      -condition.query.length,
    ],
  };
}

/** A GRPCRouteMatch as a condition on the request path `/<service>/<method>`, with its rank. */
function grpcMatch(match: Record<string, unknown>): { condition: RequestCondition; rank: number[] } {
  const method = asRecord(match.method);
  const service = str(method.service);
  const name = str(method.method);
  const regex = method.type === "RegularExpression";
  const part = (value: string | undefined) =>
    value === undefined ? "[^/]+" : regex ? `(?:${value})` : escapeRegex(value);
  const condition: RequestCondition = { headers: headerConditions(match.headers), query: [] };
  if (service !== undefined || name !== undefined)
    condition.path = { kind: "regex", pattern: fullRegex(`/${part(service)}/${part(name)}`) };
  return {
    condition,
    rank: [-(service?.length ?? 0), -(name?.length ?? 0), -condition.headers.length],
  };
}

function filtersOf(value: unknown): Record<string, unknown>[] {
  return asArray(value).map(asRecord);
}

function headerOps(filters: Record<string, unknown>[]): HeaderOps[] {
  return filters
    .filter((f) => f.type === "RequestHeaderModifier")
    .map((f) => headerOpsFromLists(f.requestHeaderModifier));
}

export class GatewayView {
  constructor(private readonly routes: readonly KubeObject[]) {}

  /** The table for `service` from routes of `kind`, or undefined when none attaches to it. */
  table(service: ServiceName, kind: GatewayRouteKind): RoutingTable | undefined {
    const attached = oldestFirst(this.routes.filter((r) => r.kind === kind && attachesTo(r, service)));
    if (attached.length === 0) return undefined;
    const candidates: Candidate[] = [];
    attached.forEach((route, routeIndex) => {
      asArray(spec(route).rules).forEach((entry, ruleIndex) => {
        const rule = asRecord(entry);
        const matches = asArray(rule.matches).map(asRecord);
        (matches.length > 0 ? matches : [{}]).forEach((match, matchIndex) => {
          const { condition, rank } = kind === "HTTPRoute" ? httpMatch(match) : grpcMatch(match);
          const name = str(rule.name);
          candidates.push({
            rank: [...rank, routeIndex, ruleIndex, matchIndex],
            rule: {
              origin: `${describeObject(route)} rules[${ruleIndex}]${name ? ` (${name})` : ""} matches[${matchIndex}]`,
              when: [condition],
              ...this.actions(route, rule),
            },
          });
        });
      });
    });
    candidates.sort((a, b) => compareRanks(a.rank, b.rank));
    return {
      origin: attached.map(describeObject).join(", "),
      rules: candidates.map((c) => c.rule),
      noBackendStatus: 500,
    };
  }

  private actions(
    route: KubeObject,
    rule: Record<string, unknown>,
  ): Pick<RouteRule, "backends" | "headers" | "mirrors"> {
    const namespace = route.metadata.namespace ?? "";
    const filters = filtersOf(rule.filters);
    const backendOf = (ref: Record<string, unknown>) => {
      const backend: WeightedBackend["backend"] = {
        service: String(ref.name ?? ""),
        namespace: str(ref.namespace) ?? namespace,
      };
      const port = num(ref.port);
      if (port !== undefined) backend.port = port;
      return backend;
    };
    const backends = asArray(rule.backendRefs)
      .map(asRecord)
      .map(
        (ref): WeightedBackend => ({
          backend: backendOf(ref),
          weight: num(ref.weight) ?? 1,
          headers: combine(headerOps(filtersOf(ref.filters))),
        }),
      );
    const mirrors = filters
      .filter((f) => f.type === "RequestMirror")
      .map((f): Mirror => {
        const mirror = asRecord(f.requestMirror);
        const fraction = asRecord(mirror.fraction);
        const numerator = num(fraction.numerator);
        const percent =
          num(mirror.percent) ??
          (numerator !== undefined ? (numerator * 100) / (num(fraction.denominator) ?? 100) : 100);
        return { backend: backendOf(asRecord(mirror.backendRef)), percent };
      });
    return { backends, headers: combine(headerOps(filters)), mirrors };
  }
}

/** Several RequestHeaderModifier filters as one (a rule may only have one, but be lenient). */
function combine(all: HeaderOps[]): HeaderOps {
  return {
    set: all.flatMap((ops) => ops.set),
    add: all.flatMap((ops) => ops.add),
    remove: all.flatMap((ops) => ops.remove),
  };
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
