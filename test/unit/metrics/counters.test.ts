import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PopulationQueries } from "../../../src/analysis/verdict.ts";
import { countsOver, populationCounts, sampleTimes, startPopulation } from "../../../src/metrics/collect.ts";
import { advanceCounters, seriesKey, startCounters, totalIncrease } from "../../../src/metrics/counters.ts";
import { type CounterSample, type MetricsProvider, ProviderError } from "../../../src/metrics/types.ts";

const s = (pod: string, value: number, code = "200"): CounterSample => ({ labels: { pod, code }, value });

describe("counter increments", () => {
  it("counts what was added since the start, series by series", () => {
    let state = startCounters([s("a", 100), s("b", 50)], 0);
    state = advanceCounters(state, [s("a", 130), s("b", 55)], 15_000);
    expect(totalIncrease(state)).toBe(35);
  });

  it("counts a series first seen after the start from zero (a canary's first errors)", () => {
    let state = startCounters([s("a", 100)], 0);
    state = advanceCounters(state, [s("a", 110), s("a", 3, "503")], 15_000);
    expect(totalIncrease(state)).toBe(13);
  });

  it("adds the new value after a counter reset (a restarted pod)", () => {
    let state = startCounters([s("a", 1000)], 0);
    state = advanceCounters(state, [s("a", 1040)], 15_000); // +40
    state = advanceCounters(state, [s("a", 12)], 30_000); // reset, then 12 more
    state = advanceCounters(state, [s("a", 20)], 45_000); // +8
    expect(totalIncrease(state)).toBe(60);
  });

  it("keeps what a vanished series counted", () => {
    let state = startCounters([s("old", 10)], 0);
    state = advanceCounters(state, [s("old", 25), s("new", 5)], 15_000);
    state = advanceCounters(state, [s("new", 9)], 30_000);
    expect(totalIncrease(state)).toBe(15 + 9);
    expect(Object.keys(state.series)).toHaveLength(2);
  });

  it("refuses values that are not counter values, naming the series: bad input is never evidence", () => {
    const state = startCounters([s("a", 10)], 0);
    for (const [value, what] of [
      [Number.NaN, "not a finite number"],
      [Number.POSITIVE_INFINITY, "not a finite number"],
      [-3, "negative"],
      [1e300, "absurdly large"],
    ] as const) {
      const bad = [s("a", 12), { labels: { pod: "x" }, value }];
      const refused = (() => {
        try {
          advanceCounters(state, bad, 15_000);
        } catch (error) {
          return error;
        }
      })();
      expect(refused).toBeInstanceOf(ProviderError);
      expect((refused as ProviderError).kind).toBe("invalid-response");
      expect((refused as Error).message).toContain(`[["pod","x"]] has the value ${value}, which is ${what}`);
      expect(() => startCounters(bad, 0)).toThrow(what);
    }
  });

  it("identifies a series by its labels whatever their order", () => {
    expect(seriesKey({ b: "2", a: "1" })).toBe(seriesKey({ a: "1", b: "2" }));
    expect(seriesKey({ a: "1" })).not.toBe(seriesKey({ a: "1", b: "" }));
  });

  it("survives a round trip through JSON (the controller keeps it in the Rollout status)", () => {
    let state = startCounters([s("a", 7)], 1000);
    state = advanceCounters(state, [s("a", 9)], 2000);
    const restored = JSON.parse(JSON.stringify(state));
    expect(totalIncrease(advanceCounters(restored, [s("a", 20)], 3000))).toBe(13);
    expect(() => advanceCounters(state, [], 1500)).toThrow("looks must move forward in time");
  });

  // A reset is visible only when the new value is below the last one; a restart that has already counted
  // past the old value between two looks cannot be told from a rise (sampling more often narrows this).
  it("equals the true increase for any sequence of rises and visible resets", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 1000 })), { minLength: 1, maxLength: 30 }),
        (steps) => {
          let raw = 500;
          let expected = 0;
          let state = startCounters([s("a", raw)], 0);
          steps.forEach(([reset, add], index) => {
            const visibleReset = reset && add < raw;
            raw = visibleReset ? add : raw + add;
            expected += add;
            state = advanceCounters(state, [s("a", raw)], index + 1);
          });
          return totalIncrease(state) === expected;
        },
      ),
    );
  });
});

/** A provider answering from a table: query -> time -> samples. */
function tableProvider(
  table: Record<string, Record<number, CounterSample[]>>,
): MetricsProvider & { asked: string[] } {
  const asked: string[] = [];
  return {
    description: "table",
    asked,
    async queryCounts(query, at) {
      asked.push(`${query}@${at}`);
      return table[query]?.[at] ?? [];
    },
    async health() {},
  };
}

describe("population counts", () => {
  const bad: PopulationQueries = { part: "bad", ratio: "errors", total: "requests" };

  it("reads bad and total increments over a window, sampling at every step", async () => {
    const provider = tableProvider({
      requests: { 0: [s("a", 1000)], 60: [s("a", 1600)], 120: [s("a", 100), s("b", 50)] },
      errors: { 0: [], 60: [s("a", 2, "503")], 120: [s("a", 1, "503")] },
    });
    expect(sampleTimes(0, 120, 60)).toEqual([0, 60, 120]);
    // requests: +600, then a reset of a (+100) and a new pod b (+50); errors: +2 (new series), then reset (+1)
    expect(await countsOver(provider, bad, [0, 60, 120])).toEqual({ bad: 3, total: 750 });
    expect(provider.asked).toEqual([
      "errors@0",
      "requests@0",
      "errors@60",
      "requests@60",
      "errors@120",
      "requests@120",
    ]);
  });

  it("derives bad from good and total, kept within [0, total]", async () => {
    const good: PopulationQueries = { part: "good", ratio: "fast", total: "all" };
    const provider = tableProvider({
      all: { 0: [s("a", 0)], 60: [s("a", 100)] },
      fast: { 0: [s("a", 0)], 60: [s("a", 96)] },
    });
    expect(await countsOver(provider, good, [0, 60])).toEqual({ bad: 4, total: 100 });
    const skewed = tableProvider({
      all: { 0: [s("a", 0)], 60: [s("a", 100)] },
      fast: { 0: [], 60: [s("a", 103)] },
    });
    expect(await countsOver(skewed, good, [0, 60])).toEqual({ bad: 0, total: 100 });
  });

  it("is undefined when no series of the total ever matched, and zero when counters did not move", async () => {
    expect(await countsOver(tableProvider({}), bad, [0, 60])).toBeUndefined();
    const idle = tableProvider({ requests: { 0: [s("a", 5)], 60: [s("a", 5)] } });
    expect(await countsOver(idle, bad, [0, 60])).toEqual({ bad: 0, total: 0 });
    expect(populationCounts("bad", await startPopulation(idle, bad, 0))).toEqual({ bad: 0, total: 0 });
  });

  it("refuses an empty or backwards window", () => {
    expect(() => sampleTimes(10, 10, 5)).toThrow("the end must be after the start");
    expect(sampleTimes(0, 100, 60)).toEqual([0, 60, 100]);
  });
});
