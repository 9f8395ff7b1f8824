import { describe, expect, it } from "vitest";
import { followPlain, formatJsonLine, formatProgressLine } from "../../../cli/progress.ts";
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
