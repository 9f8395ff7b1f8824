import { render } from "ink-testing-library";
import { afterEach, describe, expect, it, vi } from "vitest";
import { layoutFor } from "../../../cli/tui/layout.ts";
import { describeStep, finalSplit, verdictsNotPassing, wrapText } from "../../../cli/tui/model.ts";
import { RolloutView } from "../../../cli/tui/rollout-view.tsx";
import type { RolloutStore } from "../../../cli/tui/store.ts";
import type { Rollout } from "../../../src/api/rollout.ts";
import { planSteps } from "../../../src/engine/plan.ts";
import { canaryMidway, pausedGate, rolledBack, succeeded, T0 } from "../../fixtures/tui/rollouts.ts";
import { cells, nextTick, screen, screenLines, storeFor } from "./helpers.ts";

// What issue 18 asked of the screen: steps and analysis as separate panels, the outcome on the bar once
// the rollout has ended, a failure reason wrapped rather than cut, and `p` asking first when a verdict
// is not Pass.

const SIZE = { columns: 80, rows: 24 };

const mounted: (() => void)[] = [];
afterEach(() => {
  for (const unmount of mounted.splice(0)) unmount();
});

async function mount(store: RolloutStore) {
  const actions = {
    promote: vi.fn(async () => {}),
    abort: vi.fn(async () => {}),
    pause: vi.fn(async () => {}),
    resume: vi.fn(async () => {}),
  };
  const instance = render(<RolloutView store={store} actions={actions} onQuit={() => {}} size={SIZE} />);
  mounted.push(instance.unmount);
  await nextTick();
  const press = async (key: string) => {
    instance.stdin.write(key);
    await nextTick();
  };
  return { actions, press, text: () => screen(instance.lastFrame()) };
}

const show = (rollout: Rollout, now = T0 + 500_000) =>
  mount(storeFor({ rollout, connection: "live", now }).store);

describe("steps and analysis are separate panels", () => {
  it("a rule runs down every row of the body between the ladder and the analysis", async () => {
    const view = await show(canaryMidway);
    const lines = screenLines(view.text());
    const top = lines.findIndex((line) => line.startsWith("Steps"));
    const bottom = lines.findIndex((line) => line.startsWith("Events"));
    const { ladderWidth } = layoutFor({ size: SIZE, banner: false, fault: false, bodyWanted: 8 });
    const body = lines.slice(top, bottom).filter((line) => line.trim() !== "");
    expect(body.length).toBeGreaterThanOrEqual(7);
    for (const line of body) expect([...line][ladderWidth + 1], line).toBe("│");
    // the analysis counts sit right of the rule, never on a step's side
    const counts = body.find((line) => line.includes("40/2100"))!;
    expect(counts.indexOf("40/2100")).toBeGreaterThan(ladderWidth + 1);
  });
});

describe("the bar after the end", () => {
  it("promoted: the new version's final share and the outcome, not the canary's 0%", async () => {
    const bar = screenLines((await show(succeeded)).text()).find((line) => line.startsWith("final "));
    expect(bar).toMatch(/^final {2}█+ new version 100% · promoted$/);
  });

  it("rolled back: nothing on the new version, and the outcome", async () => {
    const text = (await show(rolledBack)).text();
    expect(screenLines(text).find((line) => line.startsWith("final "))).toMatch(
      /^final {2}░+ new version 0% · rolled back$/,
    );
    expect(text).not.toMatch(/desired 0%/);
  });

  it("while running the bar still shows desired, applied and observed", async () => {
    expect((await show(canaryMidway)).text()).toMatch(
      /^canary █+░+ desired 5% {2}applied 5% {2}observed 4\.8%$/m,
    );
  });

  it("finalSplit is undefined before the end", () => {
    expect(finalSplit(canaryMidway)).toBeUndefined();
    expect(finalSplit(pausedGate)).toBeUndefined();
  });
});

describe("a failure reason wraps", () => {
  const reason =
    "rolled back: analysis failed: http-availability (e-value 41.2 > 40 after 2000 canary requests, 120 bad; baseline 3/18000), http-latency (e-value 55.0 > 40, p99 812ms against 300ms)";
  const long = { ...rolledBack, status: { ...rolledBack.status, message: reason } } as Rollout;

  it("over several header lines, every word of it on screen, none cut with …", async () => {
    const lines = screenLines((await show(long)).text());
    const first = lines.findIndex((line) => line.startsWith("» "));
    const wrapped = [lines[first]!.slice(2)];
    for (let i = first + 1; lines[i]?.startsWith("  ") && !lines[i]!.startsWith("  ↑"); i++) {
      if (lines[i]!.startsWith("final ") || lines[i]!.startsWith("canary ")) break;
      wrapped.push(lines[i]!.slice(2));
    }
    expect(wrapped.length).toBeGreaterThan(1);
    expect(wrapped.join(" ")).toBe(reason);
    for (const line of lines) expect(cells(line)).toBeLessThanOrEqual(80);
    expect(lines.length).toBeLessThanOrEqual(23);
  });

  it("wrapText breaks at spaces, cuts words longer than a line, and marks only what does not fit", () => {
    expect(wrapText("analysis failed: http-availability (e-value 41.2 > 40)", 20, 5)).toEqual([
      "analysis failed:",
      "http-availability",
      "(e-value 41.2 > 40)",
    ]);
    expect(wrapText("x".repeat(25), 10, 5)).toEqual(["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
    expect(wrapText("one two three four", 9, 1)).toEqual(["one two…"]);
    expect(wrapText("", 10, 3)).toEqual([""]);
  });
});

describe("p asks first when a verdict is not Pass", () => {
  it("past Inconclusive: the question names it; n cancels, y promotes", async () => {
    expect(verdictsNotPassing(canaryMidway)).toEqual(["http-latency Inconclusive"]);
    const view = await show(canaryMidway);
    await view.press("p");
    expect(view.text()).toMatch(/^promote checkout past http-latency Inconclusive\? y\/n$/m);
    await view.press("n");
    expect(view.text()).toMatch(/^… promote cancelled$/m);
    expect(view.actions.promote).not.toHaveBeenCalled();
    await view.press("p");
    await view.press("y");
    await vi.waitFor(() => expect(view.text()).toMatch(/✓ promote requested/));
    expect(view.actions.promote).toHaveBeenCalledTimes(1);
  });

  it("with every verdict Pass, p promotes at once", async () => {
    expect(verdictsNotPassing(pausedGate)).toEqual([]);
    const view = await show(pausedGate);
    await view.press("p");
    await vi.waitFor(() => expect(view.actions.promote).toHaveBeenCalledTimes(1));
    expect(view.text()).not.toMatch(/y\/n/);
  });
});

describe("a timed pause and a manual gate are worded apart", () => {
  it("in the plan's reason (the controller's message while it waits) and on the ladder", () => {
    const spec = {
      ...canaryMidway.spec,
      strategy: { canary: { steps: [{ setWeight: 10 }, { pause: { duration: 5_000 } }, { pause: {} }] } },
    } as Rollout["spec"];
    const [, timed, gate] = planSteps(spec);
    expect(timed).toEqual({ kind: "pause", durationMs: 5_000, reason: "timed pause" });
    expect(gate).toEqual({ kind: "pause", reason: "manual gate" });
    expect(describeStep(timed!)).toBe("pause 5s");
    expect(describeStep(gate!)).toBe("manual gate");
  });
});
