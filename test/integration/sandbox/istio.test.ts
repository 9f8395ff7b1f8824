import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { DEGRADED_HEADER } from "../../../src/sandbox/backends/index.ts";
import { httpCall, SOURCE_HEADER } from "../../../src/sandbox/mesh/index.ts";
import { startTraffic } from "../../../src/sandbox/traffic/index.ts";
import { eventually, NS, scrape, send, startWorld, tableUpdated, total, type World } from "./support.ts";

const VS = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", namespace: NS, name: "podinfo" };

function virtualService(primary: number, canary: number): KubeObject {
  return {
    apiVersion: VS.apiVersion,
    kind: VS.kind,
    metadata: { name: VS.name, namespace: NS },
    spec: {
      hosts: ["podinfo"],
      http: [
        {
          name: "primary",
          route: [
            { destination: { host: "podinfo-primary", port: { number: 9898 } }, weight: primary },
            { destination: { host: "podinfo-canary", port: { number: 9898 } }, weight: canary },
          ],
        },
      ],
    },
  };
}

describe("Istio data plane over the emulator", () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld({
      provider: "istio",
      objects: [virtualService(100, 0)],
      backends: {
        primary: { workload: "podinfo-primary", labels: { app: "podinfo-primary" } },
        canary: { workload: "podinfo", labels: { app: "podinfo" } },
      },
    });
  });
  afterAll(() => world.close());

  /** Replaces the managed route (index 0 unless an A/B route was put before it). */
  const setWeights = (primary: number, canary: number, index = 0) =>
    world.client.jsonPatch(VS, [
      { op: "replace", path: `/spec/http/${index}/route/0/weight`, value: primary },
      { op: "replace", path: `/spec/http/${index}/route/1/weight`, value: canary },
    ]);

  it("routes by the VirtualService and follows weight changes made through the API", async () => {
    expect((await send(world.mesh, 40)).byVersion).toEqual({ primary: 40 });

    await setWeights(50, 50);
    await eventually(async () => ((await send(world.mesh, 10)).byVersion.canary ? true : undefined));
    const half = await send(world.mesh, 300);
    expect(Math.abs((half.byVersion.canary ?? 0) / 300 - 0.5)).toBeLessThan(0.1);

    await setWeights(0, 100);
    await eventually(async () => ((await send(world.mesh, 20)).byVersion.canary === 20 ? true : undefined));
    expect((await send(world.mesh, 100)).byVersion).toEqual({ canary: 100 });
    await setWeights(100, 0);
    await tableUpdated(world.mesh, (t) => t.rules[0]?.backends[1]?.weight === 0);
  });

  it("exports istio_requests_total per workload, reported by source and destination", async () => {
    const samples = await scrape(world.mesh);
    for (const [workload, backend] of [
      ["podinfo-primary", world.backends.primary!],
      ["podinfo", world.backends.canary!],
    ] as const) {
      expect(
        total(samples, "istio_requests_total", {
          reporter: "destination",
          destination_workload: workload,
          destination_workload_namespace: NS,
          source_workload: "loadgenerator",
          response_code: "200",
        }),
      ).toBe(backend.requests());
    }
    const sent = world.backends.primary!.requests() + world.backends.canary!.requests();
    expect(
      total(samples, "istio_requests_total", { reporter: "source", source_workload: "loadgenerator" }),
    ).toBe(sent);
    expect(
      total(samples, "istio_request_duration_milliseconds_count", {
        reporter: "destination",
        destination_workload: "podinfo",
      }),
    ).toBe(world.backends.canary!.requests());
    expect(world.mesh.counters().podinfo?.requests).toBe(world.backends.canary!.requests());
  });

  it("sends a tagged share of generated traffic to the canary through a header match route", async () => {
    await world.client.jsonPatch(VS, [
      {
        op: "add",
        path: "/spec/http/0",
        value: {
          name: "stepwise-match-podinfo",
          match: [{ headers: { "x-canary": { exact: "always" } } }],
          route: [{ destination: { host: "podinfo-canary", port: { number: 9898 } } }],
        },
      },
    ]);
    await tableUpdated(world.mesh, (t) => t.rules.length === 2);
    const traffic = startTraffic({
      url: world.mesh.url,
      host: "podinfo",
      rps: 400,
      count: 200,
      tagged: { share: 0.25, headers: { "x-canary": "always" } },
    });
    const counts = await traffic.done;
    expect(counts).toMatchObject({ sent: 200, answered: 200, failed: 0, byStatus: { "200": 200 } });
    expect(counts.tagged).toEqual({ sent: 50, byVersion: { canary: 50 } });
    expect(counts.byVersion).toEqual({ primary: 150, canary: 50 });
  });

  it("mirrors to the canary and discards its answers", async () => {
    await world.client.jsonPatch(VS, [
      { op: "add", path: "/spec/http/1/mirror", value: { host: "podinfo-canary", port: { number: 9898 } } },
      { op: "add", path: "/spec/http/1/mirrorPercentage", value: { value: 100 } },
    ]);
    await tableUpdated(world.mesh, (t) => t.rules[1]?.mirrors.length === 1);
    const before = world.backends.canary!.requests();
    expect((await send(world.mesh, 40)).byVersion).toEqual({ primary: 40 });
    await eventually(async () => (world.backends.canary!.requests() === before + 40 ? true : undefined));
    await eventually(async () => {
      const samples = await scrape(world.mesh);
      const mirrored = total(samples, "istio_requests_total", {
        reporter: "destination",
        destination_workload: "podinfo",
      });
      return mirrored === world.backends.canary!.requests() ? true : undefined;
    });
    await world.client.jsonPatch(VS, [
      { op: "remove", path: "/spec/http/1/mirror" },
      { op: "remove", path: "/spec/http/1/mirrorPercentage" },
    ]);
    await tableUpdated(world.mesh, (t) => t.rules[1]?.mirrors.length === 0);
  });

  it("aborts at the caller's sidecar: only the source reports the fault", async () => {
    await world.client.jsonPatch(VS, [
      {
        op: "add",
        path: "/spec/http/1/fault",
        value: { abort: { httpStatus: 503, percentage: { value: 100 } } },
      },
    ]);
    await tableUpdated(world.mesh, (t) => t.rules[1]?.fault !== undefined);
    const primaryBefore = world.backends.primary!.requests();
    expect((await send(world.mesh, 30)).byStatus).toEqual({ "503": 30 });
    expect(world.backends.primary!.requests()).toBe(primaryBefore);
    const samples = await scrape(world.mesh);
    expect(
      total(samples, "istio_requests_total", {
        reporter: "source",
        response_code: "503",
        response_flags: "FI",
      }),
    ).toBe(30);
    expect(total(samples, "istio_requests_total", { reporter: "destination", response_code: "503" })).toBe(0);
    await world.client.jsonPatch(VS, [{ op: "remove", path: "/spec/http/1/fault" }]);
    await tableUpdated(world.mesh, (t) => t.rules[1]?.fault === undefined);
  });

  it("keeps following the API after watches are closed and history is compacted (410, relist)", async () => {
    world.api.compact();
    world.api.faults.closeWatches();
    await setWeights(0, 100, 1);
    await eventually(async () => ((await send(world.mesh, 20)).byVersion.canary === 20 ? true : undefined));
    world.api.faults.expireNextWatch(1);
    world.api.faults.dropWatches();
    await setWeights(100, 0, 1);
    await eventually(async () => ((await send(world.mesh, 20)).byVersion.primary === 20 ? true : undefined));
  });
});

describe("Istio dependency fault scoped by sourceLabels", () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld({
      provider: "istio",
      objects: [virtualService(50, 50)],
      backends: {
        primary: {
          workload: "podinfo-primary",
          labels: { app: "podinfo-primary" },
          behaviour: { scenario: "flaky-dependency", fallback: true },
        },
        canary: {
          workload: "podinfo",
          labels: { app: "podinfo" },
          behaviour: { scenario: "flaky-dependency", fallback: false },
        },
        payments: { service: "payments", workload: "payments" },
      },
    });
    for (const [version, source] of [
      ["primary", "podinfo-primary"],
      ["canary", "podinfo"],
    ] as const)
      world.backends[version]!.setDependency({
        url: world.mesh.url,
        host: "payments",
        source,
        timeoutMs: 1000,
      });
  });
  afterAll(() => world.close());

  it("fails the canary without fallback and degrades the primary with fallback; other callers are spared", async () => {
    expect((await send(world.mesh, 40)).byStatus).toEqual({ "200": 40 });
    await world.client.create({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "podinfo-fault-payments", namespace: NS },
      spec: {
        hosts: ["payments"],
        http: [
          {
            name: "stepwise-fault-podinfo",
            match: [{ sourceLabels: { app: "podinfo-primary" } }, { sourceLabels: { app: "podinfo" } }],
            fault: { abort: { httpStatus: 503, percentage: { value: 100 } } },
            route: [{ destination: { host: "payments" } }],
          },
          { name: "default", route: [{ destination: { host: "payments" } }] },
        ],
      },
    });
    await tableUpdated(world.mesh, (t) => t.rules.length === 2, "payments");
    const tally = await send(world.mesh, 100);
    expect(tally.byStatus["500"]).toBe(tally.byVersion.canary);
    expect(tally.byStatus["200"]).toBe(tally.byVersion.primary);
    expect(tally.byVersion.canary).toBeGreaterThan(25);

    const degraded = await eventually(async () => {
      const answer = await httpCall(world.mesh.url, {
        path: "/",
        headers: { host: "podinfo", [SOURCE_HEADER]: "t" },
      });
      return answer.headers["x-sandbox-version"] === "primary" ? answer : undefined;
    });
    expect(degraded.headers[DEGRADED_HEADER]).toBe("true");

    const direct = await send(world.mesh, 10, { host: "payments", source: "frontend" });
    expect(direct.byStatus).toEqual({ "200": 10 });

    const samples = await scrape(world.mesh);
    const errors = (workload: string) =>
      total(samples, "istio_requests_total", {
        reporter: "destination",
        destination_workload: workload,
        response_code: "500",
      });
    expect(errors("podinfo")).toBeGreaterThanOrEqual(tally.byVersion.canary!);
    expect(errors("podinfo-primary")).toBe(0);
    expect(
      total(samples, "istio_requests_total", {
        reporter: "source",
        source_workload: "podinfo",
        destination_service_name: "payments",
        response_flags: "FI",
      }),
    ).toBeGreaterThanOrEqual(tally.byVersion.canary!);
  });

  it("delays the canary's calls past its timeout: it fails, and the baseline (not selected) does not", async () => {
    const ref = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      namespace: NS,
      name: "podinfo-fault-payments",
    };
    await world.client.jsonPatch(ref, [
      { op: "replace", path: "/spec/http/0/match", value: [{ sourceLabels: { app: "podinfo" } }] },
      {
        op: "replace",
        path: "/spec/http/0/fault",
        value: { delay: { fixedDelay: "5s", percentage: { value: 100 } } },
      },
    ]);
    await tableUpdated(world.mesh, (t) => t.rules[0]?.fault?.delay !== undefined, "payments");
    const tally = await send(world.mesh, 40);
    expect(tally.byStatus["500"]).toBe(tally.byVersion.canary);
    expect(tally.byStatus["200"]).toBe(tally.byVersion.primary);
    // the canary gave up on each call while the fault held it: reset downstream (DC), never sent upstream
    const hungUp = {
      reporter: "source",
      source_workload: "podinfo",
      response_code: "0",
      response_flags: "DI,DC",
    };
    await eventually(async () =>
      total(await scrape(world.mesh), "istio_requests_total", hungUp) === tally.byVersion.canary
        ? true
        : undefined,
    );
  });
});
