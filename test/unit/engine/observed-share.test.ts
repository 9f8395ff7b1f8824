import { describe, expect, it } from "vitest";
import { decide } from "../../../src/engine/decide.ts";
import { observedShare } from "../../../src/engine/observed-share.ts";
import { settled, specOf, verdict, World } from "./world.ts";

describe("observed canary share", () => {
  it("is the canary's share of the requests counted by the profile that counted the most", () => {
    expect(
      observedShare([
        {
          ...verdict("http-latency", "Pass"),
          canary: { bad: 0, total: 10 },
          baseline: { bad: 0, total: 10 },
        },
        {
          ...verdict("http-availability", "Pass"),
          canary: { bad: 1, total: 200 },
          baseline: { bad: 0, total: 600 },
        },
      ]),
    ).toBe(25);
    expect(
      observedShare([
        { ...verdict("a", "Pass"), canary: { bad: 0, total: 1 }, baseline: { bad: 0, total: 2 } },
      ]),
    ).toBe(33.3);
  });

  it("is unknown when nothing was counted", () => {
    expect(observedShare([])).toBeUndefined();
    expect(observedShare([verdict("http-availability", "NoData")])).toBeUndefined();
  });

  it("goes into status.weights.observed, and out again when there is no count", () => {
    const spec = specOf({ strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } });
    const { world, status } = settled(spec);
    const now = new Date("2026-11-22T10:00:00Z");
    const observations = { ...new World().observe(), targetRevision: world.targetRevision };
    const counted = decide({ spec, status, observations: { ...observations, observedWeight: 19.5 }, now });
    expect(counted.status.weights?.observed).toBe(19.5);
    const none = decide({ spec, status: counted.status, observations, now });
    expect(none.status.weights?.observed).toBeUndefined();
  });
});
