/**
 * The one classifier of a destination's role in a weighted list, for every provider: each adapter says
 * what an entry names (its Service, subset and namespace, as its API spells them) and this decides
 * whether it is the rollout's stable, canary or fault destination, or the user's own ("foreign": kept
 * as written, weight included).
 */
import { sameService } from "./model.ts";

export type Role = "stable" | "canary" | "fault" | "foreign";

/** What one entry of a weighted list points at, read by its adapter. */
export interface DestinationRef {
  /** The Service: its name, or (where the API takes hosts) any DNS name of it. Not a string: foreign. */
  service: unknown;
  /** The subset it names (Istio DestinationRule subset, Consul serviceSubset), if any. */
  subset?: unknown;
  /** The Kubernetes namespace it names explicitly, if any; another namespace than the rollout's: foreign. */
  namespace?: unknown;
}

/** A destination of the rollout: a Service and, when `subset` is set, that subset of it ("" for none). */
export interface RoleTarget {
  service: string;
  subset?: string;
}

/** Who the rollout's destinations are, in one adapter's terms. */
export interface RoleNames {
  namespace: string;
  /** Service names compared as hosts (short name, `name.ns`, `name.ns.svc[.cluster domain]`) or exactly. */
  match: "host" | "name";
  stable: RoleTarget;
  canary: RoleTarget;
  /** Absent for APIs with a fault filter (Istio): an entry to the error backend there is the user's. */
  fault?: RoleTarget;
}

export function destinationRole(names: RoleNames, ref: DestinationRef): Role {
  if (ref.namespace !== undefined && ref.namespace !== names.namespace) return "foreign";
  for (const role of ["stable", "canary", "fault"] as const) {
    const target = names[role];
    if (target && sameName(names, ref.service, target.service) && subsetMatches(ref.subset, target.subset))
      return role;
  }
  return "foreign";
}

function sameName(names: RoleNames, service: unknown, name: string): boolean {
  return names.match === "host" ? sameService(service, name, names.namespace) : service === name;
}

/** An unset target subset takes any; otherwise the entry's subset (absent as "") must be the same. */
function subsetMatches(subset: unknown, wanted: string | undefined): boolean {
  return wanted === undefined || (subset ?? "") === wanted;
}
