import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./cluster.ts";
import { interactiveEnv } from "./tmux.ts";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `rollout ARGS` with pipes for stdin (closed at once), stdout and stderr, as a CI job does; kills
 * it after `timeoutMs`. `onStdout` sees stdout so far each time more arrives; `onSpawn` gets the process
 * (to signal it).
 */
export function runRollout(
  args: string[],
  timeoutMs = 150_000,
  onStdout?: (stdout: string) => void,
  onSpawn?: (child: ChildProcess) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "cli/bin/rollout.js"), ...args], {
      cwd: ROOT,
      // CI unset: plain lines must come from stdout not being a terminal, not from CI being set
      env: interactiveEnv(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    onSpawn?.(child);
    child.stdin.end();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`rollout ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`),
      );
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
