/**
 * A whole rollout simulated look by look, as the controller judges it: the plan's analysis windows in turn,
 * each a fresh test over its own counts at its share of the false-failure budget, warm-up from the canary's
 * readiness (the start of the first window), counts read from scrapes that lag the look, and canary counter
 * restarts that lose what was counted since the last look. bench/time-to-detect.ts reports figures from it
 * and test/unit/analysis/rollout-simulation.test.ts checks the verdict targets with it. Seeded: same seed,
 * same outcome.
 */
import { binomial, poisson, type Random } from "./random.ts";
import { alphaShares, evaluate, type GateSource, judgedWindows } from "./verdict.ts";

/** Requests are drawn per slice; scrapes and restarts fall on slice boundaries. */
const SLICE_MS = 5_000;

export interface RolloutScenario {
  profile: GateSource;
  /** Canary requests per second (Poisson). */
  canaryRps: number;
  /** Baseline requests per canary request (9: the canary has 10% of the traffic). */
  baselineMultiple: number;
  canaryRate: number;
  baselineRate: number;
  /** The judged windows in plan order (setWeight steps, which take no time, are left out). */
  windows: readonly Window[];
  /** Steps in the rollout's plan: the budget is divided across them and the final gate (judgedWindows). */
  planSteps: number;
  /** How often the controller looks (ms); a multiple of 5 s. */
  lookMs: number;
  /** Prometheus' scrape interval (ms), a multiple of 5 s; each run draws its phase. 0: no lag. */
  scrapeMs: number;
  /** The chance, per window, that the canary's counters restart once at a random moment. */
  restartChance: number;
}

/**
 * A step of the rollout. `pass`: an analysis step or the final gate, which ends at the first Pass and pauses
 * for a person after durationMs without one. Otherwise a timed step (a pause) that ends after durationMs.
 * Every window fails the canary on a Fail.
 */
export interface Window {
  durationMs: number;
  pass: boolean;
}

export interface RolloutOutcome {
  /** undecided: a window ended without a verdict, so the rollout paused for a person. */
  decision: "rollback" | "promote" | "undecided";
  /** Time from the canary's readiness to the decision (ms). */
  elapsedMs: number;
  /** Bad canary requests served until the decision. */
  failedServed: number;
}

interface Slice {
  canaryTotal: number;
  canaryBad: number;
  baselineTotal: number;
  baselineBad: number;
}

function slice(random: Random, scenario: RolloutScenario): Slice {
  const seconds = SLICE_MS / 1000;
  const canaryTotal = poisson(random, scenario.canaryRps * seconds);
  const baselineTotal = poisson(random, scenario.canaryRps * scenario.baselineMultiple * seconds);
  return {
    canaryTotal,
    canaryBad: binomial(random, canaryTotal, scenario.canaryRate),
    baselineTotal,
    baselineBad: binomial(random, baselineTotal, scenario.baselineRate),
  };
}

export function simulateRollout(random: Random, scenario: RolloutScenario): RolloutOutcome {
  const alpha = alphaShares([scenario.profile], judgedWindows(scenario.planSteps))[0]!;
  const lookSlices = scenario.lookMs / SLICE_MS;
  const scrapeSlices = scenario.scrapeMs / SLICE_MS;
  const phase = scrapeSlices > 0 ? Math.floor(random.next() * scrapeSlices) : 0;
  let windowStart = 0; // ms from the canary's readiness
  let failedServed = 0;
  const outcome = (decision: RolloutOutcome["decision"], elapsedMs: number) => ({
    decision,
    elapsedMs,
    failedServed,
  });
  for (const window of scenario.windows) {
    const windowSlices = window.durationMs / SLICE_MS;
    const restartAt =
      random.next() < scenario.restartChance ? 1 + Math.floor(random.next() * windowSlices) : undefined;
    const slices: Slice[] = [];
    const canary = { bad: 0, total: 0 };
    const baseline = { bad: 0, total: 0 };
    let visible = 0; // slices whose counts the last look read
    let passed = false;
    for (let index = 0; index < windowSlices; index++) {
      if (index === restartAt) {
        // The reset loses what the counter gained between the last look's scrape and the restart.
        for (let lost = visible; lost < index; lost++)
          slices[lost] = { ...slices[lost]!, canaryTotal: 0, canaryBad: 0 };
      }
      const drawn = slice(random, scenario);
      slices.push(drawn);
      failedServed += drawn.canaryBad;
      const elapsedSlices = index + 1;
      if (elapsedSlices % lookSlices !== 0) continue;
      // The newest scrape at or before this look: scrapes fall on slice boundaries phase, phase + scrape, ...
      const absolute = windowStart / SLICE_MS + elapsedSlices;
      const scraped =
        scrapeSlices > 0
          ? elapsedSlices - ((((absolute - phase) % scrapeSlices) + scrapeSlices) % scrapeSlices)
          : elapsedSlices;
      for (; visible < scraped; visible++) {
        const counted = slices[visible]!;
        canary.bad += counted.canaryBad;
        canary.total += counted.canaryTotal;
        baseline.bad += counted.baselineBad;
        baseline.total += counted.baselineTotal;
      }
      const now = windowStart + elapsedSlices * SLICE_MS;
      const verdict = evaluate(
        scenario.profile,
        { canary: { ...canary }, baseline: { ...baseline } },
        { now, stepStartedAt: windowStart, readyAt: 0, alpha },
      ).verdict;
      if (verdict === "Fail") return outcome("rollback", now);
      if (verdict === "Pass" && window.pass) {
        passed = true;
        windowStart = now;
        break;
      }
    }
    if (passed) continue;
    if (window.pass) return outcome("undecided", windowStart + window.durationMs);
    windowStart += window.durationMs;
  }
  return outcome("promote", windowStart);
}
