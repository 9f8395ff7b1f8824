/**
 * The CLI's habits, against the API emulator over HTTP with a Rollout whose status the test writes (no
 * controller needed to show one): `-o yaml` next to `-o json` where an object is shown (status, list),
 * the same fields in both; and NO_COLOR honoured by the TUI in a real terminal (tmux), whose colours
 * otherwise come through.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { run } from "../integration/manifests/support.ts";
import {
  canaryRollout,
  deployment,
  ROLLOUT_TYPE,
  ROOT,
  startTestCluster,
  type TestCluster,
} from "../support/cluster.ts";
import { HAS_TMUX, interactiveEnv, TmuxSession, warnIfNoTmux } from "../support/tmux.ts";

warnIfNoTmux("the NO_COLOR test (test/e2e/output-formats.test.ts)");

let cluster: TestCluster;
const NAME = "checkout";

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.client.create(deployment(NAME, cluster.namespace, "shop/checkout:1"));
  await cluster.client.create(canaryRollout(NAME, cluster.namespace, [{ setWeight: 20 }, { pause: {} }]));
  await cluster.client.mergePatchStatus(
    { ...ROLLOUT_TYPE, namespace: cluster.namespace, name: NAME },
    {
      status: {
        phase: "Paused",
        step: 1,
        revision: "abc123",
        stableRevision: "def456",
        pauseReason: "manual gate",
        message: "Paused: waiting at a manual gate",
        weights: { desired: 20, applied: 20 },
      },
    },
  );
});

afterAll(async () => {
  await cluster?.close();
});

const rollout = (args: string[], env: NodeJS.ProcessEnv = interactiveEnv()) =>
  run(
    process.execPath,
    [join(ROOT, "cli/bin/rollout.js"), ...args, "--kubeconfig", cluster.kubeconfig, "-n", cluster.namespace],
    { env, timeoutMs: 60_000 },
  );

describe("-o yaml", () => {
  it("rollout status -o yaml shows the object -o json shows, as YAML", async () => {
    const json = await rollout(["status", NAME, "-o", "json"]);
    const yaml = await rollout(["status", NAME, "-o", "yaml"]);
    expect([json.code, yaml.code, yaml.stderr]).toEqual([0, 0, ""]);
    const object = JSON.parse(json.stdout);
    expect(object).toMatchObject({ phase: "Paused" });
    expect(yaml.stdout).not.toMatch(/^\{/);
    // the same fields and values, but the time each was printed
    expect({ ...parse(yaml.stdout), time: undefined }).toEqual({ ...object, time: undefined });
  });

  it("rollout list -o yaml is one YAML list of the objects -o json prints one per line", async () => {
    const json = await rollout(["list", "-o", "json"]);
    const yaml = await rollout(["list", "-o", "yaml"]);
    expect([json.code, yaml.code, yaml.stderr]).toEqual([0, 0, ""]);
    const rows = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toEqual([expect.objectContaining({ name: NAME, phase: "Paused", weight: 20 })]);
    // the same fields and values, but the age, a second or more later
    const ageless = (list: Record<string, unknown>[]) => list.map((row) => ({ ...row, age: undefined }));
    expect(ageless(parse(yaml.stdout))).toEqual(ageless(rows));
  });

  it("refuses -o yaml with --watch (a stream of objects) and an unknown format, exit 2", async () => {
    const watch = await rollout(["status", NAME, "--watch", "-o", "yaml"]);
    expect(watch.code).toBe(2);
    expect(watch.stderr.trim()).toBe("rollout: -o yaml shows the status once; with --watch use -o json");
    const xml = await rollout(["list", "-o", "xml"]);
    expect(xml.code).toBe(2);
    expect(xml.stderr).toContain("Allowed choices are json, yaml");
  });
});

describe.skipIf(!HAS_TMUX)("NO_COLOR", () => {
  /** The TUI of `rollout watch` in an 80x24 tmux pane, captured with its escape sequences. */
  async function watchScreen(env: string): Promise<string> {
    const session = await TmuxSession.start({ cwd: ROOT, width: 80, height: 24 });
    try {
      await session.type(
        `${env} node cli/bin/rollout.js watch ${NAME} --kubeconfig '${cluster.kubeconfig}' -n ${cluster.namespace}`,
      );
      await session.waitFor(/canary [█▒░]+ desired/, { what: "the weight bar", timeoutMs: 60_000 });
      const screen = await session.tmux("capture-pane", "-p", "-e", "-t", TmuxSession.target);
      await session.press("q");
      return screen;
    } finally {
      await session.kill();
    }
  }

  // a colour: SGR 30-37, 90-97, or 38;5 / 38;2 (foreground)
  const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;[25])[;m]`);

  it("the TUI shows colours in a terminal, and none with NO_COLOR=1", async () => {
    expect(await watchScreen("env -u NO_COLOR")).toMatch(COLOUR);
    const plain = await watchScreen("NO_COLOR=1");
    expect(plain).toContain("desired");
    expect(plain).not.toMatch(COLOUR);
  }, 150_000);
});
