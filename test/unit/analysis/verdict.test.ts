import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  alphaShares,
  combine,
  errorVerdict,
  evaluate,
  type IndicatorQueries,
  judgedWindows,
  type Observation,
} from "../../../src/analysis/verdict.ts";
import { parseSLOProfile, type SLOProfile } from "../../../src/api/slo-profile.ts";

// biome-ignore lint/suspicious/noExplicitAny: the cases edit the document before parsing
function profile(edit: (doc: any) => void = () => {}): SLOProfile {
  const doc = parse(
    readFileSync(join(import.meta.dirname, "../../../slo-profiles/http-availability.yaml"), "utf8"),
  );
  edit(doc);
  const parsed = parseSLOProfile(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

const START = Date.parse("2025-03-01T12:00:00Z");
const at = (seconds: number) => ({ now: START + seconds * 1000, stepStartedAt: START });
const queries: IndicatorQueries = {
  canary: { part: "bad", ratio: "bad_c", total: "total_c" },
  baseline: { part: "bad", ratio: "bad_b", total: "total_b" },
};

// The shipped http-availability gate: compare both, tolerance 1%, alpha 0.05, maxRatio 2, passRatio 2,
// floor 0.1%, minRequests 50, warm-up 30 s or 500 requests, hard floor 20% over 20 requests, no data: hold
// (deadline 5m).
// Expected statistics were computed independently (Python) from the formulas in docs/analysis.md.

describe("evaluate", () => {
  it("fails a 5% canary against a 0.1% baseline after the warm-up, with its evidence", () => {
    const observation = { canary: { bad: 15, total: 300 }, baseline: { bad: 3, total: 2700 } };
    const verdict = evaluate(profile(), observation, { ...at(30), queries });
    expect(verdict.verdict).toBe("Fail");
    // absolute e = 40328.30, baseline e = min(ratio 1.33405e7, floor 1.79869e17); combined = their mean
    expect(verdict.details.absolute?.eValue).toBeCloseTo(40328.3043, 2);
    expect(verdict.details.baseline?.ratioEValue).toBeCloseTo(13340496.53, -1);
    expect(verdict.statistic).toBeCloseTo(6690412.418, 0);
    expect(verdict.threshold).toBe(20);
    expect(verdict.upperBound).toBeCloseTo(0.0959858, 6);
    expect(verdict.reason).toBe(
      "the canary's bad rate is significantly above the tolerance 1.00% and more than 2x the baseline's bad rate",
    );
    expect(verdict).toMatchObject({
      profile: "http-availability",
      critical: true,
      canary: { bad: 15, total: 300 },
      baseline: { bad: 3, total: 2700 },
      queries,
      range: { start: "2025-03-01T12:00:00.000Z", end: "2025-03-01T12:00:30.000Z" },
    });
    expect(verdict.evidence).toContain(
      "canary 15/300 bad (5.00%), baseline 3/2700 bad (0.11%); e=6.7e+6 (fail at 20); upper bound 9.60%",
    );
  });

  it("holds during the warm-up however strong the evidence", () => {
    const observation = { canary: { bad: 15, total: 300 }, baseline: { bad: 3, total: 2700 } };
    const verdict = evaluate(profile(), observation, at(29));
    expect(verdict.verdict).toBe("Inconclusive");
    expect(verdict.reason).toBe("warming up until 2025-03-01T12:00:30.000Z or 500 canary requests");
    expect(verdict.statistic).toBeGreaterThan(verdict.threshold);
    // warm-up counts from when the pods became ready, when that is known
    expect(evaluate(profile(), observation, { ...at(29), readyAt: START - 60_000 }).verdict).toBe("Fail");
  });

  it("ends the warm-up early once the canary has served warmupRequests", () => {
    // 25/500 bad at 15 s: the 500th request ends the warm-up before its 30 s
    const observation = { canary: { bad: 25, total: 500 }, baseline: { bad: 4, total: 4500 } };
    expect(evaluate(profile(), observation, at(15)).verdict).toBe("Fail");
    expect(evaluate(profile(), { ...observation, canary: { bad: 25, total: 499 } }, at(15)).verdict).toBe(
      "Inconclusive",
    );
  });

  it("fails at once on the hard floor, even during the warm-up", () => {
    const verdict = evaluate(
      profile(),
      { canary: { bad: 12, total: 20 }, baseline: { bad: 0, total: 180 } },
      at(5),
    );
    expect(verdict.verdict).toBe("Fail");
    expect(verdict.reason).toBe("hard floor: the canary's bad rate 60.0% is above 20.0% over 20 requests");
    expect(verdict.details.hardFloor).toEqual({ maxBadRate: 0.2, minRequests: 20, tripped: true });
  });

  it("passes a healthy canary whose bound is below the tolerance and shown within 2x the baseline", () => {
    // canary 6/12000, baseline 108/108000: ratio bound (alpha/2) 1.4971818 < 2 (scipy brentq on the
    // formula in docs/analysis.md gives 1.497181817680118)
    const verdict = evaluate(
      profile(),
      { canary: { bad: 6, total: 12000 }, baseline: { bad: 108, total: 108000 } },
      at(600),
    );
    expect(verdict.verdict).toBe("Pass");
    expect(verdict.details.baseline?.ratioUpperBound).toBeCloseTo(1.4971818, 6);
    expect(verdict.upperBound).toBeLessThan(0.01);
    expect(verdict.reason).toBe("the canary's bad rate is below 1.00% with confidence 0.95");
  });

  it("does not pass a 2x regression unless passRatio leaves room for it", () => {
    // canary 4/2000 (0.2%), baseline 18/18000 (0.1%): upper bound 0.625% < 1%, but the ratio bound is 8.86
    const observation = { canary: { bad: 4, total: 2000 }, baseline: { bad: 18, total: 18000 } };
    const strict = evaluate(profile(), observation, at(200));
    expect(strict.verdict).toBe("Inconclusive");
    expect(strict.reason).toBe(
      "waiting: ratio to the baseline's bad rate 8.86x, not shown below 2x (nor the rate below 0.10%)",
    );
    expect(strict.details.baseline?.ratioUpperBound).toBeCloseTo(8.855814, 4);
    // without passRatio: Pass needs only that the baseline test does not lean to a regression (e = 0.155)
    const lenient = evaluate(
      profile((d) => (d.spec.gate.baseline = { maxRatio: 2 })),
      observation,
      at(200),
    );
    expect(lenient.verdict).toBe("Pass");
    expect(lenient.details.baseline?.eValue).toBeCloseTo(0.1554843, 6);
  });

  it("passes a canary shown below the floor when the baseline is spotless", () => {
    // no bad request on either side: the ratio is unbounded, the canary's bound (alpha/2) is what counts
    const clean = { canary: { bad: 0, total: 6000 }, baseline: { bad: 0, total: 54000 } };
    expect(evaluate(profile(), clean, at(600)).verdict).toBe("Pass");
    const fewer = { canary: { bad: 0, total: 4000 }, baseline: { bad: 0, total: 36000 } };
    expect(evaluate(profile(), fewer, at(600)).verdict).toBe("Inconclusive");
  });

  it("waits for the minimum number of requests and says what it waits for", () => {
    const verdict = evaluate(
      profile(),
      { canary: { bad: 0, total: 40 }, baseline: { bad: 0, total: 360 } },
      at(60),
    );
    expect(verdict.verdict).toBe("Inconclusive");
    expect(verdict.reason).toMatch(/^waiting: 40 of 50 requests; upper bound \d+\.\d+% not below 1\.00%/);
  });

  it("is NoData without canary traffic, and fails after the deadline only under policy fail", () => {
    const none: Observation = { canary: { bad: 0, total: 0 }, baseline: { bad: 3, total: 900 } };
    const hold = evaluate(profile(), none, at(3600));
    expect(hold.verdict).toBe("NoData");
    expect(hold.reason).toBe("the canary served no requests (its counters did not move); holding");
    const strict = profile((d) => (d.spec.gate.noData = { policy: "fail", deadline: "5m" }));
    expect(evaluate(strict, none, at(299)).verdict).toBe("NoData");
    expect(evaluate(strict, none, at(299)).reason).toContain("fails at 2025-03-01T12:05:00.000Z");
    const failed = evaluate(strict, {}, at(300));
    expect(failed.verdict).toBe("Fail");
    expect(failed.reason).toBe(
      "no data until the no-data deadline: the canary served no requests (no series matched its queries)",
    );
  });

  it("needs the baseline only when comparing with it alone", () => {
    const canaryOnly: Observation = { canary: { bad: 0, total: 3000 } };
    const baselineMode = evaluate(
      profile((d) => (d.spec.gate.compare = "baseline")),
      canaryOnly,
      at(300),
    );
    expect(baselineMode.verdict).toBe("NoData");
    expect(baselineMode.reason).toContain("the baseline served no requests");
    const both = evaluate(profile(), canaryOnly, at(300));
    expect(both.verdict).toBe("Pass");
    expect(both.details.baselineSkipped).toBe("the baseline served no requests");
    expect(both.reason).toContain("compared with the tolerance only");
  });

  it("compares with the tolerance alone in absolute mode", () => {
    const absolute = profile((d) => (d.spec.gate.compare = "absolute"));
    // 0.5% errors is within the 1% tolerance: no failure whatever the baseline does
    const verdict = evaluate(
      absolute,
      { canary: { bad: 30, total: 6000 }, baseline: { bad: 0, total: 54000 } },
      at(600),
    );
    expect(verdict.verdict).toBe("Pass");
    expect(verdict.details.baseline).toBeUndefined();
    // 3% is not
    expect(evaluate(absolute, { canary: { bad: 90, total: 3000 } }, at(300)).verdict).toBe("Fail");
  });

  it("lets a spotless baseline fail a canary only above the floor", () => {
    // 3 errors in 10000 (0.03%) against none in 90000: far more than 2x, but under the 0.1% floor
    const verdict = evaluate(
      profile(),
      { canary: { bad: 3, total: 10000 }, baseline: { bad: 0, total: 90000 } },
      at(600),
    );
    expect(verdict.details.baseline?.ratioEValue).toBeGreaterThan(20);
    expect(verdict.verdict).not.toBe("Fail");
  });

  it("refuses counts that are not request counts with an Error naming them, never a verdict", () => {
    const cases: [Observation, string][] = [
      [{ canary: { bad: 70, total: 50 } }, "the canary's bad count 70 exceeds its total 50"],
      [{ canary: { bad: 0, total: 50 }, baseline: { bad: -1, total: 100 } }, "the baseline's bad count -1"],
      [{ canary: { bad: 0, total: Number.NaN } }, "the canary's total count NaN"],
      [{ canary: { bad: 0, total: 1e300 } }, "the canary's total count 1e+300"],
    ];
    for (const [observation, message] of cases) {
      const verdict = evaluate(profile(), observation, at(60));
      expect(verdict.verdict).toBe("Error");
      expect(verdict.reason).toContain(message);
    }
  });
});

describe("errorVerdict", () => {
  it("is an Error with the message, never a Fail", () => {
    const verdict = errorVerdict(profile(), "cannot reach Prometheus at http://x: ECONNREFUSED", {
      ...at(60),
      queries,
    });
    expect(verdict).toMatchObject({
      verdict: "Error",
      reason: "cannot reach Prometheus at http://x: ECONNREFUSED",
      evidence: "metrics provider error: cannot reach Prometheus at http://x: ECONNREFUSED",
      queries,
    });
    expect(verdict.canary).toBeUndefined();
  });
});

describe("alphaShares and combine", () => {
  it("splits alpha evenly across indicators (Bonferroni)", () => {
    expect(alphaShares([profile(), profile((d) => (d.spec.gate.alpha = 0.01))])).toEqual([0.025, 0.005]);
    // spent once per rollout: a plan of 4 steps and the final gate are 5 windows, each a fifth of the share
    expect(judgedWindows(4)).toBe(5);
    const shares = alphaShares([profile(), profile((d) => (d.spec.gate.alpha = 0.01))], judgedWindows(4));
    expect(shares[0]).toBeCloseTo(0.005, 12);
    expect(shares[1]).toBeCloseTo(0.001, 12);
    expect(() => alphaShares([profile()], 0)).toThrow("windows must be a whole number >= 1, got 0");
  });

  it("ranks Fail over Error over Inconclusive over NoData over Pass, among critical indicators", () => {
    const v = (verdict: string, critical = true) =>
      ({ verdict, critical }) as Parameters<typeof combine>[0][number];
    expect(combine([v("Pass"), v("NoData"), v("Fail")])).toBe("Fail");
    expect(combine([v("Pass"), v("Error"), v("Inconclusive")])).toBe("Error");
    expect(combine([v("NoData"), v("Inconclusive")])).toBe("Inconclusive");
    expect(combine([v("Pass"), v("NoData")])).toBe("NoData");
    expect(combine([v("Pass"), v("Fail", false)])).toBe("Pass");
    expect(combine([])).toBe("Pass");
  });
});
