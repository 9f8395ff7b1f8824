/**
 * The traffic router: one small interface over every traffic API the controller drives (Istio
 * VirtualService, SMI TrafficSplit, Gateway API HTTPRoute/GRPCRoute, Consul ServiceSplitter).
 *
 * Every operation is idempotent: it reads the object, decides what to change in the parts the
 * controller owns, writes at most once (a JSON patch guarded by `test` operations on the
 * resourceVersion and on every value it replaces or removes), reads the object back and returns what
 * is applied. Nothing else in the object changes.
 *
 * The weight contract (what the engine relies on):
 * - A canary weight N is a share of the MANAGED RULE's traffic (the Istio http route, the HTTPRoute
 *   rule, the TrafficSplit's or ServiceSplitter's list): `setWeight(N)` sends N% of what that rule
 *   carries to the canary; the user's other destinations in it keep their share; stable gets the rest.
 * - `TrafficState.canaryWeight` is that share as the object shows it, quantized by the API, and
 *   `TrafficState.weightUnit` is what one unit of the canary's weight is worth in it, as the object is
 *   now (Istio 1, Consul 0.01, HTTPRoute/TrafficSplit 100 / the rule's weight sum).
 * - `setWeight(N)` writes the share closest to N (ties round up) and returns `applied`, the share read
 *   back. INVARIANT, for every provider, with or without foreign destinations: the canary's share of
 *   the rule never exceeds N + weightUnit; and when N is expressible, |applied - N| < weightUnit
 *   (`withinOneUnit` in weights.ts, which the engine should use instead of `===`).
 * - When N cannot be expressed on the object (its other destinations leave the canary less than N, or
 *   N > 0 rounds to no weight at all) `setWeight` writes nothing and throws WeightNotExpressibleError,
 *   whose message says why and what to change. It never writes 0 or 100 instead.
 * - Drift: a canary share within one weightUnit of what the controller last asked is not drift.
 * - Relative weights (HTTPRoute, TrafficSplit) next to the user's destinations: when the rule's weights
 *   are too coarse for the step (1/1), every weight in the rule is multiplied by one factor (shares
 *   unchanged) and finalize() writes the user's own numbers back.
 */
import type { RolloutSpec, Step } from "../api/rollout.ts";
import type { OwnerReference } from "../kube/client.ts";

/** A header or cookie match of an A/B test, as the Rollout declares it. */
export type RequestMatch = NonNullable<RolloutSpec["strategy"]["abTest"]>["match"][number];

/** A fault of a chaos step: a delay or an abort, each for a percentage of requests. */
export type Fault = NonNullable<Step["chaos"]>["fault"];

/** Where a fault goes: on the rollout's own route, or on calls the rollout's pods make to a dependency. */
export type FaultTarget =
  | { target: "route" }
  | {
      target: "dependency";
      /** The dependency's host, as its callers address it (`payments`, or a FQDN). */
      host: string;
      /** Pod labels of the callers that get the fault (canary and baseline pods); one label set each. */
      sourceLabels: Record<string, string>[];
    };

export interface RouterCapabilities {
  /**
   * The smallest canary step in percent the API can express on an object with only the rollout's
   * destinations (1, 0.1, 0.01); TrafficState.weightUnit is the step on the object as it is.
   */
  minStep: number;
  /** Can send requests that match headers to the canary (A/B). */
  headerMatch: boolean;
  /** Can send requests whose Cookie header matches a regular expression to the canary. */
  cookieMatch: boolean;
  /** Can mirror a percentage of requests to the canary. */
  mirror: boolean;
  /** Can delay requests. */
  delayFault: boolean;
  /** Can fail requests: with a fault filter of the API, or with a weighted share to an error backend. */
  abortFault: "filter" | "backend";
  /** Can inject a fault on a dependency's calls from the rollout's pods only. */
  dependencyFault: boolean;
}

/** What the controller set and the object now shows; `expected` is what the controller last wrote. */
export interface Drift {
  expected: number;
  found: number;
}

export interface ActiveFault {
  fault: Fault;
  /** Percentage of the rollout's requests that get the fault. */
  percent: number;
  /** When the controller removes it even if nothing else does (after a crash, say); ISO 8601. */
  expiresAt?: string;
}

/** The traffic state of one rollout as its route object shows it. */
export interface TrafficState {
  /**
   * The canary's share of the managed rule's traffic, in percent, the user's other destinations
   * included. A fault backend's traffic counts as stable's and canary's in their proportion (the fault
   * takes its share out of both alike), so a fault does not move it. 0 when stable and canary have no weight.
   */
  canaryWeight: number;
  /** The stable's share of the rule's traffic, counted as canaryWeight is; canary + stable + foreign = 100. */
  stableWeight: number;
  /** The share of the rule's traffic the user's other destinations (neither stable, canary nor fault) have. */
  foreignWeight: number;
  /** What one unit of the canary's weight is worth, in percent of the rule's traffic, as the object is now. */
  weightUnit: number;
  /** Percentage of the rollout's traffic sent to the error-returning backend (APIs without a fault filter). */
  faultWeight: number;
  /** The A/B matches routed to the canary, or null when there is no match route. */
  match: RequestMatch[] | null;
  /** Percentage of requests mirrored to the canary, or null. */
  mirror: number | null;
  /** The fault on the rollout's route, or null. */
  fault: ActiveFault | null;
  /** True once the controller has written to the object (its record annotation is present). */
  managed: boolean;
  /** Someone changed the weights the controller set. */
  drift?: Drift;
  /** The object the state was read from. */
  object: { apiVersion: string; kind: string; namespace: string; name: string; resourceVersion: string };
}

export interface ApplyResult {
  /** True when the operation wrote (exactly one write); false when the object already was as asked. */
  wrote: boolean;
  /** The state read back from the server after the write (or as read, when nothing was written). */
  state: TrafficState;
  /** Weights found before the write that differ from what the controller had set. */
  drift?: Drift;
}

export interface WeightResult extends ApplyResult {
  /** The canary share of the rule's traffic asked for, in percent. */
  desired: number;
  /** The canary share the object shows after the write: `state.canaryWeight`, within one `state.weightUnit` of desired. */
  applied: number;
}

export interface FaultResult extends ApplyResult {
  /** The object that carries the fault: the rollout's route object, or the dependency's VirtualService. */
  carrier: { kind: string; namespace: string; name: string };
}

export interface EnsureOptions {
  /** Istio subset mode: the pod labels of the stable and canary pods, kept in the DestinationRule subsets. */
  subsetLabels?: { stable: Record<string, string>; canary: Record<string, string> };
}

export interface TrafficRouter {
  /** Human name of the API driven, e.g. "Istio VirtualService". */
  readonly api: string;
  readonly capabilities: RouterCapabilities;
  /** Creates the objects the controller owns when they are missing; checks an existing routeRef object. */
  ensure(options?: EnsureOptions): Promise<TrafficState>;
  /** The current split, match, mirror and fault, with drift against what the controller last set. */
  read(): Promise<TrafficState>;
  /**
   * Sends `canaryPercent` of the managed rule's traffic to the canary, as closely as the object can
   * (see the weight contract above); throws WeightNotExpressibleError when it cannot at all.
   */
  setWeight(canaryPercent: number): Promise<WeightResult>;
  /** Routes requests matching any of `matches` to the canary; null removes the match route. */
  setMatch(matches: readonly RequestMatch[] | null): Promise<ApplyResult>;
  /** Mirrors `percent` of the requests to the canary; null stops mirroring. */
  setMirror(percent: number | null): Promise<ApplyResult>;
  /**
   * Injects a fault on the rollout's route (the default), or on the calls the rollout's pods make to a
   * dependency. Replaces a fault the controller injected before at the same target. The object that
   * carries it records `expiresAt`, so that clearExpiredFaults() can remove it later.
   */
  applyFault(fault: Fault, target?: FaultTarget, expiresAt?: string): Promise<FaultResult>;
  /** Removes every fault the controller injected (route and dependencies). */
  clearFault(): Promise<ApplyResult>;
  /** Removes the rollout's faults when one of them is past its expiry; true when it removed any. */
  clearExpiredFaults(now: Date): Promise<boolean>;
  /** All traffic to stable; match route, mirror and fault removed; everything else as the user wrote it. */
  finalize(): Promise<WeightResult>;
}

/** What every adapter needs to know about the rollout. */
export interface RouterContext {
  /** The Rollout's name: names the objects the controller creates and its record annotation. */
  rollout: string;
  namespace: string;
  /** The apex service; the stable and canary services are `<service>-primary` and `<service>-canary`. */
  service: string;
  port: number;
  stableService: string;
  canaryService: string;
  /** The error-returning service used for faults where the API has no fault filter. */
  faultService: string;
  /** Owner of the objects the controller creates (the Rollout), for garbage collection. */
  owner?: OwnerReference;
  /** Name of the existing object to drive (spec.traffic.routeRef); absent when the controller creates it. */
  routeRef?: { apiVersion?: string; kind: string; name: string };
  /** Name of the route (Istio http route name, Gateway rule name) to manage, instead of the host rule. */
  routeName?: string;
}

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "stepwise";
export const ROLLOUT_LABEL = "stepwise.dev/rollout";
/** The request header the error backend reads the status to return from (where the API can set headers). */
export const FAULT_STATUS_HEADER = "x-stepwise-fault-status";
export const FAULT_GRPC_STATUS_HEADER = "x-stepwise-fault-grpc-status";
