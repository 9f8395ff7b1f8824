import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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

/** Runs the real `rollout` bin with `input` on its stdin. */
function rolloutWithStdin(input: string, ...args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(join(root, "cli/bin/rollout.js"), args, { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    // lint stops reading stdin past its size limit: the rest of the input has nowhere to go
    child.stdin.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") reject(error);
    });
    child.stdin.end(input);
  });
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
      'test/fixtures/lint/bad/mixed.yaml:2: kind: unknown kind "Rolout"; expected Rollout or SLOProfile',
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

describe("rollout lint on a whole app: other kinds skipped, Rollouts checked against the route objects beside them", () => {
  const app = "test/fixtures/lint/app";
  const upstream = "test/fixtures/upstream";

  it("lints an app's files clean, counting what it skipped and naming the files with nothing to check", async () => {
    const files = ["kustomization", "deployment", "service", "virtual-service", "rollout"].map(
      (name) => `${app}/${name}.yaml`,
    );
    const result = await rollout("lint", ...files);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("1 document valid (1 Rollout); 5 other documents skipped\n");
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      `${app}/kustomization.yaml: note: no Rollout or SLOProfile here, only other kinds (1 document skipped)`,
      `${app}/deployment.yaml: note: no Rollout or SLOProfile here, only other kinds (1 document skipped)`,
      `${app}/service.yaml: note: no Rollout or SLOProfile here, only other kinds (2 documents skipped)`,
      `${app}/virtual-service.yaml: note: no Rollout or SLOProfile here, only other kinds (1 document skipped)`,
    ]);
  });

  it("- reads stdin, named <stdin> in messages", async () => {
    const rolloutYaml = await readFile(join(root, app, "rollout.yaml"), "utf8");
    const clean = await rolloutWithStdin(rolloutYaml, "lint", "-", `${app}/virtual-service.yaml`);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toBe("1 document valid (1 Rollout); 1 other document skipped\n");

    const typo = await rolloutWithStdin(rolloutYaml.replace("port: 9898", 'port: "9898"'), "lint", "-");
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe("");
    expect(typo.stderr).toBe('<stdin>:7: spec.service.port: must be a number, not the text "9898"\n');
  });

  it("stdin under the same limits as a file: empty, past 2 MiB (read no further), given twice", async () => {
    expect(await rolloutWithStdin("", "lint", "-")).toEqual({
      code: 2,
      stdout: "",
      stderr: "<stdin>: is empty; expected a Rollout or SLOProfile\n",
    });
    const big = await rolloutWithStdin(`kind: Rollout\n${"# padding\n".repeat(300_000)}`, "lint", "-");
    expect(big).toEqual({
      code: 2,
      stdout: "",
      stderr: "<stdin>: has more than 2.0 MiB; lint reads files of at most 2.0 MiB\n",
    });
    expect(await rolloutWithStdin("", "lint", "-", "-")).toMatchObject({
      code: 2,
      stderr: "- (stdin) may be given once\n",
    });
  });

  it("a Rollout naming a route the VirtualService does not have: both places in one message, exit 2", async () => {
    const result = await rollout("lint", `${app}/rollout-missing-route.yaml`, `${app}/virtual-service.yaml`);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      `${app}/rollout-missing-route.yaml:12: spec.traffic.routes[0]: VirtualService podinfo (${app}/virtual-service.yaml:2): has no http route named "primary"; the routes it names: debug, main\n`,
    );
  });

  it("a Rollout driving Istio's bookinfo VirtualService, which has no route to the stable Service: the remedy, exit 2", async () => {
    const vs = `${upstream}/istio/bookinfo-virtual-service-reviews-v3.yaml`;
    const result = await rollout("lint", `${app}/reviews-rollout.yaml`, vs);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${app}/reviews-rollout.yaml:13: spec.traffic.routeRef: VirtualService reviews (${vs}:3): has no http route whose destinations are only reviews-primary (and reviews-canary); add such a route, or name the route to manage; or set spec.traffic.stableService to the Service the route sends to\n`,
    );
    // the same Rollout with the route object left out: it lives in the cluster, lint does not judge it
    expect(await rollout("lint", `${app}/reviews-rollout.yaml`)).toMatchObject({ code: 0, stderr: "" });
  });

  it("files with only other kinds and no Stepwise document anywhere in the run: exit 2 (an Argo Rollout is another kind)", async () => {
    const argo = `${upstream}/argo-rollouts/istio-subset-split.yaml`;
    const result = await rollout("lint", argo, `${app}/deployment.yaml`);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      `${argo}: has no Rollout or SLOProfile, only other kinds (4 documents skipped)`,
      `${app}/deployment.yaml: has no Rollout or SLOProfile, only other kinds (1 document skipped)`,
    ]);
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
    if (run.code === 0)
      expect(run.stdout).toMatch(/^\d+ documents? valid( \(.*\); \d+ other documents? skipped)?\n$/);
  });
});
