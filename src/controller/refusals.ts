/**
 * Refusals: failures that no retry can fix, only a user's edit (a route object or route that does not
 * exist, a mesh API the cluster does not serve, a part of the route someone else owns, a user's Service
 * or autoscaler that cannot be used as it is). The rollout holds
 * where it is with the condition below False, its message the remedy, and one Warning Event; it goes on
 * by itself once the cause is fixed. Any other failure is retried as it is.
 */
import { CONDITION, type ConditionType } from "../engine/conditions.ts";
import {
  ApiNotServedError,
  ForeignConfigError,
  RouteNotFoundError,
  UnsupportedOperationError,
} from "../routers/index.ts";
import { ServiceNotAdoptableError, WorkloadConflictError } from "../workloads/adoption.ts";

export interface Refusal {
  condition: ConditionType;
  /** CamelCase, as Kubernetes conditions give reasons. */
  reason: string;
  message: string;
}

/** Which failures are refusals, and the condition and reason each holds the rollout with. */
const REFUSALS: readonly [new (...args: never[]) => Error, ConditionType, string][] = [
  [RouteNotFoundError, CONDITION.RouteReady, "RouteNotFound"],
  [ApiNotServedError, CONDITION.RouteReady, "ApiNotServed"],
  [ForeignConfigError, CONDITION.RouteReady, "ForeignConfig"],
  [UnsupportedOperationError, CONDITION.RouteReady, "UnsupportedOperation"],
  [ServiceNotAdoptableError, CONDITION.WorkloadsReady, "ServiceNotAdoptable"],
  [WorkloadConflictError, CONDITION.WorkloadsReady, "WorkloadConflict"],
];

/** The refusal an error stands for, or undefined when it is worth retrying as it is. */
export function refusalOf(error: unknown): Refusal | undefined {
  for (const [type, condition, reason] of REFUSALS)
    if (error instanceof type) return { condition, reason, message: (error as Error).message };
  return undefined;
}
