/**
 * Refusals: what the controller will not do until someone edits something, read from the Rollout's
 * standard conditions. The CLI's status, list, TUI and waits (exit 2) and a pipeline using the library
 * client all read them here.
 */
import type { RolloutStatus } from "../api/rollout.ts";
import {
  CONDITION,
  type ConditionType,
  REFUSING_CONDITIONS,
  WEIGHT_NOT_EXPRESSIBLE,
} from "../engine/conditions.ts";

export interface Refusal {
  /** The condition that is False: one of REFUSING_CONDITIONS. */
  type: string;
  reason: string;
  /** What is wrong and what to change, as the controller wrote it. */
  message: string;
}

/** The part of a Rollout, parsed or as the API serves it, that refusals are read from. */
export interface RefusalSource {
  metadata: { generation?: unknown; [field: string]: unknown };
  status?: Pick<RolloutStatus, "observedGeneration" | "conditions" | "analysis">;
}

/**
 * The refusals that hold for the Rollout's current spec. A status written for an older generation
 * (observedGeneration below metadata.generation: the controller has not yet seen the edit that may fix
 * it) holds none; a status without observedGeneration is taken as current. ProfilesValid keeps its last
 * value between analyses (src/engine/decide.ts), so it counts only while a current verdict says a
 * profile is invalid: a new revision's wait is not ended by the last revision's profile.
 */
export function refusalsOf(rollout: RefusalSource): Refusal[] {
  const status = rollout.status;
  const observed = status?.observedGeneration;
  const generation = rollout.metadata.generation;
  if (observed !== undefined && typeof generation === "number" && observed !== generation) return [];
  const profileInvalidNow = (status?.analysis ?? []).some((verdict) => verdict.invalidProfile);
  return (status?.conditions ?? [])
    .filter((c) => c.status === "False" && REFUSING_CONDITIONS.includes(c.type as ConditionType))
    .filter((c) => c.type !== CONDITION.ProfilesValid || profileInvalidNow)
    .map((c) => ({ type: c.type, reason: c.reason ?? "", message: c.message ?? "" }));
}

/**
 * The refusals of a Rollout that parses. The controller checks a spec with the same parser, so a
 * SpecValid=False on a spec that parses was written for an older one (before the fix reached the
 * controller) and is left out.
 */
export function refusalsOfParsed(rollout: RefusalSource): Refusal[] {
  return refusalsOf(rollout).filter((refusal) => refusal.type !== CONDITION.SpecValid);
}

/**
 * Whether a refusal keeps the controller from starting any revision: it holds the rollout as stored (an
 * invalid spec, a route object or Service it cannot use). A weight the route cannot take and an invalid
 * SLOProfile are met by the revision under way and hold only that one.
 */
export function holdsEveryRevision(refusal: Refusal): boolean {
  return refusal.type !== CONDITION.ProfilesValid && refusal.reason !== WEIGHT_NOT_EXPRESSIBLE;
}

/** One line for a refusal: "RouteReady=False WeightNotExpressible: <message>". */
export function formatRefusal(refusal: Refusal): string {
  return `${refusal.type}=False ${refusal.reason}: ${refusal.message}`;
}

/**
 * The refusal a Rollout that does not parse stands for: the controller holds such a Rollout with
 * SpecValid=False InvalidSpec and this same message (src/controller/reconciler.ts), and the object, not
 * its status, says so at once, so no generation can be stale.
 */
export function invalidSpecRefusal(problem: string): Refusal {
  return { type: CONDITION.SpecValid, reason: "InvalidSpec", message: `invalid spec: ${problem}` };
}
