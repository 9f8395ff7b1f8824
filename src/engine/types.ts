import type { Command } from "../api/commands.ts";
import type { RolloutSpec, RolloutStatus, Step } from "../api/rollout.ts";

export type ChaosSpec = NonNullable<Step["chaos"]>;
export type RequestMatch = NonNullable<RolloutSpec["strategy"]["abTest"]>["match"][number];
export type ProfileVerdict = NonNullable<RolloutStatus["analysis"]>[number];
export type GatingWebhook = "pre-rollout" | "confirm-promotion";
/** Gating webhooks' answers by gate (see webhook-gate.ts). */
export type WebhookAnswers = Readonly<Record<string, "approved" | "rejected">>;
export type WebhookType = NonNullable<RolloutSpec["webhooks"]>[number]["type"];

export type { Command } from "../api/commands.ts";

/** What the controller saw this tick; the engine decides from this and the status alone. */
export interface Observations {
  /** Hash of the target Deployment's pod template: the version that should be running. */
  targetRevision: string;
  /** The target (canary) Deployment runs the target revision at full size and is ready. */
  canaryReady: boolean;
  /** The revision the primary Deployment runs, and whether all its replicas are ready. */
  primary: { revision?: string; ready: boolean };
  /**
   * The canary's share of the managed route's traffic read back from the route object; undefined when it
   * could not be read. Routers round (see src/routers/traffic-router.ts), so it is compared with the desired share
   * within `weightUnit`.
   */
  appliedWeight?: number;
  /** The route object's rounding unit for the canary share, in percent; 0 (exact) when unknown. */
  weightUnit?: number;
  /** Verdicts per profile over the counts since the current step began; empty outside analysis. */
  verdicts: ProfileVerdict[];
  /** The canary's share of the requests those verdicts counted, in percent (see observedShare). */
  observedWeight?: number;
  /** Whether the schedule window is open now (always true without a schedule). */
  scheduleOpen: boolean;
  /** Answers of gating webhooks, by gate key; a gate not in it has not been answered. */
  webhooks: WebhookAnswers;
  /** The newest command annotation on the Rollout, if any. */
  command?: Command;
}

/** What the controller must do; each effect is idempotent, so repeating one after a crash is safe. */
export type Effect =
  | { type: "scaleCanary"; up: boolean }
  | { type: "setWeight"; weight: number }
  | { type: "setMatch"; match: RequestMatch[] | null }
  | { type: "setMirror"; percent: number | null }
  | { type: "applyFault"; chaos: ChaosSpec; expiresAt: string }
  | { type: "clearFault" }
  | { type: "promotePrimary"; revision: string }
  /** `gate`: the gate a gating webhook's answer is filed under (webhook-gate.ts). */
  | { type: "callWebhook"; webhook: WebhookType; gate?: string }
  | { type: "event"; reason: string; message: string; warning?: boolean };

export interface Decision {
  status: RolloutStatus;
  effects: Effect[];
  /** When the engine next needs a tick even if nothing changes (ms from now). */
  requeueAfterMs?: number;
}
