import { describe, expect, it } from "vitest";
import {
  allocate,
  CONSUL_WEIGHTS,
  GATEWAY_WEIGHTS,
  ISTIO_WEIGHTS,
  MAX_RELATIVE_SUM,
  parseQuantity,
  SMI_QUANTITY_WEIGHTS,
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

  it("Istio: integer percentages that fill what the user's destinations leave", () => {
    expect(allocate(ISTIO_WEIGHTS, [], 100, 25, 0)).toEqual({ stable: 75, canary: 25, fault: 0 });
    expect(allocate(ISTIO_WEIGHTS, [20], 80, 50, 0)).toEqual({ stable: 40, canary: 40, fault: 0 });
  });

  it("Consul: hundredths of a percent", () => {
    expect(allocate(CONSUL_WEIGHTS, [1500], 8500, 2, 0)).toEqual({ stable: 8330, canary: 170, fault: 0 });
    expect(CONSUL_WEIGHTS.format(8330)).toBe(83.3);
    expect(CONSUL_WEIGHTS.parse(0.85)).toBe(85);
  });

  it("relative weights keep the full scale for stable and canary and put the fault on top", () => {
    expect(allocate(GATEWAY_WEIGHTS, [], 1, 0.5, 0)).toEqual({ stable: 9950, canary: 50, fault: 0 });
    expect(allocate(GATEWAY_WEIGHTS, [], 10_000, 20, 50)).toEqual({
      stable: 8000,
      canary: 2000,
      fault: 10_000,
    });
    expect(allocate(GATEWAY_WEIGHTS, [], 10_000, 20, 100)).toEqual({ stable: 0, canary: 0, fault: 10_000 });
    const nearlyAll = allocate(GATEWAY_WEIGHTS, [], 10_000, 20, 99.999);
    expect(nearlyAll.stable + nearlyAll.canary + nearlyAll.fault).toBe(MAX_RELATIVE_SUM);
  });

  it("relative weights next to the user's backends keep the rollout's current total", () => {
    expect(allocate(GATEWAY_WEIGHTS, [100], 900, 50, 0)).toEqual({ stable: 450, canary: 450, fault: 0 });
    expect(allocate(GATEWAY_WEIGHTS, [100], 900, 50, 10)).toEqual({ stable: 405, canary: 405, fault: 90 });
  });
});
