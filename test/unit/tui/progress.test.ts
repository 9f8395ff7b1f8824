import { describe, expect, it } from "vitest";
import { closingLine, followPlain, formatJsonLine, formatProgressLine } from "../../../cli/progress.ts";
import { RolloutStore } from "../../../cli/tui/store.ts";
import type { Rollout } from "../../../src/api/rollout.ts";
import { canaryMidway, chaosActive, pausedGate, rolledBack, T0 } from "../../fixtures/tui/rollouts.ts";

/** The example: step 2/6 at 25% with one profile. */
const example: Rollout = {
  ...canaryMidway,
  status: {
    ...canaryMidway.status,
    weights: { desired: 25, applied: 25 },
    analysis: [canaryMidway.status!.analysis![0]!],
  },
};

function collect() {
  const lines: string[] = [];
  return { out: { write: (text: string) => lines.push(text) }, lines };
}

describe("formatProgressLine", () => {
  it("writes time, phase, step, weights and verdicts", () => {
    const store = new RolloutStore({ clock: () => T0 + 5000 });
    store.update(example);
    expect(formatProgressLine(store.getSnapshot())).toBe(
      "2026-11-22T10:00:05Z Progressing step 2/6 weight 25% (applied 25%) http-availability=Pass 3/2100 vs 2/18000",
    );
  });

  it("adds observed weight, every profile and the event's text", () => {
    const store = new RolloutStore({ clock: () => T0 });
    store.update(canaryMidway);
    const event = store.getSnapshot().events[0]!;
    expect(formatProgressLine(event)).toBe(
      "2026-11-22T10:00:00Z Progressing step 2/6 weight 5% (applied 5%, observed 4.8%) " +
        "http-availability=Pass 3/2100 vs 2/18000 http-latency=Inconclusive 40/2100 vs 310/18000 " +
        "| Progressing: analysing: http-availability Pass, http-latency Inconclusive",
    );
  });

  it("shows the active fault with its time left and marks warnings", () => {
    const store = new RolloutStore({ clock: () => T0 + 600_000 });
    store.update(chaosActive);
    expect(formatProgressLine(store.getSnapshot())).toContain(
      "fault abort 503 5% on payments 1m12s left gate=Inconclusive",
    );
    store.update(rolledBack);
    const rollback = store.getSnapshot().events.find((event) => event.text.startsWith("RolledBack"))!;
    expect(formatProgressLine(rollback)).toMatch(
      / RolledBack step 4\/6 weight 0% \(applied 0%\) .* \| warning: RolledBack: rolled back/,
    );
  });

  it("names the connection state when there is no rollout yet", () => {
    const store = new RolloutStore({ clock: () => T0 });
    store.connection("reconnecting");
    expect(formatProgressLine(store.getSnapshot().events[0]!)).toBe(
      "2026-11-22T10:00:00Z reconnecting | warning: watch connection lost: reconnecting",
    );
  });
});

describe("formatJsonLine", () => {
  it("gives one parseable object with the rollout's state and the event", () => {
    const store = new RolloutStore({ clock: () => T0 + 600_000 });
    store.update(chaosActive);
    const line = formatJsonLine(store.getSnapshot().events[0]!);
    expect(line).not.toContain("\n");
    const parsed = JSON.parse(line);
    expect(parsed).toMatchObject({
      time: "2026-11-22T10:10:00.000Z",
      rollout: "checkout",
      namespace: "shop",
      strategy: "canary",
      connection: "connecting",
      phase: "Progressing",
      step: 3,
      steps: 6,
      weights: { desired: 25, applied: 25, observed: 25.3 },
      fault: { target: "dependency", host: "payments", leftMs: 72_000, gate: "Inconclusive" },
      event: "Progressing: chaos gate: 72s left",
    });
    expect(parsed.analysis).toHaveLength(2);
    expect(parsed.analysis[0]).toEqual({
      profile: "http-availability",
      verdict: "Pass",
      canary: { bad: 21, total: 4000 },
      baseline: { bad: 20, total: 16000 },
    });
    expect("warning" in parsed).toBe(false);
  });
});

describe("followPlain", () => {
  it("writes the events already there, then one line per new event, until stopped", () => {
    let now = T0;
    const store = new RolloutStore({ clock: () => now });
    store.connection("live");
    store.update(canaryMidway);
    const { out, lines } = collect();
    const stop = followPlain(store, out);
    expect(lines).toHaveLength(1);
    now += 1000;
    store.tick();
    expect(lines).toHaveLength(1);
    store.update(pausedGate);
    store.event("promote requested by alice");
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.endsWith("\n") && line.split("\n").length === 2)).toBe(true);
    expect(lines[1]).toMatch(/^2026-11-22T10:00:01Z Paused step 6\/6 weight 50% .*\| Paused: manual gate\n$/);
    expect(lines[2]).toContain("| promote requested by alice");
    stop();
    store.event("after");
    expect(lines).toHaveLength(3);
  });

  it("writes JSON lines with -o json", () => {
    const store = new RolloutStore({ clock: () => T0 });
    const { out, lines } = collect();
    followPlain(store, out, { json: true });
    store.update(canaryMidway);
    store.connection("gone");
    expect(lines.map((line) => JSON.parse(line).event)).toEqual([
      "Progressing: analysing: http-availability Pass, http-latency Inconclusive",
      "the rollout no longer exists",
    ]);
    expect(JSON.parse(lines[1]!).warning).toBe(true);
  });
});

describe("followPlain with shows", () => {
  it("leaves out the events of a status that is not the followed revision", () => {
    const store = new RolloutStore({ clock: () => T0 });
    const { out, lines } = collect();
    followPlain(store, out, { shows: (rollout) => rollout.status?.revision === "7c9f3e1a2b" });
    // the previous release's outcome, still in the status when `start` set the new image
    store.update({
      ...pausedGate,
      status: { ...pausedGate.status, phase: "Succeeded", revision: "1a2b3c4d5e" },
    });
    expect(lines).toEqual([]);
    store.update(canaryMidway);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ Progressing step 2\/6 /);
  });
});

describe("closingLine", () => {
  const wait = { namespace: "shop", name: "checkout", revision: "7c9f3e1a2b", timeoutMs: 1_800_000 };
  const live = (rollout: Rollout) => ({ rollout, connection: "live" as const, refusals: [] });

  it("exit 0 has none", () => {
    expect(closingLine(0, live(canaryMidway), true, wait)).toBeUndefined();
  });

  it("timed out: where it was, and that the rollout goes on", () => {
    expect(closingLine(3, live(canaryMidway), true, wait)).toBe(
      "timed out after 30m at step 2/6 (weight 5%); the rollout goes on: rollout status checkout -n shop --watch",
    );
  });

  it("timed out at a manual gate, or before the controller took the revision up", () => {
    expect(closingLine(3, live(pausedGate), true, wait)).toBe(
      "timed out after 30m at step 6/6 (weight 50%); paused at a manual gate: rollout promote checkout -n shop to continue, rollout abort checkout -n shop to roll back",
    );
    expect(closingLine(3, live(pausedGate), false, wait)).toBe(
      "timed out after 30m before the controller took up revision 7c9f3e1a2b; is it running? Follow it with rollout status checkout -n shop --watch",
    );
  });

  it("paused (exit 4): at a gate, by a person, or held by an analysis", () => {
    expect(closingLine(4, live(pausedGate), true, wait)).toBe(
      "paused at a manual gate: rollout promote checkout -n shop to continue, rollout abort checkout -n shop to roll back",
    );
    const byUser = { ...pausedGate, status: { ...pausedGate.status, pauseReason: "paused by user" } };
    expect(closingLine(4, live(byUser), true, wait)).toBe(
      "paused by a person: rollout resume checkout -n shop to continue, rollout abort checkout -n shop to roll back",
    );
    const held = {
      ...pausedGate,
      status: {
        ...pausedGate.status,
        pauseReason: "analysis did not pass by the step deadline (http-latency)",
      },
    };
    expect(closingLine(4, live(held), true, wait)).toMatch(
      /^paused \(analysis did not pass by the step deadline \(http-latency\)\): rollout promote checkout/,
    );
  });

  it("rolled back, failed, deleted (exit 1)", () => {
    expect(closingLine(1, live(rolledBack), true, wait)).toBe(
      "rolled back: analysis failed: http-availability (e-value 41.2 > 40); details: rollout status checkout -n shop; to run this revision again: rollout retry checkout -n shop",
    );
    const failed = {
      ...rolledBack,
      status: { ...rolledBack.status, phase: "Failed" as const, message: "the target is gone" },
    };
    expect(closingLine(1, live(failed), true, wait)).toMatch(/^failed: the target is gone; details: /);
    expect(closingLine(1, { rollout: canaryMidway, connection: "gone", refusals: [] }, true, wait)).toBe(
      "the rollout shop/checkout was deleted while waiting",
    );
  });

  it("stopped with Ctrl-C (130)", () => {
    expect(closingLine(130, live(canaryMidway), true, wait)).toBe(
      "stopped with Ctrl-C at step 2/6 (weight 5%); the rollout goes on: rollout status checkout -n shop --watch",
    );
  });

  it("left the screen before the outcome", () => {
    expect(closingLine(3, live(canaryMidway), true, { ...wait, left: true })).toBe(
      "left before the rollout ended at step 2/6 (weight 5%); the rollout goes on: rollout status checkout -n shop --watch",
    );
  });

  it("refused (exit 2): the condition, its reason and message, and that the rollout waits for the fix", () => {
    const refusal = {
      type: "RouteReady",
      reason: "WeightNotExpressible",
      message: "the canary cannot get 95% of the managed route's traffic; make the step at most 90%",
    };
    expect(closingLine(2, { ...live(canaryMidway), refusals: [refusal] }, true, wait)).toBe(
      "refused: RouteReady=False WeightNotExpressible: the canary cannot get 95% of the managed route's traffic; make the step at most 90%; the rollout waits until this is fixed, then goes on by itself: rollout status checkout -n shop --watch",
    );
  });
});
