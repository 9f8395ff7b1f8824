import type { RolloutStatus } from "../api/rollout.ts";

export type Condition = NonNullable<RolloutStatus["conditions"]>[number];

/**
 * The Rollout's standard conditions (Kubernetes API conventions): each says one thing that is or is not
 * so, with a CamelCase reason and a message a person can act on.
 */
export const CONDITION = {
  /** The spec parses and passes every rule; False names the field. */
  SpecValid: "SpecValid",
  /** The route object takes the weights asked for; False says why it cannot. */
  RouteReady: "RouteReady",
  /** The user's Services and autoscaler named for the rollout can be used as they are; False says what to change. */
  WorkloadsReady: "WorkloadsReady",
  /** Every SLOProfile the analysis uses is valid (as of the last look); False names the invalid one. */
  ProfilesValid: "ProfilesValid",
  /** The current step's analysis is running; the reason is its most severe verdict, the message each profile's. */
  Analysing: "Analysing",
  /** A release is under way (Initializing, Progressing, Promoting, RollingBack). */
  Progressing: "Progressing",
  /** Nothing keeps the rollout from doing its job: the spec is valid, the route takes weights, not Failed. */
  Ready: "Ready",
} as const;

export type ConditionType = (typeof CONDITION)[keyof typeof CONDITION];

/** The reason the reconciler gives RouteReady=False when the route cannot express a weight. */
export const WEIGHT_NOT_EXPRESSIBLE = "WeightNotExpressible";

/**
 * The conditions whose False is a refusal: set False only for what needs a person's edit (the spec, a
 * route that cannot be driven or cannot take the weight, a user's Service or autoscaler that cannot be
 * used, an invalid SLOProfile). Ready turns False with them, and for Failed, which is an outcome.
 */
export const REFUSING_CONDITIONS: readonly ConditionType[] = [
  CONDITION.SpecValid,
  CONDITION.RouteReady,
  CONDITION.WorkloadsReady,
  CONDITION.ProfilesValid,
];

/**
 * `conditions` with `type` set; lastTransitionTime changes only when the status (True/False) changes.
 * Returns a new array; the order of existing types is kept.
 */
export function withCondition(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
  value: boolean,
  reason: string,
  message: string,
  now: Date,
): Condition[] {
  const status = value ? "True" : "False";
  const old = conditions?.find((c) => c.type === type);
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime:
      old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : now.toISOString(),
  };
  const list = [...(conditions ?? [])];
  const at = list.findIndex((c) => c.type === type);
  if (at >= 0) list[at] = next;
  else list.push(next);
  return list;
}

export function conditionOf(status: RolloutStatus | undefined, type: ConditionType): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function isFalse(status: RolloutStatus | undefined, type: ConditionType): boolean {
  return conditionOf(status, type)?.status === "False";
}

/**
 * A hold: `type` and Ready turn False for one reason, and the status message says why (by default the
 * condition's message). Nothing else in the status changes.
 */
export function withHold(
  status: RolloutStatus,
  type: ConditionType,
  reason: string,
  message: string,
  now: Date,
  statusMessage = message,
): RolloutStatus {
  const conditions = withCondition(
    withCondition(status.conditions, type, false, reason, message, now),
    CONDITION.Ready,
    false,
    reason,
    message,
    now,
  );
  return { ...status, message: statusMessage, conditions };
}
