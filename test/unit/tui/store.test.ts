import { describe, expect, it, vi } from "vitest";
import { RolloutStore, transitions } from "../../../cli/tui/store.ts";
import type { Rollout, RolloutStatus } from "../../../src/api/rollout.ts";
import { at, canaryMidway, chaosActive, pausedGate, rolledBack, T0 } from "../../fixtures/tui/rollouts.ts";

function withStatus(rollout: Rollout, status: Partial<RolloutStatus>): Rollout {
  return { ...rollout, status: { ...rollout.status, ...status } };
}

function makeStore(options: { maxEvents?: number; maxHistory?: number } = {}) {
  const clock = { now: T0 };
  const store = new RolloutStore({ clock: () => clock.now, ...options });
  return { store, clock };
}

const texts = (store: RolloutStore) => store.getSnapshot().events.map((event) => event.text);

describe("RolloutStore", () => {
  it("starts connecting, with no rollout and no events", () => {
    const { store } = makeStore();
    const snapshot = store.getSnapshot();
    expect(snapshot.connection).toBe("connecting");
    expect(snapshot.rollout).toBeUndefined();
    expect(snapshot.events).toEqual([]);
    expect(snapshot.startedAt).toBe(T0);
    expect(snapshot.now).toBe(T0);
  });

  it("returns the same snapshot until something changes, and a new frozen one after", () => {
    const { store } = makeStore();
    const first = store.getSnapshot();
    expect(store.getSnapshot()).toBe(first);
    store.update(canaryMidway);
    const second = store.getSnapshot();
    expect(second).not.toBe(first);
    expect(Object.isFrozen(second)).toBe(true);
    expect(Object.isFrozen(second.events)).toBe(true);
    expect(Object.isFrozen(second.rollout?.status?.weights)).toBe(true);
    expect(first.rollout).toBeUndefined();
  });

  it("keeps its own copy: changing the object passed in changes nothing", () => {
    const { store } = makeStore();
    const mine = structuredClone(canaryMidway);
    store.update(mine);
    mine.status!.phase = "Failed";
    expect(store.getSnapshot().rollout?.status?.phase).toBe("Progressing");
  });

  it("notifies subscribers on every change and stops after unsubscribing", () => {
    const { store, clock } = makeStore();
    const listener = vi.fn();
    const unsubscribe = store.subscribe(listener);
    store.update(canaryMidway);
    store.event("hello");
    store.connection("live");
    clock.now += 1000;
    store.tick();
    expect(listener).toHaveBeenCalledTimes(4);
    unsubscribe();
    store.event("again");
    expect(listener).toHaveBeenCalledTimes(4);
  });

  it("does not notify for a tick at the same time or a connection state it already has", () => {
    const { store } = makeStore();
    const listener = vi.fn();
    store.subscribe(listener);
    store.tick(T0);
    store.connection("connecting");
    expect(listener).not.toHaveBeenCalled();
  });

  it("turns the first rollout and phase changes into events, warning on rollback", () => {
    const { store, clock } = makeStore();
    store.update(canaryMidway);
    clock.now += 5000;
    store.update(rolledBack);
    const events = store.getSnapshot().events;
    expect(events[0]).toMatchObject({
      text: "Progressing: analysing: http-availability Pass, http-latency Inconclusive",
      time: T0,
    });
    expect(events[0]?.warning).toBeUndefined();
    expect(events[1]).toMatchObject({
      text: "RolledBack: rolled back: analysis failed: http-availability (e-value 41.2 > 40)",
      warning: true,
      time: T0 + 5000,
    });
    // The event carries the rollout it describes, for plain and JSON lines.
    expect(events[1]?.rollout?.status?.phase).toBe("RolledBack");
  });

  it("reports a new step with the controller's message", () => {
    const { store } = makeStore();
    store.update(canaryMidway);
    store.update(
      withStatus(canaryMidway, {
        step: 2,
        message: "analysis passed; step 3/6: set weight 25%",
        analysis: [],
      }),
    );
    expect(texts(store).at(-1)).toBe("analysis passed; step 3/6: set weight 25%");
  });

  it("names the step itself when the message did not change", () => {
    const { store } = makeStore();
    store.update(canaryMidway);
    store.update(withStatus(canaryMidway, { step: 2, analysis: [] }));
    expect(texts(store).at(-1)).toBe("step 3/6: weight 25%");
  });

  it("ignores messages that only count down, but reports ones with new words", () => {
    const { store } = makeStore();
    store.update(chaosActive);
    const before = texts(store).length;
    store.update(withStatus(chaosActive, { message: "chaos gate: 57s left" }));
    store.update(withStatus(chaosActive, { message: "chaos gate: 42s left" }));
    expect(texts(store)).toHaveLength(before);
    store.update(withStatus(chaosActive, { message: "outside the schedule window: holding at 25%" }));
    expect(texts(store).at(-1)).toBe("outside the schedule window: holding at 25%");
  });

  it("reports verdict changes, warning on Fail", () => {
    const { store } = makeStore();
    store.update(canaryMidway);
    const latency = canaryMidway.status!.analysis![1]!;
    const availability = canaryMidway.status!.analysis![0]!;
    store.update(withStatus(canaryMidway, { analysis: [availability, { ...latency, verdict: "Pass" }] }));
    expect(store.getSnapshot().events.at(-1)).toMatchObject({ text: "http-latency: Inconclusive -> Pass" });
    store.update(withStatus(canaryMidway, { analysis: [{ ...availability, verdict: "Fail" }, latency] }));
    const last = store.getSnapshot().events.slice(-2);
    expect(last.map((event) => event.text)).toEqual([
      "http-availability: Pass -> Fail",
      "http-latency: Pass -> Inconclusive",
    ]);
    expect(last[0]?.warning).toBe(true);
    expect(last[1]?.warning).toBeUndefined();
  });

  it("reports a fault when it is applied and when it goes away", () => {
    const { store } = makeStore();
    store.update(canaryMidway);
    store.update(chaosActive);
    expect(texts(store)).toContain(`fault active on payments until ${at(672)}`);
    const { fault: _gone, ...withoutFault } = chaosActive.status!;
    store.update({ ...chaosActive, status: withoutFault });
    expect(texts(store).at(-1)).toBe("fault on payments removed");
  });

  it("says when the watch is lost, back, and when the rollout is gone", () => {
    const { store } = makeStore();
    store.connection("live");
    expect(texts(store)).toEqual([]);
    store.connection("reconnecting");
    store.connection("live");
    store.connection("gone");
    expect(texts(store)).toEqual([
      "watch connection lost: reconnecting",
      "watch reconnected",
      "the rollout no longer exists",
    ]);
    expect(store.getSnapshot().events.map((event) => event.warning ?? false)).toEqual([true, false, true]);
    expect(store.getSnapshot().connection).toBe("gone");
  });

  it("records when the rollout was last seen, which a reconnect does not change", () => {
    const { store, clock } = makeStore();
    store.update(canaryMidway);
    clock.now += 30_000;
    store.connection("reconnecting");
    expect(store.getSnapshot().updatedAt).toBe(T0);
    expect(store.getSnapshot().now).toBe(T0 + 30_000);
  });

  it("numbers events in order and keeps only the newest", () => {
    const { store } = makeStore({ maxEvents: 3 });
    for (const n of [1, 2, 3, 4, 5]) store.event(`event ${n}`);
    const events = store.getSnapshot().events;
    expect(events.map((event) => event.text)).toEqual(["event 3", "event 4", "event 5"]);
    expect(events.map((event) => event.seq)).toEqual([3, 4, 5]);
  });

  it("adds to a profile's history only when its canary counts change", () => {
    const { store } = makeStore();
    const counts = (bad: number, total: number) =>
      withStatus(canaryMidway, {
        analysis: [{ profile: "http-availability", verdict: "Pass", canary: { bad, total } }],
      });
    store.update(counts(1, 100));
    store.update(counts(1, 100));
    store.update(counts(3, 200));
    store.update(counts(3, 200));
    store.update(counts(3, 300));
    expect(store.getSnapshot().history["http-availability"]).toEqual([1, 1.5, 1]);
  });

  it("keeps the history bounded, skips empty counts, and starts over for a new revision", () => {
    const { store } = makeStore({ maxHistory: 4 });
    for (let total = 100; total <= 1000; total += 100) {
      store.update(
        withStatus(canaryMidway, {
          analysis: [
            { profile: "a", verdict: "Pass", canary: { bad: 10, total } },
            { profile: "b", verdict: "NoData", canary: { bad: 0, total: 0 } },
          ],
        }),
      );
    }
    const history = store.getSnapshot().history;
    expect(history.a).toHaveLength(4);
    expect(history.a?.at(-1)).toBeCloseTo(1);
    expect(history.b).toBeUndefined();
    store.update(withStatus(canaryMidway, { revision: "next", analysis: [] }));
    expect(store.getSnapshot().history).toEqual({});
  });

  it("moves time forward with tick and takes the metrics source", () => {
    const { store } = makeStore();
    store.tick(T0 + 61_000);
    expect(store.getSnapshot().now).toBe(T0 + 61_000);
    store.setMetricsSource("built-in provider");
    expect(store.getSnapshot().metricsSource).toBe("built-in provider");
    store.setMetricsSource(undefined);
    expect("metricsSource" in store.getSnapshot()).toBe(false);
  });
});

describe("transitions", () => {
  it("finds nothing between identical versions", () => {
    expect(transitions(pausedGate, pausedGate)).toEqual([]);
  });

  it("reports only failing verdicts that come with a new phase", () => {
    const events = transitions(canaryMidway, rolledBack);
    expect(events.map((event) => event.text)).toEqual([
      "RolledBack: rolled back: analysis failed: http-availability (e-value 41.2 > 40)",
      "http-availability: Pass -> Fail",
    ]);
  });

  it("holds the refusals of the newest version, each new one a warning in the log", () => {
    const { store } = makeStore();
    const held = withStatus(canaryMidway, {
      conditions: [
        {
          type: "RouteReady",
          status: "False",
          reason: "WeightNotExpressible",
          message: "make the step at most 90%",
        },
      ],
    });
    store.update(held);
    expect(store.getSnapshot().refusals).toEqual([
      { type: "RouteReady", reason: "WeightNotExpressible", message: "make the step at most 90%" },
    ]);
    const warnings = () =>
      store
        .getSnapshot()
        .events.filter((event) => event.warning)
        .map((e) => e.text);
    expect(warnings()).toEqual(["refused: RouteReady=False WeightNotExpressible: make the step at most 90%"]);
    store.update(held); // the same refusal again: no second line
    expect(warnings()).toHaveLength(1);
    store.update(canaryMidway);
    expect(store.getSnapshot().refusals).toEqual([]);
  });

  it("a version that does not parse is an invalid-spec refusal; the last valid one stays shown", () => {
    const { store } = makeStore();
    store.update(canaryMidway);
    store.invalid("spec.strategy: exactly one strategy");
    const snapshot = store.getSnapshot();
    expect(snapshot.rollout?.metadata.name).toBe(canaryMidway.metadata.name);
    expect(snapshot.refusals).toEqual([
      {
        type: "SpecValid",
        reason: "InvalidSpec",
        message: "invalid spec: spec.strategy: exactly one strategy",
      },
    ]);
    expect(texts(store).at(-1)).toBe(
      "refused: SpecValid=False InvalidSpec: invalid spec: spec.strategy: exactly one strategy",
    );
  });
});
