import { describe, expect, it } from "vitest";
import {
  type Deployment,
  deploymentReady,
  primaryFor,
  REVISION_ANNOTATION,
  revisionOf,
} from "../../../src/workloads/deployments.ts";

const target: Deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "checkout", namespace: "shop", generation: 3 },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: "checkout" } },
    template: {
      metadata: { labels: { app: "checkout", team: "payments" } },
      spec: { containers: [{ name: "app", image: "registry/checkout:1.4.2" }] },
    },
  },
};
const owner = {
  apiVersion: "stepwise.dev/v1alpha1",
  kind: "Rollout",
  name: "checkout",
  uid: "u-1",
  controller: true,
};

describe("workloads", () => {
  it("hashes a pod template independently of key order, and differently for a new image", () => {
    const reordered = {
      spec: target.spec.template.spec,
      metadata: { labels: { team: "payments", app: "checkout" } },
    };
    expect(revisionOf(reordered)).toBe(revisionOf(target.spec.template));
    const newImage = structuredClone(target.spec.template);
    (newImage.spec as { containers: { image: string }[] }).containers[0]!.image = "registry/checkout:1.4.3";
    expect(revisionOf(newImage)).not.toBe(revisionOf(target.spec.template));
  });

  it("builds a primary whose selector cannot match the target's pods", () => {
    const primary = primaryFor(target, 3, owner);
    expect(primary.metadata).toMatchObject({
      name: "checkout-primary",
      namespace: "shop",
      ownerReferences: [owner],
    });
    expect(primary.spec.selector.matchLabels).toEqual({ app: "checkout-primary" });
    expect(primary.spec.template.metadata?.labels).toEqual({ app: "checkout-primary", team: "payments" });
    expect(primary.spec.template.spec).toEqual(target.spec.template.spec);
    expect(primary.metadata.annotations?.[REVISION_ANNOTATION]).toBe(revisionOf(target.spec.template));
  });

  it("is ready only when the current generation is rolled out to every replica", () => {
    const status = {
      observedGeneration: 3,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    };
    expect(deploymentReady({ ...target, status })).toBe(true);
    expect(deploymentReady({ ...target, status: { ...status, observedGeneration: 2 } })).toBe(false);
    expect(deploymentReady({ ...target, status: { ...status, readyReplicas: 2 } })).toBe(false);
    expect(deploymentReady({ ...target, status: { ...status, replicas: 4 } })).toBe(false);
  });
});
