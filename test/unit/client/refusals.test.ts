import { describe, expect, it } from "vitest";
import {
  formatRefusal,
  holdsEveryRevision,
  invalidSpecRefusal,
  refusalsOf,
  refusalsOfParsed,
} from "../../../src/client/refusals.ts";

const condition = (type: string, status: "True" | "False", reason = "Why", message = "what to do") => ({
  type,
  status,
  reason,
  message,
});

describe("refusalsOf", () => {
  it("is every SpecValid, RouteReady or ProfilesValid condition that is False", () => {
    const rollout = {
      metadata: { generation: 3 },
      status: {
        observedGeneration: 3,
        conditions: [
          condition("SpecValid", "True"),
          condition("RouteReady", "False", "WeightNotExpressible", "make the step at most 90%"),
          condition("ProfilesValid", "False", "InvalidSLOProfile", "fix SLOProfile http-latency"),
          condition("Progressing", "False", "Paused"),
          condition("Ready", "False", "WeightNotExpressible"),
        ],
        analysis: [{ profile: "http-latency", verdict: "Error" as const, invalidProfile: true }],
      },
    };
    expect(refusalsOf(rollout)).toEqual([
      { type: "RouteReady", reason: "WeightNotExpressible", message: "make the step at most 90%" },
      { type: "ProfilesValid", reason: "InvalidSLOProfile", message: "fix SLOProfile http-latency" },
    ]);
  });

  it("ProfilesValid=False only while a current verdict says the profile is invalid", () => {
    const conditions = [condition("ProfilesValid", "False", "InvalidSLOProfile")];
    // a new revision's first step: no verdicts yet, the condition is the last revision's
    expect(refusalsOf({ metadata: {}, status: { conditions } })).toEqual([]);
    const passing = [{ profile: "http-latency", verdict: "Pass" as const }];
    expect(refusalsOf({ metadata: {}, status: { conditions, analysis: passing } })).toEqual([]);
  });

  it("Ready=False alone (a Failed rollout) is an outcome, not a refusal", () => {
    const rollout = { metadata: {}, status: { conditions: [condition("Ready", "False", "Failed")] } };
    expect(refusalsOf(rollout)).toEqual([]);
  });

  it("none from a status written for an older generation of the spec (the edit may fix it)", () => {
    const status = { observedGeneration: 2, conditions: [condition("RouteReady", "False")] };
    expect(refusalsOf({ metadata: { generation: 3 }, status })).toEqual([]);
    expect(refusalsOf({ metadata: { generation: 2 }, status })).toHaveLength(1);
    // a status that never recorded a generation is taken as current
    expect(
      refusalsOf({ metadata: { generation: 3 }, status: { conditions: status.conditions } }),
    ).toHaveLength(1);
  });

  it("none without a status", () => {
    expect(refusalsOf({ metadata: { generation: 1 } })).toEqual([]);
  });
});

describe("refusalsOfParsed", () => {
  it("leaves out SpecValid=False: a spec that parses was fixed after the controller wrote it", () => {
    const rollout = {
      metadata: { generation: 2 },
      status: {
        conditions: [
          condition("SpecValid", "False", "InvalidSpec"),
          condition("RouteReady", "False", "WeightNotExpressible"),
        ],
      },
    };
    expect(refusalsOfParsed(rollout).map((refusal) => refusal.type)).toEqual(["RouteReady"]);
  });
});

describe("formatRefusal and invalidSpecRefusal", () => {
  it("one line, with the controller's wording for an invalid spec", () => {
    expect(formatRefusal(invalidSpecRefusal("spec.strategy: exactly one strategy"))).toBe(
      "SpecValid=False InvalidSpec: invalid spec: spec.strategy: exactly one strategy",
    );
  });
});

describe("holdsEveryRevision", () => {
  it("is true for the holds that keep the rollout as stored, false for those met by the revision under way", () => {
    const refusal = (type: string, reason: string) => ({ type, reason, message: "" });
    expect(holdsEveryRevision(refusal("SpecValid", "InvalidSpec"))).toBe(true);
    expect(holdsEveryRevision(refusal("RouteReady", "RouteNotFound"))).toBe(true);
    expect(holdsEveryRevision(refusal("WorkloadsReady", "ServiceNotAdoptable"))).toBe(true);
    expect(holdsEveryRevision(refusal("RouteReady", "WeightNotExpressible"))).toBe(false);
    expect(holdsEveryRevision(refusal("ProfilesValid", "InvalidSLOProfile"))).toBe(false);
  });
});
