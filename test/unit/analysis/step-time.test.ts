import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { shortAnalysisSteps, timeToPass } from "../../../src/analysis/step-time.ts";
import { evaluate } from "../../../src/analysis/verdict.ts";
import { parseRollout } from "../../../src/api/rollout.ts";
import { parseSLOProfile, type SLOProfile } from "../../../src/api/slo-profile.ts";

const root = join(import.meta.dirname, "../../..");
const availability: SLOProfile = (() => {
  const parsed = parseSLOProfile(
    parse(readFileSync(join(root, "slo-profiles/http-availability.yaml"), "utf8")),
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
})();

describe("timeToPass", () => {
  it("is the first look at which a spotless canary passes, and the look before it does not", () => {
    const traffic = { canaryRps: 4, baselineRps: 36 };
    const ms = timeToPass(availability, traffic)!;
    // http-availability: a spotless canary passes once its bound (alpha/2) is under the 0.1% floor, which
    // takes between 4000 and 6000 requests (see verdict.test.ts): 1000 to 1500 s at 4 rps.
    expect(ms).toBeGreaterThan(1000_000);
    expect(ms).toBeLessThan(1500_000);
    const at = (t: number) =>
      evaluate(
        availability,
        {
          canary: { bad: 0, total: Math.floor(4 * (t / 1000)) },
          baseline: { bad: 0, total: Math.floor(36 * (t / 1000)) },
        },
        { now: t, stepStartedAt: 0, readyAt: -30_000 },
      ).verdict;
    expect(at(ms)).toBe("Pass");
    expect(at(ms - 15_000)).toBe("Inconclusive");
  });

  it("scales with the canary's traffic and is undefined without any", () => {
    const slow = timeToPass(availability, { canaryRps: 4, baselineRps: 36 })!;
    const fast = timeToPass(availability, { canaryRps: 40, baselineRps: 360 })!;
    expect(fast).toBeLessThan(slow / 5);
    expect(timeToPass(availability, { canaryRps: 0, baselineRps: 40 })).toBeUndefined();
  });
});

describe("shortAnalysisSteps", () => {
  const rollout = parseRollout(
    parse(readFileSync(join(root, "test/fixtures/lint/short-step/rollout.yaml"), "utf8")),
  );
  if (!rollout.ok) throw new Error(JSON.stringify(rollout.errors));
  const spec = rollout.value.spec;
  const lookup = (name: string) => (name === "http-availability" ? availability : undefined);

  it("names the step too short at the given traffic, with the time it needs and the time it has", () => {
    const short = shortAnalysisSteps(spec, lookup, 40);
    expect(short.map((s) => s.step)).toEqual([1]);
    expect(short[0]!.message).toMatch(
      /^at ~40 rps \(10% to the canary\) analysis step 2 needs about \d+m(\d+s)? to pass http-availability, even without errors; it is 30s$/,
    );
  });

  it("says nothing when the traffic is enough for every step", () => {
    expect(shortAnalysisSteps(spec, lookup, 100_000)).toEqual([]);
  });

  it("refuses a rate that is not positive", () => {
    expect(() => shortAnalysisSteps(spec, lookup, 0)).toThrow("rps must be a positive number");
  });
});
