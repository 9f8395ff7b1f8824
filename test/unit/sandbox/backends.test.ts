import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/analysis/random.ts";
import { type Behaviour, plan } from "../../../src/sandbox/backends/behaviour.ts";
import { isTagged } from "../../../src/sandbox/traffic/generator.ts";

const N = 10_000;

function plans(behaviour: Behaviour, elapsedMs = 0, headers: Record<string, string> = {}) {
  const random = seededRandom(42);
  return Array.from({ length: N }, () => plan(behaviour, random, elapsedMs, headers));
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
}

const statuses = (list: ReturnType<typeof plans>) => list.map((p) => (p.kind === "respond" ? p.status : 0));

describe("backend behaviours", () => {
  it("healthy: fast 200s", () => {
    const list = plans({ scenario: "healthy" });
    expect(new Set(statuses(list))).toEqual(new Set([200]));
    expect(
      quantile(
        list.map((p) => p.delayMs),
        0.99,
      ),
    ).toBeLessThan(10);
  });

  it("errors: about 5% server errors by default", () => {
    const errors = statuses(plans({ scenario: "errors" })).filter((s) => s === 500).length;
    expect(Math.abs(errors / N - 0.05)).toBeLessThan(0.015);
  });

  it("latency: slow, with a median above 300 ms and most requests above 250 ms", () => {
    const delays = plans({ scenario: "latency" }).map((p) => p.delayMs);
    expect(quantile(delays, 0.5)).toBeGreaterThan(300);
    expect(delays.filter((d) => d > 250).length / N).toBeGreaterThan(0.7);
  });

  it("slow-start: errors during the warm-up only", () => {
    const behaviour: Behaviour = { scenario: "slow-start", warmupMs: 10_000 };
    const warming = statuses(plans(behaviour, 5_000)).filter((s) => s === 503).length;
    expect(Math.abs(warming / N - 0.5)).toBeLessThan(0.015);
    expect(statuses(plans(behaviour, 10_000)).every((s) => s === 200)).toBe(true);
  });

  it("flaky-dependency: calls the dependency, with or without fallback", () => {
    const [first] = plans({ scenario: "flaky-dependency", fallback: true });
    expect(first).toMatchObject({ kind: "call-dependency", fallback: true });
  });

  it("fault: answers the status the route asks for in its header, else the configured one", () => {
    expect(
      statuses(plans({ scenario: "fault" }, 0, { "x-stepwise-fault-status": "500" })).every((s) => s === 500),
    ).toBe(true);
    expect(statuses(plans({ scenario: "fault", status: 502 })).every((s) => s === 502)).toBe(true);
    const [grpc] = plans({ scenario: "fault" }, 0, { "x-stepwise-fault-grpc-status": "14" });
    expect(grpc).toMatchObject({ kind: "respond", status: 200, grpcStatus: 14 });
  });

  it("is reproducible with a seed", () => {
    expect(plans({ scenario: "errors" })).toEqual(plans({ scenario: "errors" }));
  });
});

describe("tagged share of the traffic generator", () => {
  it("tags exactly share * n of n requests, spread evenly", () => {
    for (const share of [0, 0.1, 0.25, 1 / 3, 1]) {
      const tagged = Array.from({ length: 300 }, (_, i) => isTagged(i, share));
      expect(tagged.filter(Boolean).length).toBe(Math.floor(300 * share));
    }
    expect(Array.from({ length: 8 }, (_, i) => isTagged(i, 0.25))).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
  });
});
