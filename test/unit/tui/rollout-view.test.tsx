import chalk from "chalk";
import fc from "fast-check";
import { render } from "ink-testing-library";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RolloutView } from "../../../cli/tui/rollout-view.tsx";
import { RolloutStore } from "../../../cli/tui/store.ts";
import {
  blueGreen,
  canaryMidway,
  chaosActive,
  FIXTURES,
  pausedGate,
  succeeded,
  T0,
} from "../../fixtures/tui/rollouts.ts";
import { cells, nextTick, screen, screenLines, storeFor } from "./helpers.ts";

const SIZE = { columns: 80, rows: 24 };

function fakeActions(
  overrides: Partial<Record<"promote" | "abort" | "pause" | "resume", () => Promise<void>>> = {},
) {
  return {
    promote: vi.fn(overrides.promote ?? (async () => {})),
    abort: vi.fn(overrides.abort ?? (async () => {})),
    pause: vi.fn(overrides.pause ?? (async () => {})),
    resume: vi.fn(overrides.resume ?? (async () => {})),
  };
}

const mounted: (() => void)[] = [];
afterEach(() => {
  for (const unmount of mounted.splice(0)) unmount();
});

async function mount(
  store: RolloutStore,
  options: { size?: typeof SIZE; actions?: ReturnType<typeof fakeActions> } = {},
) {
  const actions = options.actions ?? fakeActions();
  const onQuit = vi.fn();
  const instance = render(
    <RolloutView store={store} actions={actions} onQuit={onQuit} size={options.size ?? SIZE} />,
  );
  mounted.push(instance.unmount);
  // Let the input hook subscribe before the test types.
  await nextTick();
  const text = () => screen(instance.lastFrame());
  const press = async (key: string) => {
    instance.stdin.write(key);
    await nextTick();
  };
  return { ...instance, actions, onQuit, text, press };
}

describe("RolloutView at 80x24", () => {
  it.each(Object.keys(FIXTURES))("keeps every frame of %s within 23 lines and 80 columns", async (name) => {
    const fixture = FIXTURES[name]!;
    const { store, clock } = storeFor(fixture, "Prometheus");
    const view = await mount(store);
    // A few more frames: time passes, a key is pressed, an event arrives.
    clock.now += 15_000;
    store.tick();
    await view.press("a");
    await view.press("n");
    store.event("a Kubernetes event with a long message ".repeat(4));
    await nextTick();
    expect(view.frames.length).toBeGreaterThan(1);
    for (const frame of view.frames) {
      const lines = screenLines(frame);
      expect(lines.length).toBeLessThanOrEqual(23);
      for (const line of lines) expect(cells(line)).toBeLessThanOrEqual(80);
    }
    expect(view.text()).toContain("checkout · shop");
  });

  it("shows the canary's weights, marked step, verdicts and counts", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!, "Prometheus");
    const text = (await mount(store)).text();
    expect(text).toContain("Progressing · elapsed 4m12s");
    expect(text).toContain("step 2/6 · metrics: Prometheus");
    expect(text).toContain("desired 5%  applied 5%  observed 4.8%");
    expect(text).toContain("▸  2 analysis");
    expect(text).toContain("✓  1 weight 5%");
    expect(text).toMatch(/http-availability Pass/);
    expect(text).toContain("3/2100 vs 2/18000 0.14%");
    expect(text).toMatch(/http-latency +Inconclusive/);
    expect(text).toContain("Progressing: analysing: http-availability Pass");
    expect(text).not.toContain("RECONNECTING");
  });

  it("shows the built-in metrics provider when the sandbox uses it", async () => {
    const { store } = storeFor(FIXTURES["A/B test"]!, "built-in provider");
    const text = (await mount(store)).text();
    expect(text).toContain("metrics: built-in provider");
    expect(text).toContain("A/B test via istio");
    expect(text).toContain("✓  1 match header x-beta");
    expect(text).toContain("▸  2 analysis for 10m");
    expect(text).toMatch(/http-availability NoData/);
  });

  it("shows the paused gate's reason and offers resume", async () => {
    const { store } = storeFor(FIXTURES["paused manual gate"]!);
    const text = (await mount(store)).text();
    expect(text).toContain("Paused · elapsed 11m40s");
    expect(text).toContain("» manual gate");
    expect(text).toContain("▸  6 manual gate");
    expect(text).toContain("space  resume");
  });

  it("shows a rollback: the failed step, the failing verdict, and only quit", async () => {
    const { store } = storeFor(FIXTURES["rolled back"]!);
    const text = (await mount(store)).text();
    expect(text).toContain("RolledBack · took 8m");
    expect(text).toContain("✗  4 chaos payments");
    expect(text).toMatch(/http-availability Fail/);
    expect(text).toContain("120/2000 vs 3/18000 6%");
    expect(text).toContain(" q  quit  rollout RolledBack: nothing left to do");
    expect(text).not.toContain(" p  promote");
  });

  it("shows blue-green's implicit gate as the current step", async () => {
    const { store } = storeFor(FIXTURES["blue-green"]!);
    const text = (await mount(store)).text();
    expect(text).toContain("blue-green via istio · Paused");
    expect(text).toContain("✓  1 preview analysis (mirrored)");
    expect(text).toContain("▸  2 gate: waiting for promotion");
    expect(text).toContain("·  3 weight 100%");
  });

  it("shows the active fault counting down with the gate's verdict", async () => {
    const { store, clock } = storeFor(FIXTURES["chaos with active fault"]!);
    const view = await mount(store);
    expect(view.text()).toContain("FAULT abort 503 5% on payments · 1m12s left · gate Inconclusive");
    clock.now += 12_000;
    store.tick();
    await vi.waitFor(() => expect(view.text()).toContain("FAULT abort 503 5% on payments · 1m left"));
  });

  it("says clearly that the watch is reconnecting, and stops saying it once live", async () => {
    const { store } = storeFor(FIXTURES["reconnecting watch"]!);
    const view = await mount(store);
    expect(view.text()).toContain("↻ RECONNECTING: watch lost, showing the state last seen at 10:05:00");
    expect(view.text()).toContain("! watch connection lost: reconnecting");
    store.connection("live");
    await vi.waitFor(() => expect(view.text()).not.toContain("RECONNECTING"));
    expect(view.text()).toContain("watch reconnected");
  });

  it("waits for the rollout before the first update, then follows the store", async () => {
    const store = new RolloutStore({ clock: () => T0 });
    const view = await mount(store);
    expect(view.text()).toContain("connecting to the cluster");
    expect(view.text()).toContain("waiting for the rollout");
    store.connection("live");
    store.update(canaryMidway);
    await vi.waitFor(() => expect(view.text()).toContain("▸  2 analysis"));
    store.update(pausedGate);
    await vi.waitFor(() => expect(view.text()).toContain("▸  6 manual gate"));
    expect(view.text()).toContain("Paused: manual gate");
  });

  it("fits other terminal sizes too", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20, max: 160 }),
        fc.integer({ min: 4, max: 60 }),
        fc.constantFrom(...Object.keys(FIXTURES)),
        async (columns, rows, name) => {
          const { store } = storeFor(FIXTURES[name]!, "Prometheus");
          const view = await mount(store, { size: { columns, rows } });
          const lines = screenLines(view.lastFrame());
          view.unmount();
          expect(lines.length).toBeLessThanOrEqual(rows - 1);
          for (const line of lines) expect(cells(line)).toBeLessThanOrEqual(columns);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("RolloutView keys", () => {
  it("asks before aborting; n cancels without calling abort", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const view = await mount(store);
    await view.press("a");
    await vi.waitFor(() => expect(view.text()).toContain("abort rollout checkout? y/n"));
    await view.press("n");
    await vi.waitFor(() => expect(view.text()).not.toContain("abort rollout checkout?"));
    expect(view.text()).toContain("abort cancelled");
    expect(view.actions.abort).not.toHaveBeenCalled();
  });

  it("aborts once on a then y, however often y is pressed", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const view = await mount(store);
    await view.press("a");
    await view.press("y");
    await view.press("y");
    await vi.waitFor(() => expect(view.text()).toContain("✓ abort requested"));
    expect(view.actions.abort).toHaveBeenCalledTimes(1);
    expect(view.actions.promote).not.toHaveBeenCalled();
  });

  it("treats y without a question as nothing", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const view = await mount(store);
    await view.press("y");
    expect(view.actions.abort).not.toHaveBeenCalled();
  });

  it("promotes on p and shows the result", async () => {
    const { store } = storeFor(FIXTURES["paused manual gate"]!);
    const view = await mount(store);
    await view.press("p");
    await vi.waitFor(() => expect(view.text()).toContain("✓ promote requested"));
    expect(view.actions.promote).toHaveBeenCalledTimes(1);
  });

  it("shows an action's error in the status line", async () => {
    const { store } = storeFor(FIXTURES["paused manual gate"]!);
    const actions = fakeActions({
      promote: async () => {
        throw new Error("rollouts.stepwise.dev is forbidden");
      },
    });
    const view = await mount(store, { actions });
    await view.press("p");
    await vi.waitFor(() =>
      expect(view.text()).toContain("✗ promote failed: rollouts.stepwise.dev is forbidden"),
    );
  });

  it("sends one command at a time", async () => {
    const { store } = storeFor(FIXTURES["paused manual gate"]!);
    let release: () => void = () => {};
    const actions = fakeActions({ promote: () => new Promise<void>((resolve) => (release = resolve)) });
    const view = await mount(store, { actions });
    await view.press("p");
    await view.press("p");
    await vi.waitFor(() => expect(view.text()).toContain("promote is still being sent"));
    release();
    await vi.waitFor(() => expect(view.text()).toContain("✓ promote requested"));
    expect(actions.promote).toHaveBeenCalledTimes(1);
  });

  it("pauses on space while progressing and resumes on space while paused", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const view = await mount(store);
    await view.press(" ");
    await vi.waitFor(() => expect(view.actions.pause).toHaveBeenCalledTimes(1));
    expect(view.actions.resume).not.toHaveBeenCalled();
    store.update(pausedGate);
    await vi.waitFor(() => expect(view.text()).toContain("space  resume"));
    await view.press(" ");
    await vi.waitFor(() => expect(view.actions.resume).toHaveBeenCalledTimes(1));
    expect(view.actions.pause).toHaveBeenCalledTimes(1);
  });

  it("resumes blue-green's implicit gate on space", async () => {
    const { store } = storeFor({ rollout: blueGreen, connection: "live", now: T0 });
    const view = await mount(store);
    await view.press(" ");
    await vi.waitFor(() => expect(view.actions.resume).toHaveBeenCalledTimes(1));
  });

  it("quits on q", async () => {
    const { store } = storeFor(FIXTURES["chaos with active fault"]!);
    const view = await mount(store);
    await view.press("q");
    expect(view.onQuit).toHaveBeenCalledTimes(1);
  });

  it("does nothing harmful once the rollout is over", async () => {
    const { store } = storeFor({ rollout: succeeded, connection: "live", now: T0 });
    const view = await mount(store);
    for (const key of ["p", "a", "y", " "]) await view.press(key);
    await vi.waitFor(() => expect(view.text()).toContain("nothing to"));
    expect(view.text()).not.toContain("abort rollout");
    for (const action of Object.values(view.actions)) expect(action).not.toHaveBeenCalled();
    await view.press("p");
    await vi.waitFor(() => expect(view.text()).toContain("nothing to promote while Succeeded"));
  });

  it("does nothing before the rollout is known or after it is gone", async () => {
    const store = new RolloutStore({ clock: () => T0 });
    const view = await mount(store);
    await view.press("p");
    await vi.waitFor(() => expect(view.text()).toContain("nothing to promote while no rollout yet"));
    store.connection("live");
    store.update(chaosActive);
    store.connection("gone");
    await view.press("a");
    await vi.waitFor(() => expect(view.text()).toContain("nothing to abort while the rollout is gone"));
    expect(view.text()).toContain("GONE");
    for (const action of Object.values(view.actions)) expect(action).not.toHaveBeenCalled();
  });

  it("does not abort when the rollout finished while the question was open", async () => {
    const { store } = storeFor(FIXTURES["canary mid-way"]!);
    const view = await mount(store);
    await view.press("a");
    store.update(succeeded);
    await view.press("y");
    await vi.waitFor(() => expect(view.text()).toContain("nothing to abort while Succeeded"));
    expect(view.actions.abort).not.toHaveBeenCalled();
  });
});

describe("a refusal in the TUI", () => {
  const message =
    "HTTPRoute shop/checkout (/spec/rules/0/backendRefs): the canary cannot get 95% of the managed route's traffic: its other destinations, checkout-v2 (weight 10), take 10% of it; make the step at most 90%";

  it("is shown under the header, wrapped, in the warning colour, and the frame still fits 80x24", async () => {
    const fixture = FIXTURES["canary mid-way"]!;
    const { store } = storeFor(fixture, "Prometheus");
    store.update({
      ...fixture.rollout,
      status: {
        ...fixture.rollout.status,
        conditions: [{ type: "RouteReady", status: "False", reason: "WeightNotExpressible", message }],
      },
    });
    const view = await mount(store);
    const lines = screenLines(view.lastFrame());
    const first = lines.findIndex((line) =>
      line.startsWith("! refused: RouteReady=False WeightNotExpressible:"),
    );
    // under the header's three lines (name, details, message)
    expect(first).toBe(3);
    // wrapped, not cut: the end of the message is on the next lines, and no line is wider than the screen
    const shown = lines
      .slice(first, first + 4)
      .map((line) => line.slice(2).trim())
      .join(" ");
    expect(shown).toContain("make the step at most 90%");
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const line of lines) expect(cells(line)).toBeLessThanOrEqual(80);
    // the warning colour (yellow, SGR 33) opens the refusal's line; Ink colours through chalk, which
    // sees no terminal here, so colours are turned on for this frame
    const level = chalk.level;
    chalk.level = 1;
    try {
      store.tick(store.getSnapshot().now + 1_000);
      await nextTick();
      expect(view.lastFrame()).toContain("\u001B[33m! refused: RouteReady=False");
    } finally {
      chalk.level = level;
    }
  });

  it("is shown for a rollout that does not parse, before any valid version was seen", async () => {
    const store = new RolloutStore({ clock: () => T0 });
    store.connection("live");
    store.invalid("spec.strategy: exactly one of canary, blueGreen, abTest");
    const view = await mount(store);
    expect(view.text()).toContain("! refused: SpecValid=False InvalidSpec: invalid spec: spec.strategy:");
  });
});
