import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/analysis/random.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { decide } from "../../../src/sandbox/mesh/choose.ts";
import { IstioView, parseIstioDuration } from "../../../src/sandbox/mesh/views/istio.ts";
import { draw, NS, object, request, share, workload } from "./support.ts";

const PODINFO = { name: "podinfo", namespace: NS };
const N = 10_000;
const TOLERANCE = 0.015;

function vs(name: string, spec: unknown): KubeObject {
  return object("networking.istio.io/v1", "VirtualService", name, spec);
}

function split(primary: number, canary: number, extra: Record<string, unknown> = {}) {
  return {
    hosts: ["podinfo", "podinfo.shop.svc.cluster.local"],
    http: [
      {
        name: "primary",
        ...extra,
        route: [
          { destination: { host: "podinfo-primary", port: { number: 9898 } }, weight: primary },
          { destination: { host: "podinfo-canary", port: { number: 9898 } }, weight: canary },
        ],
      },
    ],
  };
}

function table(...virtualServices: KubeObject[]) {
  const t = new IstioView(virtualServices, []).table(PODINFO);
  if (!t) throw new Error("no table");
  return t;
}

describe("Istio VirtualService view", () => {
  it("sends everything to the only weighted destination at 100/0 and 0/100", () => {
    expect(draw(table(vs("podinfo", split(100, 0))), 1000)).toEqual({ "podinfo-primary": 1000 });
    expect(draw(table(vs("podinfo", split(0, 100))), 1000)).toEqual({ "podinfo-canary": 1000 });
  });

  it("splits by weight within 1.5% over 10,000 draws", () => {
    for (const canary of [5, 25, 50, 90]) {
      const counts = draw(table(vs("podinfo", split(100 - canary, canary))), N, request(), canary);
      expect(Math.abs(share(counts, "podinfo-canary") - canary / 100)).toBeLessThan(TOLERANCE);
    }
  });

  it("treats weights as relative, and a lone destination without weight as 100%", () => {
    const relative = table(vs("podinfo", split(3, 1)));
    expect(Math.abs(share(draw(relative, N), "podinfo-canary") - 0.25)).toBeLessThan(TOLERANCE);
    const lone = table(
      vs("podinfo", {
        hosts: ["podinfo"],
        http: [{ route: [{ destination: { host: "podinfo-primary" } }] }],
      }),
    );
    expect(draw(lone, 100)).toEqual({ "podinfo-primary": 100 });
  });

  it("reads the destination's service, namespace and port", () => {
    const d = decide(table(vs("podinfo", split(100, 0))), request(), seededRandom(1));
    expect(d.kind === "forward" && d.backend).toEqual({
      service: "podinfo-primary",
      namespace: NS,
      port: 9898,
    });
  });

  it("tries routes in order: a header or cookie match route before the catch-all", () => {
    const abTest = vs("podinfo", {
      hosts: ["podinfo"],
      http: [
        {
          name: "stepwise-match-podinfo",
          match: [
            { headers: { "x-canary": { exact: "always" } } },
            { headers: { cookie: { regex: ".*(?:canary=1).*" } } },
          ],
          route: [{ destination: { host: "podinfo-canary" } }],
        },
        ...split(100, 0).http,
      ],
    });
    const t = table(abTest);
    expect(draw(t, 100, request({ headers: { "x-canary": "always" } }))).toEqual({ "podinfo-canary": 100 });
    expect(draw(t, 100, request({ headers: { cookie: "a=b; canary=1; c=d" } }))).toEqual({
      "podinfo-canary": 100,
    });
    expect(draw(t, 100, request({ headers: { "x-canary": "sometimes", cookie: "canary=0" } }))).toEqual({
      "podinfo-primary": 100,
    });
  });

  it("matches uri prefix (case-insensitively when asked), method, query and withoutHeaders", () => {
    const t = table(
      vs("podinfo", {
        hosts: ["podinfo"],
        http: [
          {
            match: [
              {
                uri: { prefix: "/API/" },
                ignoreUriCase: true,
                method: { exact: "POST" },
                queryParams: { v: { exact: "2" } },
              },
            ],
            route: [{ destination: { host: "podinfo-canary" } }],
          },
          {
            match: [{ uri: { regex: "/static/.*" }, withoutHeaders: { "x-debug": {} } }],
            route: [{ destination: { host: "podinfo-static" } }],
          },
        ],
      }),
    );
    expect(draw(t, 10, request({ method: "POST", path: "/api/x", query: "v=2" }))).toEqual({
      "podinfo-canary": 10,
    });
    expect(draw(t, 10, request({ method: "GET", path: "/api/x", query: "v=2" }))).toEqual({ "no-route": 10 });
    expect(draw(t, 10, request({ path: "/static/a.css" }))).toEqual({ "podinfo-static": 10 });
    expect(draw(t, 10, request({ path: "/static/a.css", headers: { "x-debug": "1" } }))).toEqual({
      "no-route": 10,
    });
  });

  it("mirrors the given percentage (100% when only mirror is set)", () => {
    const random = seededRandom(3);
    const partial = table(
      vs("podinfo", split(100, 0, { mirror: { host: "podinfo-canary" }, mirrorPercentage: { value: 20 } })),
    );
    let mirrored = 0;
    for (let i = 0; i < N; i++) {
      const d = decide(partial, request(), random);
      if (d.kind === "forward" && d.mirrors.some((m) => m.service === "podinfo-canary")) mirrored++;
    }
    expect(Math.abs(mirrored / N - 0.2)).toBeLessThan(TOLERANCE);
    const full = table(vs("podinfo", split(100, 0, { mirror: { host: "podinfo-canary" } })));
    const d = decide(full, request(), random);
    expect(d.kind === "forward" && d.mirrors).toEqual([{ service: "podinfo-canary", namespace: NS }]);
  });

  it("aborts and delays the configured percentages, independently", () => {
    const t = table(
      vs(
        "podinfo",
        split(100, 0, {
          fault: {
            abort: { httpStatus: 503, percentage: { value: 5 } },
            delay: { fixedDelay: "0.250s", percentage: { value: 30 } },
          },
        }),
      ),
    );
    const random = seededRandom(11);
    let aborted = 0;
    let delayed = 0;
    for (let i = 0; i < N; i++) {
      const d = decide(t, request(), random);
      if (d.kind === "abort") {
        expect(d.status).toBe(503);
        aborted++;
      }
      if ((d.kind === "abort" || d.kind === "forward") && d.delayMs > 0) {
        expect(d.delayMs).toBe(250);
        delayed++;
      }
    }
    expect(Math.abs(aborted / N - 0.05)).toBeLessThan(TOLERANCE);
    expect(Math.abs(delayed / N - 0.3)).toBeLessThan(TOLERANCE);
  });

  it("faults nobody when the percentage is unset, everybody at 100, and maps gRPC status names", () => {
    const none = table(vs("podinfo", split(100, 0, { fault: { abort: { httpStatus: 500 } } })));
    expect(draw(none, 100)).toEqual({ "podinfo-primary": 100 });
    const all = table(
      vs(
        "podinfo",
        split(100, 0, { fault: { abort: { grpcStatus: "UNAVAILABLE", percentage: { value: 100 } } } }),
      ),
    );
    expect(draw(all, 100)).toEqual({ "abort:14": 100 });
  });

  it("scopes a dependency fault to callers with the sourceLabels", () => {
    const payments = vs("podinfo-fault-payments", {
      hosts: ["payments"],
      http: [
        {
          name: "stepwise-fault-podinfo",
          match: [{ sourceLabels: { app: "podinfo" } }, { sourceLabels: { app: "podinfo-primary" } }],
          fault: { abort: { httpStatus: 503, percentage: { value: 100 } } },
          route: [{ destination: { host: "payments" } }],
        },
        { name: "default", route: [{ destination: { host: "payments" } }] },
      ],
    });
    const t = new IstioView([payments], []).table({ name: "payments", namespace: NS });
    if (!t) throw new Error("no table");
    const from = (labels: Record<string, string>) =>
      request({ authority: "payments", source: workload("w", labels) });
    expect(draw(t, 10, from({ app: "podinfo", version: "2" }))).toEqual({ "abort:503": 10 });
    expect(draw(t, 10, from({ app: "podinfo-primary" }))).toEqual({ "abort:503": 10 });
    expect(draw(t, 10, from({ app: "frontend" }))).toEqual({ payments: 10 });
    expect(draw(t, 10, request({ authority: "payments" }))).toEqual({ payments: 10 });
  });

  it("resolves subsets through the DestinationRule of the host", () => {
    const subsetRoute = vs("podinfo", {
      hosts: ["podinfo"],
      http: [
        {
          route: [
            { destination: { host: "podinfo", subset: "primary" }, weight: 80 },
            { destination: { host: "podinfo", subset: "canary" }, weight: 20 },
          ],
        },
      ],
    });
    const rule = object("networking.istio.io/v1", "DestinationRule", "podinfo", {
      host: "podinfo.shop.svc.cluster.local",
      subsets: [
        { name: "primary", labels: { app: "podinfo-primary" } },
        { name: "canary", labels: { app: "podinfo" } },
      ],
    });
    const t = new IstioView([subsetRoute], [rule]).table(PODINFO)!;
    const subsets = t.rules[0]?.backends.map((b) => b.backend.subset);
    expect(subsets).toEqual([
      { name: "primary", labels: { app: "podinfo-primary" } },
      { name: "canary", labels: { app: "podinfo" } },
    ]);
    const missing = new IstioView([subsetRoute], []).table(PODINFO)!;
    expect(missing.rules[0]?.backends[0]?.backend.subset).toEqual({ name: "primary", labels: undefined });
  });

  it("applies the oldest VirtualService for sidecars and ignores gateway-only ones", () => {
    const gatewayOnly = vs("edge", { ...split(0, 100), gateways: ["istio-system/public"] });
    const first = vs("first", split(100, 0));
    const second = vs("second", split(0, 100));
    expect(table(second, gatewayOnly, first).origin).toBe("VirtualService shop/first");
    expect(new IstioView([gatewayOnly], []).table(PODINFO)).toBeUndefined();
  });

  it("answers 503 when every weight is 0 and 404 when no route matches", () => {
    expect(draw(table(vs("podinfo", split(0, 0))), 5)).toEqual({ "no-backend": 5 });
    const onlyMatch = vs("podinfo", {
      hosts: ["podinfo"],
      http: [{ match: [{ uri: { exact: "/x" } }], route: [{ destination: { host: "a" } }] }],
    });
    expect(draw(table(onlyMatch), 5)).toEqual({ "no-route": 5 });
    expect(table(vs("podinfo", split(0, 0))).noBackendStatus).toBe(503);
  });

  it("parses Go and protobuf durations", () => {
    expect(parseIstioDuration("5s")).toBe(5000);
    expect(parseIstioDuration("0.250s")).toBe(250);
    expect(parseIstioDuration("100ms")).toBe(100);
    expect(parseIstioDuration("1m30s")).toBe(90_000);
    expect(parseIstioDuration("soon")).toBeUndefined();
  });
});
