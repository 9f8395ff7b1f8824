import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_ANNOTATION } from "../../src/api/commands.ts";
import { type Run, runRollout } from "../support/cli-run.ts";
import { ROLLOUT_TYPE, statusOf } from "../support/cluster.ts";
import { type ControllerWorld, startControllerWorld, TEST_PROFILE } from "../support/controller-world.ts";

// The `rollout` CLI as CI runs it: no terminal (stdio pipes), against the API emulator with the
// controller running as its own process. Exit codes are the README's: 0 promoted, 1 rolled back,
// 2 invalid input, 3 timed out, 4 paused at a manual gate, 5 cannot reach the cluster; a failure is one
// line on stderr, never a stack trace.

const NS = "shop";

let world: ControllerWorld;
let dir: string;

const rollout = runRollout;

/** The flags that point a command at the emulator. */
const at = () => ["--kubeconfig", world.cluster.kubeconfig, "-n", NS];

/** What a run printed, for failure messages. */
const shown = (run: Run) =>
  `exit ${run.code}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}--- ${world.state()}`;

const nonEmptyLines = (text: string) => text.split("\n").filter((line) => line.trim() !== "");

/** A failure: exactly one line on stderr, prefixed `rollout:`, and no stack frame anywhere. */
function expectOneErrorLine(run: Run): string {
  const lines = nonEmptyLines(run.stderr);
  expect(lines, shown(run)).toHaveLength(1);
  expect(lines[0]).toMatch(/^rollout: \S/);
  expect(run.stderr + run.stdout, shown(run)).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

/** Every stdout line a plain progress line after the `started revision` line: UTC time, then the phase. */
function expectPlainLines(run: Run, name: string): string[] {
  const lines = nonEmptyLines(run.stdout);
  expect(lines[0], shown(run)).toMatch(new RegExp(`^started revision [0-9a-f]+ of ${NS}/${name}$`));
  const progress = lines.slice(1);
  expect(progress.length, shown(run)).toBeGreaterThan(0);
  for (const line of progress) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S/);
  // no terminal control sequences: this is not the TUI
  expect(run.stdout.includes("\u001b[")).toBe(false);
  return progress;
}

/** The line a wait that did not end well closes with: one line on stderr, after all progress. */
function expectClosingLine(run: Run): string {
  const line = expectOneErrorLine(run);
  return line.slice("rollout: ".length);
}

const ANALYSED = [{ setWeight: 20 }, { analysis: {} }];
const GATED = [{ setWeight: 20 }, { pause: {} }];
const TIMED = [{ setWeight: 20 }, { pause: { duration: "10m" } }];
const ROLLOUTS: Record<string, { steps: unknown[]; errorRate: number }> = {
  healthy: { steps: ANALYSED, errorRate: 0.001 },
  failing: { steps: ANALYSED, errorRate: 0.3 },
  held: { steps: GATED, errorRate: 0.001 },
  gate: { steps: GATED, errorRate: 0.001 },
  timed: { steps: TIMED, errorRate: 0.001 },
  waiting: { steps: GATED, errorRate: 0.001 },
  aborted: { steps: GATED, errorRate: 0.001 },
  deleted: { steps: GATED, errorRate: 0.001 },
  interrupted: { steps: GATED, errorRate: 0.001 },
  manual: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }, { pause: {} }], errorRate: 0.001 },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stepwise-cli-e2e-"));
  world = await startControllerWorld(NS, ROLLOUTS);
}, 180_000);

afterAll(async () => {
  await world?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function commandOf(name: string): Promise<{ id: string; type: string; weight?: number } | undefined> {
  const object = await world.cluster.client.get({ ...ROLLOUT_TYPE, namespace: NS, name });
  const text = object.metadata.annotations?.[COMMAND_ANNOTATION];
  return text === undefined ? undefined : JSON.parse(text);
}

describe.concurrent("rollout start --wait without a terminal: exit codes", () => {
  it("promoted: 0, with plain progress lines ending Succeeded", { timeout: 240_000 }, async () => {
    const run = await rollout(["start", "healthy", "--image", "app=registry/app:2", "--wait", ...at()]);
    expect(run.code, shown(run)).toBe(0);
    const lines = expectPlainLines(run, "healthy");
    expect(lines.at(-1)).toMatch(/ Succeeded .*weight 0% \(applied 0%/);
    expect(
      lines.some((line) => / weight 20% \(applied 20%/.test(line)),
      shown(run),
    ).toBe(true);
    const status = await statusOf(world.cluster.client, NS, "healthy");
    expect(status.phase).toBe("Succeeded");
    expect(run.stderr, shown(run)).toBe("");

    // The next release: the status still shows the first one's "Succeeded: <revision> promoted" when
    // `start` sets the new image; none of that may appear after `started revision`.
    const next = await rollout(["start", "healthy", "--image", "app=registry/app:3", "--wait", ...at()]);
    expect(next.code, shown(next)).toBe(0);
    const nextLines = expectPlainLines(next, "healthy");
    expect(status.revision).toBeDefined();
    for (const line of nextLines) expect(line, shown(next)).not.toContain(status.revision!);
    expect(nextLines[0], shown(next)).not.toMatch(/ Succeeded /);
    expect(nextLines.at(-1)).toMatch(/ Succeeded .*\| Succeeded: [0-9a-f]+ promoted/);
  });

  it("rolled back by failing metrics: 1; with -o json, one JSON object per line", {
    timeout: 240_000,
  }, async () => {
    const run = await rollout([
      "start",
      "failing",
      "--image",
      "app=registry/app:2",
      "--wait",
      "-o",
      "json",
      ...at(),
    ]);
    expect(run.code, shown(run)).toBe(1);
    const lines = nonEmptyLines(run.stdout);
    expect(lines.length, shown(run)).toBeGreaterThan(1);
    expect(run.stdout.endsWith("\n")).toBe(true);
    const objects = lines.map((line) => {
      const parsed: unknown = JSON.parse(line);
      expect(parsed, line).toBeTypeOf("object");
      expect(Array.isArray(parsed)).toBe(false);
      return parsed as Record<string, unknown>;
    });
    for (const object of objects) expect(object).toMatchObject({ rollout: "failing", namespace: NS });
    expect(objects[0]!.phase, shown(run)).not.toBe("Idle");
    const last = objects.at(-1)!;
    expect(last).toMatchObject({ phase: "RolledBack", weights: { desired: 0, applied: 0 } });
    expect(last.analysis).toContainEqual(expect.objectContaining({ profile: TEST_PROFILE, verdict: "Fail" }));
    expect(objects.some((o) => o.warning === true && /RolledBack/.test(String(o.event)))).toBe(true);
    // stdout stays JSON; why it ended and what to run next is the one line on stderr
    expect(expectClosingLine(run)).toMatch(
      new RegExp(
        `^rolled back: analysis failed: ${TEST_PROFILE}.*; details: rollout status failing -n ${NS}; to run this revision again: rollout retry failing -n ${NS}$`,
      ),
    );

    // status -o json: the same format, exactly one line
    const status = await rollout(["status", "failing", "-o", "json", ...at()]);
    expect(status.code, shown(status)).toBe(0);
    const statusLines = nonEmptyLines(status.stdout);
    expect(statusLines, shown(status)).toHaveLength(1);
    expect(JSON.parse(statusLines[0]!)).toMatchObject({ rollout: "failing", phase: "RolledBack" });
  });

  it("held at a manual gate past --timeout 3s: 3", { timeout: 240_000 }, async () => {
    const run = await rollout([
      "start",
      "held",
      "--image",
      "app=registry/app:2",
      "--wait",
      "--timeout",
      "3s",
      ...at(),
    ]);
    expect(run.code, shown(run)).toBe(3);
    expectPlainLines(run, "held");
    // where it was after 3s depends on the controller's pace; the line says it and what to run next
    expect(expectClosingLine(run)).toMatch(
      new RegExp(
        `^timed out after 3s (at step [12]/2 \\(weight \\d+%\\)|while \\w+|before the controller took up revision [0-9a-f]+[^;]*); (the rollout goes on: rollout status held -n ${NS} --watch|paused at a manual gate: rollout promote held -n ${NS} to continue, rollout abort held -n ${NS} to roll back|is it running\\? .*)$`,
      ),
    );
    // the rollout itself carries on to its gate
    await world.waitUntil("held", (s) => s.phase === "Paused", "Paused");
  });

  it("paused at a manual gate with --exit-on-pause: 4", { timeout: 240_000 }, async () => {
    const run = await rollout([
      "start",
      "gate",
      "--image",
      "app=registry/app:2",
      "--wait",
      "--exit-on-pause",
      ...at(),
    ]);
    expect(run.code, shown(run)).toBe(4);
    const lines = expectPlainLines(run, "gate");
    expect(lines.at(-1)).toMatch(/ Paused step 2\/2 weight 20% \(applied 20%/);
    const status = await statusOf(world.cluster.client, NS, "gate");
    expect(status).toMatchObject({ phase: "Paused", pauseReason: "manual gate" });
    expect(expectClosingLine(run)).toBe(
      `paused at a manual gate: rollout promote gate -n ${NS} to continue, rollout abort gate -n ${NS} to roll back`,
    );
  });
});

/** Sets a new image on NAME's Deployment, as `start` does, and waits until its rollout is where `done` says. */
async function release(name: string, done: Parameters<ControllerWorld["waitUntil"]>[1], what: string) {
  await world.cluster.client.jsonPatch({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name }, [
    { op: "replace", path: "/spec/template/spec/containers/0/image", value: "registry/app:2" },
  ]);
  return world.waitUntil(name, done, what);
}

describe.concurrent("status --watch: the closing line of each way a wait ends", () => {
  it("timed out in a timed pause: 3, at which step and weight, and that the rollout goes on", {
    timeout: 240_000,
  }, async () => {
    await release("timed", (s) => s.phase === "Progressing" && s.step === 1, "in the 10m pause");
    const run = await rollout(["status", "timed", "--watch", "--timeout", "2s", ...at()]);
    expect(run.code, shown(run)).toBe(3);
    expect(expectClosingLine(run)).toBe(
      `timed out after 2s at step 2/2 (weight 20%); the rollout goes on: rollout status timed -n ${NS} --watch`,
    );
  });

  it("timed out at a manual gate: 3, and the commands that move it on", { timeout: 240_000 }, async () => {
    await release("waiting", (s) => s.phase === "Paused" && s.step === 1, "at the manual gate");
    const run = await rollout(["status", "waiting", "--watch", "--timeout", "2s", ...at()]);
    expect(run.code, shown(run)).toBe(3);
    expect(expectClosingLine(run)).toBe(
      `timed out after 2s at step 2/2 (weight 20%); paused at a manual gate: rollout promote waiting -n ${NS} to continue, rollout abort waiting -n ${NS} to roll back`,
    );
  });

  it("aborted while watched: 1, rolled back by the abort, and how to run it again", {
    timeout: 240_000,
  }, async () => {
    await release("aborted", (s) => s.phase === "Paused" && s.step === 1, "at the manual gate");
    const watching = rollout(["status", "aborted", "--watch", ...at()]);
    const abort = await rollout(["abort", "aborted", ...at()]);
    expect(abort.code, shown(abort)).toBe(0);
    const run = await watching;
    expect(run.code, shown(run)).toBe(1);
    expect(expectClosingLine(run)).toBe(
      `rolled back: aborted by user; details: rollout status aborted -n ${NS}; to run this revision again: rollout retry aborted -n ${NS}`,
    );
  });

  it("stopped with Ctrl-C (SIGINT): 130, where it was and the commands that move it on", {
    timeout: 240_000,
  }, async () => {
    await release("interrupted", (s) => s.phase === "Paused" && s.step === 1, "at the manual gate");
    let watchUp: () => void = () => {};
    const up = new Promise<void>((resolve) => {
      watchUp = resolve;
    });
    let child: ChildProcess | undefined;
    const watching = rollout(
      ["status", "interrupted", "--watch", ...at()],
      150_000,
      (stdout) => {
        if (/ Paused /.test(stdout)) watchUp();
      },
      (spawned) => {
        child = spawned;
      },
    );
    await Promise.race([up, watching]);
    child!.kill("SIGINT");
    const run = await watching;
    expect(run.code, shown(run)).toBe(130);
    expect(expectClosingLine(run)).toBe(
      `stopped with Ctrl-C at step 2/2 (weight 20%); paused at a manual gate: rollout promote interrupted -n ${NS} to continue, rollout abort interrupted -n ${NS} to roll back`,
    );
  });

  it("deleted while watched: 1, saying so", { timeout: 240_000 }, async () => {
    await release("deleted", (s) => s.phase === "Paused" && s.step === 1, "at the manual gate");
    // the watch must be up before the delete, or the command only finds no rollout (exit 2)
    let watchUp: () => void = () => {};
    const up = new Promise<void>((resolve) => {
      watchUp = resolve;
    });
    const watching = rollout(["status", "deleted", "--watch", ...at()], 150_000, (stdout) => {
      if (/ Paused /.test(stdout)) watchUp();
    });
    await Promise.race([up, watching]);
    await world.cluster.client.delete({ ...ROLLOUT_TYPE, namespace: NS, name: "deleted" });
    const run = await watching;
    expect(run.code, shown(run)).toBe(1);
    expect(expectClosingLine(run)).toBe(`the rollout ${NS}/deleted was deleted while waiting`);
  });
});

/** A kubeconfig file with `text`, in the test's directory. */
async function kubeconfigFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe.concurrent("failures: one line on stderr, the documented exit code, no stack trace", () => {
  it("a missing rollout: 2 (status and start --wait)", { timeout: 180_000 }, async () => {
    const [status, start] = await Promise.all([
      rollout(["status", "missing", ...at()]),
      rollout(["start", "missing", "--image", "app=registry/app:2", "--wait", ...at()]),
    ]);
    expect(status.code, shown(status)).toBe(2);
    expect(expectOneErrorLine(status)).toBe(`rollout: rollout ${NS}/missing not found`);
    expect(status.stdout).toBe("");
    expect(start.code, shown(start)).toBe(2);
    expect(expectOneErrorLine(start)).toBe(`rollout: rollout ${NS}/missing not found`);
  });

  it("a kubeconfig that is missing or not a kubeconfig: 5", { timeout: 180_000 }, async () => {
    const notAKubeconfig = await kubeconfigFile("not-a-kubeconfig", "hello world\n");
    const runs = await Promise.all([
      rollout(["status", "healthy", "--kubeconfig", notAKubeconfig]),
      rollout(["status", "healthy", "--kubeconfig", join(dir, "no-such-file")]),
    ]);
    for (const run of runs) {
      expect(run.code, shown(run)).toBe(5);
      expect(expectOneErrorLine(run)).toMatch(/kubeconfig/);
    }
  });

  it("a kubeconfig that is not valid YAML: 5", { timeout: 180_000 }, async () => {
    const syntaxError = await kubeconfigFile("syntax-error", "apiVersion: v1\nclusters: [\n  - name: {\n");
    const run = await rollout(["status", "healthy", "--kubeconfig", syntaxError]);
    expect(run.code, shown(run)).toBe(5);
    expect(expectOneErrorLine(run)).toMatch(/^rollout: cannot load the kubeconfig .*syntax-error/);
  });

  it("an unreachable API server (127.0.0.1:1): 5", { timeout: 180_000 }, async () => {
    const unreachable = await kubeconfigFile(
      "unreachable",
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: nowhere",
        "  cluster: {server: 'http://127.0.0.1:1'}",
        "users:",
        "- name: someone",
        "  user: {token: abc}",
        "contexts:",
        "- name: nowhere",
        "  context: {cluster: nowhere, user: someone, namespace: shop}",
        "current-context: nowhere",
        "",
      ].join("\n"),
    );
    const run = await rollout(["status", "healthy", "--kubeconfig", unreachable]);
    expect(run.code, shown(run)).toBe(5);
    expect(expectOneErrorLine(run)).toMatch(/cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:1/);
  });

  it("numeric flags out of range: 2, naming the flag and what it expects", async () => {
    const runs = await Promise.all([
      rollout(["controller", "--scrape", "http://127.0.0.1:1", "--qps", "0", ...at()]),
      rollout(["controller", "--scrape", "http://127.0.0.1:1", "--workers", "1.5", ...at()]),
      rollout(["sandbox", "--rps", "abc"]),
    ]);
    for (const run of runs) expect(run.code, shown(run)).toBe(2);
    expect(runs.map(expectOneErrorLine)).toEqual([
      "rollout: --qps 0: expected a positive number",
      "rollout: --workers 1.5: expected a whole number >= 1",
      "rollout: --rps abc: expected a positive number",
    ]);
  });
});

describe("manual commands write the command annotation, and the controller applies it", () => {
  it("set-weight abc: 2 and nothing written; set-weight 30, promote, abort: 0 each, applied in turn", {
    timeout: 240_000,
  }, async () => {
    await world.cluster.client.jsonPatch(
      { apiVersion: "apps/v1", kind: "Deployment", namespace: NS, name: "manual" },
      [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "registry/app:2" }],
    );
    await world.waitUntil(
      "manual",
      (s) => s.phase === "Paused" && s.pauseReason === "manual gate" && s.step === 1,
      "the first manual gate",
    );

    const [abc, tooMuch] = await Promise.all([
      rollout(["set-weight", "manual", "abc", ...at()]),
      rollout(["set-weight", "manual", "101", ...at()]),
    ]);
    expect(abc.code, shown(abc)).toBe(2);
    expect(expectOneErrorLine(abc)).toBe('rollout: PERCENT must be a number from 0 to 100, not "abc"');
    expect(tooMuch.code, shown(tooMuch)).toBe(2);
    expectOneErrorLine(tooMuch);
    expect(await commandOf("manual")).toBeUndefined();

    const weight = await rollout(["set-weight", "manual", "30", ...at()]);
    expect(weight.code, shown(weight)).toBe(0);
    expect(weight.stdout).toMatch(/^set-weight sent to shop\/manual/);
    const weighted = await commandOf("manual");
    expect(weighted).toMatchObject({ type: "set-weight", weight: 30 });
    await world.waitUntil(
      "manual",
      (s) => s.lastCommand?.id === weighted?.id && s.phase === "Paused" && s.weights?.applied === 30,
      "paused at 30% by set-weight",
    );

    const promote = await rollout(["promote", "manual", ...at()]);
    expect(promote.code, shown(promote)).toBe(0);
    expect(promote.stdout).toMatch(/^promote sent to shop\/manual/);
    const promoted = await commandOf("manual");
    expect(promoted).toMatchObject({ type: "promote" });
    expect(promoted?.id).not.toBe(weighted?.id);
    // past the first gate: 40%, then the second gate
    await world.waitUntil(
      "manual",
      (s) => s.lastCommand?.id === promoted?.id && s.phase === "Paused" && s.step === 3,
      "the second manual gate after promote",
    );

    const abort = await rollout(["abort", "manual", ...at()]);
    expect(abort.code, shown(abort)).toBe(0);
    const aborted = await commandOf("manual");
    expect(aborted).toMatchObject({ type: "abort" });
    expect(aborted?.id).not.toBe(promoted?.id);
    const status = await world.waitUntil(
      "manual",
      (s) => s.lastCommand?.id === aborted?.id && s.phase === "RolledBack",
      "RolledBack after abort",
    );
    expect(status.weights?.applied).toBe(0);
  });
});
