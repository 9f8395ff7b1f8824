import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exited, ROOT } from "../support/cluster.ts";
import { interactiveEnv } from "../support/tmux.ts";

// `rollout sandbox --keep-running` tells a user how to reach it from another terminal: a kubeconfig to
// export and two commands. The test runs the printed lines as a user pastes them into a shell, with
// `rollout` on PATH, against the sandbox that is still running.

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` in sh with `rollout` on PATH (as an installed CLI is), stdout and stderr piped. */
function shell(script: string, bin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = interactiveEnv({ PATH: `${bin}:${process.env.PATH}` });
    delete env.KUBECONFIG;
    // more demo traffic than the default 20/s: the analyses decide sooner, so both releases end sooner
    const child = spawn("sh", ["-c", script], { cwd: tmpdir(), env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let sandbox: ChildProcess | undefined;
let bin: string | undefined;

afterAll(async () => {
  if (sandbox && sandbox.exitCode === null && sandbox.signalCode === null) {
    sandbox.kill("SIGINT");
    await exited(sandbox);
  }
  if (bin) await rm(bin, { recursive: true, force: true });
});

describe("rollout sandbox --keep-running", () => {
  it("prints an export KUBECONFIG line and two commands that work against it as printed", {
    timeout: 300_000,
  }, async () => {
    bin = await mkdtemp(join(tmpdir(), "stepwise-bin-"));
    await symlink(join(ROOT, "cli/bin/rollout.js"), join(bin, "rollout"));
    const child = spawn(
      process.execPath,
      [
        join(ROOT, "cli/bin/rollout.js"),
        "sandbox",
        "--no-tui",
        "--no-prometheus",
        "--keep-running",
        "--rps",
        "80",
      ],
      { cwd: ROOT, env: interactiveEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    sandbox = child;
    let output = "";
    const hint = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no connection hint within 200 s:\n${output}`)),
        200_000,
      );
      const look = () => {
        const lines = output.split("\n");
        const at = lines.indexOf("to use it from another terminal:");
        if (at >= 0 && lines.length > at + 4) {
          clearTimeout(timer);
          resolve(lines.slice(at + 1, at + 4));
        }
      };
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        look();
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.on("exit", (code) => reject(new Error(`the sandbox exited with ${code}:\n${output}`)));
    });
    expect(output).toMatch(/^still running: API http:\/\/127\.0\.0\.1:\d+, /m);
    const [exportLine, watchLine, startLine] = hint.map((line) => line.trim());
    const kubeconfig = /^export KUBECONFIG=(\S+\.kubeconfig)$/.exec(exportLine!)?.[1];
    expect(kubeconfig, exportLine).toBeDefined();
    expect(existsSync(kubeconfig!)).toBe(true);
    expect(watchLine).toBe("rollout watch podinfo -n demo");
    expect(startLine).toMatch(
      /^rollout start podinfo -n demo --image ghcr\.io\/stefanprodan\/podinfo:\S+ --wait$/,
    );

    // the first command, pasted as printed: the rollout the sandbox just promoted (plain lines, no terminal)
    const watch = await shell(`${exportLine}\n${watchLine}`, bin);
    expect(watch.code, `${watch.stdout}${watch.stderr}`).toBe(0);
    expect(watch.stdout).toMatch(/^\S+Z Succeeded .*\| Succeeded: [0-9a-f]+ promoted/m);

    // the second: a new release of the demo, followed to its promotion
    const start = await shell(`${exportLine}\n${startLine}`, bin);
    expect(start.code, `${start.stdout}${start.stderr}`).toBe(0);
    const lines = start.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^started revision [0-9a-f]+ of demo\/podinfo$/);
    expect(lines.at(-1)).toMatch(/ Succeeded .*\| Succeeded: [0-9a-f]+ promoted/);
    expect(start.stderr).toBe("");

    // Ctrl-C stops the sandbox and removes the kubeconfig it wrote
    child.kill("SIGINT");
    await exited(child);
    expect(child.exitCode).toBe(130);
    expect(existsSync(kubeconfig!)).toBe(false);
  });
});
