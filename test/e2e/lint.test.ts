import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aliasBomb, deepNesting, hostileYaml } from "../support/hostile-yaml.ts";

const root = join(import.meta.dirname, "../..");
const fixtures = join(root, "test/fixtures/lint");

/** Runs the real `rollout` bin as a user would, returning its exit code and output. */
async function rollout(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(join(root, "cli/bin/rollout.js"), args, {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("rollout lint", () => {
  it("accepts valid Rollouts and SLOProfiles, several per file, and exits 0", async () => {
    const result = await rollout(
      "lint",
      "test/fixtures/lint/good/canary.yaml",
      "test/fixtures/lint/good/blue-green.yaml",
    );
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout.trim()).toBe("3 documents valid");
  });

  it("reports each error as file:line: path: message and exits 2", async () => {
    const result = await rollout("lint", `${fixtures}/bad/typos.yaml`);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      `${fixtures}/bad/typos.yaml:7: spec.service.port: must be a number, not the text "8080"`,
      `${fixtures}/bad/typos.yaml:13: spec.strategy.canary.steps[1].setWieght: unknown field (did you mean "setWeight"?)`,
      `${fixtures}/bad/typos.yaml:13: spec.strategy.canary.steps[1]: a step needs exactly one of setWeight, pause, analysis, chaos`,
      `${fixtures}/bad/typos.yaml:14: spec.strategy.canary.steps[2].setWeight: must not be lower than the weight of an earlier step (10)`,
    ]);
  });

  it("reports unknown kinds, profile errors and YAML syntax errors, and still checks every file", async () => {
    const result = await rollout(
      "lint",
      "test/fixtures/lint/bad/mixed.yaml",
      "test/fixtures/lint/bad/broken.yaml",
      "test/fixtures/lint/good/blue-green.yaml",
      "test/fixtures/lint/missing.yaml",
    );
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toEqual([
      'test/fixtures/lint/bad/mixed.yaml:2: kind: unknown kind "ConfigMap"; expected Rollout or SLOProfile',
      "test/fixtures/lint/bad/mixed.yaml:15: spec.indicator.ratioMetric.good.metricSource.spec.queries.linkerd: uses {{pod}}, which is neither a built-in variable (namespace, workload, service) nor a declared arg",
      "test/fixtures/lint/bad/mixed.yaml:19: spec.gate.alpha: must be at most 0.5",
      expect.stringMatching(/^test\/fixtures\/lint\/bad\/broken\.yaml:3: \(yaml\): Flow sequence/),
      "test/fixtures/lint/missing.yaml: cannot read: ENOENT",
    ]);
  });

  it("lints every built-in SLO profile clean", async () => {
    const result = await rollout(
      "lint",
      "slo-profiles/http-availability.yaml",
      "slo-profiles/http-latency.yaml",
    );
    expect(result.code).toBe(0);
  });

  it("lists its commands in --help", async () => {
    const result = await rollout("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ {2}lint <files...> +validate Rollout/m);
  });
});

describe("rollout lint on hostile files: one line naming the file, exit 2, never a stack trace", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stepwise-lint-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Writes `content` to a file called `name` in the test's directory and returns its path. */
  async function file(name: string, content: string | Uint8Array): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  it("alias bomb, 10,000 levels, empty, comments only, binary, 5 MB", async () => {
    const random = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256);
    const cases: [string, string | Uint8Array, RegExp][] = [
      ["bomb.yaml", aliasBomb(10, 9), /^bomb\.yaml:3: \(yaml\): its aliases stand for more than 100 nodes/],
      [
        "deep.yaml",
        deepNesting(10_000, "flow-seq"),
        /^deep\.yaml:2: \(yaml\): nested more than 64 levels deep$/,
      ],
      [
        "deep-block.yaml",
        deepNesting(10_000, "compact-seq"),
        /^deep-block\.yaml:3: \(yaml\): nested more than 64/,
      ],
      ["empty.yaml", "", /^empty\.yaml: is empty; expected a Rollout or SLOProfile$/],
      [
        "comments.yaml",
        "# nothing yet\n---\n",
        /^comments\.yaml: has no document, only comments; expected a Rollout/,
      ],
      ["random.bin", random, /^random\.bin:1: is not UTF-8 text \(a binary file\?\)$/],
      ["nul.yaml", "kind: Rollout\nspec: \u0000\n", /^nul\.yaml:2: holds the control character 0x00/],
      [
        "big.yaml",
        `kind: Rollout\nspec:\n${"  # padding padding padding\n".repeat(200_000)}`,
        /^big\.yaml: is 5\.\d MiB; lint reads files of at most 2\.0 MiB/,
      ],
    ];
    const paths = await Promise.all(cases.map(([name, content]) => file(name, content)));
    const runs = await Promise.all(paths.map((path) => rollout("lint", path)));
    runs.forEach((run, i) => {
      const [name, , expected] = cases[i]!;
      const shown = `${name}: exit ${run.code}\n${run.stderr}`;
      expect(run.code, shown).toBe(2);
      expect(run.stdout, shown).toBe("");
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines, shown).toHaveLength(1);
      expect(lines[0]!.slice(dir.length + 1), shown).toMatch(expected);
    });
  });

  it("generated hostile files (fuzz): each file's lines name it, exit 0 or 2, no stack trace", async () => {
    // a new seed each run, named in any failure so the files can be made again
    const seed = Date.now() % 2 ** 31;
    const samples = fc.sample(hostileYaml, { numRuns: 12, seed });
    const paths = await Promise.all(samples.map((bytes, i) => file(`fuzz-${i}.yaml`, bytes)));
    const run = await rollout("lint", ...paths);
    const shown = `seed ${seed}: exit ${run.code}\n${run.stderr}`;
    expect([0, 2], shown).toContain(run.code);
    expect(run.stderr + run.stdout, shown).not.toMatch(/^\s+at |Error:|Maximum call stack/m);
    for (const line of run.stderr.trimEnd().split("\n").filter(Boolean)) {
      expect(line, shown).toMatch(new RegExp(`^${dir}/fuzz-\\d+\\.yaml(:\\d+)?: \\S`));
    }
    if (run.code === 0) expect(run.stdout).toMatch(/^\d+ documents? valid\n$/);
  });
});
