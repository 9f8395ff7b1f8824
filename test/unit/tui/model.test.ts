import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allowedActions,
  describeStep,
  faultInfo,
  formatCount,
  formatElapsed,
  formatPercent,
  profileLines,
  sparkline,
  stepPosition,
  stepRows,
  worstVerdict,
} from "../../../cli/tui/model.ts";
import { visibleSteps } from "../../../cli/tui/step-ladder.tsx";
import { barCells } from "../../../cli/tui/weight-bar.tsx";
import {
  abTest,
  at,
  blueGreen,
  canaryMidway,
  chaosActive,
  pausedGate,
  rolledBack,
  succeeded,
  T0,
} from "../../fixtures/tui/rollouts.ts";

describe("step ladder rows", () => {
  it("mark done, current and pending steps of a canary, plus the final gate", () => {
    const rows = stepRows(canaryMidway);
    expect(rows.map((row) => row.state)).toEqual([
      "done",
      "current",
      "pending",
      "pending",
      "pending",
      "pending",
      "pending",
    ]);
    expect(rows.map((row) => row.label)).toEqual([
      "weight 5%",
      "analysis",
      "weight 25%",
      "chaos payments: 503 5% 2m",
      "weight 50%",
      "manual gate",
      "final check, promote",
    ]);
  });

  it("show blue-green's implicit steps", () => {
    const rows = stepRows(blueGreen);
    expect(rows.map((row) => row.label)).toEqual([
      "preview analysis (mirrored)",
      "gate: waiting for promotion",
      "weight 100%",
      "pause 30s (keeping the old version for the scale-down delay)",
      "final check, promote",
    ]);
    expect(rows[1]?.state).toBe("current");
  });

  it("show the A/B test's match and timed analysis", () => {
    expect(stepRows(abTest).map((row) => `${row.state} ${row.label}`)).toEqual([
      "done match header x-beta",
      "current analysis for 10m",
      "pending final check, promote",
    ]);
  });

  it("mark the step a rollback happened at as failed, and everything done on success", () => {
    expect(stepRows(rolledBack)[3]?.state).toBe("failed");
    expect(stepRows(rolledBack)[4]?.state).toBe("pending");
    expect(stepRows(succeeded).every((row) => row.state === "done")).toBe(true);
  });

  it("give the position as step n/m, or the final gate", () => {
    expect(stepPosition(canaryMidway)).toBe("step 2/6");
    expect(stepPosition(pausedGate)).toBe("step 6/6");
    expect(stepPosition(succeeded)).toBe("final gate");
    expect(stepPosition({ ...canaryMidway, status: { phase: "Initializing", step: 0 } })).toBeUndefined();
  });

  it("describe delays and timed pauses", () => {
    expect(describeStep({ kind: "pause", durationMs: 90_000, reason: "timed pause" })).toBe("pause 1m30s");
    expect(
      describeStep({
        kind: "chaos",
        chaos: { fault: { delay: { fixed: 200, percent: 10 } }, target: "route", duration: 60_000 },
      }),
    ).toBe("chaos route: +200ms 10% 1m");
  });

  it("keep the current step in view however long the plan", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.nat(),
        fc.integer({ min: 1, max: 30 }),
        (n, c, lines) => {
          const current = c % n;
          const steps = Array.from({ length: n }, (_, index) => ({
            index,
            label: `s${index}`,
            state: index < current ? "done" : index === current ? "current" : "pending",
          })) as ReturnType<typeof stepRows>;
          const { shown, above, below, notes } = visibleSteps(steps, lines);
          const used = shown.length + (notes && above > 0 ? 1 : 0) + (notes && below > 0 ? 1 : 0);
          expect(used).toBeLessThanOrEqual(Math.max(lines, 1));
          expect(shown.some((row) => row.index === current)).toBe(true);
          expect(above + shown.length + below).toBe(n);
          expect(shown[0]?.index).toBe(above);
        },
      ),
    );
  });
});

describe("numbers", () => {
  it("format percentages, counts and durations", () => {
    expect(formatPercent(25)).toBe("25%");
    expect(formatPercent(24.63)).toBe("24.6%");
    expect(formatPercent(0.25)).toBe("0.25%");
    expect(formatCount(18000)).toBe("18000");
    expect(formatCount(18000, true)).toBe("18000");
    expect(formatCount(250_400, true)).toBe("250k");
    expect(formatCount(3_140_000, true)).toBe("3.1M");
    expect(formatCount(2.5)).toBe("2.5");
    expect(formatElapsed(252_400)).toBe("4m12s");
    expect(formatElapsed(-5)).toBe("0s");
  });

  it("draw sparklines scaled to their largest value", () => {
    expect(sparkline([0, 1, 2, 4], 10)).toBe("▁▃▅█");
    expect(sparkline([0, 0, 0], 10)).toBe("▁▁▁");
    expect(sparkline([0, 0.01, 100], 10)).toBe("▁▂█");
    expect(sparkline([1, 2, 3, 4, 5, 6], 3)).toBe("▆▇█");
    expect(sparkline([1, 2], 0)).toBe("");
  });

  it("split the weight bar into applied, pending and free cells", () => {
    expect(barCells(25, 25, 20)).toEqual({ solid: 5, pending: 0, rest: 15 });
    expect(barCells(50, 25, 20)).toEqual({ solid: 5, pending: 5, rest: 10 });
    expect(barCells(0, 25, 20)).toEqual({ solid: 0, pending: 5, rest: 15 });
    expect(barCells(25, undefined, 20)).toEqual({ solid: 0, pending: 5, rest: 15 });
    expect(barCells(100, 100, 20)).toEqual({ solid: 20, pending: 0, rest: 0 });
  });
});

describe("verdicts and faults", () => {
  it("rank verdicts by severity", () => {
    expect(worstVerdict(["Pass", "Inconclusive", "NoData"])).toBe("Inconclusive");
    expect(worstVerdict(["Pass", "Fail", "Error"])).toBe("Fail");
    expect(worstVerdict([])).toBeUndefined();
  });

  it("give the active fault, its time left and the gate's verdict", () => {
    expect(faultInfo(chaosActive, T0 + 600_000)).toEqual({
      where: "payments",
      what: "abort 503 5%",
      leftMs: 72_000,
      gate: "Inconclusive",
    });
    expect(faultInfo(chaosActive, Date.parse(at(700)))?.leftMs).toBe(0);
    expect(faultInfo(canaryMidway, T0)).toBeUndefined();
  });

  it("list the spec's profiles even before they report", () => {
    expect(profileLines(succeeded).map((line) => [line.name, line.verdict])).toEqual([
      ["http-availability", undefined],
      ["http-latency", undefined],
    ]);
    expect(profileLines(canaryMidway)[0]).toEqual({
      name: "http-availability",
      verdict: "Pass",
      canary: { bad: 3, total: 2100 },
      baseline: { bad: 2, total: 18000 },
    });
  });

  it("allow keys only where the engine accepts the command", () => {
    expect(allowedActions("Progressing")).toEqual({ promote: true, abort: true, pause: true, resume: false });
    expect(allowedActions("Paused")).toEqual({ promote: true, abort: true, pause: false, resume: true });
    expect(allowedActions("Initializing")).toEqual({
      promote: false,
      abort: true,
      pause: false,
      resume: false,
    });
    for (const phase of [
      "Succeeded",
      "RolledBack",
      "Failed",
      "RollingBack",
      "Promoting",
      undefined,
    ] as const) {
      expect(Object.values(allowedActions(phase)).some(Boolean)).toBe(false);
    }
  });
});
