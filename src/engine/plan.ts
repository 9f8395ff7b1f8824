import type { RolloutSpec } from "../api/rollout.ts";
import type { ChaosSpec, RequestMatch } from "./types.ts";

/** One step of a rollout as the engine runs it; every strategy is turned into a list of these. */
export type PlanStep =
  | { kind: "setWeight"; weight: number }
  | { kind: "pause"; durationMs?: number; reason: string }
  /** Analyse until every profile passes (or `untilMs`, the step's deadline), but for at least `atLeastMs`. */
  | { kind: "analysis"; untilMs?: number; atLeastMs?: number; profiles?: string[]; mirror?: boolean }
  | { kind: "chaos"; chaos: ChaosSpec }
  | { kind: "match"; match: RequestMatch[] };

/**
 * The steps of a strategy. Blue-green is a preview analysis (on mirrored traffic where the mesh can
 * mirror), an optional manual gate, the switch in one write, and a hold that keeps the old version for
 * the scale-down delay. A/B routes matching requests to the canary and analyses them.
 */
export function planSteps(spec: RolloutSpec): PlanStep[] {
  const { canary, blueGreen, abTest } = spec.strategy;
  if (canary) {
    return canary.steps.map((step): PlanStep => {
      if (step.setWeight !== undefined) return { kind: "setWeight", weight: step.setWeight };
      if (step.pause) {
        const duration = step.pause.duration;
        // a pause with a duration ends by itself: it is no gate, and its message must not say so
        return duration === undefined
          ? { kind: "pause", reason: "manual gate" }
          : { kind: "pause", durationMs: duration, reason: "timed pause" };
      }
      if (step.chaos) return { kind: "chaos", chaos: step.chaos };
      return { kind: "analysis", untilMs: step.analysis?.duration, profiles: step.analysis?.profiles };
    });
  }
  if (blueGreen) {
    return [
      ...(blueGreen.previewAnalysis
        ? [{ kind: "analysis", untilMs: blueGreen.analysisDuration, mirror: true } as const]
        : []),
      ...(blueGreen.autoPromote ? [] : [{ kind: "pause", reason: "waiting for promotion" } as const]),
      { kind: "setWeight", weight: 100 },
      {
        kind: "pause",
        durationMs: blueGreen.scaleDownDelay,
        reason: "keeping the old version for the scale-down delay",
      },
    ];
  }
  if (abTest) {
    const atLeastMs = abTest.duration ?? (abTest.iterations ?? 1) * spec.analysis.interval;
    return [
      { kind: "match", match: abTest.match },
      { kind: "analysis", atLeastMs },
    ];
  }
  throw new Error("a Rollout spec has exactly one strategy; parseRollout guarantees it");
}

/** The highest canary share a plan sets at or before a step: weights never go above it. */
export function weightAt(plan: PlanStep[], step: number): number {
  let weight = 0;
  for (const planned of plan.slice(0, step + 1)) if (planned.kind === "setWeight") weight = planned.weight;
  return weight;
}
