import { render } from "ink-testing-library";
import { afterEach, describe, expect, it } from "vitest";
import { EventLog } from "../../../cli/tui/event-log.tsx";
import { FaultBanner } from "../../../cli/tui/fault-banner.tsx";
import { ConnectionBanner, Header } from "../../../cli/tui/header.tsx";
import { Confirm, KeyHints, StatusLine } from "../../../cli/tui/key-hints.tsx";
import { faultInfo, profileLines, stepRows } from "../../../cli/tui/model.ts";
import { Profiles } from "../../../cli/tui/profiles.tsx";
import { StepLadder } from "../../../cli/tui/step-ladder.tsx";
import { WeightBar } from "../../../cli/tui/weight-bar.tsx";
import {
  abTest,
  blueGreen,
  canaryMidway,
  chaosActive,
  longCanary,
  rolledBack,
  T0,
} from "../../fixtures/tui/rollouts.ts";
import { cells, screen, screenLines } from "./helpers.ts";

let unmount: (() => void) | undefined;
afterEach(() => {
  unmount?.();
  unmount = undefined;
});

function show(node: React.ReactElement): string {
  const instance = render(node);
  unmount = instance.unmount;
  return screen(instance.lastFrame());
}

describe("Header", () => {
  it("shows rollout, namespace, strategy, phase, elapsed time, step and metrics source", () => {
    const text = show(
      <Header
        name="checkout"
        namespace="shop"
        strategy="canary"
        provider="istio"
        phase="Progressing"
        elapsed="elapsed 4m12s"
        revision="7c9f3e1a2b"
        stableRevision="1a2b3c4d5e"
        position="step 2/6"
        metricsSource="built-in provider"
        message={["analysing"]}
        width={80}
      />,
    );
    expect(screenLines(text)).toEqual([
      "checkout · shop · canary via istio · Progressing · elapsed 4m12s",
      "revision 7c9f3e1a2b · stable 1a2b3c4d5e · step 2/6 · metrics: built-in provider",
      "» analysing",
    ]);
  });

  it("truncates to its width instead of wrapping", () => {
    const text = show(
      <Header
        name="a-very-long-rollout-name-that-goes-on"
        namespace="a-namespace-with-a-long-name"
        strategy="blue-green"
        provider="gateway"
        phase="Paused"
        elapsed="elapsed 1h2m3s"
        message={["x".repeat(200)]}
        width={40}
      />,
    );
    const lines = screenLines(text);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(cells(line)).toBeLessThanOrEqual(40);
    expect(lines[1]).toBe("no revision yet");
  });
});

describe("ConnectionBanner", () => {
  it("says clearly that the watch is reconnecting, with the time of the state shown", () => {
    expect(show(<ConnectionBanner connection="reconnecting" lastSeen="10:05:00" width={80} />)).toBe(
      "↻ RECONNECTING: watch lost, showing the state last seen at 10:05:00",
    );
  });

  it("says when connecting or gone, and nothing while live", () => {
    expect(show(<ConnectionBanner connection="connecting" width={80} />)).toContain("connecting");
    unmount?.();
    expect(show(<ConnectionBanner connection="gone" width={80} />)).toContain("GONE");
    unmount?.();
    expect(show(<ConnectionBanner connection="live" width={80} />)).toBe("");
  });
});

describe("WeightBar", () => {
  it("shows desired, applied and observed share with a bar of the applied share", () => {
    const text = show(<WeightBar desired={25} applied={25} observed={24.6} width={80} />);
    expect(text).toContain("desired 25%  applied 25%  observed 24.6%");
    const bar = text.replace(/^canary /, "").split(" ")[0]!;
    expect(bar.length).toBe(31);
    expect(bar.match(/█/g)).toHaveLength(8);
    expect(bar).not.toContain("▒");
  });

  it("shades the share still to be applied and marks unknown read-backs", () => {
    const text = show(<WeightBar desired={50} width={80} />);
    expect(text).toContain("desired 50%  applied ?  observed ?");
    expect(text).not.toContain("█");
    expect(text.match(/▒/g)?.length).toBeGreaterThan(10);
  });
});

describe("StepLadder", () => {
  it("marks the current step of a canary and ticks the done ones", () => {
    const lines = screenLines(show(<StepLadder steps={stepRows(canaryMidway)} height={10} width={40} />));
    expect(lines.slice(0, 8).map((line) => line.trimEnd())).toEqual([
      "Steps",
      "✓  1 weight 5%",
      "▸  2 analysis",
      "·  3 weight 25%",
      "·  4 chaos payments: 503 5% 2m",
      "·  5 weight 50%",
      "·  6 manual gate",
      "·  = final check, promote",
    ]);
  });

  it("shows blue-green's and A/B's implicit steps", () => {
    expect(show(<StepLadder steps={stepRows(blueGreen)} height={8} width={40} />)).toContain(
      "▸  2 gate: waiting for promotion",
    );
    unmount?.();
    const ab = show(<StepLadder steps={stepRows(abTest)} height={8} width={40} />);
    expect(ab).toContain("✓  1 match header x-beta");
    expect(ab).toContain("▸  2 analysis for 10m");
  });

  it("marks the step a rollback stopped at", () => {
    expect(show(<StepLadder steps={stepRows(rolledBack)} height={8} width={40} />)).toContain(
      "✗  4 chaos payments",
    );
  });

  it("keeps a long plan inside its height with the current step in view", () => {
    const lines = screenLines(show(<StepLadder steps={stepRows(longCanary)} height={8} width={40} />));
    expect(lines.length).toBeLessThanOrEqual(8);
    expect(lines.some((line) => line.startsWith("▸ 18 analysis"))).toBe(true);
    expect(lines[1]).toMatch(/↑ \d+ earlier/);
    expect(lines.at(-1)).toMatch(/↓ \d+ more/);
  });
});

describe("Profiles", () => {
  it("shows each profile's verdict, canary vs baseline counts and a sparkline", () => {
    const lines = screenLines(
      show(
        <Profiles
          profiles={profileLines(canaryMidway)}
          history={{ "http-availability": [0.1, 0.2, 0.14], "http-latency": [1.6, 1.9] }}
          height={5}
          width={46}
        />,
      ),
    ).map((line) => line.trimEnd());
    expect(lines).toEqual([
      "Analysis canary vs baseline bad/total",
      "http-availability Pass",
      "  3/2100 vs 2/18000 0.14%  ▅█▆",
      "http-latency      Inconclusive",
      "  40/2100 vs 310/18000 1.9%  ▇█",
    ]);
  });

  it("falls back to one line a profile when short of room, and says how many are hidden", () => {
    const many = ["a", "b", "c", "d", "e"].map((name) => ({ name, verdict: "Pass" as const }));
    const lines = screenLines(show(<Profiles profiles={many} history={{}} height={4} width={40} />));
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^a +Pass no requests counted/);
    expect(lines[3]).toBe("+3 more");
  });

  it("shows profiles that have not reported yet as waiting", () => {
    const text = show(
      <Profiles profiles={[{ name: "http-availability" }]} history={{}} height={3} width={40} />,
    );
    expect(text).toContain("http-availability waiting");
  });
});

describe("FaultBanner", () => {
  it("shows the active fault, its time left and the gate's verdict", () => {
    const fault = faultInfo(chaosActive, T0 + 600_000);
    expect(show(<FaultBanner fault={fault} width={80} />)).toBe(
      "FAULT abort 503 5% on payments · 1m12s left · gate Inconclusive",
    );
  });

  it("says the gate is waiting before any verdict, and shows nothing without a fault", () => {
    expect(show(<FaultBanner fault={{ where: "payments", leftMs: 5000 }} width={80} />)).toBe(
      "FAULT on payments · 5s left · gate waiting for data",
    );
    unmount?.();
    expect(show(<FaultBanner width={80} />)).toBe("");
  });
});

describe("EventLog", () => {
  const events = Array.from({ length: 10 }, (_, n) => ({
    seq: n + 1,
    time: T0 + n * 1000,
    text: `event ${n + 1}`,
    ...(n === 9 ? { warning: true } : {}),
  }));

  it("shows the newest lines in a region of fixed height", () => {
    const lines = screenLines(show(<EventLog events={events} lines={4} width={80} />));
    expect(lines.map((line) => line.trimEnd())).toEqual([
      "Events (UTC)",
      "10:00:06 event 7",
      "10:00:07 event 8",
      "10:00:08 event 9",
      "10:00:09 ! event 10",
    ]);
  });

  it("keeps its height with few events", () => {
    const lines = screenLines(show(<EventLog events={events.slice(0, 1)} lines={4} width={80} />));
    expect(lines).toHaveLength(5);
    expect(lines[1]).toBe("10:00:00 event 1");
  });

  it("says when there are no events yet", () => {
    expect(show(<EventLog events={[]} lines={3} width={80} />)).toContain("no events yet");
  });
});

describe("KeyHints, Confirm and StatusLine", () => {
  it("offer the keys the phase allows, space as pause or resume", () => {
    expect(show(<KeyHints phase="Progressing" keysEnabled width={80} />)).toBe(
      " p  promote   a  abort   space  pause   q  quit",
    );
    unmount?.();
    expect(show(<KeyHints phase="Paused" keysEnabled width={80} />)).toContain("space  resume");
  });

  it("offer only quit once the rollout is over", () => {
    const text = show(<KeyHints phase="RolledBack" keysEnabled width={80} />);
    expect(text).toBe(" q  quit  rollout RolledBack: nothing left to do");
  });

  it("say the screen is watch-only without a terminal on stdin", () => {
    expect(show(<KeyHints phase="Progressing" keysEnabled={false} width={80} />)).toContain("watch only");
  });

  it("ask before aborting, and show results", () => {
    expect(show(<Confirm question="abort rollout checkout?" width={80} />)).toBe(
      "abort rollout checkout? y/n",
    );
    unmount?.();
    expect(
      show(<StatusLine status={{ kind: "error", text: "promote failed: forbidden" }} width={80} />),
    ).toBe("✗ promote failed: forbidden");
  });
});
