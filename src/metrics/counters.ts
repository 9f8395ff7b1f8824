/**
 * Increments of counters computed from raw values, series by series: `rate()` and `increase()` extrapolate
 * and lose the first increments of series that appear mid-window, which are exactly a new canary's first
 * errors. The state is a plain JSON-serialisable object, so a controller can keep it (the counts baseline) in
 * a Rollout's status and resume after a restart.
 */
import { type CounterSample, ProviderError } from "./types.ts";

/** Above this a counter cannot be exact in a double, and no service has served that many requests. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export interface SeriesState {
  /** The raw value at the last look. */
  last: number;
  /** The increase since the start, resets included. */
  increase: number;
}

export interface CounterState {
  /** When the counting started (ms since the epoch). */
  startedAt: number;
  /** The time of the last look (ms since the epoch). */
  at: number;
  /** By series identity (its sorted labels). */
  series: Record<string, SeriesState>;
}

/** A stable identity for a series: its labels sorted by name. */
export function seriesKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

/**
 * Bad input is never evidence: a sample that is not a finite counter value in [0, MAX_COUNTER] refuses the
 * whole answer (an Error verdict, which holds the rollout) instead of being skipped as if absent.
 */
function checked(samples: readonly CounterSample[]): readonly CounterSample[] {
  for (const sample of samples) {
    const value = sample.value;
    if (typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= MAX_COUNTER) continue;
    const what = !Number.isFinite(value) ? "not a finite number" : value < 0 ? "negative" : "absurdly large";
    throw new ProviderError(
      "invalid-response",
      `counter ${seriesKey(sample.labels)} has the value ${value}, which is ${what}: refusing the answer`,
    );
  }
  return samples;
}

/**
 * The first look: every series present now is the baseline its later increments count from. Series that
 * appear later started after this moment and count from zero.
 */
export function startCounters(samples: readonly CounterSample[], at: number): CounterState {
  const series: Record<string, SeriesState> = {};
  for (const sample of checked(samples))
    series[seriesKey(sample.labels)] = { last: sample.value, increase: 0 };
  return { startedAt: at, at, series };
}

/**
 * A later look. Per series: a rise adds to the increase; a drop is a counter reset (the process restarted and
 * counted up from zero), so the new value is added; a new series counts from zero; a series that is gone
 * keeps what it had counted (its pod went away; its requests still happened).
 */
export function advanceCounters(
  state: CounterState,
  samples: readonly CounterSample[],
  at: number,
): CounterState {
  if (at < state.at) throw new RangeError(`looks must move forward in time: ${at} is before ${state.at}`);
  const series: Record<string, SeriesState> = { ...state.series };
  for (const sample of checked(samples)) {
    const key = seriesKey(sample.labels);
    const previous = series[key];
    if (!previous) series[key] = { last: sample.value, increase: sample.value };
    else {
      const delta = sample.value >= previous.last ? sample.value - previous.last : sample.value;
      series[key] = { last: sample.value, increase: previous.increase + delta };
    }
  }
  return { startedAt: state.startedAt, at, series };
}

/** The total increase since the start, over every series. */
export function totalIncrease(state: CounterState): number {
  let total = 0;
  for (const entry of Object.values(state.series)) total += entry.increase;
  return total;
}
