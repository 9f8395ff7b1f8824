// Profiles from the cluster, against the API emulator over HTTP: an invalid SLOProfile is reported with a
// Warning Event and never replaced by the built-in profile of the same name; `rollout start --rps` warns
// about an analysis step too short to pass.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadBuiltInProfiles } from "../../../src/analysis/profiles.ts";
import { parseRollout, type Rollout } from "../../../src/api/rollout.ts";
import { canaryReadyAt, clusterProfileLookup, ProfileAnalysis } from "../../../src/controller/analysis.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { EventRecorder } from "../../../src/kube/events.ts";
import type { MetricsProvider } from "../../../src/metrics/types.ts";
import { canaryRollout, deployment, startTestCluster, type TestCluster } from "../../support/cluster.ts";

const root = join(import.meta.dirname, "../../..");
const NS = "shop";

/** The built-in availability profile, made invalid in a way only the zod refinements catch. */
function invalidAvailability(): KubeObject {
  const doc = parse(readFileSync(join(root, "slo-profiles/http-availability.yaml"), "utf8"));
  doc.metadata = { name: "http-availability", namespace: NS };
  doc.spec.gate.baseline = { ...doc.spec.gate.baseline, minBadRate: 0.02 };
  return doc;
}

/** A provider whose counters never move: the verdicts here are about the profiles, not the counts. */
const quiet: MetricsProvider = {
  description: "quiet",
  queryCounts: async () => [],
  health: async () => {},
};

function rollout(object: KubeObject): Rollout {
  const parsed = parseRollout(object);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
});
afterAll(async () => cluster?.close());

describe("SLOProfiles from the cluster", () => {
  it("reports an invalid one with a Warning Event, once per version, and holds its Rollouts with an Error", async () => {
    const created = await cluster.client.create(invalidAvailability());
    const events = new EventRecorder(cluster.client);
    const reported: string[] = [];
    const lookup = clusterProfileLookup(
      await loadBuiltInProfiles(),
      (namespace, name) => (namespace === NS && name === created.metadata.name ? created : undefined),
      (object, message) => {
        reported.push(message);
        void events.record(object, "InvalidSLOProfile", message, true);
      },
    );
    const analysis = new ProfileAnalysis(quiet, lookup);
    const subject = rollout(
      canaryRollout("checkout", NS, [{ setWeight: 10 }, { analysis: {} }], {
        analysis: { profiles: [{ name: "http-availability" }, { name: "http-latency" }] },
      }),
    );
    const window = { since: new Date(Date.now() - 60_000), now: new Date() };
    const first = await analysis.evaluate(subject, window);
    await analysis.evaluate(subject, { ...window, now: new Date(window.now.getTime() + 1000) });
    const message =
      "SLOProfile shop/http-availability is invalid: spec.gate.baseline.minBadRate: must be below tolerance (0.01): above it the tolerance alone decides";
    // not silently the built-in http-availability: an Error that names the problem
    expect(first[0]).toEqual({
      profile: "http-availability",
      verdict: "Error",
      evidence: message,
      invalidProfile: true,
    });
    // the built-in http-latency (no such object in the cluster) is still used
    expect(first[1]).toMatchObject({ profile: "http-latency", verdict: "NoData" });
    expect(reported).toEqual([message]);
    await expect
      .poll(async () =>
        (await cluster.client.list("v1", "Event", NS)).map((event) => {
          const e = event as KubeObject & { type?: string; reason?: string; message?: string };
          return { type: e.type, reason: e.reason, message: e.message };
        }),
      )
      .toContainEqual({ type: "Warning", reason: "InvalidSLOProfile", message });
    await cluster.client.delete({
      apiVersion: created.apiVersion,
      kind: created.kind,
      namespace: NS,
      name: created.metadata.name,
    });
  });

  it("takes the warm-up from the canary's readiness: recorded, else the first step's start, else the rollout's start", () => {
    const base = rollout(canaryRollout("checkout", NS, [{ setWeight: 10 }, { analysis: {} }]));
    const since = Date.parse("2025-03-01T12:10:00Z");
    const at = (status: Rollout["status"]) => canaryReadyAt({ ...base, status }, since);
    expect(at({ step: 1, startedAt: "2025-03-01T12:00:00Z", canaryReadyAt: "2025-03-01T12:02:00Z" })).toBe(
      Date.parse("2025-03-01T12:02:00Z"),
    );
    expect(at({ step: 0, startedAt: "2025-03-01T12:00:00Z" })).toBe(since);
    expect(at({ step: 1, startedAt: "2025-03-01T12:00:00Z" })).toBe(Date.parse("2025-03-01T12:00:00Z"));
  });
});

describe("the status of an analysis step too short to pass", () => {
  it("adds the warning to the evidence of an Inconclusive verdict, from the traffic the step has seen", async () => {
    const t0 = Date.parse("2025-03-01T12:00:00Z");
    // 4 requests a second to the canary (10%), 36 to the baseline, none of them bad; like Prometheus, the
    // answer holds the series the query's workload matcher selects (all of them without one)
    const workloads = [
      { workload: "checkout", rps: 4 },
      { workload: "checkout-primary", rps: 36 },
    ];
    const counters: MetricsProvider = {
      description: "steady",
      queryCounts: async (query, at) => {
        if (query.includes('response_code=~"5.."')) return [];
        return workloads
          .filter(
            ({ workload }) =>
              !query.includes("destination_workload=") ||
              query.includes(`destination_workload="${workload}"`),
          )
          .map(({ workload, rps }) => ({
            labels: {
              reporter: "destination",
              destination_workload_namespace: NS,
              destination_workload: workload,
            },
            value: Math.floor((rps * (at - t0)) / 1000),
          }));
      },
      health: async () => {},
    };
    const analysis = new ProfileAnalysis(
      counters,
      clusterProfileLookup(
        await loadBuiltInProfiles(),
        () => undefined,
        () => {},
      ),
    );
    const subject = rollout(
      canaryRollout("checkout", NS, [{ setWeight: 10 }, { analysis: { duration: "30s" } }], {
        analysis: { profiles: [{ name: "http-availability" }] },
      }),
    );
    subject.status = { phase: "Progressing", step: 1, stepStartedAt: new Date(t0).toISOString() };
    const since = new Date(t0);
    const [early] = await analysis.evaluate(subject, { since, now: new Date(t0 + 10_000) });
    expect(early!.evidence).not.toContain("analysis step");
    const [later] = await analysis.evaluate(subject, { since, now: new Date(t0 + 30_000) });
    expect(later!.verdict).toBe("Inconclusive");
    // the budget is divided across the plan's two steps and the final gate: fail at 3 / 0.05
    expect(later!.evidence).toContain("(fail at 60)");
    expect(later!.evidence).toMatch(
      /; at ~40 rps \(10% to the canary\) analysis step 2 needs about \d+m(\d+s)? to pass http-availability, even without errors; it is 30s$/,
    );
  });
});

describe("rollout start --rps", () => {
  it("warns about an analysis step too short to pass before starting the release", {
    timeout: 60_000,
  }, async () => {
    await cluster.client.create(deployment("web", NS, "registry/web:1"));
    await cluster.client.create(
      canaryRollout("web", NS, [{ setWeight: 10 }, { analysis: { duration: "30s" } }], {
        analysis: { profiles: [{ name: "http-availability" }] },
      }),
    );
    const { stdout, stderr } = await promisify(execFile)(
      join(root, "cli/bin/rollout.js"),
      [
        "start",
        "web",
        "--image",
        "app=registry/web:2",
        "--rps",
        "40",
        "--kubeconfig",
        cluster.kubeconfig,
        "-n",
        NS,
      ],
      { cwd: root },
    );
    expect(stderr).toMatch(
      /^warning: at ~40 rps \(10% to the canary\) analysis step 2 needs about \d+m(\d+s)? to pass http-availability, even without errors; it is 30s\n$/,
    );
    expect(stdout).toMatch(/^started revision [0-9a-f]+ of shop\/web\n$/);
  });
});
