import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_ANNOTATION } from "../../src/api/commands.ts";
import { ROOT, statusOf } from "../support/cluster.ts";
import { type ControllerWorld, startControllerWorld } from "../support/controller-world.ts";
import { HAS_TMUX, overlongLines, TmuxSession, warnIfNoTmux } from "../support/tmux.ts";

// The terminal UI as a user sees it: `rollout start --wait` and `rollout watch` in a real 80x24 terminal
// (tmux) with CI unset, against the API emulator and the controller running as its own process. Keys
// are typed into the pane and the screen is read back with capture-pane.

const NS = "shop";
/** A manual gate at 20%, another at 60%, then the final gate (analysis, promotion). */
const GATED_STEPS = [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }];

warnIfNoTmux("the TUI end-to-end test (test/e2e/tui.test.ts)");

let world: ControllerWorld;

/** The command line a user types: the CLI against the emulator, then its exit code on a line of its own. */
function rolloutCommand(args: string): string {
  return `node cli/bin/rollout.js ${args} --kubeconfig '${world.cluster.kubeconfig}' -n ${NS}; echo EXIT=$?`;
}

/** Lines of the screen holding `text`. */
const linesWith = (screen: string, text: string) => screen.split("\n").filter((line) => line.includes(text));
/** The weight bar's line: the canary's weights while it runs, the final split once it has ended. */
const weightBar = (screen: string) =>
  screen.split("\n").find((line) => /^canary [█▒░]+ desired /.test(line) || /^final {2}[█░]+ /.test(line));

/** Where the analysis panel's rule runs at 80 columns: after the 33-column step ladder and a blank. */
const RULE_COLUMN = 34;

/** The rows of the steps and analysis panels: from the "Steps" title down to the rows before the events. */
function panelRows(screen: string): string[] {
  const lines = screen.split("\n");
  const top = lines.findIndex((line) => line.startsWith("Steps"));
  const bottom = lines.findIndex(
    (line, i) => i > top && (line.startsWith("Events") || line.startsWith("FAULT")),
  );
  return top < 0 || bottom < 0 ? [] : lines.slice(top, bottom);
}

/** The last frame Ink left on the terminal: from the last header line to the end. */
function lastFrame(history: string, name: string): string {
  const lines = history.split("\n");
  const start = lines.findLastIndex((line) => line.startsWith(`${name} · ${NS} · canary via istio`));
  return start < 0 ? "" : lines.slice(start).join("\n");
}

/**
 * Checks that the screen fits the 80x24 pane: no line wider than 80 columns even with wrapped lines
 * joined, no more than 24 lines, and one header in the whole scrollback, so Ink redrew the frame in
 * place instead of scrolling copies of it.
 */
async function expectFrameFits(session: TmuxSession, name: string): Promise<void> {
  const screen = await session.capture({ join: true });
  // the closing line of a non-zero exit comes after the frame, as plain text that may wrap
  const frame = screen
    .split("\n")
    .filter((line) => !line.startsWith("rollout: "))
    .join("\n");
  expect(overlongLines(frame, 80), screen).toEqual([]);
  expect(screen.split("\n").length).toBeLessThanOrEqual(24);
  const history = await session.capture({ history: true, join: true });
  expect(linesWith(history, `${name} · ${NS} · canary via istio`), history).toHaveLength(1);
}

beforeAll(async () => {
  if (!HAS_TMUX) return; // every test below is skipped
  const steady = { steps: GATED_STEPS, errorRate: 0.001 };
  world = await startControllerWorld(NS, { gated: steady, doomed: steady, steady });
}, 180_000);

afterAll(() => world?.close());

/** Runs `body` with a fresh 80x24 tmux pane, and stops its server whatever happens. */
async function inTerminal(body: (session: TmuxSession) => Promise<void>): Promise<void> {
  const session = await TmuxSession.start({ cwd: ROOT, width: 80, height: 24 });
  try {
    await body(session);
  } catch (error) {
    if (error instanceof Error) error.message += `\n${world.state()}`;
    throw error;
  } finally {
    await session.kill();
  }
}

/** The screen at a manual gate of `name`: Paused, `weight` on the canary, "manual gate" as the reason. */
function atGate(name: string, weight: number) {
  return (screen: string) =>
    screen.includes(`${name} · ${NS} · canary via istio · Paused`) &&
    screen.includes("» manual gate") &&
    new RegExp(`desired ${weight}%\\s+applied ${weight}%`).test(weightBar(screen) ?? "");
}

/**
 * Presses p: when a verdict is not Pass the TUI asks first, naming it, and y confirms; with Pass (or no
 * verdict yet) it promotes at once. Which one depends on how far the analysis has got.
 */
async function promote(session: TmuxSession, name: string): Promise<void> {
  await session.press("p");
  const question = /^promote \S+ past .*\? y\/n$/m;
  // either the question, or the rollout leaves the gate (promoted without one)
  const next = await session.waitFor((text) => question.test(text) || !text.includes("» manual gate"), {
    timeoutMs: 60_000,
    what: "the promote question, or the rollout past the gate",
  });
  if (!question.test(next)) return;
  expect(next).toMatch(
    new RegExp(`^promote ${name} past fast-availability (NoData|Inconclusive|Fail|Error)\\? y/n$`, "m"),
  );
  await session.press("y");
}

describe.skipIf(!HAS_TMUX)("rollout TUI in an 80x24 terminal (tmux, CI unset)", () => {
  it("start --wait: 20% at the first gate, p, 60% at the second, p, promoted and exit code 0", {
    timeout: 240_000,
  }, async () => {
    await inTerminal(async (session) => {
      await session.type(rolloutCommand("start gated --image app=registry/app:2 --wait"));
      // the TUI, not plain lines: the header and the key hints
      await session.waitFor(/^gated · shop · canary via istio · /m, { timeoutMs: 90_000, what: "the TUI" });
      const first = await session.waitFor(atGate("gated", 20), {
        timeoutMs: 120_000,
        what: "the first manual gate at 20%",
      });
      expect(first).toMatch(/^ p {2}promote\s+ a {2}abort\s+ space {2}resume\s+ q {2}quit$/m);
      expect(first).toMatch(/^▸\s+2 manual gate/m);
      expect(first).toMatch(/step 2\/4/);
      expect(weightBar(first)).toMatch(/^canary █+░+ desired 20%/);
      expect(first).not.toMatch(/^\d{4}-\d\d-\d\dT/m); // no plain progress lines
      // steps and analysis are separate panels: a rule runs between them on every row
      const rows = panelRows(first);
      expect(rows.length, first).toBeGreaterThanOrEqual(5);
      for (const row of rows) expect(row.charAt(RULE_COLUMN), `${row}\n${first}`).toBe("│");
      expect(rows[0]!.slice(RULE_COLUMN)).toMatch(/^│ Analysis /);
      await expectFrameFits(session, "gated");

      await promote(session, "gated");
      const second = await session.waitFor(atGate("gated", 60), {
        timeoutMs: 120_000,
        what: "the second manual gate at 60%",
      });
      expect(second).toMatch(/^✓\s+2 manual gate/m);
      expect(second).toMatch(/^✓\s+3 weight 60%/m);
      expect(second).toMatch(/^▸\s+4 manual gate/m);
      expect(second).toMatch(/✓ promote requested/);
      // more of the bar is on the canary than at 20%
      const cells = (screen: string) => (weightBar(screen)!.match(/█/g) ?? []).length;
      expect(cells(second)).toBeGreaterThan(cells(first));
      await expectFrameFits(session, "gated");

      await promote(session, "gated");
      expect(await session.exitCode(120_000)).toBe(0);
      const history = await session.capture({ history: true });
      const frame = lastFrame(history, "gated");
      expect(frame).toMatch(/^gated · shop · canary via istio · Succeeded · took /m);
      expect(frame).toMatch(/✓ promote requested/);
      expect(frame).toMatch(/^✓\s+= final check, promote/m);
      // the new version has all the traffic (as the primary now): the bar says so and the outcome,
      // not the canary's "desired 0% applied 0%"
      expect(weightBar(frame)).toMatch(/^final {2}█+ new version 100% · promoted$/);
      expect(frame).toMatch(/^EXIT=0$/m);
      await expectFrameFits(session, "gated");
    });
    const status = await statusOf(world.cluster.client, NS, "gated");
    expect(status.phase).toBe("Succeeded");
    expect(status.stableRevision).toBe(status.revision);
  });

  it("start --wait: a asks first (n cancels), a then y aborts, RolledBack and exit code 1", {
    timeout: 240_000,
  }, async () => {
    await inTerminal(async (session) => {
      await session.type(rolloutCommand("start doomed --image app=registry/app:2 --wait"));
      await session.waitFor(atGate("doomed", 20), { timeoutMs: 150_000, what: "the manual gate at 20%" });

      await session.press("a");
      await session.waitFor(/^abort rollout doomed\? y\/n$/m, { what: "the abort question" });
      await session.press("n");
      const cancelled = await session.waitFor(/^… abort cancelled$/m, { what: "abort cancelled" });
      expect(cancelled).toMatch(/^ p {2}promote\s+ a {2}abort/m);
      expect(cancelled).toContain("doomed · shop · canary via istio · Paused");

      await session.press("a");
      await session.waitFor(/^abort rollout doomed\? y\/n$/m, { what: "the abort question" });
      await session.press("y");
      expect(await session.exitCode(120_000)).toBe(1);
      const frame = lastFrame(await session.capture({ history: true }), "doomed");
      expect(frame).toMatch(/^doomed · shop · canary via istio · RolledBack · took /m);
      expect(frame).toMatch(/✓ abort requested/);
      expect(frame).toMatch(/^\d\d:\d\d:\d\d ! RolledBack: /m); // the rollback is a warning in the event log
      expect(weightBar(frame)).toMatch(/^final {2}░+ new version 0% · rolled back$/);
      // after the screen, one line: why it ended and what to run next
      const joined = await session.capture({ history: true, join: true });
      expect(joined).toMatch(
        /^rollout: rolled back: aborted by user; details: rollout status doomed -n shop; to run this revision again: rollout retry doomed -n shop$/m,
      );
      await expectFrameFits(session, "doomed");
    });
    const status = await statusOf(world.cluster.client, NS, "doomed");
    expect(status.phase).toBe("RolledBack");
    expect(status.stableRevision).not.toBe(status.revision);
  });

  it("watch: stays on screen after the state is shown, keys that do nothing say so, q quits with 0", {
    timeout: 180_000,
  }, async () => {
    await inTerminal(async (session) => {
      await session.type(rolloutCommand("watch steady"));
      const screen = await session.waitFor(
        (text) => text.includes("steady · shop · canary via istio · Idle") && /^ q {2}quit/m.test(text),
        { timeoutMs: 90_000, what: "the Idle rollout with q as the only key" },
      );
      expect(screen).not.toMatch(/ p {2}promote/);
      await session.press("p");
      await session.waitFor(/^… nothing to promote while Idle$/m, { what: "the refused promote" });
      // watch does not end by itself
      expect(await session.capture({ history: true })).not.toMatch(/^EXIT=/m);
      await expectFrameFits(session, "steady");
      await session.press("q");
      expect(await session.exitCode(60_000)).toBe(0);
    });
    // the refused key sent nothing
    const object = await world.cluster.client.get({
      apiVersion: "stepwise.dev/v1alpha1",
      kind: "Rollout",
      namespace: NS,
      name: "steady",
    });
    expect(object.metadata.annotations?.[COMMAND_ANNOTATION]).toBeUndefined();
  });

  it("status --watch --timeout 2s: the screen ends, then one line says why, exit 3", {
    timeout: 120_000,
  }, async () => {
    await inTerminal(async (session) => {
      await session.type(rolloutCommand("status steady --watch --timeout 2s"));
      expect(await session.exitCode(60_000)).toBe(3);
      const joined = await session.capture({ history: true, join: true });
      expect(lastFrame(joined, "steady")).toMatch(/^steady · shop · canary via istio · Idle/m);
      expect(joined).toMatch(
        /^rollout: timed out after 2s while Idle; the rollout goes on: rollout status steady -n shop --watch$/m,
      );
    });
  });

  it("watch against an API server slow to answer: the first frame says connecting… at once, then exit 5", {
    timeout: 120_000,
  }, async () => {
    // accepts connections and answers none; hangs up after 8 s, as a dead load balancer might
    const silent = createServer((socket) => setTimeout(() => socket.destroy(), 8_000));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), "stepwise-tui-"));
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: slow, cluster: {server: 'http://127.0.0.1:${port}'}}]`,
        "users: [{name: someone, user: {token: abc}}]",
        "contexts: [{name: slow, context: {cluster: slow, user: someone, namespace: shop}}]",
        "current-context: slow",
        "",
      ].join("\n"),
    );
    try {
      await inTerminal(async (session) => {
        await session.type(`node cli/bin/rollout.js watch steady --kubeconfig '${kubeconfig}'; echo EXIT=$?`);
        // the screen is up before the watch has an answer (it never gets one)
        const connecting = await session.waitFor(/^◌ connecting to the cluster…$/m, {
          timeoutMs: 60_000,
          what: "the connecting frame",
        });
        expect(connecting).toMatch(/^waiting for the rollout from the watch…$/m);
        expect(await session.exitCode(60_000)).toBe(5);
        const joined = await session.capture({ history: true, join: true });
        expect(joined).toMatch(/^rollout: cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:\d+/m);
        expect(joined).not.toMatch(/^\s+at /m);
      });
    } finally {
      silent.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
