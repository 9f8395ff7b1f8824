/**
 * Anytime-valid sequential tests on request counts: mixture likelihood ratios (mixture SPRTs) over a grid of
 * alternatives. Each function returns the natural log of an e-value computed from cumulative counts. Under the
 * test's null hypothesis the e-value, seen request by request, is a nonnegative supermartingale with initial
 * value 1, so by Ville's inequality P(it ever reaches 1/alpha) <= alpha, however often and whenever it is
 * looked at. docs/analysis.md has the derivations.
 */

/** Bad and total requests of one population, cumulative since the step began. */
export interface Counts {
  bad: number;
  total: number;
}

/** Alternatives of a mixture and their prior weights (summing to 1). */
export interface Grid {
  readonly points: readonly number[];
  readonly weights: readonly number[];
}

export function uniformGrid(points: readonly number[]): Grid {
  if (points.length === 0) throw new RangeError("a grid needs at least one point");
  return { points, weights: points.map(() => 1 / points.length) };
}

/**
 * Odds ratios over the null rate for the one-sample test: an alternative r is the rate p with
 * odds(p) = r * odds(p0). From just above the bound to far above it, so both small excesses and outright
 * breakage are detected with a price of log(7) nats for not knowing which.
 */
export const EXCEEDANCE_GRID: Grid = uniformGrid([1.5, 2, 3, 5, 10, 25, 100]);

/** Rate ratios over the null ratio for the two-sample test: alternative r means p_c = r * maxRatio * p_b. */
export const RATIO_GRID: Grid = uniformGrid([1.5, 2, 3, 5, 10, 25, 100, 1000]);

export function assertCounts(counts: Counts, what = "counts"): void {
  const { bad, total } = counts;
  if (!Number.isFinite(bad) || !Number.isFinite(total) || bad < 0 || total < 0 || bad > total) {
    throw new RangeError(`${what} must satisfy 0 <= bad <= total, got bad=${bad} total=${total}`);
  }
}

/** log(sum(exp(terms))) without overflow; -Infinity for no terms or all -Infinity. */
export function logSumExp(terms: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const term of terms) if (term > max) max = term;
  if (max === Number.NEGATIVE_INFINITY || max === Number.POSITIVE_INFINITY) return max;
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - max);
  return max + Math.log(sum);
}

/** log(sum_k w_k * exp(logLR_k)), in one pass (rescaling whenever a larger term turns up). */
export function logMixture(grid: Grid, logLR: (point: number) => number): number {
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let k = 0; k < grid.points.length; k++) {
    const term = Math.log(grid.weights[k]!) + logLR(grid.points[k]!);
    if (term === Number.NEGATIVE_INFINITY) continue;
    if (term > max) {
      sum = sum * Math.exp(max - term) + 1;
      max = term;
    } else sum += Math.exp(term - max);
  }
  return max === Number.NEGATIVE_INFINITY ? max : max + Math.log(sum);
}

/**
 * One-sample test of H0: p <= p0 (the canary's bad rate is at most p0).
 *
 * For an alternative with odds(p1) = r * odds(p0), r > 1, the log likelihood ratio of `bad` bad requests among
 * `total` is  bad * log(r) + total * (log1p(odds0) - log1p(odds1)).  Per request its expectation under any
 * p <= p0 is at most 1 (it is linear in p, equal to 1 at p0 and increasing), so the product over requests is a
 * supermartingale under the whole composite null, and so is the mixture.
 */
export function exceedanceLogE(counts: Counts, p0: number, grid: Grid = EXCEEDANCE_GRID): number {
  assertCounts(counts);
  if (!(p0 > 0 && p0 < 1)) throw new RangeError(`the null rate must be in (0, 1), got ${p0}`);
  const odds0 = p0 / (1 - p0);
  const base = Math.log1p(odds0);
  return logMixture(grid, (r) => counts.bad * Math.log(r) + counts.total * (base - Math.log1p(r * odds0)));
}

/**
 * Two-sample test of H0: p_c <= rho0 * p_b (the canary's bad rate is at most rho0 times the baseline's),
 * conditional on the bad requests. Given that a request was bad, it came from the canary with probability
 * theta = rho * n_c / (rho * n_c + n_b) where rho = p_c / p_b and n_c / n_b is the canary's share of requests
 * (Poisson thinning; the baseline's own rate cancels out). Under H0 theta <= theta0 (rho = rho0), so the
 * labels of bad requests are Bernoulli with a known bound and the mixture likelihood ratio over alternatives
 * rho = r * rho0 is a supermartingale. With odds(theta) = rho * n_c / n_b the log likelihood ratio is
 *   x_c * log(r) + (x_c + x_b) * (log1p(odds0) - log1p(r * odds0)).
 *
 * Returns undefined when the baseline has served no request (there is nothing to compare with).
 */
export function ratioLogE(
  canary: Counts,
  baseline: Counts,
  rho0: number,
  grid: Grid = RATIO_GRID,
): number | undefined {
  assertCounts(canary, "canary counts");
  assertCounts(baseline, "baseline counts");
  if (!(rho0 > 0 && Number.isFinite(rho0)))
    throw new RangeError(`the null ratio must be positive, got ${rho0}`);
  if (baseline.total === 0) return undefined;
  if (canary.total === 0) return 0;
  const odds0 = (rho0 * canary.total) / baseline.total;
  const base = Math.log1p(odds0);
  const events = canary.bad + baseline.bad;
  return logMixture(grid, (r) => canary.bad * Math.log(r) + events * (base - Math.log1p(r * odds0)));
}

/** Whether a log e-value has reached the rejection threshold 1/alpha. */
export function rejects(logE: number, alpha: number): boolean {
  return logE >= Math.log(1 / alpha);
}

/**
 * The reverse two-sample test, H0: p_c >= rho1 * p_b, against alternatives rho = c * rho1 (c < 1), with the
 * same conditioning on bad requests as ratioLogE:
 *   x_c * log(c) + (x_c + x_b) * (log1p(odds1) - log1p(c * odds1)),  odds1 = rho1 * n_c / n_b.
 * Rejecting it shows the canary is within rho1 times the baseline's bad rate. Undefined without baseline
 * requests; 0 (no evidence) without canary requests.
 */
export function ratioBelowLogE(
  canary: Counts,
  baseline: Counts,
  rho1: number,
  grid: Grid,
): number | undefined {
  assertCounts(canary, "canary counts");
  assertCounts(baseline, "baseline counts");
  if (!(rho1 > 0 && Number.isFinite(rho1))) throw new RangeError(`the ratio must be positive, got ${rho1}`);
  if (baseline.total === 0) return undefined;
  if (canary.total === 0) return 0;
  const odds1 = (rho1 * canary.total) / baseline.total;
  const base = Math.log1p(odds1);
  const events = canary.bad + baseline.bad;
  return logMixture(grid, (c) => {
    const lead = canary.bad === 0 ? 0 : c === 0 ? Number.NEGATIVE_INFINITY : canary.bad * Math.log(c);
    return lead + events * (base - Math.log1p(c * odds1));
  });
}
