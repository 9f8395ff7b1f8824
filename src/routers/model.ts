/**
 * The pure half of an adapter: given the route object as read, compute the JSON patch for one change, and
 * read the traffic state back out of an object. No I/O here; the I/O half (object-router.ts) reads, writes once
 * and reads back.
 */
import type { KubeObject } from "../kube/client.ts";
import type { PatchBuilder } from "./patch.ts";
import type { TrafficRecord } from "./record.ts";
import type { RoleNames } from "./roles.ts";
import {
  type ActiveFault,
  type Drift,
  type Fault,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type RequestMatch,
  ROLLOUT_LABEL,
  type RouterCapabilities,
  type RouterContext,
  type TrafficState,
} from "./traffic-router.ts";
import { withinOneUnit } from "./weights.ts";

export type Change =
  | { kind: "weight"; canaryPercent: number }
  | { kind: "match"; matches: readonly RequestMatch[] | null }
  | { kind: "mirror"; percent: number | null }
  | { kind: "fault"; fault: Fault | null; expiresAt?: string }
  | { kind: "finalize" };

export interface RouteModel {
  /** "Istio VirtualService", "Gateway API HTTPRoute", ... */
  readonly api: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly capabilities: RouterCapabilities;
  /** The traffic state the object shows, with drift against the controller's record. */
  parse(object: KubeObject): TrafficState;
  /** The patch for `change` (unchanged when the object already is as asked). Throws typed router errors. */
  plan(object: KubeObject, change: Change): PatchBuilder;
  /** The object the controller creates when it owns the route object and it is missing. */
  create(): KubeObject;
  /** Throws RouteNotFoundError when the object has no route the controller can manage. */
  check(object: KubeObject): void;
}

/**
 * Whether a change hands the object back to the user: a canary weight of 0 while the controller has
 * nothing else in it (no match route, mirror or fault) is planned as finalize, so the object is back in
 * the form the user wrote (their weights, their scale, no canary entry they did not have, no record)
 * whichever way the release ended: the engine ends a promotion and a rollback alike with weight 0.
 */
export function planAsFinalize(change: Change, record: TrafficRecord | undefined): Change {
  const atRest =
    record !== undefined && record.match === undefined && record.mirror === undefined && !record.fault;
  return change.kind === "weight" && change.canaryPercent === 0 && atRest ? { kind: "finalize" } : change;
}

/** `Kind namespace/name`, for messages. */
export function describeObject(object: {
  kind: string;
  metadata: { name: string; namespace?: string };
}): string {
  return `${object.kind} ${object.metadata.namespace ?? ""}${object.metadata.namespace ? "/" : ""}${object.metadata.name}`;
}

/** Drift: the canary share the object shows is not within one weight unit of what the controller asked. */
export function drift(record: TrafficRecord | undefined, found: number, unit: number): Drift | undefined {
  if (!record || withinOneUnit(found, record.canary, unit)) return undefined;
  return { expected: record.canary, found };
}

export function objectInfo(object: KubeObject, namespace: string): TrafficState["object"] {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace ?? namespace,
    name: object.metadata.name,
    resourceVersion: object.metadata.resourceVersion ?? "",
  };
}

/** Labels and owner references of every object the controller creates. */
export function ownedMetadata(
  ctx: RouterContext,
  name: string,
  extraLabels: Record<string, string> = {},
): KubeObject["metadata"] {
  const metadata: KubeObject["metadata"] = {
    name,
    namespace: ctx.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [ROLLOUT_LABEL]: ctx.rollout, ...extraLabels },
  };
  if (ctx.owner) metadata.ownerReferences = [{ ...ctx.owner }];
  return metadata;
}

/**
 * The rollout's destinations where an entry names a Service by name (SMI, Gateway API, Consul): stable,
 * canary and the error backend. `subset` "" (Consul) makes an entry that names a subset the user's.
 */
export function backendNames(ctx: RouterContext, subset?: string): RoleNames {
  const target = (service: string) => (subset === undefined ? { service } : { service, subset });
  return {
    namespace: ctx.namespace,
    match: "name",
    stable: target(ctx.stableService),
    canary: target(ctx.canaryService),
    fault: target(ctx.faultService),
  };
}

/** True when a service reference (short name or FQDN) names `name` in `namespace`. */
export function sameService(host: unknown, name: string, namespace: string): boolean {
  if (typeof host !== "string") return false;
  const h = host.toLowerCase();
  return (
    h === name ||
    h === `${name}.${namespace}` ||
    h === `${name}.${namespace}.svc` ||
    h.startsWith(`${name}.${namespace}.svc.`)
  );
}

/** The name of the match route/rule the controller adds for A/B tests. */
export function matchRouteName(ctx: RouterContext): string {
  return `stepwise-match-${ctx.rollout}`;
}

/** The name of the fault route the controller adds to a dependency's VirtualService. */
export function faultRouteName(ctx: RouterContext): string {
  return `stepwise-fault-${ctx.rollout}`;
}

/**
 * The annotation on a dependency's VirtualService that says until when the rollout's fault route in it
 * may stay (ISO 8601).
 */
export function faultExpiryKey(ctx: RouterContext): string {
  return `fault.stepwise.dev/${ctx.rollout}`;
}

/** The fault as the record keeps it. */
export function activeFault(fault: Fault, percent: number, expiresAt: string | undefined): ActiveFault {
  return expiresAt === undefined ? { fault, percent } : { fault, percent, expiresAt };
}

/** True when an expiry time (ISO 8601) is set and not after `now`; one that cannot be read has expired. */
export function expired(expiresAt: string | undefined, now: Date): boolean {
  return expiresAt !== undefined && !(Date.parse(expiresAt) > now.getTime());
}

/** Every A/B match combined (AND) with every match block of the route it refines (OR of the results). */
export function crossMatches<T>(
  routeMatches: readonly Record<string, unknown>[] | undefined,
  abMatches: readonly RequestMatch[],
  combine: (routeMatch: Record<string, unknown>, ab: RequestMatch) => T,
): T[] {
  const bases = routeMatches && routeMatches.length > 0 ? routeMatches : [{}];
  return bases.flatMap((base) => abMatches.map((ab) => combine(base, ab)));
}
