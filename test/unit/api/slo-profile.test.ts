import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseSLOProfile } from "../../../src/api/slo-profile.ts";

const profileDir = join(import.meta.dirname, "../../../slo-profiles");
const builtIn = readdirSync(profileDir).filter((f) => f.endsWith(".yaml"));

// biome-ignore lint/suspicious/noExplicitAny: the cases reach into the document to break it
type Any = any;
const load = (name: string): Any => parse(readFileSync(join(profileDir, name), "utf8"));

describe("parseSLOProfile", () => {
  it("parses every built-in profile", () => {
    expect(builtIn).toEqual(
      expect.arrayContaining(["http-availability.yaml", "http-latency.yaml", "grpc-availability.yaml"]),
    );
    for (const file of builtIn) {
      const result = parseSLOProfile(load(file));
      expect(result.ok ? [] : result.errors).toEqual([]);
      expect(result.ok && result.value.metadata.name).toBe(file.replace(".yaml", ""));
    }
  });

  it("fills gate defaults", () => {
    const doc = load("http-availability.yaml");
    doc.spec.gate = undefined;
    const result = parseSLOProfile(doc);
    expect(result.ok && result.value.spec.gate).toEqual({
      compare: "baseline",
      tolerance: 0.01,
      alpha: 0.05,
      minRequests: 50,
      warmup: 30_000,
      noData: { policy: "hold", deadline: 300_000 },
      critical: true,
      baseline: { maxRatio: 2 },
    });
  });

  const ratio = "spec.indicator.ratioMetric";
  const invalid: [string, (doc: Any) => void, string, string][] = [
    [
      "both good and bad",
      (d) => (d.spec.indicator.ratioMetric.good = d.spec.indicator.ratioMetric.total),
      ratio,
      "a ratio metric needs exactly one of good, bad, not good and bad",
    ],
    [
      "gauge instead of counter",
      (d) => (d.spec.indicator.ratioMetric.counter = false),
      `${ratio}.counter`,
      "must be true: Stepwise reads raw counters",
    ],
    [
      "no query at all",
      (d) => (d.spec.indicator.ratioMetric.total.metricSource.spec.queries = {}),
      `${ratio}.total.metricSource.spec.queries`,
      "needs a query for at least one of istio, linkerd, gateway, consul",
    ],
    [
      "query for an unknown mesh",
      (d) => (d.spec.indicator.ratioMetric.total.metricSource.spec.queries.kuma = "up"),
      `${ratio}.total.metricSource.spec.queries.kuma`,
      "unknown field",
    ],
    [
      "undeclared template variable",
      (d) => (d.spec.indicator.ratioMetric.total.metricSource.spec.queries.istio = 'sum(x{pod="{{pod}}"})'),
      `${ratio}.total.metricSource.spec.queries.istio`,
      "uses {{pod}}, which is neither a built-in variable (namespace, workload, service) nor a declared arg",
    ],
    [
      "tolerance of 1 or more",
      (d) => (d.spec.gate.tolerance = 5),
      "spec.gate.tolerance",
      "must be less than 1",
    ],
    ["alpha above one half", (d) => (d.spec.gate.alpha = 0.9), "spec.gate.alpha", "must be at most 0.5"],
    [
      "unknown compare mode",
      (d) => (d.spec.gate.compare = "previous"),
      "spec.gate.compare",
      'must be one of "baseline"',
    ],
    [
      "bad no-data policy",
      (d) => (d.spec.gate.noData.policy = "pass"),
      "spec.gate.noData.policy",
      'must be one of "hold", "fail"',
    ],
    ["bad warmup", (d) => (d.spec.gate.warmup = "soon"), "spec.gate.warmup", "must be a duration"],
    [
      "misspelt gate field",
      (d) => (d.spec.gate.minRequest = 10),
      "spec.gate.minRequest",
      'did you mean "minRequests"?',
    ],
    ["wrong kind", (d) => (d.kind = "SLO"), "kind", 'must be "SLOProfile"'],
    [
      "baseline ratio below 1",
      (d) => (d.spec.gate.baseline = { maxRatio: 0.5 }),
      "spec.gate.baseline.maxRatio",
      "must be at least 1",
    ],
    [
      "baseline floor of 1",
      (d) => (d.spec.gate.baseline = { minBadRate: 1 }),
      "spec.gate.baseline.minBadRate",
      "must be less than 1",
    ],
    [
      "baseline floor above the tolerance",
      (d) => (d.spec.gate.baseline = { minBadRate: 0.02 }),
      "spec.gate.baseline.minBadRate",
      "must be below tolerance (0.01)",
    ],
    [
      "pass ratio below the fail ratio",
      (d) => (d.spec.gate.baseline = { maxRatio: 3, passRatio: 2 }),
      "spec.gate.baseline.passRatio",
      "must be at least maxRatio (3)",
    ],
    [
      "histogram bounds for an unknown mesh",
      (d) => (d.spec.args = { thresholdMs: { default: 500, histogramBounds: { kuma: [500] } } }),
      "spec.args.thresholdMs.histogramBounds.kuma",
      "unknown field",
    ],
  ];

  it.each(invalid)("reports %s at its field", (_name, breakIt, path, message) => {
    const doc = load("http-availability.yaml");
    breakIt(doc);
    const result = parseSLOProfile(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message: expect.stringContaining(message) });
  });
});
