/**
 * Turns a profile's gate and the request counts of a step into a verdict with its evidence. Pure: the time is
 * passed in, nothing is read or written.
 */
import { BASELINE_DEFAULTS, type SLOProfile } from "../api/slo-profile.ts";
import { BOUND_GRID, belowLogE, ratioUpperBound, upperBound } from "./bounds.ts";
import { type Counts, exceedanceLogE, logSumExp, ratioBelowLogE, ratioLogE, rejects } from "./sequential.ts";

export type { Counts } from "./sequential.ts";

export const VERDICT_KINDS = ["Pass", "Fail", "Inconclusive", "NoData", "Error"] as const;
export type VerdictKind = (typeof VERDICT_KINDS)[number];

/** A profile's gate, as parsed from the SLOProfile (durations in milliseconds). */
export type Gate = SLOProfile["spec"]["gate"];

/** What a profile needs to be judged: its name and its gate. An SLOProfile object fits. */
export interface GateSource {
  metadata: { name: string };
  spec: { gate: Gate };
}

/** The cumulative counts since the step began; a population is undefined when no series matched its queries. */
export interface Observation {
  canary?: Counts;
  baseline?: Counts;
}

/** The rendered PromQL for one population: the bad (or good) counter and the total counter. */
export interface PopulationQueries {
  /** Whether `ratio` counts bad requests or good ones (then bad = total - good). */
  part: "good" | "bad";
  ratio: string;
  total: string;
}

export interface IndicatorQueries {
  canary: PopulationQueries;
  baseline: PopulationQueries;
}

export interface EvaluateOptions {
  /** The time of this look (ms since the epoch). */
  now: number;
  /** When the step began: the counts are cumulative since then (ms since the epoch). */
  stepStartedAt: number;
  /** When the canary's pods became ready; warm-up runs from here. Defaults to stepStartedAt. */
  readyAt?: number;
  /**
   * This indicator's share of the false-failure budget for this step (see alphaShares): the fail test rejects
   * at 1/alpha. Defaults to the gate's alpha.
   */
  alpha?: number;
  /**
   * The level of the Pass confidence bounds. Defaults to the gate's alpha: a wrong promotion needs every gate
   * to pass, so the pass side is not divided across steps (only false failures add up over a rollout).
   */
  passAlpha?: number;
  /** Copied into the verdict so a person can rerun them. */
  queries?: IndicatorQueries;
}

export interface TestEvidence {
  /** The e-value: the factor by which the data favour "worse" over the null; fail at 1/alpha. */
  eValue: number;
}

export interface VerdictDetails {
  compare: Gate["compare"];
  /** The false-failure budget this indicator used. */
  alpha: number;
  tolerance: number;
  minRequests: number;
  warmupUntil: string;
  /** H0: canary bad rate <= tolerance. */
  absolute?: TestEvidence & { nullRate: number };
  /**
   * H0: canary bad rate <= maxRatio x baseline's, or <= minBadRate. eValue is the smaller of the two tests'
   * (both must reject to fail: an intersection-union test).
   */
  baseline?: TestEvidence & {
    maxRatio: number;
    minBadRate: number;
    ratioEValue: number;
    floorEValue: number;
    /** With passRatio: the anytime-valid upper bound of canary rate / baseline rate (alpha / 2). */
    passRatio?: number;
    ratioUpperBound?: number;
  };
  /** Why the baseline comparison was left out, when it was. */
  baselineSkipped?: string;
  /** Pass needs upperBound < tolerance, i.e. eValue of H0 "bad rate >= tolerance" at 1/alpha. */
  pass?: { upperBound: number; eValue: number };
  hardFloor?: { maxBadRate: number; minRequests: number; tripped: boolean };
  noData?: { policy: "hold" | "fail"; failsAt?: string };
}

export interface Verdict {
  profile: string;
  verdict: VerdictKind;
  /** One line on why. */
  reason: string;
  critical: boolean;
  canary?: Counts;
  baseline?: Counts;
  /** The e-value of the fail test (the average of both tests' in compare both). */
  statistic?: number;
  /** 1/alpha: the statistic fails the canary from here. */
  threshold: number;
  /** Anytime-valid upper confidence bound of the canary's bad rate. */
  upperBound?: number;
  tolerance: number;
  /** One line with the counts and statistics, for the Rollout status. */
  evidence: string;
  details: VerdictDetails;
  queries?: IndicatorQueries;
  range: { start: string; end: string };
}

const MAX_LOG_E = 690; // exp(690) is still a finite double

function eValue(logE: number): number {
  return Math.exp(Math.min(logE, MAX_LOG_E));
}

function percent(rate: number): string {
  const value = rate * 100;
  const digits = value === 0 ? 0 : value < 0.1 ? 3 : value < 10 ? 2 : 1;
  return `${value.toFixed(digits)}%`;
}

function number(value: number): string {
  if (value >= 1e5) return value.toExponential(1);
  if (Number.isInteger(value)) return String(value);
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function countsText(counts: Counts | undefined): string {
  if (!counts) return "no series";
  if (counts.total === 0) return "0 requests";
  return `${number(counts.bad)}/${number(counts.total)} bad (${percent(counts.bad / counts.total)})`;
}

/** Above this a count cannot be exact in a double, and no service has served that many requests. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** Counts that are not request counts; evaluate turns it into an Error verdict. */
class BadCountsError extends RangeError {
  override name = "BadCountsError";
}

/**
 * Counts are evidence only when they are whole, finite and bad <= total; anything else is refused with a
 * message (the caller reports an Error verdict, which holds the rollout) rather than read as "no requests".
 */
function checked(counts: Counts | undefined, population: string): Counts | undefined {
  if (!counts) return undefined;
  for (const field of ["bad", "total"] as const) {
    const value = counts[field];
    if (!Number.isFinite(value) || value < 0 || value > MAX_COUNT)
      throw new BadCountsError(`the ${population}'s ${field} count ${value} is not a request count`);
  }
  if (counts.bad > counts.total)
    throw new BadCountsError(`the ${population}'s bad count ${counts.bad} exceeds its total ${counts.total}`);
  return { bad: counts.bad, total: counts.total };
}

/** The floor under which the baseline comparison never fails the canary. */
export function baselineFloor(gate: Gate): number {
  return gate.baseline.minBadRate ?? gate.tolerance * BASELINE_DEFAULTS.minBadRateShareOfTolerance;
}

/**
 * Judges one indicator at one look.
 *
 * - NoData when the canary (or, for compare baseline, the baseline) served no request; Fail instead once the
 *   no-data deadline has passed under policy fail.
 * - Fail at once when the hard floor is broken, even during warm-up.
 * - During warm-up: Inconclusive.
 * - Fail when the sequential test's e-value reaches 1/alpha.
 * - Pass when the canary has at least minRequests, its anytime-valid upper bound is below the tolerance and,
 *   when compared with the baseline, the comparison does not lean towards a regression (its e-value <= 1).
 * - Inconclusive otherwise.
 */
export function evaluate(profile: GateSource, observation: Observation, options: EvaluateOptions): Verdict {
  let verdict: Verdict;
  try {
    verdict = judge(profile, observation, options);
  } catch (error) {
    if (!(error instanceof BadCountsError)) throw error;
    return errorVerdict(profile, `bad metric input: ${error.message}`, options);
  }
  return ordered(verdict);
}

/** The same fields in the order a person reads them (JSON output keeps it). */
function ordered(verdict: Verdict): Verdict {
  const {
    profile,
    verdict: kind,
    reason,
    critical,
    canary,
    baseline,
    statistic,
    threshold,
    upperBound,
    tolerance,
  } = verdict;
  const { evidence, details, queries, range } = verdict;
  return {
    profile,
    verdict: kind,
    reason,
    critical,
    canary,
    baseline,
    statistic,
    threshold,
    upperBound,
    tolerance,
    evidence,
    details,
    queries,
    range,
  };
}

function judge(profile: GateSource, observation: Observation, options: EvaluateOptions): Verdict {
  const gate = profile.spec.gate;
  const alpha = options.alpha ?? gate.alpha;
  const passAlpha = options.passAlpha ?? gate.alpha;
  const threshold = 1 / alpha;
  const canary = checked(observation.canary, "canary");
  const baseline = checked(observation.baseline, "baseline");
  const warmupEnd = (options.readyAt ?? options.stepStartedAt) + gate.warmup;
  const details: VerdictDetails = {
    compare: gate.compare,
    alpha,
    tolerance: gate.tolerance,
    minRequests: gate.minRequests,
    warmupUntil: new Date(warmupEnd).toISOString(),
  };
  const base = {
    profile: profile.metadata.name,
    critical: gate.critical,
    canary,
    baseline,
    threshold,
    tolerance: gate.tolerance,
    details,
    queries: options.queries,
    range: { start: new Date(options.stepStartedAt).toISOString(), end: new Date(options.now).toISOString() },
  };
  const populations = `canary ${countsText(canary)}, baseline ${countsText(baseline)}`;

  const missing =
    !canary || canary.total === 0
      ? `the canary served no requests (${canary ? "its counters did not move" : "no series matched its queries"})`
      : gate.compare === "baseline" && (!baseline || baseline.total === 0)
        ? `the baseline served no requests (${baseline ? "its counters did not move" : "no series matched its queries"})`
        : undefined;
  if (missing !== undefined) {
    const failsAt = options.stepStartedAt + gate.noData.deadline;
    details.noData = {
      policy: gate.noData.policy,
      failsAt: gate.noData.policy === "fail" ? new Date(failsAt).toISOString() : undefined,
    };
    if (gate.noData.policy === "fail" && options.now >= failsAt) {
      const reason = `no data until the no-data deadline: ${missing}`;
      return { ...base, verdict: "Fail", reason, evidence: `${reason}; ${populations}` };
    }
    const reason =
      gate.noData.policy === "fail"
        ? `${missing}; fails at ${details.noData.failsAt}`
        : `${missing}; holding`;
    return { ...base, verdict: "NoData", reason, evidence: `${reason}; ${populations}` };
  }
  // From here the canary has requests.
  const observed = canary as Counts;
  const rate = observed.bad / observed.total;

  if (gate.hardFloor) {
    const tripped = observed.total >= gate.hardFloor.minRequests && rate > gate.hardFloor.maxBadRate;
    details.hardFloor = { ...gate.hardFloor, tripped };
    if (tripped) {
      const reason = `hard floor: the canary's bad rate ${percent(rate)} is above ${percent(gate.hardFloor.maxBadRate)} over ${number(observed.total)} requests`;
      return { ...base, verdict: "Fail", reason, evidence: `${reason}; ${populations}` };
    }
  }

  const logs: number[] = [];
  let absoluteLog: number | undefined;
  if (gate.compare !== "baseline") {
    absoluteLog = exceedanceLogE(observed, gate.tolerance);
    details.absolute = { eValue: eValue(absoluteLog), nullRate: gate.tolerance };
    logs.push(absoluteLog);
  }
  let baselineLog: number | undefined;
  if (gate.compare !== "absolute") {
    if (!baseline || baseline.total === 0) {
      details.baselineSkipped = "the baseline served no requests";
    } else {
      const maxRatio = gate.baseline.maxRatio;
      const minBadRate = baselineFloor(gate);
      const ratioLog = ratioLogE(observed, baseline, maxRatio) as number;
      const floorLog = exceedanceLogE(observed, minBadRate);
      baselineLog = Math.min(ratioLog, floorLog);
      details.baseline = {
        eValue: eValue(baselineLog),
        maxRatio,
        minBadRate,
        ratioEValue: eValue(ratioLog),
        floorEValue: eValue(floorLog),
      };
      logs.push(baselineLog);
    }
  }
  // compare both: the average of two e-values is an e-value, and at least half the larger one.
  const failLog = logs.length === 1 ? logs[0]! : logSumExp(logs) - Math.log(logs.length);
  const passLog = belowLogE(observed, gate.tolerance);
  const bound = upperBound(observed, passAlpha);
  details.pass = { upperBound: bound, eValue: eValue(passLog) };
  const statistic = eValue(failLog);
  const stats = `e=${number(statistic)} (fail at ${number(threshold)}); upper bound ${percent(bound)} (pass below ${percent(gate.tolerance)})`;
  const withStats = { ...base, statistic, upperBound: bound };

  // Warm-up ends warmup after the pods became ready, or once the canary served warmupRequests requests.
  const warmedUp =
    options.now >= warmupEnd || (gate.warmupRequests !== undefined && observed.total >= gate.warmupRequests);
  if (!warmedUp) {
    const reason = `warming up until ${details.warmupUntil}${gate.warmupRequests !== undefined ? ` or ${gate.warmupRequests} canary requests` : ""}`;
    return { ...withStats, verdict: "Inconclusive", reason, evidence: `${reason}; ${populations}; ${stats}` };
  }

  if (rejects(failLog, alpha)) {
    const which: string[] = [];
    if (absoluteLog !== undefined && rejects(absoluteLog, alpha))
      which.push(`above the tolerance ${percent(gate.tolerance)}`);
    if (baselineLog !== undefined && rejects(baselineLog, alpha)) {
      which.push(`more than ${gate.baseline.maxRatio}x the baseline's bad rate`);
    }
    const reason = `the canary's bad rate is significantly ${which.length > 0 ? which.join(" and ") : "worse than allowed (combined evidence)"}`;
    return { ...withStats, verdict: "Fail", reason, evidence: `${reason}; ${populations}; ${stats}` };
  }

  const waiting: string[] = [];
  if (observed.total < gate.minRequests)
    waiting.push(`${number(observed.total)} of ${gate.minRequests} requests`);
  if (!rejects(passLog, passAlpha))
    waiting.push(`upper bound ${percent(bound)} not below ${percent(gate.tolerance)}`);
  if (baselineLog !== undefined && details.baseline) {
    const passRatio = gate.baseline.passRatio;
    if (passRatio === undefined) {
      if (baselineLog > 0) waiting.push("the baseline comparison leans towards a regression");
    } else {
      // The canary is within the promise when its rate is at most passRatio x the baseline's, or under the
      // floor. Pass needs one of the two shown, each at passAlpha / 2: a canary outside both passes with
      // probability at most passAlpha.
      const half = passAlpha / 2;
      const within = rejects(ratioBelowLogE(observed, baseline as Counts, passRatio, BOUND_GRID) ?? 0, half);
      const belowFloor = upperBound(observed, half) < details.baseline.minBadRate;
      const ratioBound = ratioUpperBound(observed, baseline as Counts, half);
      details.baseline.passRatio = passRatio;
      details.baseline.ratioUpperBound = ratioBound;
      if (!within && !belowFloor) {
        const shown = Number.isFinite(ratioBound) ? `${number(ratioBound)}x` : "unbounded";
        waiting.push(
          `ratio to the baseline's bad rate ${shown}, not shown below ${passRatio}x (nor the rate below ${percent(details.baseline.minBadRate)})`,
        );
      }
    }
  }
  if (waiting.length === 0) {
    const reason = `the canary's bad rate is below ${percent(gate.tolerance)} with confidence ${1 - passAlpha}`;
    const note = details.baselineSkipped
      ? ` (${details.baselineSkipped}: compared with the tolerance only)`
      : "";
    return {
      ...withStats,
      verdict: "Pass",
      reason: reason + note,
      evidence: `${reason}${note}; ${populations}; ${stats}`,
    };
  }
  const reason = `waiting: ${waiting.join("; ")}`;
  return { ...withStats, verdict: "Inconclusive", reason, evidence: `${reason}; ${populations}; ${stats}` };
}

/** The verdict when the counts could not be read: never a failure, the caller holds. */
export function errorVerdict(
  profile: GateSource,
  message: string,
  options: Pick<EvaluateOptions, "now" | "stepStartedAt" | "alpha" | "queries">,
): Verdict {
  const gate = profile.spec.gate;
  const alpha = options.alpha ?? gate.alpha;
  return ordered({
    profile: profile.metadata.name,
    verdict: "Error",
    reason: message,
    critical: gate.critical,
    threshold: 1 / alpha,
    tolerance: gate.tolerance,
    evidence: `metrics provider error: ${message}`,
    details: {
      compare: gate.compare,
      alpha,
      tolerance: gate.tolerance,
      minRequests: gate.minRequests,
      warmupUntil: new Date(options.stepStartedAt + gate.warmup).toISOString(),
    },
    queries: options.queries,
    range: { start: new Date(options.stepStartedAt).toISOString(), end: new Date(options.now).toISOString() },
  });
}

/**
 * Each indicator's share of the false-failure budget at one step (Bonferroni). Every step of a rollout's plan,
 * and the final gate before promotion, judges its own counts with a fresh test, so the budget is divided by
 * the number of these `windows` as well as by the number of indicators: the chance that any healthy
 * indicator fails anywhere in the rollout stays below the largest alpha. Nothing needs to be carried from
 * step to step, so the bound holds across controller restarts.
 */
export function alphaShares(profiles: readonly GateSource[], windows = 1): number[] {
  if (!(Number.isInteger(windows) && windows >= 1))
    throw new RangeError(`windows must be a whole number >= 1, got ${windows}`);
  return profiles.map((profile) => profile.spec.gate.alpha / (profiles.length * windows));
}

/** The windows a rollout's plan of `steps` steps is judged in: each step, and the final gate. */
export function judgedWindows(steps: number): number {
  return steps + 1;
}

const PRECEDENCE: readonly VerdictKind[] = ["Fail", "Error", "Inconclusive", "NoData", "Pass"];

/**
 * The verdict of several indicators together: Fail if a critical one fails, then Error, Inconclusive and NoData
 * in that order, Pass when every critical one passes. Non-critical indicators are reported, never decisive.
 */
export function combine(verdicts: readonly Pick<Verdict, "verdict" | "critical">[]): VerdictKind {
  const critical = verdicts.filter((verdict) => verdict.critical);
  for (const kind of PRECEDENCE) if (critical.some((verdict) => verdict.verdict === kind)) return kind;
  return "Pass";
}
