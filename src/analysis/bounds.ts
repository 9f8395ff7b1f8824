/**
 * An anytime-valid upper confidence bound for a binomial bad rate: a confidence sequence obtained by inverting
 * mixture likelihood-ratio tests (Robbins' method of mixtures). With probability at least 1 - alpha the bound
 * stays above the true rate at every look, so "bound below tolerance" may be checked as often as one likes.
 */
import {
  assertCounts,
  type Counts,
  type Grid,
  logMixture,
  ratioBelowLogE,
  uniformGrid,
} from "./sequential.ts";

/**
 * Fractions c of the candidate bound q: alternative c means p = c * q. c = 0 wins fastest when no request is
 * bad; the others cover healthy rates a few times to a little below the tolerance.
 */
export const BOUND_GRID: Grid = uniformGrid([0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7]);

/**
 * log e-value of H0: p >= q against the mixture of alternatives p = c * q (c < 1):
 *   log sum_k w_k * c_k^bad * ((1 - c_k q) / (1 - q))^(total - bad).
 * Each term's per-request expectation is 1 at p = q and decreases in p, so it is a supermartingale for every
 * p >= q; it also grows with q, which is what makes the bound below a single number.
 */
export function belowLogE(counts: Counts, q: number, grid: Grid = BOUND_GRID): number {
  assertCounts(counts);
  if (!(q > 0 && q < 1)) throw new RangeError(`the candidate bound must be in (0, 1), got ${q}`);
  const good = counts.total - counts.bad;
  const nullGood = Math.log1p(-q);
  return logMixture(grid, (c) => {
    const lead = counts.bad === 0 ? 0 : c === 0 ? Number.NEGATIVE_INFINITY : counts.bad * Math.log(c);
    return lead + good * (Math.log1p(-c * q) - nullGood);
  });
}

/**
 * The smallest q at which H0: p >= q is rejected at level alpha, i.e. where belowLogE reaches log(1/alpha):
 * sup { q : E(q) < 1/alpha }. P(bound < p at some look) <= alpha. 1 when every request was bad or there are
 * no requests to learn from.
 */
export function upperBound(counts: Counts, alpha: number, grid: Grid = BOUND_GRID): number {
  assertCounts(counts);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (counts.total === 0 || counts.bad === counts.total) return 1;
  const target = Math.log(1 / alpha);
  const top = 1 - 1e-12;
  if (belowLogE(counts, top, grid) < target) return 1;
  // E(q) <= 1 at the observed rate (the likelihood is largest there), so the bound lies above it. Solve on
  // log(q), where the e-value is smooth, between a point above the observed rate and the top.
  const rate = counts.bad / counts.total;
  const f = (logQ: number) => belowLogE(counts, Math.min(Math.exp(logQ), top), grid) - target;
  // A first guess above the bound (Bernstein-like width), widened until it is: keeps the solver's bracket
  // tight, where the e-value is not astronomically large.
  const spread = target + 3;
  let width = Math.sqrt((2 * rate * spread) / counts.total) + (3 * spread) / counts.total;
  let high = Math.log(Math.min(rate + width, top));
  while (f(high) < 0 && high < Math.log(top)) {
    width *= 2;
    high = Math.log(Math.min(rate + width, top));
  }
  const low = Math.log(Math.max(rate, Number.MIN_VALUE));
  return Math.exp(solveIncreasing(f, low, high));
}

/**
 * The root of an increasing function between `low` (negative there) and `high` (nonnegative there), by the
 * Illinois variant of regula falsi: a handful of steps for the smooth functions here, never worse than
 * bisection. Returns a point where the function is nonnegative (the conservative side for a bound).
 */
export function solveIncreasing(
  f: (x: number) => number,
  low: number,
  high: number,
  tolerance = 1e-10,
): number {
  let a = low;
  let b = high;
  let fa = f(a);
  let fb = f(b);
  if (fa >= 0) return a;
  if (fb < 0) return b;
  let side = 0;
  for (let i = 0; i < 200 && b - a > tolerance * Math.max(1, Math.abs(b)); i++) {
    let x = (a * fb - b * fa) / (fb - fa);
    if (!(x > a && x < b)) x = (a + b) / 2;
    const fx = f(x);
    if (fx >= 0) {
      b = x;
      fb = fx;
      if (side === -1) fa /= 2;
      side = -1;
    } else {
      a = x;
      fa = fx;
      if (side === 1) fb /= 2;
      side = 1;
    }
  }
  return b;
}

/**
 * Anytime-valid upper confidence bound of the ratio p_c / p_b of the canary's bad rate to the baseline's,
 * inverting ratioBelowLogE (which grows with the candidate ratio). Infinity when the data cannot bound it
 * (no bad baseline request yet, or no baseline requests at all).
 */
export function ratioUpperBound(
  canary: Counts,
  baseline: Counts,
  alpha: number,
  grid: Grid = BOUND_GRID,
): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  const target = Math.log(1 / alpha);
  const at = (logRho: number) =>
    (ratioBelowLogE(canary, baseline, Math.exp(logRho), grid) ?? Number.NEGATIVE_INFINITY) - target;
  const floor = Math.log(1e-9);
  const ceiling = Math.log(1e9);
  if (canary.total === 0 || at(ceiling) < 0) return Number.POSITIVE_INFINITY;
  // Solve on log(rho): the bound can be anywhere from far below 1 to far above it. Narrow the bracket by
  // decades first, so the solver starts where the e-value is moderate.
  let high = Math.log(10);
  while (high < ceiling && at(high) < 0) high += Math.log(10);
  let low = high - Math.log(10);
  while (low > floor && at(low) >= 0) low -= Math.log(10);
  return Math.exp(solveIncreasing(at, Math.max(low, floor), Math.min(high, ceiling)));
}
