/**
 * Refusals are visible where users look (issue 15): with the controller running as its own process
 * against the API emulator, a Rollout the controller refuses to drive (a spec that breaks a rule the CRD
 * schema cannot express; a route whose other destination leaves the canary too little) shows the refusal
 * in `rollout status`, `rollout list` (REASON) and `kubectl get rollouts` (the Reason printer column), and
 * `rollout start --wait` / `status --watch` end with it and exit 2 instead of waiting to their timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RolloutStatus } from "../../src/api/rollout.ts";
import { run } from "../integration/manifests/support.ts";
import { type Run, runRollout } from "../support/cli-run.ts";
import { canaryRollout, deployment, ROLLOUT_TYPE, ROOT, type Status } from "../support/cluster.ts";
import { type ControllerWorld, startControllerWorld } from "../support/controller-world.ts";
import { HAS_TMUX, TmuxSession, warnIfNoTmux } from "../support/tmux.ts";

const NS = "refusals";
warnIfNoTmux("the refusal's TUI test (test/e2e/refusals.test.ts)");
let world: ControllerWorld;

/** `rollout ARGS` against the emulator, without a terminal (as CI runs it). */
const rollout = (args: string[], timeoutMs = 120_000) =>
  runRollout([...args, "--kubeconfig", world.cluster.kubeconfig, "-n", NS], timeoutMs);

const shown = (result: Run) =>
  `exit ${result.code}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}--- ${world.state()}`;
/** Whether a status (as the test cluster reads it) has condition `type` False. */
const isFalse = (status: Status, type: string) =>
  ((status as RolloutStatus).conditions ?? []).some((c) => c.type === type && c.status === "False");
const lastLine = (text: string) => text.trimEnd().split("\n").at(-1) ?? "";

/** The rule the CRD schema cannot express, so the API server stores the spec and the controller holds it. */
const DECREASING =
  "spec.strategy.canary.steps[1].setWeight: must not be lower than the weight of an earlier step (50)";
/** The route's other destination keeps 10%, so a 95% step cannot be given (WeightNotExpressible). */
const TOO_HIGH = /the canary cannot get 95% of the managed route's traffic/;

/**
 * A Rollout at a user's VirtualService whose managed route also sends 10% to a Service of its own
 * ("legacy"), with a 95% step the route cannot give.
 */
async function createCrowded(name: string): Promise<void> {
  const client = world.cluster.client;
  world.metrics.set(NS, name, 2_000, 0.001);
  world.metrics.set(NS, `${name}-primary`, 8_000, 0.001);
  await client.create({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: NS },
    spec: {
      hosts: [name],
      http: [
        {
          name: "split",
          route: [
            { destination: { host: `${name}-primary` }, weight: 90 },
            { destination: { host: "legacy" }, weight: 10 },
          ],
        },
      ],
    },
  });
  await client.create(deployment(name, NS, "registry/app:1"));
  await client.create(
    canaryRollout(name, NS, [{ setWeight: 95 }, { pause: {} }], {
      traffic: { provider: "istio", routeRef: { kind: "VirtualService", name }, routes: ["split"] },
    }),
  );
}

beforeAll(async () => {
  world = await startControllerWorld(NS, {
    valid: { steps: [{ setWeight: 20 }, { pause: {} }], errorRate: 0.001 },
  });
  const client = world.cluster.client;
  // an invalid spec, stored as written
  await client.create(deployment("invalid", NS, "registry/app:1"));
  await client.create(canaryRollout("invalid", NS, [{ setWeight: 50 }, { setWeight: 20 }]));
  for (const name of ["crowded", "crowded-tui"]) await createCrowded(name);
  await world.waitUntil("invalid", (s) => isFalse(s, "SpecValid"), "SpecValid=False");
  await world.waitUntil("crowded", (s) => s.phase === "Idle", "Idle");
  await world.waitUntil("crowded-tui", (s) => s.phase === "Idle", "Idle");
}, 180_000);

afterAll(async () => {
  await world?.close();
});

describe.concurrent("a refusal ends a wait at once: exit 2 and the refusal as the last line", () => {
  it("start --wait on a spec the controller holds as invalid", { timeout: 180_000 }, async () => {
    const result = await rollout([
      "start",
      "invalid",
      "--image",
      "registry/app:2",
      "--wait",
      "--timeout",
      "10m",
    ]);
    expect(result.code, shown(result)).toBe(2);
    expect(lastLine(result.stderr)).toBe(
      `rollout: refused: SpecValid=False InvalidSpec: invalid spec: ${DECREASING}; the rollout waits until this is fixed, then goes on by itself: rollout status invalid -n ${NS} --watch`,
    );
  });

  it("start --wait on a route that cannot give the canary its step (RouteReady)", {
    timeout: 180_000,
  }, async () => {
    const result = await rollout([
      "start",
      "crowded",
      "--image",
      "registry/app:2",
      "--wait",
      "--timeout",
      "10m",
    ]);
    expect(result.code, shown(result)).toBe(2);
    const line = lastLine(result.stderr);
    expect(line).toMatch(/^rollout: refused: RouteReady=False WeightNotExpressible: /);
    expect(line).toMatch(TOO_HIGH);
    expect(line).toMatch(new RegExp(`then goes on by itself: rollout status crowded -n ${NS} --watch$`));
    // the plain progress lines said so too, as a warning
    expect(result.stdout).toMatch(/\| warning: refused: RouteReady=False WeightNotExpressible: /);

    // status --watch of the same revision ends the same way
    const watched = await rollout(["status", "crowded", "--watch", "--timeout", "10m"]);
    expect(watched.code, shown(watched)).toBe(2);
    expect(lastLine(watched.stderr)).toBe(line);

    // rollout status prints the refusing condition under the progress line
    const status = await rollout(["status", "crowded"]);
    expect(status.code, shown(status)).toBe(0);
    expect(status.stdout).toMatch(
      /\nrefused: RouteReady=False WeightNotExpressible: .*the canary cannot get 95%/,
    );
  });
});

describe("a refusal from the route object itself", () => {
  it("start --wait on a Rollout whose routeRef object does not exist (RouteNotFound)", {
    timeout: 180_000,
  }, async () => {
    const client = world.cluster.client;
    await client.create(deployment("unrouted", NS, "registry/app:1"));
    await client.create(
      canaryRollout("unrouted", NS, [{ setWeight: 20 }], {
        traffic: { provider: "istio", routeRef: { kind: "VirtualService", name: "nowhere" } },
      }),
    );
    const result = await rollout([
      "start",
      "unrouted",
      "--image",
      "registry/app:2",
      "--wait",
      "--timeout",
      "10m",
    ]);
    expect(result.code, shown(result)).toBe(2);
    expect(lastLine(result.stderr)).toMatch(
      new RegExp(
        `^rollout: refused: RouteReady=False RouteNotFound: VirtualService ${NS}/nowhere: does not exist; create it, or fix spec.traffic.routeRef; the rollout waits`,
      ),
    );
  });
});

describe("the refusal's reason in the lists", () => {
  it("rollout list: a REASON column, empty (-) where nothing is refused", { timeout: 180_000 }, async () => {
    await world.waitUntil("crowded", (s) => isFalse(s, "RouteReady"), "RouteReady=False");
    const result = await rollout(["list"]);
    expect(result.code, shown(result)).toBe(0);
    const rows = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => line.split(/\s{2,}/));
    expect(rows[0]).toEqual(["NAME", "PHASE", "STEP", "WEIGHT", "REVISION", "REASON", "AGE"]);
    const reasonOf = (name: string) => rows.find((row) => row[0] === name)?.[5];
    expect(reasonOf("crowded")).toBe("WeightNotExpressible");
    expect(reasonOf("invalid")).toBe("InvalidSpec");
    expect(reasonOf("valid")).toBe("-");
  });

  it("kubectl get rollouts: the Reason printer column", { timeout: 180_000 }, async () => {
    const result = await run("kubectl", [
      "--kubeconfig",
      world.cluster.kubeconfig,
      "get",
      "rollouts",
      "-n",
      NS,
    ]);
    expect(result.code, result.stderr).toBe(0);
    // kubectl aligns its columns (an empty cell is blanks), so a cell is read at its header's offset
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    const reason = header!.indexOf("REASON");
    expect(reason, result.stdout).toBeGreaterThan(0);
    const reasonOf = (name: string) =>
      rows
        .find((row) => row.startsWith(`${name} `))
        ?.slice(reason)
        .split(" ")[0];
    expect(reasonOf("crowded")).toBe("WeightNotExpressible");
    expect(reasonOf("invalid")).toBe("InvalidSpec");
    expect(reasonOf("valid")).toBe("Ready");
  });

  it("a fixed spec is not reported with its old refusal: the wait goes on", {
    timeout: 180_000,
  }, async () => {
    await world.cluster.client.mergePatch(
      { ...ROLLOUT_TYPE, namespace: NS, name: "invalid" },
      { spec: { strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } } },
    );
    // at once, while the status may still say SpecValid=False for the old spec: the watch does not end
    // with it, it waits (nothing to roll out: the fixed rollout takes the current images as stable)
    const result = await rollout(["status", "invalid", "--watch", "--timeout", "5s"]);
    expect(result.code, shown(result)).toBe(3);
    expect(lastLine(result.stderr)).toMatch(/^rollout: timed out after 5s /);
    expect(result.stdout).not.toContain("refused");
  });
});

describe.skipIf(!HAS_TMUX)("the refusal on the terminal UI (tmux, 80x24, CI unset)", () => {
  it("start --wait shows it under the header in the TUI, then ends with exit 2 and its line", {
    timeout: 180_000,
  }, async () => {
    const session = await TmuxSession.start({ cwd: ROOT, width: 80, height: 24 });
    try {
      await session.type(
        `node cli/bin/rollout.js start crowded-tui --image registry/app:2 --wait --kubeconfig '${world.cluster.kubeconfig}' -n ${NS}; echo EXIT=$?`,
      );
      const screen = await session.waitFor(/^EXIT=\d+$/m, { timeoutMs: 120_000, what: "the exit code" });
      const history = await session.capture({ history: true, join: true });
      expect(screen, history).toMatch(/^EXIT=2$/m);
      // the TUI's last frame: the header, then the refusal's line in the warning colour's place
      const lines = history.split("\n");
      const header = lines.findLastIndex((line) => line.startsWith(`crowded-tui · ${NS} · canary via istio`));
      expect(header, history).toBeGreaterThanOrEqual(0);
      expect(lines[header + 3], history).toMatch(/^! refused: RouteReady=False WeightNotExpressible: /);
      expect(history).toMatch(/^rollout: refused: RouteReady=False WeightNotExpressible: /m);
    } catch (error) {
      if (error instanceof Error) error.message += `\n${world.state()}`;
      throw error;
    } finally {
      await session.kill();
    }
  });
});
