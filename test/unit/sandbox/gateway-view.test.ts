import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/analysis/random.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { decide } from "../../../src/sandbox/mesh/choose.ts";
import { GatewayView } from "../../../src/sandbox/mesh/views/gateway.ts";
import { routingTable } from "../../../src/sandbox/mesh/views/index.ts";
import { draw, NS, object, request, share } from "./support.ts";

const PODINFO = { name: "podinfo", namespace: NS };
const N = 10_000;
const PARENT = [{ group: "", kind: "Service", name: "podinfo", port: 9898 }];

function route(name: string, rules: unknown[], kind = "HTTPRoute", parentRefs: unknown = PARENT): KubeObject {
  return object("gateway.networking.k8s.io/v1", kind, name, { parentRefs, rules });
}

function ref(name: string, weight?: number, extra: Record<string, unknown> = {}) {
  return {
    group: "",
    kind: "Service",
    name,
    port: 9898,
    ...(weight === undefined ? {} : { weight }),
    ...extra,
  };
}

function table(...routes: KubeObject[]) {
  const t = new GatewayView(routes).table(PODINFO, "HTTPRoute");
  if (!t) throw new Error("no table");
  return t;
}

describe("Gateway API HTTPRoute view", () => {
  it("splits by relative weights, down to sub-percent shares (9950/50)", () => {
    const counts = draw(
      table(route("podinfo", [{ backendRefs: [ref("podinfo-primary", 9950), ref("podinfo-canary", 50)] }])),
      N,
    );
    expect(Math.abs(share(counts, "podinfo-canary") - 0.005)).toBeLessThan(0.015);
    expect(counts["podinfo-canary"]).toBeGreaterThan(20);
    expect(counts["podinfo-canary"]).toBeLessThan(90);
    const half = draw(
      table(route("podinfo", [{ backendRefs: [ref("podinfo-primary", 1), ref("podinfo-canary", 1)] }])),
      N,
    );
    expect(Math.abs(share(half, "podinfo-canary") - 0.5)).toBeLessThan(0.015);
  });

  it("defaults a missing weight to 1, and answers 500 when every weight is 0", () => {
    expect(draw(table(route("podinfo", [{ backendRefs: [ref("podinfo-primary")] }])), 10)).toEqual({
      "podinfo-primary": 10,
    });
    const zero = table(
      route("podinfo", [{ backendRefs: [ref("podinfo-primary", 0), ref("podinfo-canary", 0)] }]),
    );
    expect(draw(zero, 10)).toEqual({ "no-backend": 10 });
    expect(zero.noBackendStatus).toBe(500);
  });

  it("ranks the more specific match first, whatever the rule order", () => {
    const t = table(
      route("podinfo", [
        { backendRefs: [ref("podinfo-primary", 100)] },
        {
          name: "stepwise-match-podinfo",
          matches: [
            { headers: [{ name: "X-Canary", value: "always" }] },
            { headers: [{ type: "RegularExpression", name: "cookie", value: ".*canary=1.*" }] },
          ],
          backendRefs: [ref("podinfo-canary")],
        },
        { matches: [{ path: { type: "PathPrefix", value: "/v1" } }], backendRefs: [ref("podinfo-legacy")] },
        { matches: [{ path: { type: "Exact", value: "/v1/health" } }], backendRefs: [ref("podinfo-health")] },
      ]),
    );
    expect(draw(t, 10, request({ headers: { "x-canary": "always" } }))).toEqual({ "podinfo-canary": 10 });
    expect(draw(t, 10, request({ headers: { cookie: "a=1; canary=1" } }))).toEqual({ "podinfo-canary": 10 });
    expect(draw(t, 10, request({ path: "/v1/items" }))).toEqual({ "podinfo-legacy": 10 });
    expect(draw(t, 10, request({ path: "/v1" }))).toEqual({ "podinfo-legacy": 10 });
    expect(draw(t, 10, request({ path: "/v1beta" }))).toEqual({ "podinfo-primary": 10 });
    expect(draw(t, 10, request({ path: "/v1/health" }))).toEqual({ "podinfo-health": 10 });
  });

  it("breaks ties by route age, then rule order", () => {
    const older = route("older", [{ backendRefs: [ref("from-older")] }]);
    const newer = route("newer", [{ backendRefs: [ref("from-newer")] }]);
    expect(draw(table(newer, older), 5)).toEqual({ "from-older": 5 });
  });

  it("answers 404 when no match holds, and ignores routes of other parents", () => {
    const t = table(
      route("podinfo", [{ matches: [{ path: { type: "Exact", value: "/only" } }], backendRefs: [ref("a")] }]),
    );
    expect(draw(t, 5)).toEqual({ "no-route": 5 });
    const gatewayParent = route("edge", [{ backendRefs: [ref("a")] }], "HTTPRoute", [{ name: "public" }]);
    expect(new GatewayView([gatewayParent]).table(PODINFO, "HTTPRoute")).toBeUndefined();
  });

  it("mirrors by percent or fraction, 100% by default", () => {
    const mirrorRule = (requestMirror: Record<string, unknown>) =>
      table(
        route("podinfo", [
          {
            filters: [
              {
                type: "RequestMirror",
                requestMirror: { backendRef: ref("podinfo-canary"), ...requestMirror },
              },
            ],
            backendRefs: [ref("podinfo-primary")],
          },
        ]),
      );
    const mirrored = (t: ReturnType<typeof table>) => {
      const random = seededRandom(5);
      let n = 0;
      for (let i = 0; i < N; i++) {
        const d = decide(t, request(), random);
        if (d.kind === "forward" && d.mirrors.length > 0) n++;
      }
      return n / N;
    };
    expect(Math.abs(mirrored(mirrorRule({ percent: 10 })) - 0.1)).toBeLessThan(0.015);
    expect(
      Math.abs(mirrored(mirrorRule({ fraction: { numerator: 50, denominator: 10000 } })) - 0.005),
    ).toBeLessThan(0.015);
    expect(mirrored(mirrorRule({}))).toBe(1);
  });

  it("sends the fault backend its share with the header that names the status", () => {
    const t = table(
      route("podinfo", [
        {
          backendRefs: [
            ref("podinfo-primary", 7500),
            ref("podinfo-canary", 2500),
            ref("podinfo-fault", 526, {
              filters: [
                {
                  type: "RequestHeaderModifier",
                  requestHeaderModifier: { set: [{ name: "x-stepwise-fault-status", value: "503" }] },
                },
              ],
            }),
          ],
        },
      ]),
    );
    const counts = draw(t, N);
    expect(Math.abs(share(counts, "podinfo-fault") - 526 / 10526)).toBeLessThan(0.015);
    const random = seededRandom(1);
    for (let i = 0; i < 200; i++) {
      const d = decide(t, request(), random);
      if (d.kind === "forward" && d.backend.service === "podinfo-fault") {
        expect(d.headers.flatMap((ops) => ops.set)).toContainEqual(["x-stepwise-fault-status", "503"]);
        return;
      }
    }
    throw new Error("the fault backend was never chosen");
  });
});

describe("Gateway API GRPCRoute view", () => {
  const grpc = route(
    "podinfo",
    [
      { matches: [{ method: { service: "shop.Admin" } }], backendRefs: [ref("podinfo-admin")] },
      {
        matches: [{ method: { service: "shop.Checkout", method: "Pay" } }],
        backendRefs: [ref("podinfo-pay")],
      },
      { backendRefs: [ref("podinfo-primary", 1)] },
    ],
    "GRPCRoute",
  );

  it("routes gRPC requests by service and method, longest match first", () => {
    const t = routingTable("gateway", (kind) => (kind === "GRPCRoute" ? [grpc] : []), PODINFO, "grpc");
    expect(draw(t, 5, request({ method: "POST", path: "/shop.Admin/List" }))).toEqual({ "podinfo-admin": 5 });
    expect(draw(t, 5, request({ method: "POST", path: "/shop.Checkout/Pay" }))).toEqual({ "podinfo-pay": 5 });
    expect(draw(t, 5, request({ method: "POST", path: "/shop.Checkout/Refund" }))).toEqual({
      "podinfo-primary": 5,
    });
  });

  it("leaves HTTP requests to HTTPRoutes, or to the Service itself", () => {
    const t = routingTable("gateway", (kind) => (kind === "GRPCRoute" ? [grpc] : []), PODINFO, "http");
    expect(t.origin).toBe("Service shop/podinfo (no route object)");
    expect(draw(t, 3)).toEqual({ podinfo: 3 });
  });
});
