/**
 * `rollout completion zsh|fish` in the real shells: the script the CLI prints is loaded into zsh and
 * fish, and what each shell then offers for a partly typed command line is compared with the commands,
 * flags and values the CLI has. bash is covered from the installed package in test/e2e/package.test.ts.
 * fish lists completions itself (`complete -C LINE`); zsh offers them only inside its line editor, so an
 * interactive zsh in a pseudo-terminal is driven by test/e2e/support/zsh-complete.zsh.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../integration/manifests/support.ts";
import { ROOT } from "../support/cluster.ts";

const has = (shell: string) => spawnSync(shell, ["-c", "exit 0"], { stdio: "ignore" }).status === 0;
const HAS_ZSH = has("zsh");
const HAS_FISH = has("fish");
for (const [shell, present] of [
  ["zsh", HAS_ZSH],
  ["fish", HAS_FISH],
] as const)
  if (!present)
    console.warn(`${shell} is not installed (apt-get install ${shell}): its completion test is skipped`);

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stepwise-completion-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the script `rollout completion SHELL` prints to a file and returns its path. */
async function completionScript(shell: "zsh" | "fish"): Promise<string> {
  const result = await run(process.execPath, [join(ROOT, "cli/bin/rollout.js"), "completion", shell]);
  expect(result.code, result.stderr).toBe(0);
  const file = join(dir, shell === "zsh" ? "_rollout" : "rollout.fish");
  await writeFile(file, result.stdout);
  return file;
}

/** The lines a command prints, trimmed, without empty ones. */
const linesOf = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

describe.skipIf(!HAS_FISH)("fish", () => {
  let script: string;
  beforeAll(async () => {
    script = await completionScript("fish");
  });

  /** The words fish offers for `line` (each `complete -C` line is the word, a tab, its description). */
  async function offered(line: string): Promise<string[]> {
    const result = await run("fish", ["--no-config", "-c", `source ${script}; complete -C '${line}'`]);
    expect(result.code, result.stderr).toBe(0);
    return linesOf(result.stdout).map((entry) => entry.split("\t")[0]!);
  }

  it("completes commands, their flags, flag values and argument words", async () => {
    expect(await offered("rollout st")).toEqual(["start", "status"]);
    expect(await offered("rollout list -o ")).toEqual(["json", "yaml"]);
    expect(await offered("rollout completion ")).toEqual(["bash", "fish", "zsh"]);
    expect(await offered("rollout status --wa")).toEqual(["--watch"]);
    expect(await offered("rollout sandbox ")).toContain("api");
  });
});

describe.skipIf(!HAS_ZSH)("zsh", () => {
  let script: string;
  beforeAll(async () => {
    script = await completionScript("zsh");
  });

  /** The words an interactive zsh offers for `line` followed by Tab, sorted. */
  async function offered(line: string): Promise<string[]> {
    const result = await run("zsh", ["-f", join(ROOT, "test/e2e/support/zsh-complete.zsh"), script, line], {
      env: { ...process.env, TERM: "xterm" },
      timeoutMs: 20_000,
    });
    expect(result.code, result.stderr).toBe(0);
    return linesOf(result.stdout).sort();
  }

  it("completes commands, their flags, flag values and argument words", async () => {
    expect(await offered("rollout st")).toEqual(["start", "status"]);
    expect(await offered("rollout list -o ")).toEqual(["json", "yaml"]);
    expect(await offered("rollout completion ")).toEqual(["bash", "fish", "zsh"]);
    expect(await offered("rollout status --wa")).toEqual(["--watch"]);
    expect(await offered("rollout sandbox ")).toContain("api");
  });
});
