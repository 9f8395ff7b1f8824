import { describe, expect, it } from "vitest";
import {
  allocate,
  CONSUL_WEIGHTS,
  GATEWAY_WEIGHTS,
  ISTIO_WEIGHTS,
  isRefusal,
  MAX_RELATIVE_SUM,
  parseQuantity,
  SMI_QUANTITY_WEIGHTS,
  sharesOf,
  withinOneUnit,
} from "../../../src/routers/weights.ts";

describe("weights", () => {
  it("parses resource quantities", () => {
    expect(parseQuantity("500m")).toBe(0.5);
    expect(parseQuantity("1")).toBe(1);
    expect(parseQuantity(900)).toBe(900);
    expect(parseQuantity("1.5")).toBe(1.5);
    expect(parseQuantity("2k")).toBe(2000);
    expect(parseQuantity("1Ki")).toBe(1024);
    expect(parseQuantity("ten")).toBeUndefined();
    expect(parseQuantity(undefined)).toBeUndefined();
    expect(SMI_QUANTITY_WEIGHTS.parse("950m")).toBe(950);
    expect(SMI_QUANTITY_WEIGHTS.format(50)).toBe("50m");
  });

  it("Istio: whole percent of the route; the canary and stable share what the user's destinations leave", () => {
    expect(allocate(ISTIO_WEIGHTS, [], 100, 25, 0)).toEqual({ stable: 75, canary: 25, fault: 0, scale: 1 });
    // 25% of the route with a 10% foreign destination is 25, not 25/90 of the rest (the 25.56% bug).
    expect(allocate(ISTIO_WEIGHTS, [10], 90, 25, 0)).toEqual({ stable: 65, canary: 25, fault: 0, scale: 1 });
    // 12.5% is not expressible exactly: the closest share, ties up.
    expect(allocate(ISTIO_WEIGHTS, [], 100, 12.5, 0)).toMatchObject({ canary: 13 });
  });

  it("refuses a share the user's destinations do not leave, or one that rounds to no weight", () => {
    expect(allocate(ISTIO_WEIGHTS, [20], 80, 90, 0)).toEqual({
      refused: "foreign-share",
      ownShare: 80,
      unit: 1,
    });
    expect(allocate(ISTIO_WEIGHTS, [], 100, 0.3, 0)).toEqual({
      refused: "rounds-to-zero",
      ownShare: 100,
      unit: 1,
    });
    expect(allocate(GATEWAY_WEIGHTS, [3], 0, 5, 0)).toMatchObject({ refused: "foreign-share", ownShare: 0 });
    // At the edge: 80% of the route is what the user's 20% leave.
    expect(allocate(ISTIO_WEIGHTS, [20], 80, 80, 0)).toEqual({ stable: 0, canary: 80, fault: 0, scale: 1 });
  });

  it("Consul: hundredths of a percent of the splitter's traffic", () => {
    expect(allocate(CONSUL_WEIGHTS, [1500], 8500, 2, 0)).toEqual({
      stable: 8300,
      canary: 200,
      fault: 0,
      scale: 1,
    });
    expect(CONSUL_WEIGHTS.format(8330)).toBe(83.3);
    expect(CONSUL_WEIGHTS.parse(0.85)).toBe(85);
  });

  it("relative weights keep the full scale for stable and canary and put the fault on top", () => {
    expect(allocate(GATEWAY_WEIGHTS, [], 1, 0.5, 0)).toEqual({
      stable: 9950,
      canary: 50,
      fault: 0,
      scale: 1,
    });
    expect(allocate(GATEWAY_WEIGHTS, [], 10_000, 20, 50)).toEqual({
      stable: 8000,
      canary: 2000,
      fault: 10_000,
      scale: 1,
    });
    expect(allocate(GATEWAY_WEIGHTS, [], 10_000, 20, 100)).toEqual({
      stable: 0,
      canary: 0,
      fault: 10_000,
      scale: 1,
    });
    const nearlyAll = allocate(GATEWAY_WEIGHTS, [], 10_000, 20, 99.999);
    if (isRefusal(nearlyAll)) throw new Error("refused");
    expect(nearlyAll.stable + nearlyAll.canary + nearlyAll.fault).toBe(MAX_RELATIVE_SUM);
  });

  it("relative weights next to the user's backends: the rule's units, rescaled when too coarse", () => {
    // 900 + 100 = 1000 units: coarser than 10000, so every weight is multiplied by 10 (shares unchanged).
    expect(allocate(GATEWAY_WEIGHTS, [100], 900, 50, 0)).toEqual({
      stable: 4000,
      canary: 5000,
      fault: 0,
      scale: 10,
    });
    // Fine enough already: the user's units stay; the fault takes its share of the rollout's 9000.
    expect(allocate(GATEWAY_WEIGHTS, [1000], 9000, 50, 10)).toEqual({
      stable: 3600,
      canary: 4500,
      fault: 900,
      scale: 1,
    });
    // Gateway API's traffic-split-3 shape, foo-v1 at weight 0 and stable at 1: a 60% step is 60%, not 100%.
    expect(allocate(GATEWAY_WEIGHTS, [0], 1, 60, 0)).toEqual({
      stable: 4000,
      canary: 6000,
      fault: 0,
      scale: 10_000,
    });
  });

  it("shares count the fault backend's traffic as stable's and canary's, so a fault does not move them", () => {
    expect(sharesOf({ stable: 3600, canary: 4500, fault: 900, foreign: [1000] })).toEqual({
      canary: 50,
      stable: 40,
      foreign: 10,
      fault: 10,
      unit: 0.011111,
    });
    expect(sharesOf({ stable: 65, canary: 25, fault: 0, foreign: [10] })).toMatchObject({
      canary: 25,
      unit: 1,
    });
  });

  it("one unit is the tolerance: within it is applied, beyond it is drift", () => {
    expect(withinOneUnit(13, 12.5, 1)).toBe(true);
    expect(withinOneUnit(21, 20, 1)).toBe(false);
    expect(withinOneUnit(12.25, 12.25, 0.01)).toBe(true);
  });
});
