import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadBuiltInProfiles,
  ProfileError,
  parseProfiles,
  renderQueries,
  resolveArgs,
  resolveProfiles,
} from "../../../src/analysis/profiles.ts";
import { METRIC_PROVIDERS } from "../../../src/api/slo-profile.ts";

const target = { namespace: "shop", workload: "checkout-canary", service: "checkout-canary" };

describe("built-in profiles", () => {
  it("cover HTTP availability and latency and gRPC availability for every mesh", async () => {
    const profiles = await loadBuiltInProfiles();
    expect([...profiles.keys()].sort()).toEqual(["grpc-availability", "http-availability", "http-latency"]);
    for (const profile of profiles.values()) {
      for (const provider of METRIC_PROVIDERS) {
        const queries = renderQueries(profile, provider, target);
        for (const query of [queries.ratio, queries.total]) {
          expect(query).not.toMatch(/\{\{|\}\}/);
          expect(query).not.toMatch(/^\s*(sum|rate|increase)\(/); // raw counters: Stepwise differences them
        }
      }
    }
  });

  it("render the canary's and the baseline's queries from one template", async () => {
    const [profile] = await resolveProfiles(["http-availability"]);
    expect(renderQueries(profile!, "istio", target)).toEqual({
      part: "bad",
      ratio:
        'istio_requests_total{reporter="destination", destination_workload_namespace="shop", destination_workload="checkout-canary", response_code=~"5.."}',
      total:
        'istio_requests_total{reporter="destination", destination_workload_namespace="shop", destination_workload="checkout-canary"}',
    });
    const baseline = renderQueries(profile!, "linkerd", { ...target, workload: "checkout-primary" });
    expect(baseline.total).toBe(
      'response_total{direction="inbound", namespace="shop", deployment="checkout-primary"}',
    );
  });

  it("count good requests under a latency bucket that matches both 500 and 500.0", async () => {
    const [profile] = await resolveProfiles(["http-latency"]);
    const istio = renderQueries(profile!, "istio", target, { thresholdMs: 250 });
    expect(istio.part).toBe("good");
    expect(istio.ratio).toContain('le=~"250(\\\\.0)?"');
    expect(renderQueries(profile!, "linkerd", target).ratio).toContain('le=~"500(\\\\.0)?"');
  });
});

describe("profile args", () => {
  let latency: Awaited<ReturnType<typeof resolveProfiles>>[number];
  beforeAll(async () => {
    [latency] = (await resolveProfiles(["http-latency"])) as [typeof latency];
  });

  it("must be a bucket bound of the mesh's histogram, naming the nearest ones", () => {
    expect(() => resolveArgs(latency, "istio", { thresholdMs: 300 })).toThrow(
      'profile "http-latency": thresholdMs 300 is not a bucket bound of istio\'s histogram; the nearest are 250 and 500',
    );
    expect(resolveArgs(latency, "linkerd", { thresholdMs: 300 })).toEqual({ thresholdMs: 300 });
    expect(resolveArgs(latency, "istio", { thresholdMs: "2500" })).toEqual({ thresholdMs: 2500 });
    expect(() => resolveArgs(latency, "istio", { thresholdMs: 5_000_000 })).toThrow(
      "the nearest are 3600000",
    );
    expect(() => resolveArgs(latency, "istio", { thresholdMs: "fast" })).toThrow(
      'arg thresholdMs must be a number (a bucket bound), not "fast"',
    );
  });

  it("must be declared, and given when they have no default", () => {
    expect(() => resolveArgs(latency, "istio", { percentile: 99 })).toThrow(
      'profile "http-latency" has no arg percentile; its args are thresholdMs',
    );
    const withArg = PROFILE.replace(
      "spec:\n",
      "spec:\n  args:\n    route: {description: the route}\n",
    ).replace("{istio: shop_requests}", "{istio: 'shop_requests{route=\"{{route}}\"}'}");
    const profile = parseProfiles(withArg, "inline.yaml")[0]!;
    expect(() => renderQueries(profile, "istio", target)).toThrow(
      'profile "custom" needs a value for arg route',
    );
    expect(renderQueries(profile, "istio", target, { route: 'a"b\\c' }).total).toBe(
      'shop_requests{route="a\\"b\\\\c"}',
    );
  });
});

const PROFILE = `apiVersion: stepwise.dev/v1alpha1
kind: SLOProfile
metadata:
  name: custom
spec:
  indicator:
    ratioMetric:
      counter: true
      bad:
        metricSource: {type: prometheus, spec: {queries: {istio: shop_errors}}}
      total:
        metricSource: {type: prometheus, spec: {queries: {istio: shop_requests}}}
`;

describe("profile files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stepwise-profiles-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("load one or more SLOProfiles from a file, next to built-in names", async () => {
    const file = join(dir, "two.yaml");
    await writeFile(file, `${PROFILE}---\n${PROFILE.replace("name: custom", "name: custom-two")}`);
    const profiles = await resolveProfiles([file, "http-latency"]);
    expect(profiles.map((p) => p.metadata.name)).toEqual(["custom", "custom-two", "http-latency"]);
    expect(profiles[0]!.spec.gate.compare).toBe("baseline");
  });

  it("say where a profile is wrong, by file and line", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, `${PROFILE}  gate: {tolerance: 2}\n`);
    await expect(resolveProfiles([file])).rejects.toThrow(
      `${file}:13: spec.gate.tolerance: must be less than 1`,
    );
  });

  it("refuse other kinds, unknown names, missing files, duplicates and meshes without queries", async () => {
    const rollout = join(dir, "rollout.yaml");
    await writeFile(
      rollout,
      "apiVersion: stepwise.dev/v1alpha1\nkind: Rollout\nmetadata: {name: x}\nspec: {}\n",
    );
    await expect(resolveProfiles([rollout])).rejects.toThrow(ProfileError);
    await expect(resolveProfiles(["http-availabilty"])).rejects.toThrow(
      'unknown profile "http-availabilty": built-in profiles are grpc-availability, http-availability, http-latency; or give a YAML file',
    );
    await expect(resolveProfiles([join(dir, "none.yaml")])).rejects.toThrow(
      `${join(dir, "none.yaml")}: cannot read: ENOENT`,
    );
    await expect(resolveProfiles(["http-latency", "http-latency"])).rejects.toThrow(
      'profile "http-latency" is given twice',
    );
    const [custom] = parseProfiles(PROFILE, "inline.yaml");
    expect(() => renderQueries(custom!, "linkerd", target)).toThrow(
      'profile "custom" has no linkerd queries; it has queries for istio',
    );
  });
});
