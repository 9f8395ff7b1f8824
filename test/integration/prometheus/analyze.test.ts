// `rollout analyze` end to end against a real Prometheus serving generated Istio and Linkerd metrics.
// Skipped, with a message, only when the prometheus and promtool binaries are missing (CI installs them).
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuiltInProfiles, renderQueries } from "../../../src/analysis/profiles.ts";
import { METRIC_PROVIDERS } from "../../../src/api/slo-profile.ts";
import { PrometheusProvider } from "../../../src/metrics/prometheus.ts";
import { openMetrics, type Workload } from "./openmetrics.ts";
import { freePort, type RunningPrometheus, startPrometheus, which } from "./server.ts";

const root = join(import.meta.dirname, "../../..");
const exec = promisify(execFile);

const missing = (await which("prometheus")) === undefined || (await which("promtool")) === undefined;
if (missing) {
  console.warn(
    "SKIPPED test/integration/prometheus: the prometheus and promtool binaries are not on PATH (apt-get install prometheus)",
  );
}

// The step starts two hours ago on a whole minute; traffic runs from 10 minutes before it to 15 after.
const START = Math.floor((Date.now() - 2 * 3600_000) / 60_000) * 60_000;
const iso = (seconds: number) => new Date(START + seconds * 1000).toISOString();

const istio = (name: string, rest: Partial<Workload>): Workload => ({
  mesh: "istio",
  namespace: "shop",
  name,
  pods: [{ name: `${name}-7d9f-a1`, from: 0, rps: 10 }],
  errorRate: 0.001,
  slowShare: 0.01,
  ...rest,
});
const linkerd = (name: string, rest: Partial<Workload>): Workload => ({
  ...istio(name, rest),
  mesh: "linkerd",
  namespace: "books",
  ...rest,
});

// 2x regressions at 10 rps: the canary's errors drawn at 0.2% (five seeds), the baseline's at 0.1%.
const REGRESSION_SEEDS = [1, 2, 3, 4, 5];

// Healthy canaries get 100 rps (and their baselines 900): at the baseline's own 0.1% errors, ten minutes
// at 10 rps cannot show a canary within 2x of its baseline, so the shipped profile rightly waits there.
const WORKLOADS: Workload[] = [
  istio("checkout-primary", {
    pods: [
      { name: "checkout-primary-5c8b-p1", from: -600, rps: 450 },
      { name: "checkout-primary-5c8b-p2", from: -600, rps: 450 },
    ],
  }),
  // healthy: one pod restarts five minutes in (a counter reset) and a second pod joins after three
  istio("checkout-canary", {
    pods: [
      { name: "checkout-canary-6f7a-c1", from: 0, rps: 100, resetAt: 285 },
      { name: "checkout-canary-6f7a-c2", from: 180, rps: 20 },
    ],
  }),
  istio("errors-canary", { errorRate: 0.05 }),
  istio("slow-canary", { slowShare: 0.3, pods: [{ name: "slow-canary-1-s1", from: 0, rps: 100 }] }),
  istio("orders-primary", { protocol: "grpc", pods: [{ name: "orders-primary-1-p1", from: -600, rps: 90 }] }),
  istio("orders-canary", { protocol: "grpc", errorRate: 0.05 }),
  istio("twice-primary", { seed: 100, pods: [{ name: "twice-primary-1-p1", from: -600, rps: 90 }] }),
  ...REGRESSION_SEEDS.map((seed) => istio(`twice-${seed}-canary`, { errorRate: 0.002, seed })),
  linkerd("web-primary", { pods: [{ name: "web-primary-9a-p1", from: -600, rps: 900 }] }),
  linkerd("web-canary", { pods: [{ name: "web-canary-2b-w1", from: 0, rps: 100 }] }),
  linkerd("web-broken", { errorRate: 0.05 }),
];

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function analyze(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec("npx", ["tsx", "cli/main.ts", "analyze", ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The CLI's own complaints (npx may add warnings of its own to stderr). */
const complaints = (outcome: Outcome) =>
  outcome.stderr.split("\n").filter((line) => line.startsWith("error:"));

// Generous timeouts: each case spawns the CLI (npx tsx), and CI machines may be busy; nothing here is timed.
describe.skipIf(missing)("rollout analyze against a real Prometheus", { timeout: 180_000 }, () => {
  let prometheus: RunningPrometheus;
  const window = (from = 0, to = 600) => ["--start", iso(from), "--end", iso(to)];
  const common = (mesh: string, namespace: string, canary: string, baseline: string) => [
    "--prometheus",
    prometheus.url,
    "--provider",
    mesh,
    "--namespace",
    namespace,
    "--canary",
    canary,
    "--baseline",
    baseline,
  ];
  const json = (outcome: Outcome) => JSON.parse(outcome.stdout);

  beforeAll(async () => {
    prometheus = await startPrometheus(openMetrics(WORKLOADS, START, -600, 900));
  }, 120_000);
  afterAll(async () => prometheus?.stop());

  it.concurrent("passes a healthy Istio canary, counting new series from zero and across a counter reset", async () => {
    const outcome = await analyze(
      ...common("istio", "shop", "checkout-canary", "checkout-primary"),
      "--profile",
      "http-availability",
      "--profile",
      "http-latency",
      "--step",
      "15s",
      ...window(),
      "-o",
      "json",
    );
    expect(complaints(outcome)).toEqual([]);
    expect(outcome.code).toBe(0);
    const result = json(outcome);
    expect(result.verdict).toBe("Pass");
    const [availability, latency] = result.profiles;
    // c1: 28500 requests before its restart after 285 s and 31500 after; c2: 20 rps from 180 s: 8400
    expect(availability.canary.total).toBe(68400);
    // 0.1% of each count since the process started, floored: 28 + 31 before and after c1's reset, 8 for c2
    expect(availability.canary.bad).toBe(67);
    expect(availability.baseline).toEqual({ bad: 540, total: 540000 });
    expect(availability).toMatchObject({ profile: "http-availability", verdict: "Pass", threshold: 40 });
    expect(availability.queries.canary.total).toContain('destination_workload="checkout-canary"');
    expect(availability.range).toEqual({ start: iso(0), end: iso(600) });
    expect(latency).toMatchObject({ profile: "http-latency", verdict: "Pass" });
    // 1% slow, floored likewise: 285 + 315 (c1) + 84 (c2)
    expect(latency.canary).toEqual({ bad: 684, total: 68400 });
  });

  it.concurrent("fails a canary answering 5% of requests with 503 (exit 1)", async () => {
    const outcome = await analyze(
      ...common("istio", "shop", "errors-canary", "checkout-primary"),
      "--profile",
      "http-availability",
      ...window(),
      "-o",
      "json",
    );
    expect(outcome.code).toBe(1);
    const [verdict] = json(outcome).profiles;
    expect(verdict.verdict).toBe("Fail");
    expect(verdict.canary).toEqual({ bad: 300, total: 6000 });
    expect(verdict.statistic).toBeGreaterThan(verdict.threshold);
    expect(verdict.reason).toContain(
      "significantly above the tolerance 1.00% and more than 2x the baseline's bad rate",
    );
  });

  it.concurrent("fails a slow canary on latency while its availability passes", async () => {
    const outcome = await analyze(
      ...common("istio", "shop", "slow-canary", "checkout-primary"),
      "--profile",
      "http-availability",
      "--profile",
      "http-latency",
      ...window(),
    );
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toContain("http-availability: Pass");
    expect(outcome.stdout).toContain("http-latency: Fail");
    expect(outcome.stdout).toContain("canary 18000/60000 bad (30.0%)");
    expect(outcome.stdout).toContain("overall: Fail");
  });

  it.concurrent("reports no data for a canary without traffic (exit 3)", async () => {
    const outcome = await analyze(
      ...common("istio", "shop", "idle-canary", "checkout-primary"),
      "--profile",
      "http-availability",
      ...window(),
      "-o",
      "json",
    );
    expect(outcome.code).toBe(3);
    const result = json(outcome);
    expect(result.verdict).toBe("NoData");
    expect(result.profiles[0].reason).toBe(
      "the canary served no requests (no series matched its queries); holding",
    );
    expect(result.profiles[0].baseline).toEqual({ bad: 540, total: 540000 });
  });

  it.concurrent.each(REGRESSION_SEEDS)(
    "never passes a 2x regression over 10 minutes at 10 rps (errors drawn with seed %i)",
    async (seed) => {
      const outcome = await analyze(
        ...common("istio", "shop", `twice-${seed}-canary`, "twice-primary"),
        "--profile",
        "http-availability",
        "--step",
        "15s",
        ...window(),
        "-o",
        "json",
      );
      expect(complaints(outcome)).toEqual([]);
      const [availability] = json(outcome).profiles;
      expect(availability.canary.total).toBe(6000);
      expect(availability.baseline.total).toBe(54000);
      // the drawn errors scatter around 12 and 54; whatever they are, the verdict is not Pass
      expect(availability.canary.bad).toBeGreaterThan(0);
      expect(availability.verdict).not.toBe("Pass");
      expect(outcome.code).not.toBe(0);
    },
  );

  it.concurrent("is inconclusive during the warm-up (exit 3)", async () => {
    const outcome = await analyze(
      ...common("istio", "shop", "errors-canary", "checkout-primary"),
      "--profile",
      "http-availability",
      ...window(0, 20),
    );
    expect(outcome.code).toBe(3);
    expect(outcome.stdout).toContain("http-availability: Inconclusive");
    expect(outcome.stdout).toContain(`warming up until ${iso(30)}`);
  });

  it.concurrent("judges Linkerd's metrics: a healthy canary passes, a broken one fails", async () => {
    const healthy = await analyze(
      ...common("linkerd", "books", "web-canary", "web-primary"),
      "--profile",
      "http-availability",
      "--profile",
      "http-latency",
      "--arg",
      "thresholdMs=300",
      ...window(),
      "-o",
      "json",
    );
    expect(healthy.code).toBe(0);
    const [availability, latency] = json(healthy).profiles;
    expect(availability.canary).toEqual({ bad: 60, total: 60000 });
    expect(latency.canary).toEqual({ bad: 600, total: 60000 });
    expect(latency.queries.canary.ratio).toContain('le=~"300(\\\\.0)?"');
    const broken = await analyze(
      ...common("linkerd", "books", "web-broken", "web-primary"),
      "--profile",
      "http-availability",
      ...window(),
    );
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain("http-availability: Fail");
  });

  it.concurrent("fails a gRPC canary returning UNAVAILABLE on 5% of calls", async () => {
    const outcome = await analyze(
      ...common("istio", "shop", "orders-canary", "orders-primary"),
      "--profile",
      "grpc-availability",
      ...window(),
      "-o",
      "json",
    );
    expect(outcome.code).toBe(1);
    expect(json(outcome).profiles[0]).toMatchObject({ verdict: "Fail", canary: { bad: 300, total: 6000 } });
  });

  it.concurrent("judges a profile from a file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepwise-analyze-"));
    try {
      const file = join(dir, "strict.yaml");
      await writeFile(
        file,
        `apiVersion: stepwise.dev/v1alpha1
kind: SLOProfile
metadata: {name: strict-errors}
spec:
  indicator:
    ratioMetric:
      counter: true
      bad:
        metricSource: {type: prometheus, spec: {queries: {istio: 'istio_requests_total{destination_workload="{{workload}}", response_code=~"5.."}'}}}
      total:
        metricSource: {type: prometheus, spec: {queries: {istio: 'istio_requests_total{destination_workload="{{workload}}"}'}}}
  gate: {compare: absolute, tolerance: 0.0001, warmup: 0s}
`,
      );
      const outcome = await analyze(
        ...common("istio", "shop", "checkout-canary", "checkout-primary"),
        "--profile",
        file,
        ...window(),
        "-o",
        "json",
      );
      expect(outcome.code).toBe(1);
      expect(json(outcome).profiles[0]).toMatchObject({ profile: "strict-errors", verdict: "Fail" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.concurrent("exits 5 when Prometheus cannot be reached", async () => {
    const port = await freePort();
    const outcome = await analyze(
      "--prometheus",
      `http://127.0.0.1:${port}`,
      "--provider",
      "istio",
      "--namespace",
      "shop",
      "--canary",
      "checkout-canary",
      "--baseline",
      "checkout-primary",
      "--profile",
      "http-availability",
      "--retries",
      "0",
      ...window(),
    );
    expect(outcome.code).toBe(5);
    expect(complaints(outcome)).toEqual([
      `error: cannot reach Prometheus at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
    expect(outcome.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.concurrent("exits 5 when Prometheus answers with an error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepwise-analyze-"));
    try {
      const file = join(dir, "broken.yaml");
      await writeFile(
        file,
        `apiVersion: stepwise.dev/v1alpha1
kind: SLOProfile
metadata: {name: broken-query}
spec:
  indicator:
    ratioMetric:
      counter: true
      bad: {metricSource: {type: prometheus, spec: {queries: {istio: 'sum(istio_requests_total'}}}}
      total: {metricSource: {type: prometheus, spec: {queries: {istio: istio_requests_total}}}}
`,
      );
      const outcome = await analyze(
        ...common("istio", "shop", "checkout-canary", "checkout-primary"),
        "--profile",
        file,
        ...window(),
      );
      expect(outcome.code).toBe(5);
      expect(outcome.stderr).toContain(`error: Prometheus at ${prometheus.url} rejected the query:`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.concurrent("exits 2 for bad arguments and invalid profiles, naming the problem", async () => {
    const base = common("istio", "shop", "checkout-canary", "checkout-primary");
    const cases: [string[], string][] = [
      [
        [...base, "--profile", "http-latency", "--arg", "thresholdMs=300", ...window()],
        "thresholdMs 300 is not a bucket bound of istio's histogram; the nearest are 250 and 500",
      ],
      [[...base, "--profile", "http-availabilty", ...window()], 'unknown profile "http-availabilty"'],
      [
        [...base, "--profile", "http-availability", "--start", "yesterday", "--end", iso(600)],
        "must be an RFC 3339 time",
      ],
      [[...base, "--profile", "http-availability", ...window(600, 0)], "--end must be after --start"],
      [
        [...base.slice(0, 2), "--provider", "kuma", "--profile", "x", ...window()],
        "Allowed choices are istio, linkerd, gateway, consul",
      ],
      [
        [...base, "--profile", "http-availability", "--arg", "thresholdMs=500", ...window()],
        "--arg thresholdMs: no selected profile takes an arg named thresholdMs",
      ],
    ];
    const outcomes = await Promise.all(cases.map(([args]) => analyze(...args)));
    cases.forEach(([args, message], index) => {
      const outcome = outcomes[index]!;
      expect(outcome.code, args.join(" ")).toBe(2);
      expect(outcome.stderr).toContain(message);
      expect(outcome.stderr).not.toMatch(/\n\s+at /);
    });
  });

  it("runs every built-in query of every mesh without a PromQL error", async () => {
    const provider = new PrometheusProvider({ url: prometheus.url, retries: 0 });
    const target = { namespace: "shop", workload: "checkout-canary", service: "checkout-canary" };
    for (const profile of (await loadBuiltInProfiles()).values()) {
      for (const mesh of METRIC_PROVIDERS) {
        const queries = renderQueries(profile, mesh, target);
        await provider.queryCounts(queries.ratio, START + 600_000);
        await provider.queryCounts(queries.total, START + 600_000);
      }
    }
    const samples = await provider.queryCounts(
      renderQueries((await loadBuiltInProfiles()).get("http-latency")!, "istio", target).ratio,
      START + 600_000,
    );
    expect(samples.map((sample) => sample.labels.le)).toEqual(["500.0", "500.0"]);
  });
});
