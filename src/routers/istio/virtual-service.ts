/**
 * Istio VirtualService (networking.istio.io), host mode (`<svc>-primary` / `<svc>-canary` hosts) and
 * subset mode (one host, DestinationRule subsets). Pure part: patches and parsing.
 *
 * What the controller owns in a VirtualService:
 * - the managed route: the http route named by `routeName`, or else the first http route whose
 *   destinations are all the rollout's (stable and canary) and include the stable one, preferring
 *   one without match blocks (the catch-all) over one with them. In it: the
 *   stable and canary entries of `route` and their weights; `mirror`/`mirrorPercentage` when they point
 *   at the canary; `fault` when the controller's record says it set it;
 * - the A/B route named `stepwise-match-<rollout>`, inserted just before the managed route;
 * - its record annotation `traffic.stepwise.dev/<rollout>`.
 * Everything else (other routes and their order, match blocks, retries, timeouts, headers, CORS, the
 * user's faults, other annotations, unknown fields) is left as it is.
 */
import type { KubeObject } from "../../kube/client.ts";
import { ForeignConfigError, RouteNotFoundError, UnsupportedOperationError } from "../errors.ts";
import { faultPercent, istioFault, istioHeaders } from "../match.ts";
import {
  activeFault,
  type Change,
  crossMatches,
  describeObject,
  drift,
  faultExpiryKey,
  faultRouteName,
  matchRouteName,
  objectInfo,
  ownedMetadata,
  planAsFinalize,
  type RouteModel,
  sameService,
} from "../model.ts";
import { asArray, asRecord, deepEqual, isRecord, PatchBuilder, pointer, setAnnotation } from "../patch.ts";
import { readRecord, type TrafficRecord, writeRecord } from "../record.ts";
import { destinationRole, type Role, type RoleNames } from "../roles.ts";
import { planSplit, readSplit, type SplitSite, weightState } from "../split.ts";
import type {
  Fault,
  RequestMatch,
  RouterCapabilities,
  RouterContext,
  TrafficState,
} from "../traffic-router.ts";
import { ISTIO_WEIGHTS } from "../weights.ts";

export const ISTIO_GROUP = "networking.istio.io";
export const ISTIO_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;

export interface IstioContext extends RouterContext {
  mode: "host" | "subset";
  /** Subset names in subset mode. */
  subsets: { stable: string; canary: string };
}

export const ISTIO_CAPABILITIES: RouterCapabilities = {
  minStep: ISTIO_WEIGHTS.minStep,
  headerMatch: true,
  cookieMatch: true,
  mirror: true,
  delayFault: true,
  abortFault: "filter",
  dependencyFault: true,
};

/** Route fields that belong to the managed route only; the A/B route copies every other setting. */
const NOT_COPIED = new Set([
  "name",
  "match",
  "route",
  "mirror",
  "mirrorPercent",
  "mirrorPercentage",
  "mirrors",
  "fault",
]);

type Destination = Record<string, unknown>;

/**
 * Host mode: the stable and canary Services' hosts (any subset); subset mode: the apex host's stable and
 * canary subsets. No fault role: Istio injects faults with its fault filter.
 */
function istioNames(ctx: IstioContext): RoleNames {
  return ctx.mode === "host"
    ? {
        namespace: ctx.namespace,
        match: "host",
        stable: { service: ctx.stableService },
        canary: { service: ctx.canaryService },
      }
    : {
        namespace: ctx.namespace,
        match: "host",
        stable: { service: ctx.service, subset: ctx.subsets.stable },
        canary: { service: ctx.service, subset: ctx.subsets.canary },
      };
}

function istioRole(ctx: IstioContext, destination: unknown): Role {
  const d = asRecord(destination);
  return destinationRole(istioNames(ctx), { service: d.host, subset: d.subset });
}

/** The canary's destination, modelled on the stable one (same port, same host form). */
function canaryDestination(ctx: IstioContext, stable: Destination): Destination {
  if (ctx.mode === "subset") return { ...stable, subset: ctx.subsets.canary };
  const host = String(stable.host ?? ctx.stableService);
  const suffix = host.slice(ctx.stableService.length);
  return { ...stable, host: `${ctx.canaryService}${host.startsWith(ctx.stableService) ? suffix : ""}` };
}

export function istioSite(ctx: IstioContext, routeIndex: number): SplitSite {
  return {
    path: pointer("spec", "http", routeIndex, "route"),
    scheme: ISTIO_WEIGHTS,
    role: (entry) => istioRole(ctx, asRecord(entry).destination),
    label: (entry) => {
      const d = asRecord(asRecord(entry).destination);
      return d.subset === undefined ? String(d.host) : `${String(d.host)} subset ${String(d.subset)}`;
    },
    // "If there is only one destination in a rule, the weight value is assumed to be 100."
    omittedUnits: (count) => (count === 1 ? 100 : 0),
    canaryEntry: (stable) => {
      const { weight: _weight, ...rest } = stable;
      return { ...rest, destination: canaryDestination(ctx, asRecord(stable.destination)) };
    },
  };
}

/** Index of the managed http route; throws RouteNotFoundError with what to change. */
export function managedRouteIndex(ctx: IstioContext, vs: KubeObject): number {
  const routes = asArray(asRecord(vs.spec).http);
  const ours = new Set([matchRouteName(ctx), faultRouteName(ctx)]);
  if (ctx.routeName !== undefined) {
    const index = routes.findIndex((r) => asRecord(r).name === ctx.routeName);
    if (index < 0)
      throw new RouteNotFoundError(describeObject(vs), `has no http route named "${ctx.routeName}"`);
    const roles = asArray(asRecord(routes[index]).route).map((e) => istioRole(ctx, asRecord(e).destination));
    if (!roles.includes("stable")) {
      throw new RouteNotFoundError(
        describeObject(vs),
        `http route "${ctx.routeName}" has no destination ${stableLabel(ctx)}; add one (weight 100)`,
      );
    }
    return index;
  }
  const candidate = (r: unknown) => {
    const route = asRecord(r);
    if (typeof route.name === "string" && ours.has(route.name)) return false;
    const roles = asArray(route.route).map((e) => istioRole(ctx, asRecord(e).destination));
    return roles.includes("stable") && roles.every((role) => role === "stable" || role === "canary");
  };
  // The catch-all route carries the service's traffic; a route with match blocks is a special case
  // (a debug header, a path) unless it is the only one.
  const catchAll = routes.findIndex((r) => candidate(r) && asArray(asRecord(r).match).length === 0);
  const index = catchAll >= 0 ? catchAll : routes.findIndex(candidate);
  if (index < 0) {
    throw new RouteNotFoundError(
      describeObject(vs),
      `has no http route whose destinations are only ${stableLabel(ctx)} (and ${canaryLabel(ctx)}); add such a route, or name the route to manage`,
    );
  }
  return index;
}

function stableLabel(ctx: IstioContext): string {
  return ctx.mode === "host" ? ctx.stableService : `${ctx.service} subset ${ctx.subsets.stable}`;
}

function canaryLabel(ctx: IstioContext): string {
  return ctx.mode === "host" ? ctx.canaryService : `${ctx.service} subset ${ctx.subsets.canary}`;
}

function routeIndexByName(vs: unknown, name: string): number {
  return asArray(asRecord(asRecord(vs).spec).http).findIndex((r) => asRecord(r).name === name);
}

function isOurMirror(ctx: IstioContext, route: Record<string, unknown>): boolean {
  return isRecord(route.mirror) && istioRole(ctx, route.mirror) === "canary";
}

export class IstioModel implements RouteModel {
  readonly api = "Istio VirtualService";
  readonly kind = "VirtualService";
  readonly capabilities = ISTIO_CAPABILITIES;

  constructor(
    readonly ctx: IstioContext,
    readonly apiVersion: string,
  ) {}

  check(object: KubeObject): void {
    managedRouteIndex(this.ctx, object);
  }

  create(): KubeObject {
    const { ctx } = this;
    const port = { number: ctx.port };
    const destinations =
      ctx.mode === "host"
        ? [
            { host: ctx.stableService, port },
            { host: ctx.canaryService, port },
          ]
        : [
            { host: ctx.service, subset: ctx.subsets.stable, port },
            { host: ctx.service, subset: ctx.subsets.canary, port },
          ];
    return {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: ownedMetadata(ctx, ctx.routeRef?.name ?? ctx.rollout),
      spec: {
        hosts: [ctx.service],
        http: [
          {
            name: ctx.routeName ?? "primary",
            route: [
              { destination: destinations[0], weight: 100 },
              { destination: destinations[1], weight: 0 },
            ],
          },
        ],
      },
    };
  }

  parse(object: KubeObject): TrafficState {
    const { ctx } = this;
    const record = readRecord(object, ctx.rollout);
    const index = managedRouteIndex(ctx, object);
    const route = asRecord(asArray(asRecord(object.spec).http)[index]);
    const split = readSplit(istioSite(ctx, index), asArray(route.route));
    let mirror: number | null = null;
    if (isOurMirror(ctx, route)) {
      const percentage = asRecord(route.mirrorPercentage).value;
      mirror = typeof percentage === "number" ? percentage : 100;
    }
    const hasMatchRoute = routeIndexByName(object, matchRouteName(ctx)) >= 0;
    const state: TrafficState = {
      ...weightState(split, ISTIO_WEIGHTS),
      match: hasMatchRoute ? [...(record?.match ?? [])] : null,
      mirror,
      fault: record?.fault && route.fault !== undefined ? record.fault : null,
      managed: record !== undefined,
      object: objectInfo(object, ctx.namespace),
    };
    const found = drift(record, split.shares.canary, split.shares.unit);
    if (found) state.drift = found;
    return state;
  }

  plan(object: KubeObject, asked: Change): PatchBuilder {
    const { ctx } = this;
    const builder = new PatchBuilder(object);
    const record = readRecord(object, ctx.rollout);
    const change = planAsFinalize(asked, record);
    const next: TrafficRecord = { ...(record ?? { canary: this.parse(object).canaryWeight }) };
    switch (change.kind) {
      case "weight": {
        const index = managedRouteIndex(ctx, builder.document);
        Object.assign(
          next,
          planSplit(
            builder,
            istioSite(ctx, index),
            { canaryPercent: change.canaryPercent, faultPercent: 0 },
            record,
          ),
        );
        next.canary = change.canaryPercent;
        break;
      }
      case "match":
        this.planMatch(builder, change.matches, next);
        break;
      case "mirror":
        this.planMirror(builder, change.percent, next);
        break;
      case "fault":
        this.planFault(builder, change.fault, next, change.expiresAt);
        break;
      case "finalize": {
        this.planMatch(builder, null, next);
        this.planMirror(builder, null, next);
        if (record?.fault) this.planFault(builder, null, next);
        const index = managedRouteIndex(ctx, builder.document);
        planSplit(
          builder,
          istioSite(ctx, index),
          { canaryPercent: 0, faultPercent: 0, finalize: true },
          record,
        );
        writeRecord(builder, ctx.rollout, undefined);
        return builder;
      }
    }
    if (builder.changed || record !== undefined) writeRecord(builder, ctx.rollout, next);
    return builder;
  }

  private planMatch(
    builder: PatchBuilder,
    matches: readonly RequestMatch[] | null,
    next: TrafficRecord,
  ): void {
    const { ctx } = this;
    const name = matchRouteName(ctx);
    const existing = routeIndexByName(builder.document, name);
    if (matches === null || matches.length === 0) {
      if (existing >= 0) builder.remove(pointer("spec", "http", existing));
      delete next.match;
      return;
    }
    const index = managedRouteIndex(ctx, builder.document);
    const managed = asRecord(asArray(asRecord(builder.document.spec).http)[index]);
    const desired = this.matchRoute(managed, matches);
    if (existing >= 0) builder.set(pointer("spec", "http", existing), desired);
    else builder.insert(pointer("spec", "http"), index, desired);
    next.match = matches.map((m) => structuredClone(m));
  }

  /** The A/B route: the managed route's settings, its match blocks ANDed with the A/B matches, all to the canary. */
  private matchRoute(
    managed: Record<string, unknown>,
    matches: readonly RequestMatch[],
  ): Record<string, unknown> {
    const { ctx } = this;
    const entries = asArray(managed.route);
    const stable = asRecord(entries.find((e) => istioRole(ctx, asRecord(e).destination) === "stable"));
    const { weight: _weight, ...stableRest } = stable;
    const route: Record<string, unknown> = {
      name: matchRouteName(ctx),
      match: crossMatches(asArray(managed.match).map(asRecord), matches, (base, ab) => ({
        ...base,
        headers: { ...asRecord(base.headers), ...istioHeaders(ab) },
      })),
      route: [{ ...stableRest, destination: canaryDestination(ctx, asRecord(stable.destination)) }],
    };
    for (const [key, value] of Object.entries(managed))
      if (!NOT_COPIED.has(key)) route[key] = structuredClone(value);
    return route;
  }

  private planMirror(builder: PatchBuilder, percent: number | null, next: TrafficRecord): void {
    const { ctx } = this;
    const index = managedRouteIndex(ctx, builder.document);
    const route = asRecord(asArray(asRecord(builder.document.spec).http)[index]);
    const at = (field: string) => pointer("spec", "http", index, field);
    const ours = isOurMirror(ctx, route);
    if (percent === null) {
      if (ours) {
        builder.remove(at("mirror"));
        builder.remove(at("mirrorPercentage"));
      }
      delete next.mirror;
      return;
    }
    if ((route.mirror !== undefined && !ours) || route.mirrors !== undefined) {
      throw new ForeignConfigError(
        describeObject(builder.document),
        `http route ${describeRoute(route, index)} already mirrors traffic (set by someone else); remove that mirror to let Stepwise mirror to the canary`,
      );
    }
    const stable = asRecord(
      asArray(route.route).find((e) => istioRole(ctx, asRecord(e).destination) === "stable"),
    );
    builder.set(at("mirror"), canaryDestination(ctx, asRecord(stable.destination)));
    builder.set(at("mirrorPercentage"), { value: percent });
    next.mirror = percent;
  }

  private planFault(
    builder: PatchBuilder,
    fault: Fault | null,
    next: TrafficRecord,
    expiresAt?: string,
  ): void {
    const { ctx } = this;
    const index = managedRouteIndex(ctx, builder.document);
    const route = asRecord(asArray(asRecord(builder.document.spec).http)[index]);
    const path = pointer("spec", "http", index, "fault");
    const ours = next.fault !== undefined;
    if (fault === null) {
      if (ours) builder.remove(path);
      delete next.fault;
      return;
    }
    if (route.fault !== undefined && !ours) {
      throw new ForeignConfigError(
        describeObject(builder.document),
        `http route ${describeRoute(route, index)} already has a fault (set by someone else); remove it, or inject the chaos step's fault on a dependency (target: dependency)`,
      );
    }
    builder.set(path, istioFault(fault));
    next.fault = activeFault(fault, faultPercent(fault), expiresAt);
  }
}

function describeRoute(route: Record<string, unknown>, index: number): string {
  return typeof route.name === "string" ? `"${route.name}"` : `#${index}`;
}

// ---------------------------------------------------------------------------------------------------
// DestinationRule subsets (subset mode)

/** The DestinationRule the controller creates in subset mode. */
export function createDestinationRule(
  ctx: IstioContext,
  apiVersion: string,
  name: string,
  labels: { stable: Record<string, string>; canary: Record<string, string> },
): KubeObject {
  return {
    apiVersion,
    kind: "DestinationRule",
    metadata: ownedMetadata(ctx, name),
    spec: {
      host: ctx.service,
      subsets: [
        { name: ctx.subsets.stable, labels: { ...labels.stable } },
        { name: ctx.subsets.canary, labels: { ...labels.canary } },
      ],
    },
  };
}

/** Keeps the stable and canary subsets' labels as given; other subsets and the traffic policy stay. */
export function planSubsets(
  ctx: IstioContext,
  rule: KubeObject,
  labels: { stable: Record<string, string>; canary: Record<string, string> },
): PatchBuilder {
  const builder = new PatchBuilder(rule);
  if (!isRecord(builder.get("/spec"))) builder.set("/spec", { host: ctx.service });
  if (!Array.isArray(builder.get("/spec/subsets"))) builder.set("/spec/subsets", []);
  for (const [role, name] of [
    ["stable", ctx.subsets.stable],
    ["canary", ctx.subsets.canary],
  ] as const) {
    const subsets = asArray(builder.get("/spec/subsets"));
    const index = subsets.findIndex((s) => asRecord(s).name === name);
    if (index < 0) builder.insert("/spec/subsets", "-", { name, labels: { ...labels[role] } });
    else if (!deepEqual(asRecord(subsets[index]).labels, labels[role])) {
      builder.set(pointer("spec", "subsets", index, "labels"), { ...labels[role] });
    }
  }
  return builder;
}

// ---------------------------------------------------------------------------------------------------
// Dependency faults: a route scoped to the rollout's pods with sourceLabels, on the dependency's host.

export interface DependencyTarget {
  host: string;
  sourceLabels: Record<string, string>[];
}

/** True when two host names (short or qualified) name the same service, seen from `namespace`. */
export function sameHost(a: unknown, b: string, namespace: string): boolean {
  if (a === b) return true;
  const [short = b, ns = namespace] = b.split(".");
  return sameService(a, short, ns);
}

/** True when the VirtualService declares `host` (short or qualified form). */
export function declaresHost(vs: KubeObject, host: string, namespace: string): boolean {
  return asArray(asRecord(vs.spec).hosts).some((h) => sameHost(h, host, namespace));
}

/**
 * The fault route for the rollout's pods: a copy of `catchAll` (its destinations, timeout, retries,
 * header changes) that matches only their source labels and carries the fault.
 */
function faultRoute(
  ctx: IstioContext,
  fault: Fault,
  target: DependencyTarget,
  catchAll: Record<string, unknown>,
): Record<string, unknown> {
  if (target.sourceLabels.length === 0 || target.sourceLabels.some((l) => Object.keys(l).length === 0)) {
    // an empty label set would match every caller of the dependency, not only the rollout's pods
    throw new RangeError(
      `a dependency fault needs a non-empty label set per source, not ${JSON.stringify(target.sourceLabels)}`,
    );
  }
  const { name: _name, match: _match, fault: _fault, ...settings } = structuredClone(catchAll);
  return {
    name: faultRouteName(ctx),
    match: target.sourceLabels.map((labels) => ({ sourceLabels: { ...labels } })),
    ...settings,
    fault: istioFault(fault),
  };
}

/** The VirtualService the controller creates for a dependency fault when none declares the host. */
export function createFaultVirtualService(
  ctx: IstioContext,
  apiVersion: string,
  fault: Fault,
  target: DependencyTarget,
  expiresAt?: string,
): KubeObject {
  const base = `${ctx.rollout}-fault-${target.host.toLowerCase().replace(/[^a-z0-9.-]/g, "-")}`;
  const name = base.slice(0, 253).replace(/[-.]+$/, "");
  const catchAll = { name: "default", route: [{ destination: { host: target.host } }] };
  const metadata = ownedMetadata(ctx, name, { "stepwise.dev/purpose": "fault" });
  if (expiresAt !== undefined) metadata.annotations = { [faultExpiryKey(ctx)]: expiresAt };
  return {
    apiVersion,
    kind: "VirtualService",
    metadata,
    spec: {
      hosts: [target.host],
      http: [faultRoute(ctx, fault, target, catchAll), catchAll],
    },
  };
}

/**
 * Inserts (or updates) the fault route first in a user's VirtualService for the dependency. It routes
 * like the user's catch-all route (the first without match), so only the fault differs for the pods.
 */
export function planDependencyFault(
  ctx: IstioContext,
  vs: KubeObject,
  fault: Fault,
  target: DependencyTarget,
  expiresAt?: string,
): PatchBuilder {
  const builder = new PatchBuilder(vs);
  const routes = asArray(asRecord(vs.spec).http);
  const name = faultRouteName(ctx);
  const catchAll = routes.find((r) => asRecord(r).name !== name && asArray(asRecord(r).match).length === 0);
  const base = catchAll ? asRecord(catchAll) : { route: [{ destination: { host: target.host } }] };
  if (asArray(base.route).length === 0) {
    throw new UnsupportedOperationError(
      `${describeObject(vs)}`,
      `carry a fault route for ${target.host}: its catch-all route has no destinations (redirect or delegate)`,
      "give it a route destination, or inject the fault on the rollout's route (target: route)",
    );
  }
  const desired = faultRoute(ctx, fault, target, base);
  const existing = routes.findIndex((r) => asRecord(r).name === name);
  if (existing >= 0) builder.set(pointer("spec", "http", existing), desired);
  else if (routes.length === 0) builder.set("/spec/http", [desired]);
  else builder.insert("/spec/http", 0, desired);
  setAnnotation(builder, faultExpiryKey(ctx), expiresAt);
  return builder;
}

/** Removes the controller's fault route, and its expiry, from a user's VirtualService. */
export function planClearDependencyFault(ctx: IstioContext, vs: KubeObject): PatchBuilder {
  const builder = new PatchBuilder(vs);
  const index = routeIndexByName(vs, faultRouteName(ctx));
  // a VirtualService with no http routes of its own (tcp or tls only) had no http list before ours
  const onlyRoute = asArray(asRecord(vs.spec).http).length === 1;
  if (index >= 0) builder.remove(onlyRoute ? "/spec/http" : pointer("spec", "http", index));
  setAnnotation(builder, faultExpiryKey(ctx), undefined);
  return builder;
}

export function isFaultVirtualService(ctx: IstioContext, vs: KubeObject): boolean {
  const labels = vs.metadata.labels ?? {};
  return labels["stepwise.dev/purpose"] === "fault" && labels["stepwise.dev/rollout"] === ctx.rollout;
}
