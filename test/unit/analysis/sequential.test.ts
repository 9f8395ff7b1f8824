import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BOUND_GRID, belowLogE, ratioUpperBound, upperBound } from "../../../src/analysis/bounds.ts";
import {
  EXCEEDANCE_GRID,
  exceedanceLogE,
  logSumExp,
  RATIO_GRID,
  ratioBelowLogE,
  ratioLogE,
  rejects,
  uniformGrid,
} from "../../../src/analysis/sequential.ts";

// Expected values below were computed independently (Python, straight from the formulas written next to
// them), not with this code.

describe("exceedanceLogE (H0: p <= p0)", () => {
  it("matches a written-out likelihood ratio for one alternative", () => {
    // p0 = 1%, one alternative with twice the odds: p1 = 0.0202/1.0202 = 0.019802.
    // 3 bad of 100: LR = (p1/p0)^3 * ((1-p1)/(1-p0))^97 = 1.98020^3 * 0.990099^97 = 2.957690
    const logE = exceedanceLogE({ bad: 3, total: 100 }, 0.01, uniformGrid([2]));
    expect(Math.exp(logE)).toBeCloseTo(2.9576897, 6);
  });

  it("averages the likelihood ratios of the default grid", () => {
    // 5 bad of 200 at p0 = 1%: mean over r in {1.5,2,3,5,10,25,100} of LR(r) = 1.8618318
    expect(Math.exp(exceedanceLogE({ bad: 5, total: 200 }, 0.01))).toBeCloseTo(1.8618318, 6);
    // no bad request among 1000: the data favour H0, e = 0.00098145
    expect(Math.exp(exceedanceLogE({ bad: 0, total: 1000 }, 0.01))).toBeCloseTo(0.00098145, 7);
  });

  it("is 1 before any request and grows with the bad count", () => {
    expect(exceedanceLogE({ bad: 0, total: 0 }, 0.05)).toBeCloseTo(0, 12);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0.001, max: 0.5, noNaN: true }),
        (total, p0) => {
          const bad = Math.floor(total / 3);
          return exceedanceLogE({ bad: bad + 1, total }, p0) > exceedanceLogE({ bad, total }, p0);
        },
      ),
    );
  });

  it("rejects impossible counts", () => {
    expect(() => exceedanceLogE({ bad: 5, total: 3 }, 0.01)).toThrow(/0 <= bad <= total/);
    expect(() => exceedanceLogE({ bad: 0, total: 3 }, 0)).toThrow(/null rate/);
  });
});

describe("ratioLogE (H0: p_c <= rho0 * p_b, conditional on bad requests)", () => {
  it("matches a written-out conditional likelihood ratio", () => {
    // canary 6/1000, baseline 9/9000, rho0 = 2, one alternative rho = 4:
    // theta0 = 2*1000/(2*1000+9000) = 0.181818, theta1 = 4*1000/(4*1000+9000) = 0.307692
    // LR = (theta1/theta0)^6 * ((1-theta1)/(1-theta0))^9 = 5.2229993
    const logE = ratioLogE({ bad: 6, total: 1000 }, { bad: 9, total: 9000 }, 2, uniformGrid([2]));
    expect(Math.exp(logE!)).toBeCloseTo(5.2229993, 6);
  });

  it("averages over the default grid: a 5% canary against a 0.1% baseline after 30 s at 10 rps", () => {
    // canary 15/300, baseline 3/2700, rho0 = 2: mean over r of LR = 1.33405e7 (log 16.406315)
    const logE = ratioLogE({ bad: 15, total: 300 }, { bad: 3, total: 2700 }, 2)!;
    expect(logE).toBeCloseTo(16.406315, 5);
    expect(rejects(logE, 0.05)).toBe(true);
  });

  it("has no answer without baseline requests and no evidence without canary requests", () => {
    expect(ratioLogE({ bad: 1, total: 10 }, { bad: 0, total: 0 }, 2)).toBeUndefined();
    expect(ratioLogE({ bad: 0, total: 0 }, { bad: 4, total: 100 }, 2)).toBe(0);
  });

  it("depends only on the share of requests, not on their scale", () => {
    const small = ratioLogE({ bad: 3, total: 100 }, { bad: 2, total: 900 }, 2)!;
    const large = ratioLogE({ bad: 3, total: 10_000 }, { bad: 2, total: 90_000 }, 2)!;
    expect(large).toBeCloseTo(small, 10);
  });
});

describe("upper confidence bound of a bad rate", () => {
  it("inverts the written-out test for one alternative", () => {
    // alternative p = 0 only: E(q) = (1/(1-q))^500 for 0 bad of 500; E(0.01) = 1.01010^500 = 152.19581
    expect(Math.exp(belowLogE({ bad: 0, total: 500 }, 0.01, uniformGrid([0])))).toBeCloseTo(152.19581, 4);
    // bound: (1-q)^-500 = 1/alpha = 20  =>  q = 1 - 20^(-1/500) = 0.00597355
    expect(upperBound({ bad: 0, total: 500 }, 0.05, uniformGrid([0]))).toBeCloseTo(0.00597355, 7);
  });

  it("matches an independent root-finding on the default grid", () => {
    // solve mean_k c_k^x ((1-c_k q)/(1-q))^(n-x) = 20 for q, c in {0,.05,.1,.2,.35,.5,.7} (scipy brentq)
    expect(upperBound({ bad: 2, total: 1000 }, 0.05)).toBeCloseTo(0.0086899313, 8);
    expect(upperBound({ bad: 0, total: 300 }, 0.05)).toBeCloseTo(0.0122031564, 8);
  });

  it("lies above the observed rate and is 1 with no information", () => {
    expect(upperBound({ bad: 0, total: 0 }, 0.05)).toBe(1);
    expect(upperBound({ bad: 7, total: 7 }, 0.05)).toBe(1);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (total, share) => {
          const bad = Math.floor(total * share);
          return upperBound({ bad, total }, 0.05) >= bad / total;
        },
      ),
    );
  });

  it("grows with the candidate bound (which makes the bound a single number)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0.0001, max: 0.9, noNaN: true }),
        fc.double({ min: 0.0001, max: 0.9, noNaN: true }),
        (total, q1, q2) => {
          const counts = { bad: Math.floor(total / 50), total };
          const [low, high] = q1 < q2 ? [q1, q2] : [q2, q1];
          return belowLogE(counts, low) <= belowLogE(counts, high) + 1e-9;
        },
      ),
    );
  });
});

describe("upper confidence bound of the ratio to the baseline", () => {
  it("inverts the written-out reverse test", () => {
    // canary 2/1000, baseline 20/9000, alternative c = 0.5 only; the rho where
    // (t_c/t_1)^2 ((1-t_c)/(1-t_1))^20 = 20 with odds t_1 = rho*1000/9000, odds t_c = odds t_1 / 2: 5.0889209
    const bound = ratioUpperBound(
      { bad: 2, total: 1000 },
      { bad: 20, total: 9000 },
      0.05,
      uniformGrid([0.5]),
    );
    expect(bound).toBeCloseTo(5.0889209, 5);
    // the default grid at alpha 0.025 (threshold 40): 5.2866954
    expect(ratioUpperBound({ bad: 2, total: 1000 }, { bad: 20, total: 9000 }, 0.025)).toBeCloseTo(
      5.2866954,
      5,
    );
    expect(ratioBelowLogE({ bad: 2, total: 1000 }, { bad: 20, total: 9000 }, 6, BOUND_GRID)).toBeGreaterThan(
      Math.log(40),
    );
  });

  it("cannot be bounded before a bad baseline request", () => {
    expect(ratioUpperBound({ bad: 0, total: 1000 }, { bad: 0, total: 9000 }, 0.05)).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe("logSumExp", () => {
  it("does not overflow", () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 10);
    expect(logSumExp([])).toBe(Number.NEGATIVE_INFINITY);
    expect(logSumExp([Number.NEGATIVE_INFINITY, 0])).toBe(0);
  });
});

it("ships grids whose weights sum to one", () => {
  for (const grid of [EXCEEDANCE_GRID, RATIO_GRID, BOUND_GRID]) {
    expect(grid.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  }
});
