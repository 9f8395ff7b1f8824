import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const file = "test/fixtures/lint/short-step/rollout.yaml";

/** Runs the real `rollout` bin as a user would, returning its exit code and output. */
async function rollout(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(join(root, "cli/bin/rollout.js"), args, {
      cwd: root,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("rollout lint --rps", () => {
  it("warns about an analysis step too short to pass at that traffic, and still exits 0", async () => {
    const result = await rollout("lint", "--rps", "40", file);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("1 document valid");
    expect(result.stderr).toMatch(
      new RegExp(
        `^${file}:2: warning: at ~40 rps \\(10% to the canary\\) analysis step 2 needs about \\d+m(\\d+s)? to pass http-availability, even without errors; it is 30s\\n$`,
      ),
    );
  });

  it("says nothing at traffic the steps can decide on, and refuses a rate that is not one", async () => {
    expect(await rollout("lint", "--rps", "100000", file)).toMatchObject({ code: 0, stderr: "" });
    const bad = await rollout("lint", "--rps", "lots", file);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('--rps must be a positive number of requests per second, not "lots"');
  });
});
