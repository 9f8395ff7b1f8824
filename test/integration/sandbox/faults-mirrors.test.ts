/**
 * The APIs without a fault filter inject aborts as a weighted share to the error backend `<svc>-fault`,
 * which answers the status the route sets in its request header; the Gateway API mirrors with a filter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrafficProvider } from "../../../src/api/rollout.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { FAULT_STATUS_HEADER } from "../../../src/routers/traffic-router.ts";
import { eventually, NS, send, startWorld, type World } from "./support.ts";

const meta = { name: "podinfo", namespace: NS };
const PARENT = [{ group: "", kind: "Service", name: "podinfo", port: 9898 }];

const FAULT_CASES: { name: string; provider: TrafficProvider; object: KubeObject; status: number }[] = [
  {
    name: "Gateway API HTTPRoute, status set by a RequestHeaderModifier on the fault backendRef",
    provider: "gateway",
    status: 500,
    object: {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: meta,
      spec: {
        parentRefs: PARENT,
        rules: [
          {
            backendRefs: [
              { name: "podinfo-primary", port: 9898, weight: 7500 },
              { name: "podinfo-canary", port: 9898, weight: 2500 },
              {
                name: "podinfo-fault",
                port: 9898,
                weight: 10000,
                filters: [
                  {
                    type: "RequestHeaderModifier",
                    requestHeaderModifier: { set: [{ name: FAULT_STATUS_HEADER, value: "500" }] },
                  },
                ],
              },
            ],
          },
        ],
      },
    },
  },
  {
    name: "Consul ServiceSplitter, status set by the fault split's requestHeaders",
    provider: "consul",
    status: 502,
    object: {
      apiVersion: "consul.hashicorp.com/v1alpha1",
      kind: "ServiceSplitter",
      metadata: meta,
      spec: {
        splits: [
          { weight: 37.5, service: "podinfo-primary" },
          { weight: 12.5, service: "podinfo-canary" },
          { weight: 50, service: "podinfo-fault", requestHeaders: { set: { [FAULT_STATUS_HEADER]: "502" } } },
        ],
      },
    },
  },
  {
    name: "SMI TrafficSplit, which cannot set headers: the error backend's default status",
    provider: "smi",
    status: 503,
    object: {
      apiVersion: "split.smi-spec.io/v1alpha4",
      kind: "TrafficSplit",
      metadata: meta,
      spec: {
        service: "podinfo",
        backends: [
          { service: "podinfo-primary", weight: 375 },
          { service: "podinfo-canary", weight: 125 },
          { service: "podinfo-fault", weight: 500 },
        ],
      },
    },
  },
];

describe.each(FAULT_CASES)("$name", ({ provider, object, status }) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({
      provider,
      objects: [object],
      backends: {
        primary: { workload: "podinfo-primary" },
        canary: { workload: "podinfo" },
        fault: { behaviour: { scenario: "fault" } },
      },
    });
  });
  afterAll(() => world.close());

  it("sends the fault backend its share, answered with the fault status and counted as its errors", async () => {
    const tally = await send(world.mesh, 200);
    const faults = tally.byVersion.fault ?? 0;
    expect(Math.abs(faults / 200 - 0.5)).toBeLessThan(0.12);
    expect(tally.byStatus[String(status)]).toBe(faults);
    expect(tally.byStatus["200"]).toBe(tally.byVersion.primary! + tally.byVersion.canary!);
    expect(world.mesh.counters()["podinfo-fault"]).toMatchObject({ requests: faults, errors: faults });
  });
});

describe("Gateway API RequestMirror", () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({
      provider: "gateway",
      objects: [
        {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: meta,
          spec: {
            parentRefs: PARENT,
            rules: [
              {
                filters: [
                  {
                    type: "RequestMirror",
                    requestMirror: { backendRef: { name: "podinfo-canary", port: 9898 }, percent: 100 },
                  },
                ],
                backendRefs: [{ name: "podinfo-primary", port: 9898 }],
              },
            ],
          },
        },
      ],
      backends: { primary: { workload: "podinfo-primary" }, canary: { workload: "podinfo" } },
    });
  });
  afterAll(() => world.close());

  it("copies every request to the canary and answers from the primary only", async () => {
    expect((await send(world.mesh, 50)).byVersion).toEqual({ primary: 50 });
    await eventually(async () => (world.backends.canary!.requests() === 50 ? true : undefined));
    await eventually(async () => (world.mesh.counters().podinfo?.requests === 50 ? true : undefined));
  });
});
