import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const fixtures = join(root, "test/fixtures/lint");

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
