/**
 * Reads one population's bad and total requests since a start time from a provider, through the counter
 * tracking of counters.ts. A controller keeps a PopulationState per look; `rollout analyze` samples a window.
 */
import type { Counts, PopulationQueries } from "../analysis/verdict.ts";
import { advanceCounters, type CounterState, startCounters, totalIncrease } from "./counters.ts";
import type { MetricsProvider } from "./types.ts";

/** The counter state of one population: its bad (or good) counter and its total counter. */
export interface PopulationState {
  ratio: CounterState;
  total: CounterState;
}

/** What the counters are read from: a provider, or the controller's shared looks in front of one. */
export type CounterSource = Pick<MetricsProvider, "queryCounts">;

export async function startPopulation(
  provider: CounterSource,
  queries: PopulationQueries,
  at: number,
): Promise<PopulationState> {
  const [ratio, total] = await Promise.all([
    provider.queryCounts(queries.ratio, at),
    provider.queryCounts(queries.total, at),
  ]);
  return { ratio: startCounters(ratio, at), total: startCounters(total, at) };
}

export async function advancePopulation(
  provider: CounterSource,
  queries: PopulationQueries,
  state: PopulationState,
  at: number,
): Promise<PopulationState> {
  const [ratio, total] = await Promise.all([
    provider.queryCounts(queries.ratio, at),
    provider.queryCounts(queries.total, at),
  ]);
  return { ratio: advanceCounters(state.ratio, ratio, at), total: advanceCounters(state.total, total, at) };
}

/**
 * Bad and total requests since the start; undefined when no series of the total counter was ever seen. With
 * a good counter, bad = total - good; counters scraped a moment apart can disagree slightly, so bad is kept
 * within [0, total].
 */
export function populationCounts(
  part: PopulationQueries["part"],
  state: PopulationState,
): Counts | undefined {
  if (Object.keys(state.total.series).length === 0) return undefined;
  const total = totalIncrease(state.total);
  const ratio = totalIncrease(state.ratio);
  const bad = part === "bad" ? ratio : total - ratio;
  return { bad: Math.min(Math.max(bad, 0), total), total };
}

/**
 * Counts over a window, sampling the counters at each of `times` (ascending; the first is the start). More
 * samples catch more counter resets: a reset between two samples loses what was counted before it.
 */
export async function countsOver(
  provider: MetricsProvider,
  queries: PopulationQueries,
  times: readonly number[],
): Promise<Counts | undefined> {
  const [first, ...rest] = times;
  if (first === undefined) throw new RangeError("countsOver needs at least one time");
  let state = await startPopulation(provider, queries, first);
  for (const at of rest) state = await advancePopulation(provider, queries, state, at);
  return populationCounts(queries.part, state);
}

/** The sample times from start to end: every `step` ms, and the end itself. */
export function sampleTimes(start: number, end: number, step: number): number[] {
  if (!(end > start)) throw new RangeError("the end must be after the start");
  if (!(step > 0)) throw new RangeError("the step must be positive");
  const times: number[] = [];
  for (let at = start; at < end; at += step) times.push(at);
  times.push(end);
  return times;
}
