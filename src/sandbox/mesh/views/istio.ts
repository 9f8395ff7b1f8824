/**
 * Istio VirtualService (and DestinationRule subsets) as the routing table a sidecar applies to a host.
 *
 * - The VirtualService of a host is the oldest one that declares it and applies to sidecars (no `gateways`,
 *   or `mesh` among them); Istio does not merge VirtualServices for sidecars.
 * - http routes are tried in order, the first whose match blocks (any of them; all of a block's conditions)
 *   hold wins; no route matching is a 404.
 * - Route weights are relative (weight/sum); a lone destination without a weight takes everything.
 * - `mirror` + `mirrorPercentage` (or the older `mirrorPercent`, or `mirrors`), `fault.delay` and
 *   `fault.abort` with `percentage.value` (unset: no request is faulted), `headers.request`.
 * - Not modelled: rewrite, redirect, directResponse, delegate, retries, timeouts, CORS, response headers.
 */
import type { KubeObject } from "../../../kube/client.ts";
import { GRPC_STATUS_NAMES } from "../../../routers/index.ts";
import { namesService, parseServiceHost, type ServiceName } from "../hosts.ts";
import { fullRegex } from "../match.ts";
import type {
  BackendRef,
  FaultSpec,
  HeaderCondition,
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
  headerOpsFromMaps,
  num,
  oldestFirst,
  spec,
  str,
} from "./common.ts";

const MESH = "mesh";

/** Istio's StringMatch (`exact`, `prefix`, `regex`); undefined when none is set. */
function stringMatch(value: unknown, ignoreCase = false): StringMatch | undefined {
  const m = asRecord(value);
  const exact = str(m.exact);
  if (exact !== undefined) return { kind: "exact", value: exact, ignoreCase };
  const prefix = str(m.prefix);
  if (prefix !== undefined) return { kind: "prefix", value: prefix, ignoreCase };
  const regex = str(m.regex);
  if (regex !== undefined) return { kind: "regex", pattern: fullRegex(regex) };
  return undefined;
}

function appliesToSidecars(gateways: unknown): boolean {
  const list = asArray(gateways);
  return list.length === 0 || list.includes(MESH);
}

function headerConditions(value: unknown, negate: boolean): HeaderCondition[] {
  return Object.entries(asRecord(value)).map(([name, match]) => ({
    name: name.toLowerCase(),
    // "If the value is empty and only the name of header is specified, presence of the header is checked."
    match: stringMatch(match) ?? { kind: "present" },
    negate,
  }));
}

function condition(block: Record<string, unknown>): RequestCondition {
  const ignoreCase = block.ignoreUriCase === true;
  const result: RequestCondition = {
    headers: [...headerConditions(block.headers, false), ...headerConditions(block.withoutHeaders, true)],
    query: Object.entries(asRecord(block.queryParams)).map(
      ([name, match]): QueryCondition => ({ name, match: stringMatch(match) ?? { kind: "present" } }),
    ),
  };
  const path = stringMatch(block.uri, ignoreCase);
  if (path) result.path = path;
  const method = stringMatch(block.method);
  if (method) result.method = method;
  const authority = stringMatch(block.authority);
  if (authority) result.authority = authority;
  const labels = asRecord(block.sourceLabels);
  if (Object.keys(labels).length > 0)
    result.sourceLabels = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
  const sourceNamespace = str(block.sourceNamespace);
  if (sourceNamespace !== undefined) result.sourceNamespace = sourceNamespace;
  return result;
}

/**
 * A Go/protobuf duration ("5s", "0.250s", "100ms", "1m30s") in milliseconds; undefined when it is not one.
 */
export function parseIstioDuration(text: unknown): number | undefined {
  if (typeof text !== "string" || !/^(\d+(\.\d+)?(h|ms|m|s|us|µs|ns))+$/.test(text)) return undefined;
  const unitMs: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 1e-3,
    µs: 1e-3,
    ns: 1e-6,
  };
  let total = 0;
  for (const [, amount, , unit] of text.matchAll(/(\d+(\.\d+)?)(h|ms|m|s|us|µs|ns)/g))
    total += Number(amount) * (unitMs[unit ?? ""] ?? 0);
  return total;
}

function percentage(block: Record<string, unknown>): number {
  return num(asRecord(block.percentage).value) ?? num(block.percent) ?? 0;
}

function grpcStatusCode(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const index = (GRPC_STATUS_NAMES as readonly string[]).indexOf(value.toUpperCase());
  if (index >= 0) return index;
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

function fault(value: unknown): FaultSpec | undefined {
  if (value === undefined) return undefined;
  const f = asRecord(value);
  const result: FaultSpec = {};
  const delay = asRecord(f.delay);
  const ms = parseIstioDuration(delay.fixedDelay);
  if (ms !== undefined) result.delay = { ms, percent: percentage(delay) };
  if (f.abort !== undefined) {
    const abort = asRecord(f.abort);
    const grpcStatus = grpcStatusCode(abort.grpcStatus);
    result.abort =
      grpcStatus !== undefined
        ? { httpStatus: 200, grpcStatus, percent: percentage(abort) }
        : { httpStatus: num(abort.httpStatus) ?? 503, percent: percentage(abort) };
  }
  return result;
}

export class IstioView {
  constructor(
    private readonly virtualServices: readonly KubeObject[],
    private readonly destinationRules: readonly KubeObject[],
  ) {}

  /** The table for `service`, or undefined when no VirtualService applies to it. */
  table(service: ServiceName): RoutingTable | undefined {
    const vs = oldestFirst(this.virtualServices).find(
      (v) =>
        appliesToSidecars(spec(v).gateways) &&
        asArray(spec(v).hosts).some((h) =>
          namesService(h, service, v.metadata.namespace ?? service.namespace),
        ),
    );
    if (!vs) return undefined;
    const rules: RouteRule[] = [];
    asArray(spec(vs).http).forEach((entry, index) => {
      const rule = this.rule(vs, asRecord(entry), index);
      if (rule) rules.push(rule);
    });
    return { origin: describeObject(vs), rules, noBackendStatus: 503 };
  }

  /** One http route; undefined when all its match blocks are for gateways only. */
  private rule(vs: KubeObject, route: Record<string, unknown>, index: number): RouteRule | undefined {
    const blocks = asArray(route.match).map(asRecord);
    const sidecarBlocks = blocks.filter((block) => appliesToSidecars(block.gateways));
    if (blocks.length > 0 && sidecarBlocks.length === 0) return undefined;
    const namespace = vs.metadata.namespace ?? "";
    const destinations = asArray(route.route).map(asRecord);
    const backends = destinations.flatMap((d): WeightedBackend[] => {
      const backend = this.backend(d.destination, namespace);
      if (!backend) return [];
      // "If there is only one destination in a rule, it will receive all traffic."
      const weight = destinations.length === 1 && d.weight === undefined ? 1 : (num(d.weight) ?? 0);
      return [{ backend, weight, headers: headerOpsFromMaps(asRecord(d.headers).request) }];
    });
    const mirrors: Mirror[] = [];
    const mirror = this.backend(route.mirror, namespace);
    if (mirror) {
      const percent = num(asRecord(route.mirrorPercentage).value) ?? num(route.mirrorPercent) ?? 100;
      mirrors.push({ backend: mirror, percent });
    }
    for (const m of asArray(route.mirrors).map(asRecord)) {
      const backend = this.backend(m.destination, namespace);
      if (backend) mirrors.push({ backend, percent: num(asRecord(m.percentage).value) ?? 100 });
    }
    const name = str(route.name);
    const rule: RouteRule = {
      origin: `${describeObject(vs)} http[${index}]${name ? ` (${name})` : ""}`,
      when: sidecarBlocks.map(condition),
      backends,
      headers: headerOpsFromMaps(asRecord(route.headers).request),
      mirrors,
    };
    const faultSpec = fault(route.fault);
    if (faultSpec) rule.fault = faultSpec;
    return rule;
  }

  private backend(destination: unknown, namespace: string): BackendRef | undefined {
    const d = asRecord(destination);
    const host = str(d.host);
    if (host === undefined) return undefined;
    const service = parseServiceHost(host, namespace) ?? { name: host, namespace: "" };
    const backend: BackendRef = { service: service.name, namespace: service.namespace };
    const port = num(asRecord(d.port).number);
    if (port !== undefined) backend.port = port;
    const subset = str(d.subset);
    if (subset !== undefined) backend.subset = { name: subset, labels: this.subsetLabels(service, subset) };
    return backend;
  }

  private subsetLabels(service: ServiceName, subset: string): Record<string, string> | undefined {
    const rule = oldestFirst(this.destinationRules).find((dr) =>
      namesService(spec(dr).host, service, dr.metadata.namespace ?? service.namespace),
    );
    const found = asArray(rule ? spec(rule).subsets : undefined)
      .map(asRecord)
      .find((s) => s.name === subset);
    if (!found) return undefined;
    return Object.fromEntries(Object.entries(asRecord(found.labels)).map(([k, v]) => [k, String(v)]));
  }
}
