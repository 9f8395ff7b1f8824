import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/cluster.ts";
import {
  descendants,
  HAS_PROC,
  HAS_TMUX,
  listenersOn,
  listeningPorts,
  overlongLines,
  type ProcessInfo,
  processes,
  stillRunning,
  TmuxSession,
  warnIfNoTmux,
} from "../support/tmux.ts";

// What a new user sees: `npm run sandbox` typed into an 80x24 terminal (CI unset). The TUI appears,
// the canary's weight goes up, the rollout ends promoted, the command exits 0, and nothing it started
// (the node process, Prometheus, the servers' ports) is left behind.

warnIfNoTmux("the sandbox-in-a-terminal test (test/e2e/sandbox-tmux.test.ts)");

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(2_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The weight bar's line: the canary's weights while it runs, the final split once it has ended. */
const weightBar = (screen: string) =>
  screen.split("\n").find((line) => /^canary [█▒░]+ desired /.test(line) || /^final {2}[█░]+ /.test(line));

describe.skipIf(!HAS_TMUX)("npm run sandbox in an 80x24 terminal", () => {
  it("shows the TUI, the weight rises, it ends Succeeded, exits 0 and leaves no process or port", {
    timeout: 300_000,
  }, async () => {
    const session = await TmuxSession.start({ cwd: ROOT, width: 80, height: 24 });
    let tree: ProcessInfo[] = [];
    try {
      const shell = await session.panePid();
      await session.type("npm run sandbox; echo EXIT=$?");

      // the TUI (not plain lines) for the demo rollout
      const first = await session.waitFor(/^podinfo · demo · canary via istio · /m, {
        timeoutMs: 150_000,
        what: "the sandbox's TUI",
      });
      expect(first).not.toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /m);

      // what runs now: npm, node, Prometheus when installed, and the ports they listen on
      tree = HAS_PROC ? await descendants(shell) : [];
      const ports = HAS_PROC ? await listeningPorts(tree.map((p) => p.pid)) : new Map<number, number[]>();
      const sandboxProcess = tree.find((p) => /^\S*node\s.*rollout\.js sandbox/.test(p.command));
      if (HAS_PROC) {
        expect(sandboxProcess, JSON.stringify(tree)).toBeDefined();
        // the API emulator, the mesh, its metrics and the backends listen in the sandbox's process
        expect(ports.get(sandboxProcess!.pid)?.length ?? 0).toBeGreaterThanOrEqual(3);
      }

      // the canary gets traffic: a weight above 0% on the bar
      const moving = await session.waitFor(
        (screen) => /desired [1-9]\d*%\s+applied [1-9]\d*%/.test(weightBar(screen) ?? ""),
        { timeoutMs: 150_000, what: "a canary weight above 0%, applied" },
      );
      expect(overlongLines(await session.capture({ join: true }), 80)).toEqual([]);
      expect(weightBar(moving)).toMatch(/^canary █+[▒░]* desired [1-9]\d*%\s+applied [1-9]\d*%/);

      // the demo's timed pause (5s) is worded as one, not as a manual gate that waits for a person
      const pausing = await session.waitFor(/^» timed pause: \d+s left$/m, {
        timeoutMs: 60_000,
        what: "the timed pause's message",
      });
      expect(pausing).toMatch(/^▸\s+2 pause 5s/m);
      expect(pausing).not.toMatch(/manual gate/);

      expect(await session.exitCode(200_000)).toBe(0);
      const history = await session.capture({ history: true });
      const frames = history.split("\n");
      const header = frames.findLastIndex((line) => line.startsWith("podinfo · demo · canary via istio · "));
      const frame = frames.slice(header).join("\n");
      expect(frame).toMatch(/^podinfo · demo · canary via istio · Succeeded · took /m);
      // the final split and the outcome, not the canary's "desired 0% applied 0% observed ?"
      expect(weightBar(frame)).toMatch(/^final {2}█+ new version 100% · promoted$/);
      expect(frame).toMatch(/^route VirtualService demo\/podinfo: 100% primary, 0% canary$/m);
      expect(frame).toMatch(/^EXIT=0$/m);
      // Ink redrew one frame in place: the header is in the scrollback once
      expect(frames.filter((line) => line.startsWith("podinfo · demo · canary via istio · "))).toHaveLength(
        1,
      );

      // the controller's log, whose path the sandbox printed, saw the promotion
      const joined = await session.capture({ history: true, join: true });
      const logFile = /controller log: (\S+\.log)/.exec(joined)?.[1];
      expect(logFile, joined).toBeDefined();
      expect(await readFile(logFile!, "utf8")).toMatch(/"reason":"Succeeded"/);
      await rm(logFile!, { force: true });

      if (!HAS_PROC) {
        console.warn("no /proc: the check for processes and ports left behind is skipped");
        return;
      }
      // nothing left below the shell, and nothing that ran under it still runs elsewhere (an orphan)
      expect(await descendants(shell)).toEqual([]);
      const left: ProcessInfo[] = [];
      for (const info of tree) if (await stillRunning(info)) left.push(info);
      expect(left).toEqual([]);

      // Prometheus, when the sandbox used it: the process it named is gone, its port and directory too
      const prometheus = /SLIs: Prometheus at http:\/\/127\.0\.0\.1:(\d+)/.exec(joined);
      if (prometheus) {
        const port = Number(prometheus[1]);
        const started = tree.find((p) => p.command.includes(`--web.listen-address=127.0.0.1:${port}`));
        expect(started, `no prometheus process on port ${port} in ${JSON.stringify(tree)}`).toBeDefined();
        const everywhere = await processes();
        expect(
          everywhere.filter((p) => p.command.includes(`--web.listen-address=127.0.0.1:${port}`)),
        ).toEqual([]);
        const dataDir = /--config\.file=(\S+)\/prometheus\.yml/.exec(started!.command)?.[1];
        expect(dataDir).toBeDefined();
        expect(existsSync(dataDir!)).toBe(false);
      }

      // every port the sandbox's processes listened on is closed (or, if the kernel gave it to someone
      // else since, held by a process that is not one of them)
      const ours = new Set(tree.map((p) => p.pid));
      const allPorts = [...ports.values()].flat();
      expect(allPorts.length).toBeGreaterThan(0);
      const holders = await listenersOn(allPorts);
      for (const port of allPorts) {
        const pids = holders.get(port);
        if (pids === undefined) {
          expect(await accepts(port), `port ${port} still accepts connections`).toBe(false);
        } else {
          expect(pids.length, `port ${port} listens, held by no process we can see`).toBeGreaterThan(0);
          expect(
            pids.filter((pid) => ours.has(pid)),
            `port ${port}`,
          ).toEqual([]);
        }
      }
    } finally {
      // on a failure half-way, Ctrl-C first so the sandbox stops its servers and Prometheus itself
      if (!/^EXIT=\d+$/m.test(await session.capture({ history: true }).catch(() => ""))) {
        await session.press("C-c").catch(() => {});
        await session.exitCode(30_000).catch(() => {});
      }
      await session.kill();
      // if the test failed half-way, do not leave its sandbox running: SIGTERM what is still ours
      for (const info of tree) {
        if (await stillRunning(info)) {
          try {
            process.kill(info.pid, "SIGTERM");
          } catch {
            // gone meanwhile
          }
        }
      }
    }
  });

  it("shows the chaos gate's fault, its time left and its verdict, then the rollback (flaky-dependency)", {
    timeout: 300_000,
  }, async () => {
    const session = await TmuxSession.start({ cwd: ROOT, width: 80, height: 24 });
    try {
      await session.type("npx rollout sandbox --scenario flaky-dependency; echo EXIT=$?");
      // the banner: what, where, time left and the gate so far (waiting for data, or a verdict)
      const during = await session.waitFor(/^FAULT abort 503 50% on payments · \d+s left · gate \w/m, {
        timeoutMs: 200_000,
        what: "the fault banner of the chaos gate",
      });
      expect(during).toMatch(/^podinfo · demo · canary via istio · Progressing · /m);
      expect(await session.exitCode(120_000)).toBe(1);
      const history = await session.capture({ history: true });
      const frames = history.split("\n");
      const header = frames.findLastIndex((line) => line.startsWith("podinfo · demo · canary via istio · "));
      const frame = frames.slice(header).join("\n");
      expect(frame).toMatch(/^podinfo · demo · canary via istio · RolledBack · /m);
      // the gate's verdict: the canary without a fallback failed it, at the chaos step
      expect(frame).toMatch(/^✗ +4 chaos payments: 503 50% 1m/m);
      expect(frame).toMatch(/demo-http-availability Fail/);
      // the fault is gone with the rollback
      expect(frame).not.toMatch(/^FAULT /m);
      expect(frame).toMatch(/^EXIT=1$/m);
    } finally {
      if (!/^EXIT=\d+$/m.test(await session.capture({ history: true }).catch(() => ""))) {
        await session.press("C-c").catch(() => {});
        await session.exitCode(30_000).catch(() => {});
      }
      await session.kill();
    }
  });
});
