import type { RolloutSpec, RolloutStatus } from "../api/rollout.ts";
import type { GatingWebhook, WebhookAnswers } from "./types.ts";

/**
 * Gating webhooks (pre-rollout, confirm-promotion) answer one gate: one revision arriving at one gate at
 * one time. Their answers are filed under that gate's key, so an answer never carries over to another
 * revision, to a retry of the same revision, or to the same revision deployed again later.
 */
export function gateKey(type: GatingWebhook, status: RolloutStatus): string {
  return `${type}/${status.revision ?? ""}/${status.stepStartedAt ?? ""}`;
}

export type GateOutcome =
  /** No webhook of this type is configured, or it approved this gate. */
  | "open"
  | "rejected"
  /** Not answered yet (or, for confirm-promotion, not approved yet): ask (again). */
  | { ask: string };

/**
 * Where a gate stands for the status as this tick leaves it. A pre-rollout rejection is final for its
 * gate (the rollout rolls back; `retry` opens a new gate). A confirm-promotion rejection only means "not
 * yet": it is asked again at the next look, as a person may approve later.
 */
export function gateOutcome(
  spec: RolloutSpec,
  status: RolloutStatus,
  answers: WebhookAnswers,
  type: GatingWebhook,
): GateOutcome {
  if (!spec.webhooks?.some((hook) => hook.type === type)) return "open";
  const key = gateKey(type, status);
  const answer = answers[key];
  if (answer === "approved") return "open";
  if (answer === "rejected" && type === "pre-rollout") return "rejected";
  return { ask: key };
}
