/**
 * The routing table: what the simulated data plane makes of a service's route objects, whichever API they
 * come from. The views (views/*.ts) turn objects into tables; the chooser (choose.ts) picks a destination
 * per request from a table. Both are pure.
 */

/** A string condition, as Istio's StringMatch and the Gateway API's match types express them. */
export type StringMatch =
  | { kind: "exact"; value: string; ignoreCase?: boolean }
  /** A plain string prefix (Istio `uri.prefix`, header `prefix`). */
  | { kind: "prefix"; value: string; ignoreCase?: boolean }
  /** The Gateway API's PathPrefix: a prefix of whole path elements ("/v1" matches "/v1/a", not "/v1a"). */
  | { kind: "pathPrefix"; value: string }
  /** A regular expression that must match the whole value (RE2 semantics, as Envoy applies them). */
  | { kind: "regex"; pattern: RegExp }
  /** The value is present, whatever it is (an Istio header match with no value). */
  | { kind: "present" };

export interface HeaderCondition {
  /** Lower case. */
  name: string;
  match: StringMatch;
  /** True for Istio `withoutHeaders`: the request must NOT have a matching header. */
  negate?: boolean;
}

export interface QueryCondition {
  name: string;
  match: StringMatch;
}

/** One match block: every given part must hold. */
export interface RequestCondition {
  path?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers: HeaderCondition[];
  query: QueryCondition[];
  /** Labels the calling pod must carry (Istio `sourceLabels`). */
  sourceLabels?: Record<string, string>;
  /** Namespace of the calling pod (Istio `sourceNamespace`). */
  sourceNamespace?: string;
}

/** Request header changes: `set` replaces, `add` appends, `remove` deletes. Names lower case. */
export interface HeaderOps {
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

/** A destination as a route object names it. */
export interface BackendRef {
  /** The Service name. */
  service: string;
  namespace: string;
  /** The service port, when the object gives one. */
  port?: number;
  /** An Istio DestinationRule subset; `labels` is undefined when no DestinationRule defines the subset. */
  subset?: { name: string; labels: Record<string, string> | undefined };
}

export interface WeightedBackend {
  backend: BackendRef;
  /** Relative weight (any scale); 0 gets no traffic. */
  weight: number;
  /** Header changes for requests sent to this backend only. */
  headers: HeaderOps;
}

export interface Mirror {
  backend: BackendRef;
  /** Percentage of the rule's requests copied to the backend. */
  percent: number;
}

/** Istio's HTTPFaultInjection, with durations in milliseconds and percentages as numbers. */
export interface FaultSpec {
  delay?: { ms: number; percent: number };
  /** `grpcStatus` set: a gRPC status in an HTTP 200 response; else `httpStatus`. */
  abort?: { httpStatus: number; grpcStatus?: number; percent: number };
}

export interface RouteRule {
  /** Where the rule comes from, for people: "VirtualService shop/podinfo http[1] (primary)". */
  origin: string;
  /** Match blocks, any of which selects the rule; none means every request. */
  when: RequestCondition[];
  backends: WeightedBackend[];
  /** Header changes for every request the rule routes. */
  headers: HeaderOps;
  mirrors: Mirror[];
  fault?: FaultSpec;
}

export interface RoutingTable {
  /** The object(s) the table comes from, for people. */
  origin: string;
  /** Evaluated in order; the first rule that matches routes the request. */
  rules: RouteRule[];
  /** The status when a rule has no backend that can take the request: 500 in the Gateway API, else 503. */
  noBackendStatus: number;
}

/** The calling workload, as the sidecar that sent the request knows it. */
export interface Workload {
  /** The Deployment's name: what the metrics call the workload. */
  name: string;
  namespace: string;
  /** Pod labels. */
  labels: Record<string, string>;
  /** A pod name of the workload, `<workload>-<template hash>-<suffix>` as a Deployment names its pods. */
  pod: string;
}

/** What the routing decision may look at. */
export interface RequestFacts {
  method: string;
  /** The path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-case names; repeated headers joined as Node joins them. */
  headers: Record<string, string>;
  /** The Host / :authority the caller addressed. */
  authority: string;
  /** The caller; undefined for a client outside the mesh. */
  source: Workload | undefined;
}

export const NO_HEADER_OPS: HeaderOps = { set: [], add: [], remove: [] };
