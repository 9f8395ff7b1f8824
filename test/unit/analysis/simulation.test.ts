// Simulated checks of the guarantees: however often the tests look, a canary that is within its bounds is
// failed in at most alpha of the runs, and the confidence bounds cover the truth in at least 1 - alpha.
// Seeded, so the outcomes are reproducible; the margins allow three standard errors of the estimate.
import { describe, expect, it } from "vitest";
import { ratioUpperBound, upperBound } from "../../../src/analysis/bounds.ts";
import { binomial, poisson, type Random, seededRandom } from "../../../src/analysis/random.ts";
import { type Counts, exceedanceLogE, ratioLogE, rejects } from "../../../src/analysis/sequential.ts";

const RUNS = 2000;
const LOOKS = 40; // ten minutes of 15 s looks
const ALPHA = 0.05;
const margin = (p: number) => 3 * Math.sqrt((p * (1 - p)) / RUNS);

interface Stream {
  canaryRps: number;
  canaryRate: number;
  baselineRate: number;
}

/** Runs LOOKS looks of cumulative counts (baseline has 9x the canary's traffic) until `stop` says so. */
function simulate(
  random: Random,
  stream: Stream,
  stop: (canary: Counts, baseline: Counts, look: number) => boolean,
): boolean {
  const canary = { bad: 0, total: 0 };
  const baseline = { bad: 0, total: 0 };
  for (let look = 1; look <= LOOKS; look++) {
    const nc = poisson(random, stream.canaryRps * 15);
    const nb = poisson(random, stream.canaryRps * 9 * 15);
    canary.total += nc;
    canary.bad += binomial(random, nc, stream.canaryRate);
    baseline.total += nb;
    baseline.bad += binomial(random, nb, stream.baselineRate);
    if (stop({ ...canary }, { ...baseline }, look)) return true;
  }
  return false;
}

function share(times: number, stream: Stream, seed: number, stop: Parameters<typeof simulate>[2]): number {
  const random = seededRandom(seed);
  let hits = 0;
  for (let run = 0; run < times; run++) if (simulate(random, stream, stop)) hits++;
  return hits / times;
}

describe("false failures stay under alpha at every look (at the edge of the null hypothesis)", () => {
  it("absolute test: a canary at exactly the tolerance", () => {
    const stream = { canaryRps: 10, canaryRate: 0.01, baselineRate: 0.01 };
    const rate = share(RUNS, stream, 1, (canary) => rejects(exceedanceLogE(canary, 0.01), ALPHA));
    expect(rate).toBeLessThanOrEqual(ALPHA + margin(ALPHA));
  });

  it("baseline test: a canary at exactly twice the baseline's bad rate", () => {
    const stream = { canaryRps: 10, canaryRate: 0.01, baselineRate: 0.005 };
    const rate = share(RUNS, stream, 2, (canary, baseline) =>
      rejects(ratioLogE(canary, baseline, 2)!, ALPHA),
    );
    expect(rate).toBeLessThanOrEqual(ALPHA + margin(ALPHA));
  });

  it("baseline test with little traffic, where the share of requests is noisy", () => {
    const stream = { canaryRps: 1, canaryRate: 0.1, baselineRate: 0.05 };
    const rate = share(RUNS, stream, 3, (canary, baseline) =>
      rejects(ratioLogE(canary, baseline, 2)!, ALPHA),
    );
    expect(rate).toBeLessThanOrEqual(ALPHA + margin(ALPHA));
  });
});

describe("confidence bounds hold at every look", () => {
  it("the bad-rate upper bound stays above the true rate", () => {
    const stream = { canaryRps: 10, canaryRate: 0.02, baselineRate: 0.02 };
    const misses = share(RUNS, stream, 4, (canary) => upperBound(canary, ALPHA) < 0.02);
    expect(misses).toBeLessThanOrEqual(ALPHA + margin(ALPHA));
  });

  it("the ratio upper bound stays above the true ratio", () => {
    const stream = { canaryRps: 10, canaryRate: 0.03, baselineRate: 0.01 };
    const misses = share(
      RUNS / 2,
      stream,
      5,
      (canary, baseline) => ratioUpperBound(canary, baseline, ALPHA) < 3,
    );
    expect(misses).toBeLessThanOrEqual(ALPHA + 3 * Math.sqrt((ALPHA * (1 - ALPHA)) / (RUNS / 2)));
  });
});

// The shipped gate over whole rollouts, against the targets of issue 16: rollout-simulation.test.ts.
