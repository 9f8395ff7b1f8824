import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/analysis/random.ts";
import { decide } from "../../../src/sandbox/mesh/choose.ts";
import { Topology } from "../../../src/sandbox/mesh/topology.ts";
import { consulTable } from "../../../src/sandbox/mesh/views/consul.ts";
import { smiTable } from "../../../src/sandbox/mesh/views/smi.ts";
import { draw, NS, object, request, share } from "./support.ts";

const PODINFO = { name: "podinfo", namespace: NS };
const N = 10_000;
const TOLERANCE = 0.015;

describe("SMI TrafficSplit view", () => {
  const trafficSplit = (apiVersion: string, backends: unknown[], service = "podinfo") =>
    object(`split.smi-spec.io/${apiVersion}`, "TrafficSplit", "podinfo", { service, backends });

  it("reads v1alpha1 quantities: 500m and 500m split evenly, 950m and 50m 5%", () => {
    const even = smiTable(
      [
        trafficSplit("v1alpha1", [
          { service: "podinfo-primary", weight: "500m" },
          { service: "podinfo-canary", weight: "500m" },
        ]),
      ],
      PODINFO,
    )!;
    expect(Math.abs(share(draw(even, N), "podinfo-canary") - 0.5)).toBeLessThan(TOLERANCE);
    const five = smiTable(
      [
        trafficSplit("v1alpha1", [
          { service: "podinfo-primary", weight: "950m" },
          { service: "podinfo-canary", weight: "50m" },
        ]),
      ],
      PODINFO,
    )!;
    expect(Math.abs(share(draw(five, N), "podinfo-canary") - 0.05)).toBeLessThan(TOLERANCE);
    const whole = smiTable(
      [
        trafficSplit("v1alpha1", [
          { service: "podinfo-primary", weight: "1" },
          { service: "podinfo-canary", weight: "0" },
        ]),
      ],
      PODINFO,
    )!;
    expect(draw(whole, 100)).toEqual({ "podinfo-primary": 100 });
  });

  it("reads integer weights of later versions, relative to their sum", () => {
    const t = smiTable(
      [
        trafficSplit(
          "v1alpha4",
          [
            { service: "podinfo-primary", weight: 700 },
            { service: "podinfo-canary", weight: 250 },
            { service: "podinfo-fault", weight: 50 },
          ],
          "podinfo.shop.svc.cluster.local",
        ),
      ],
      PODINFO,
    )!;
    const counts = draw(t, N);
    expect(Math.abs(share(counts, "podinfo-canary") - 0.25)).toBeLessThan(TOLERANCE);
    expect(Math.abs(share(counts, "podinfo-fault") - 0.05)).toBeLessThan(TOLERANCE);
  });

  it("applies only to its apex service", () => {
    expect(
      smiTable([trafficSplit("v1alpha2", [{ service: "x", weight: 1 }], "other")], PODINFO),
    ).toBeUndefined();
  });
});

describe("Consul ServiceSplitter view", () => {
  const splitter = (splits: unknown[], name = "podinfo") =>
    object("consul.hashicorp.com/v1alpha1", "ServiceSplitter", name, { splits });

  it("splits by float percentages", () => {
    const t = consulTable(
      [
        splitter([
          { weight: 97.5, service: "podinfo-primary" },
          { weight: 2.5, service: "podinfo-canary" },
        ]),
      ],
      PODINFO,
    )!;
    expect(Math.abs(share(draw(t, N), "podinfo-canary") - 0.025)).toBeLessThan(TOLERANCE);
  });

  it("sends the fault split its share with its request headers", () => {
    const t = consulTable(
      [
        splitter([
          { weight: 85.5, service: "podinfo-primary" },
          { weight: 9.5, service: "podinfo-canary" },
          {
            weight: 5,
            service: "podinfo-fault",
            requestHeaders: { set: { "x-stepwise-fault-status": "500" } },
          },
        ]),
      ],
      PODINFO,
    )!;
    expect(Math.abs(share(draw(t, N), "podinfo-fault") - 0.05)).toBeLessThan(TOLERANCE);
    const random = seededRandom(2);
    const fault = Array.from({ length: 200 }, () => decide(t, request(), random)).find(
      (d) => d.kind === "forward" && d.backend.service === "podinfo-fault",
    );
    expect(fault?.kind === "forward" && fault.headers.flatMap((h) => h.set)).toContainEqual([
      "x-stepwise-fault-status",
      "500",
    ]);
  });

  it("defaults a split's service to the splitter's; subsets and other namespaces cannot be reached", () => {
    const t = consulTable(
      [
        splitter([
          { weight: 50 },
          { weight: 25, service: "podinfo-legacy", serviceSubset: "v1" },
          { weight: 25, service: "podinfo", namespace: "eu" },
        ]),
      ],
      PODINFO,
    )!;
    const topology = new Topology(
      NS,
      { podinfo: "http://127.0.0.1:1", "podinfo-legacy": "http://127.0.0.1:2" },
      80,
    );
    const [own, subset, other] = t.rules[0]!.backends;
    expect(own?.backend).toEqual({ service: "podinfo", namespace: NS });
    expect(topology.resolve(own!.backend)?.url).toBe("http://127.0.0.1:1");
    expect(topology.resolve(subset!.backend)).toBeUndefined();
    expect(topology.resolve(other!.backend)).toBeUndefined();
  });

  it("applies only to the service it is named after", () => {
    expect(consulTable([splitter([{ weight: 100 }], "other")], PODINFO)).toBeUndefined();
  });
});
