/**
 * GitOps-form writes: once a release ends (the engine's last word is weight 0, after a promotion and a
 * rollback alike), the route object's spec is what the user wrote, deep-equal (key order aside), on real
 * upstream objects: their weights in their own scale, no canary entry they did not have, no weight field
 * where they wrote none.
 */
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ConsulModel } from "../../../src/routers/consul/service-splitter.ts";
import { GatewayModel } from "../../../src/routers/gateway/route.ts";
import { IstioModel } from "../../../src/routers/istio/virtual-service.ts";
import type { Change, RouteModel } from "../../../src/routers/model.ts";
import { recordKey } from "../../../src/routers/record.ts";
import { SmiModel } from "../../../src/routers/smi/traffic-split.ts";
import { applyPatch, context, istioContext, upstream } from "./support.ts";

function run(model: RouteModel, object: KubeObject, changes: Change[]): KubeObject {
  let current = { ...object, metadata: { ...object.metadata, resourceVersion: "1" } };
  for (const change of changes) current = applyPatch(current, model.plan(current, change));
  return current;
}

const weights = (...percents: number[]): Change[] =>
  percents.map((canaryPercent) => ({ kind: "weight", canaryPercent }));

const cases: { name: string; model: RouteModel; object: KubeObject }[] = [
  {
    name: "Argo Rollouts' rollout-vsvc (host mode, 100/0)",
    model: new IstioModel(
      istioContext("host", {
        stableService: "stable-svc",
        canaryService: "canary-svc",
        routeName: "primary",
      }),
      "networking.istio.io/v1alpha3",
    ),
    object: upstream("istio/argo-rollouts-rollout-vsvc.yaml", "VirtualService"),
  },
  {
    name: "Flagger's frontend VirtualService (CORS, retries, headers)",
    model: new IstioModel(
      istioContext("host", { stableService: "podinfo-primary", canaryService: "podinfo-canary" }),
      "networking.istio.io/v1alpha3",
    ),
    object: upstream("istio/flagger-frontend.yaml", "VirtualService"),
  },
  {
    name: "bookinfo reviews jason-v2-v3 (subset mode, one destination without weight)",
    model: new IstioModel(
      istioContext("subset", { service: "reviews", subsets: { stable: "v3", canary: "canary" } }),
      "networking.istio.io/v1",
    ),
    object: upstream("istio/bookinfo-reviews-jason-v2-v3.yaml", "VirtualService"),
  },
  {
    name: "Gateway API bar-route (no weights written)",
    model: new GatewayModel(
      context({ stableService: "bar-svc", canaryService: "bar-svc-canary", faultService: "bar-fault" }),
      "HTTPRoute",
      "gateway.networking.k8s.io/v1",
    ),
    object: upstream("gateway/gateway-api-bar-route.yaml", "HTTPRoute"),
  },
  {
    name: "Gateway API timeout-example (v1beta1, timeouts, no weight written)",
    model: new GatewayModel(
      context({ stableService: "timeout-svc", canaryService: "timeout-svc-canary" }),
      "HTTPRoute",
      "gateway.networking.k8s.io/v1beta1",
    ),
    object: upstream("gateway/gateway-api-timeout-example.yaml", "HTTPRoute"),
  },
  {
    name: "SMI spec foobar-rollout (100/0)",
    model: new SmiModel(
      context({ stableService: "foobar-v1", canaryService: "foobar-v2" }),
      "split.smi-spec.io/v1alpha4",
    ),
    object: upstream("smi/smi-spec-foobar-rollout.yaml", "TrafficSplit"),
  },
  {
    name: "SMI spec website canary (a third backend keeps its 10%)",
    model: new SmiModel(
      context({ stableService: "website-v1", canaryService: "website-canary" }),
      "split.smi-spec.io/v1alpha4",
    ),
    object: upstream("smi/smi-spec-website-canary.yaml", "TrafficSplit"),
  },
  {
    name: "consul-k8s splitter (one split, no service named)",
    model: new ConsulModel(
      context({ stableService: "splitter", canaryService: "splitter-canary" }),
      "consul.hashicorp.com/v1alpha1",
    ),
    object: upstream("consul/consul-k8s-splitter.yaml", "ServiceSplitter"),
  },
];

describe.each(cases)("$name", ({ model, object }) => {
  it("is moved by the steps, and back to the user's spec and metadata at weight 0", () => {
    const during = run(model, object, weights(10, 35));
    expect(model.parse(during).canaryWeight).toBe(35);
    expect(during.spec).not.toEqual(object.spec);
    const after = run(model, object, weights(10, 35, 0));
    expect(after.spec).toEqual(object.spec);
    expect(after.metadata.annotations?.[recordKey("checkout")]).toBeUndefined();
  });

  it("is back to the user's spec after an abort fault and its removal, too", () => {
    const fault: Change = { kind: "fault", fault: { abort: { httpStatus: 503, percent: 20 } } };
    const after = run(model, object, [...weights(20), fault, { kind: "fault", fault: null }, ...weights(0)]);
    expect(after.spec).toEqual(object.spec);
  });
});

describe("weight 0 while the controller still has a match route in the object", () => {
  it("keeps the record (the A/B route is still the controller's) and hands the object back once it is gone", () => {
    const { model, object } = cases[1]!;
    const match: Change = { kind: "match", matches: [{ headers: { "x-beta": { exact: "1" } } }] };
    const withMatch = run(model, object, [...weights(10), match, ...weights(0)]);
    expect(withMatch.metadata.annotations?.[recordKey("checkout")]).toBeDefined();
    expect(withMatch.spec).not.toEqual(object.spec);
    const after = run(model, object, [
      ...weights(10),
      match,
      ...weights(0),
      { kind: "match", matches: null },
      ...weights(0),
    ]);
    expect(after.spec).toEqual(object.spec);
  });
});

describe("an HTTPRoute written 100/0", () => {
  it("stays 100/0 (the user's scale), not 10000/0", () => {
    const route: KubeObject = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "checkout", namespace: "shop" },
      spec: {
        rules: [
          {
            backendRefs: [
              { name: "checkout-primary", port: 8080, weight: 100 },
              { name: "checkout-canary", port: 8080, weight: 0 },
            ],
          },
        ],
      },
    };
    const model = new GatewayModel(context(), "HTTPRoute", "gateway.networking.k8s.io/v1");
    expect(run(model, route, weights(0.5)).spec).not.toEqual(route.spec);
    expect(run(model, route, weights(0.5, 0)).spec).toEqual(route.spec);
  });
});
