import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  CountersRecorder,
  dialectRecorder,
  LATENCY_BUCKETS,
  type RequestRecord,
} from "../../../src/sandbox/mesh/metrics/index.ts";
import { podName, Topology } from "../../../src/sandbox/mesh/topology.ts";
import { NS } from "./support.ts";

const topology = new Topology(
  NS,
  {
    "podinfo-primary": {
      url: "http://127.0.0.1:1",
      workload: "podinfo-primary",
      labels: { app: "podinfo-primary" },
    },
    "podinfo-canary": {
      url: "http://127.0.0.1:2",
      workload: "podinfo",
      labels: { app: "podinfo", version: "2" },
    },
  },
  9898,
);
const canary = topology.resolve({ service: "podinfo-canary", namespace: NS })!;
const caller = topology.source("loadgenerator")!;

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    source: caller,
    service: { name: "podinfo-canary", namespace: NS },
    destination: canary,
    protocol: "http",
    authority: "podinfo",
    status: 200,
    grpcStatus: undefined,
    flags: "-",
    durationMs: 12,
    upstreamMs: 10,
    mirror: false,
    ...overrides,
  };
}

/** The samples of a family; for a histogram, those of one of its series (`_bucket`, `_count`, `_sum`). */
async function series(
  registry: Registry,
  name: string,
  part?: "_bucket" | "_count" | "_sum",
): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? [])
    .filter((v) => part === undefined || (v as { metricName?: string }).metricName === `${name}${part}`)
    .map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

describe("Istio dialect", () => {
  it("reports every request at the source and at the destination, with the standard labels", async () => {
    const registry = new Registry();
    const recorder = dialectRecorder("istio", registry);
    recorder.record(record());
    recorder.record(record({ status: 503 }));
    const all = await series(registry, "istio_requests_total");
    const destination = all.filter((s) => s.labels.reporter === "destination");
    const source = all.filter((s) => s.labels.reporter === "source");
    expect(destination).toHaveLength(2);
    expect(source).toHaveLength(2);
    expect(destination[0]?.labels).toMatchObject({
      destination_workload: "podinfo",
      destination_workload_namespace: NS,
      destination_service: "podinfo-canary.shop.svc.cluster.local",
      destination_service_name: "podinfo-canary",
      destination_version: "2",
      source_workload: "loadgenerator",
      request_protocol: "http",
      response_code: "200",
      grpc_response_status: "",
      connection_security_policy: "mutual_tls",
    });
    const buckets = await series(registry, "istio_request_duration_milliseconds", "_bucket");
    const le10 = buckets.filter((s) => s.labels.reporter === "destination" && s.labels.le === 10);
    expect(le10.map((s) => s.value)).toEqual([1, 1]);
  });

  it("reports a fault abort only at the source, with an unknown destination workload", async () => {
    const registry = new Registry();
    dialectRecorder("istio", registry).record(
      record({ destination: undefined, status: 503, flags: "FI", upstreamMs: 0 }),
    );
    const all = await series(registry, "istio_requests_total");
    expect(all).toHaveLength(1);
    expect(all[0]?.labels).toMatchObject({
      reporter: "source",
      destination_workload: "unknown",
      destination_service_name: "podinfo-canary",
      response_flags: "FI",
    });
  });

  it("reports a mirrored copy at the destination only, and nothing at the source for callers outside the mesh", async () => {
    const registry = new Registry();
    const recorder = dialectRecorder("istio", registry);
    recorder.record(record({ mirror: true }));
    recorder.record(record({ source: undefined }));
    const all = await series(registry, "istio_requests_total");
    expect(all.map((s) => s.labels.reporter)).toEqual(["destination", "destination"]);
    expect(all.find((s) => s.labels.source_workload === "unknown")?.labels.connection_security_policy).toBe(
      "none",
    );
  });
});

describe("Linkerd dialect", () => {
  it("counts inbound responses per deployment with status code and classification", async () => {
    const registry = new Registry();
    const recorder = dialectRecorder("linkerd", registry);
    recorder.record(record());
    recorder.record(record({ status: 500 }));
    recorder.record(record({ status: 404 }));
    recorder.record(record({ destination: undefined, status: 503 }));
    const responses = await series(registry, "response_total");
    expect(responses.map((s) => [s.labels.status_code, s.labels.classification, s.value])).toEqual([
      ["200", "success", 1],
      ["500", "failure", 1],
      ["404", "success", 1],
    ]);
    expect(responses[0]?.labels).toMatchObject({
      direction: "inbound",
      namespace: NS,
      deployment: "podinfo",
      pod: canary.workload.pod,
    });
    expect((await series(registry, "request_total"))[0]?.value).toBe(3);
    const count = (await series(registry, "response_latency_ms", "_count")).reduce(
      (sum, s) => sum + s.value,
      0,
    );
    expect(count).toBe(3);
  });

  it("classifies a gRPC status other than OK as a failure", async () => {
    const registry = new Registry();
    dialectRecorder("linkerd", registry).record(record({ protocol: "grpc", grpcStatus: "14" }));
    const [response] = await series(registry, "response_total");
    expect(response?.labels).toMatchObject({
      classification: "failure",
      grpc_status: "14",
      status_code: "200",
    });
  });
});

describe("Envoy dialects", () => {
  it("gateway: one upstream cluster per backend Service, named namespace/service/port", async () => {
    const registry = new Registry();
    const recorder = dialectRecorder("gateway", registry);
    recorder.record(record());
    recorder.record(record({ status: 503 }));
    const cluster = "shop/podinfo-canary/9898";
    expect(await series(registry, "envoy_cluster_upstream_rq")).toEqual([
      { labels: { envoy_cluster_name: cluster, envoy_response_code: "200" }, value: 1 },
      { labels: { envoy_cluster_name: cluster, envoy_response_code: "503" }, value: 1 },
    ]);
    expect(await series(registry, "envoy_cluster_upstream_rq_xx")).toEqual([
      { labels: { envoy_cluster_name: cluster, envoy_response_code_class: "2" }, value: 1 },
      { labels: { envoy_cluster_name: cluster, envoy_response_code_class: "5" }, value: 1 },
    ]);
    expect(await series(registry, "envoy_cluster_upstream_rq_total")).toEqual([
      { labels: { envoy_cluster_name: cluster }, value: 2 },
    ]);
  });

  it("consul: the workload's inbound local_app cluster, with namespace and pod", async () => {
    const registry = new Registry();
    dialectRecorder("consul", registry).record(record());
    const [rq] = await series(registry, "envoy_cluster_upstream_rq");
    expect(rq?.labels).toEqual({
      envoy_cluster_name: "local_app",
      namespace: NS,
      pod: canary.workload.pod,
      envoy_response_code: "200",
    });
  });
});

describe("counters", () => {
  it("counts requests, errors, statuses and cumulative latency buckets per destination workload", () => {
    const counters = new CountersRecorder(LATENCY_BUCKETS.linkerd);
    counters.record(record({ upstreamMs: 3 }));
    counters.record(record({ status: 500, upstreamMs: 250 }));
    counters.record(record({ destination: undefined, status: 503 }));
    const snapshot = counters.snapshot();
    expect(Object.keys(snapshot)).toEqual(["podinfo"]);
    const podinfo = snapshot.podinfo!;
    expect(podinfo).toMatchObject({
      workload: "podinfo",
      namespace: NS,
      requests: 2,
      errors: 1,
      byStatus: { "200": 1, "500": 1 },
    });
    const at = (bound: number) => podinfo.latency.counts[podinfo.latency.bounds.indexOf(bound)];
    expect([at(2), at(3), at(200), at(300), at(50000)]).toEqual([0, 1, 1, 2, 2]);
    podinfo.requests = 99;
    expect(counters.snapshot().podinfo?.requests).toBe(2);
  });
});

describe("topology", () => {
  it("names pods as a Deployment does, so that the SLO profiles' pod pattern tells workloads apart", () => {
    const pattern = (workload: string) => new RegExp(`^${workload}-[a-z0-9]+-[a-z0-9]+$`);
    expect(podName("podinfo", NS)).toMatch(pattern("podinfo"));
    expect(podName("podinfo-primary", NS)).toMatch(pattern("podinfo-primary"));
    expect(podName("podinfo-primary", NS)).not.toMatch(pattern("podinfo"));
    expect(podName("podinfo", NS)).toBe(podName("podinfo", NS));
  });

  it("finds a subset's backend by pod labels, preferring the addressed Service", () => {
    expect(
      topology.resolve({
        service: "podinfo",
        namespace: NS,
        subset: { name: "canary", labels: { app: "podinfo" } },
      })?.workload.name,
    ).toBe("podinfo");
    expect(
      topology.resolve({ service: "podinfo", namespace: NS, subset: { name: "x", labels: { app: "none" } } }),
    ).toBeUndefined();
    expect(topology.resolve({ service: "podinfo-primary", namespace: NS })?.port).toBe(9898);
    expect(topology.resolve({ service: "podinfo-primary", namespace: NS, port: 80 })?.port).toBe(80);
  });

  it("knows callers by workload name, and gives unknown ones default labels", () => {
    expect(topology.source("podinfo")?.labels).toEqual({ app: "podinfo", version: "2" });
    expect(topology.source("frontend")?.labels).toEqual({ app: "frontend" });
    expect(topology.source(undefined)).toBeUndefined();
  });
});
