// Seeded Monte-Carlo checks of the shipped http-availability gate over whole multi-step rollouts (issue 16's
// targets), with binomial request counts, scrape lag and canary counter restarts, as
// bench/time-to-detect.ts runs them (src/analysis/simulate.ts). Each target is checked with a margin of
// three standard errors of the estimated share: share <= target + 3 SE (or >= target - 3 SE).
//
// Run counts, for about 20 s on a shared 2-core machine: 3000 runs put 3 SE at 0.55 points for the 1%
// false-rollback target; 1500 runs at 1.7 points for the 5% share of promoted 2x regressions and at 2.3
// points for the 90% share of healthy canaries promoted. Medians use 500 runs, where a sampled median is
// within a look (15 s) of the true one: every 5% canary here is stopped within a minute.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { seededRandom } from "../../../src/analysis/random.ts";
import { type RolloutOutcome, simulateRollout, type Window } from "../../../src/analysis/simulate.ts";
import { parseSLOProfile, type SLOProfile } from "../../../src/api/slo-profile.ts";

const profile: SLOProfile = (() => {
  const path = join(import.meta.dirname, "../../../slo-profiles/http-availability.yaml");
  const parsed = parseSLOProfile(parse(readFileSync(path, "utf8")));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
})();

// [setWeight 10, pause 2m, setWeight 50, pause 2m] and the final gate (up to 10 minutes): the bench's plan.
const PAUSES: Window[] = [
  { durationMs: 120_000, pass: false },
  { durationMs: 120_000, pass: false },
  { durationMs: 600_000, pass: true },
];
// [setWeight 10, analysis 5m, setWeight 50, analysis 5m] and the final gate: three windows that must pass.
const ANALYSED: Window[] = [
  { durationMs: 300_000, pass: true },
  { durationMs: 300_000, pass: true },
  { durationMs: 600_000, pass: true },
];

function outcomes(runs: number, seed: number, canaryRps: number, canaryRate: number, windows: Window[]) {
  const random = seededRandom(seed);
  const all: RolloutOutcome[] = [];
  for (let run = 0; run < runs; run++) {
    all.push(
      simulateRollout(random, {
        profile,
        canaryRps,
        baselineMultiple: 9,
        canaryRate,
        baselineRate: 0.001,
        windows,
        planSteps: 4,
        lookMs: 15_000,
        scrapeMs: 15_000,
        restartChance: 0.2,
      }),
    );
  }
  return all;
}

const threeSE = (p: number, runs: number) => 3 * Math.sqrt((p * (1 - p)) / runs);
const share = (all: RolloutOutcome[], keep: (outcome: RolloutOutcome) => boolean) =>
  all.filter(keep).length / all.length;
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1]!;
}

describe.each([10, 100])("the shipped gate over a whole rollout at %i canary rps", (rps) => {
  it.each([
    ["pauses", PAUSES],
    ["analysis steps", ANALYSED],
  ] as const)("plan with %s: rolls back at most one healthy canary in a hundred", (_name, windows) => {
    const runs = 3000;
    const rolledBack = share(outcomes(runs, rps + 1, rps, 0.001, windows), (o) => o.decision === "rollback");
    expect(rolledBack).toBeLessThanOrEqual(0.01 + threeSE(0.01, runs));
  });

  it("promotes at most 5% of 2x regressions (0.2% against 0.1%)", () => {
    const runs = 1500;
    for (const windows of [PAUSES, ANALYSED]) {
      const promoted = share(outcomes(runs, rps + 2, rps, 0.002, windows), (o) => o.decision === "promote");
      expect(promoted).toBeLessThanOrEqual(0.05 + threeSE(0.05, runs));
    }
  });

  it("stops a 5% canary in a median of at most 30 s, every run rolled back", () => {
    const all = outcomes(500, rps + 3, rps, 0.05, PAUSES);
    expect(all.every((o) => o.decision === "rollback")).toBe(true);
    expect(median(all.map((o) => o.elapsedMs))).toBeLessThanOrEqual(30_000);
  });
});

describe("at 100 canary rps", () => {
  it("serves a median of at most 100 failed requests of a 5% canary before the rollback", () => {
    const all = outcomes(500, 4, 100, 0.05, PAUSES);
    expect(median(all.map((o) => o.failedServed))).toBeLessThanOrEqual(100);
  });

  it("promotes at least 90% of healthy canaries hands-off within 10 minutes", () => {
    const runs = 1500;
    const promoted = share(
      outcomes(runs, 5, 100, 0.001, PAUSES),
      (o) => o.decision === "promote" && o.elapsedMs <= 600_000,
    );
    expect(promoted).toBeGreaterThanOrEqual(0.9 - threeSE(0.9, runs));
  });
});

describe("the check has teeth", () => {
  it("a gate with a pass zone above 2x (passRatio unset) promotes far more than 5% of 2x regressions", () => {
    const doc = parse(
      readFileSync(join(import.meta.dirname, "../../../slo-profiles/http-availability.yaml"), "utf8"),
    );
    doc.spec.gate.baseline = { maxRatio: 2 };
    const parsed = parseSLOProfile(doc);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const random = seededRandom(6);
    const runs = 300;
    let promoted = 0;
    for (let run = 0; run < runs; run++) {
      const outcome = simulateRollout(random, {
        profile: parsed.value,
        canaryRps: 100,
        baselineMultiple: 9,
        canaryRate: 0.002,
        baselineRate: 0.001,
        windows: PAUSES,
        planSteps: 4,
        lookMs: 15_000,
        scrapeMs: 15_000,
        restartChance: 0.2,
      });
      if (outcome.decision === "promote") promoted++;
    }
    expect(promoted / runs).toBeGreaterThan(0.05 + threeSE(0.05, runs));
  });
});
