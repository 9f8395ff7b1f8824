import { describe, expect, it } from "vitest";
import {
  autoscalerOf,
  canaryReplicas,
  type HorizontalPodAutoscaler,
  primaryAutoscalerFor,
} from "../../../src/workloads/autoscaler.ts";
import type { Deployment } from "../../../src/workloads/deployments.ts";

const deployment = (name: string, replicas: number): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "shop" },
  spec: {
    replicas,
    selector: { matchLabels: { app: "podinfo" } },
    template: { metadata: { labels: { app: "podinfo" } }, spec: {} },
  },
});
const target = deployment("podinfo", 0);
const owner = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout", name: "podinfo", uid: "u-1" };

// The shape of Flagger's podinfo HPA (fluxcd/flagger kustomize/podinfo/hpa.yaml), in autoscaling/v2.
const userHpa: HorizontalPodAutoscaler = {
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "podinfo", namespace: "shop", labels: { team: "web" } },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo" },
    minReplicas: 2,
    maxReplicas: 4,
    metrics: [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 99 } },
      },
    ],
    behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
  },
};

describe("the user's autoscaler", () => {
  it("is the HPA in the target's namespace that scales the target", () => {
    const other = { ...userHpa, metadata: { ...userHpa.metadata, name: "a-other" } };
    const elsewhere = { ...userHpa, metadata: { ...userHpa.metadata, name: "a", namespace: "dev" } };
    const ofPrimary = {
      ...userHpa,
      metadata: { ...userHpa.metadata, name: "a-primary" },
      spec: { ...userHpa.spec, scaleTargetRef: { kind: "Deployment", name: "podinfo-primary" } },
    };
    other.spec = { ...userHpa.spec, scaleTargetRef: { kind: "StatefulSet", name: "podinfo" } };
    expect(autoscalerOf([other, elsewhere, ofPrimary, userHpa], target)).toBe(userHpa);
    expect(autoscalerOf([other, elsewhere, ofPrimary], target)).toBeUndefined();
  });
});

describe("the primary's autoscaler", () => {
  it("has the user's bounds, metrics and behavior, scales the primary and is the Rollout's", () => {
    expect(primaryAutoscalerFor(userHpa, target, owner)).toEqual({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: {
        name: "podinfo-primary",
        namespace: "shop",
        labels: { "app.kubernetes.io/managed-by": "stepwise", "stepwise.dev/rollout": "podinfo" },
        ownerReferences: [owner],
      },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo-primary" },
        minReplicas: 2,
        maxReplicas: 4,
        metrics: userHpa.spec.metrics,
        behavior: userHpa.spec.behavior,
      },
    });
  });

  it("leaves out what the user left out", () => {
    const bare = { ...userHpa, spec: { scaleTargetRef: userHpa.spec.scaleTargetRef, maxReplicas: 3 } };
    expect(primaryAutoscalerFor(bare, target, owner).spec).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo-primary" },
      maxReplicas: 3,
    });
  });
});

describe("the canary's replicas", () => {
  const primary = deployment("podinfo-primary", 3);

  it("are the primary's without an autoscaler, whatever the target runs", () => {
    expect(canaryReplicas({ target: deployment("podinfo", 0), primary })).toBe(3);
    expect(canaryReplicas({ target: deployment("podinfo", 5), primary })).toBe(3);
    expect(canaryReplicas({ target, primary: undefined })).toBe(1);
  });

  it("with the user's autoscaler: the primary's to wake it from zero, then the HPA's", () => {
    expect(canaryReplicas({ target: deployment("podinfo", 0), primary, autoscaler: userHpa })).toBe(3);
    expect(canaryReplicas({ target: deployment("podinfo", 2), primary, autoscaler: userHpa })).toBe(2);
    expect(canaryReplicas({ target: deployment("podinfo", 4), primary, autoscaler: userHpa })).toBe(4);
  });
});
