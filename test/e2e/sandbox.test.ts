import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { which } from "../../src/sandbox/prometheus.ts";

const root = join(import.meta.dirname, "../..");
const hasPrometheus = (await which("prometheus")) !== undefined;

/** Runs `rollout sandbox ... -o json` as a user would and returns its exit code and JSON lines. */
function sandbox(
  args: string[],
): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(root, "cli/bin/rollout.js"), "sandbox", "-o", "json", ...args],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (code) => {
      const lines = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, lines, stderr });
    });
  });
}

const cases = ["istio", "linkerd", "smi", "gateway", "consul"].flatMap((mesh) =>
  (["healthy", "errors"] as const).flatMap((scenario) =>
    [true, false].map((prometheus) => ({ mesh, scenario, prometheus })),
  ),
);

describe.concurrent("rollout sandbox end to end", () => {
  it.each(cases)(
    "$mesh, $scenario, prometheus: $prometheus",
    { timeout: 400_000 },
    async ({ mesh, scenario, prometheus }) => {
      if (prometheus && !hasPrometheus) {
        console.warn(
          "prometheus is not installed (apt-get install prometheus): the run with Prometheus is skipped",
        );
        return;
      }
      const result = await sandbox([
        "--mesh",
        mesh,
        "--scenario",
        scenario,
        ...(prometheus ? [] : ["--no-prometheus"]),
      ]);
      const expected =
        scenario === "healthy" ? { code: 0, phase: "Succeeded" } : { code: 1, phase: "RolledBack" };
      expect(result.code, `${result.stderr}\n${JSON.stringify(result.lines.slice(-2))}`).toBe(expected.code);
      const statuses = result.lines.filter((line) => "phase" in line);
      expect(statuses.at(-1)).toMatchObject({ phase: expected.phase, weights: { desired: 0, applied: 0 } });
      // the canary did get traffic on the way
      expect(statuses.some((s) => ((s.weights as { applied?: number }).applied ?? 0) > 0)).toBe(true);
      const summary = result.lines.at(-1)?.summary as {
        route: { canaryWeight: number; stableWeight: number };
        exitCode: number;
      };
      expect(summary.exitCode).toBe(expected.code);
      expect(summary.route).toMatchObject({ canaryWeight: 0, stableWeight: 100 });
      const failed = statuses.at(-1)?.analysis as { profile: string; verdict: string }[];
      if (scenario === "errors")
        expect(failed).toContainEqual(
          expect.objectContaining({ profile: "demo-http-availability", verdict: "Fail" }),
        );
    },
  );
});

// --routes upstream: the user's own route object, named the Argo way, driven unedited to a promotion
const upstreamCases = [
  { mesh: "istio", route: { kind: "VirtualService", name: "podinfo-vsvc" } },
  { mesh: "linkerd", route: { kind: "HTTPRoute", name: "podinfo-route" } },
  { mesh: "smi", route: { kind: "TrafficSplit", name: "podinfo-split" } },
  { mesh: "gateway", route: { kind: "HTTPRoute", name: "podinfo-route" } },
  { mesh: "consul", route: { kind: "ServiceSplitter", name: "podinfo" } },
];

describe.concurrent("rollout sandbox --routes upstream", () => {
  it.each(upstreamCases)("$mesh: $route.kind $route.name", { timeout: 400_000 }, async ({ mesh, route }) => {
    const result = await sandbox(["--mesh", mesh, "--routes", "upstream", "--no-prometheus"]);
    expect(result.code, `${result.stderr}\n${JSON.stringify(result.lines.slice(-2))}`).toBe(0);
    const statuses = result.lines.filter((line) => "phase" in line);
    expect(statuses.some((s) => ((s.weights as { applied?: number }).applied ?? 0) > 0)).toBe(true);
    const summary = result.lines.at(-1)?.summary as {
      route: { kind: string; name: string; canaryWeight: number };
      traffic: { byVersion: Record<string, number> };
    };
    expect(summary.route).toMatchObject({ ...route, canaryWeight: 0 });
    // the new version answered requests through the user's object on the way
    expect(summary.traffic.byVersion["1.1.0"]).toBeGreaterThan(0);
  });
});

describe("rollout sandbox input errors", () => {
  it("refuses a flaky-dependency scenario on a mesh without source-scoped faults (exit 2, one line)", async () => {
    const result = await sandbox(["--mesh", "smi", "--scenario", "flaky-dependency"]);
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n").filter((line) => line.startsWith("rollout:"));
    expect(lines).toEqual([expect.stringMatching(/flaky-dependency scenario needs --mesh istio/)]);
  });
});
