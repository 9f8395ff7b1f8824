/**
 * What an analysis step can decide, said up front: from the request rate of the service, the step's share of
 * it and the profiles, how long the step must run before even a spotless canary can Pass. A step shorter
 * than that can only end Inconclusive and pause for a person. Used by `rollout lint --rps`, `rollout start`
 * and the status message.
 */
import { formatDuration } from "../api/duration.ts";
import type { RolloutSpec } from "../api/rollout.ts";
import { planSteps, weightAt } from "../engine/plan.ts";
import { evaluate, type GateSource } from "./verdict.ts";

/** Requests per second of the canary and of the baseline during a step. */
export interface StepTraffic {
  canaryRps: number;
  baselineRps: number;
}

const LOOK_MS = 15_000;
/** Beyond a week the answer is "never", for any purpose a person has. */
const HORIZON_MS = 7 * 24 * 3_600_000;

/**
 * The first look (every 15 s) at which a canary and a baseline without a single bad request would Pass,
 * in ms from the step's start; undefined when that takes more than a week (or the canary gets no traffic).
 * A spotless canary is the fastest case, so a step shorter than this can never pass; a canary with the
 * baseline's errors needs longer (the bench shows how much).
 */
export function timeToPass(profile: GateSource, traffic: StepTraffic): number | undefined {
  if (!(traffic.canaryRps > 0)) return undefined;
  const passesAt = (looks: number) => {
    const ms = looks * LOOK_MS;
    const seconds = ms / 1000;
    const observation = {
      canary: { bad: 0, total: Math.floor(traffic.canaryRps * seconds) },
      baseline: { bad: 0, total: Math.floor(traffic.baselineRps * seconds) },
    };
    // Warm-up is left out: it is over at later steps, and short next to what this estimates.
    const options = { now: ms, stepStartedAt: 0, readyAt: -profile.spec.gate.warmup };
    return evaluate(profile, observation, options).verdict === "Pass";
  };
  let high = HORIZON_MS / LOOK_MS;
  if (!passesAt(high)) return undefined;
  // Pass with spotless counts only gets easier with more requests: search for the first look.
  let low = 0;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (passesAt(middle)) high = middle;
    else low = middle;
  }
  return high * LOOK_MS;
}

/** Minutes and seconds, rounded up to a quarter minute for a person ("about 2m15s"). */
function roughly(ms: number): string {
  return formatDuration(Math.ceil(ms / LOOK_MS) * LOOK_MS);
}

/** The warning for an analysis step too short to pass: lint, `rollout start` and the status say it alike. */
export function tooShortMessage(about: {
  /** Requests a second to the service (rounded for the message). */
  rps: number;
  /** The canary's share of them, in percent. */
  share: number;
  /** The step's index in the plan (0-based). */
  step: number;
  profile: string;
  /** What the profile needs (timeToPass); undefined: it never passes at this traffic. */
  needsMs: number | undefined;
  /** The step's duration. */
  hasMs: number;
}): string {
  const rps = about.rps >= 10 ? Math.round(about.rps) : Number(about.rps.toPrecision(2));
  const where = `at ~${rps} rps (${Math.round(about.share)}% to the canary) analysis step ${about.step + 1}`;
  const it = `it is ${formatDuration(about.hasMs)}`;
  return about.needsMs === undefined
    ? `${where} can never pass ${about.profile}: the canary gets too little traffic; ${it}`
    : `${where} needs about ${roughly(about.needsMs)} to pass ${about.profile}, even without errors; ${it}`;
}

export interface ShortStep {
  /** The step's index in the plan (0-based). */
  step: number;
  message: string;
}

/**
 * The analysis steps with a duration too short for their profiles to pass at `rps` requests a second to the
 * service: the canary gets the step's weight of them (all of them, mirrored, in a preview analysis), the
 * baseline the rest. `profile` finds a profile by name; unknown names are left to other checks.
 */
export function shortAnalysisSteps(
  spec: RolloutSpec,
  profile: (name: string) => GateSource | undefined,
  rps: number,
): ShortStep[] {
  if (!(rps > 0)) throw new RangeError(`rps must be a positive number, got ${rps}`);
  const plan = planSteps(spec);
  const required = spec.analysis.profiles.filter((ref) => ref.required).map((ref) => ref.name);
  const short: ShortStep[] = [];
  plan.forEach((step, index) => {
    if (step.kind !== "analysis" || step.untilMs === undefined) return;
    const share = step.mirror ? 100 : weightAt(plan, index);
    const traffic = step.mirror
      ? { canaryRps: rps, baselineRps: rps }
      : { canaryRps: (rps * share) / 100, baselineRps: (rps * (100 - share)) / 100 };
    const needs = (step.profiles ?? required)
      .map((name) => profile(name))
      .filter((found): found is GateSource => found !== undefined)
      .map((found) => ({ name: found.metadata.name, ms: timeToPass(found, traffic) }));
    const slowest = needs.reduce<(typeof needs)[number] | undefined>(
      (worst, need) => (worst === undefined || (need.ms ?? Infinity) > (worst.ms ?? Infinity) ? need : worst),
      undefined,
    );
    if (!slowest || (slowest.ms !== undefined && slowest.ms <= step.untilMs)) return;
    const message = tooShortMessage({
      rps,
      share,
      step: index,
      profile: slowest.name,
      needsMs: slowest.ms,
      hasMs: step.untilMs,
    });
    short.push({ step: index, message });
  });
  return short;
}
