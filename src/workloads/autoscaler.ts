import type { KubeObject, OwnerReference } from "../kube/client.ts";
import { ROLLOUT_LABEL } from "./adoption.ts";
import { type Deployment, MANAGED_BY, PRIMARY_SUFFIX } from "./deployments.ts";

/** The parts of an autoscaling/v2 HorizontalPodAutoscaler the controller reads and writes. */
export interface HorizontalPodAutoscaler extends KubeObject {
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: unknown[];
    behavior?: unknown;
  };
}

export const AUTOSCALER = { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler" } as const;

/**
 * The user's autoscaler of `target`: the HPA in its namespace that scales it (the first by name, should
 * there be several, which Kubernetes itself refuses to act on).
 */
export function autoscalerOf(
  autoscalers: readonly HorizontalPodAutoscaler[],
  target: Deployment,
): HorizontalPodAutoscaler | undefined {
  return autoscalers
    .filter(
      (hpa) =>
        hpa.metadata.namespace === target.metadata.namespace &&
        hpa.spec?.scaleTargetRef?.kind === "Deployment" &&
        hpa.spec.scaleTargetRef.name === target.metadata.name,
    )
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))[0];
}

/** The primary's HPA is named like the primary Deployment it scales: `<target>-primary`. */
export function primaryAutoscalerName(target: Deployment): string {
  return `${target.metadata.name}${PRIMARY_SUFFIX}`;
}

/**
 * The primary's own HPA, made from the user's: the same bounds, metrics and behavior, scaling the
 * primary Deployment instead, owned by the Rollout (it goes with it).
 */
export function primaryAutoscalerFor(
  user: HorizontalPodAutoscaler,
  target: Deployment,
  owner: OwnerReference,
): HorizontalPodAutoscaler {
  const { minReplicas, maxReplicas, metrics, behavior } = user.spec;
  return {
    ...AUTOSCALER,
    metadata: {
      name: primaryAutoscalerName(target),
      namespace: target.metadata.namespace,
      labels: { ...MANAGED_BY, [ROLLOUT_LABEL]: owner.name },
      ownerReferences: [owner],
    },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: primaryAutoscalerName(target) },
      ...(minReplicas === undefined ? {} : { minReplicas }),
      maxReplicas,
      ...(metrics === undefined ? {} : { metrics }),
      ...(behavior === undefined ? {} : { behavior }),
    },
  };
}

/**
 * How many replicas the canary (the target) runs while a release runs. Without an autoscaler: the
 * primary's. With the user's autoscaler: the primary's when the canary is woken from zero, and from then
 * on the count the user's HPA chose. The controller never writes the canary's replicas while the HPA
 * scales it (the HPA is idle at zero replicas, as Kubernetes' is), so the two never fight.
 */
export function canaryReplicas(state: {
  target: Deployment;
  primary: Deployment | undefined;
  autoscaler?: HorizontalPodAutoscaler;
}): number {
  const current = state.target.spec.replicas ?? 1; // the API server's default
  if (state.autoscaler && current > 0) return current;
  return state.primary?.spec.replicas ?? 1;
}
