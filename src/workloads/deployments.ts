import { createHash } from "node:crypto";
import type { KubeObject, OwnerReference } from "../kube/client.ts";

/** The parts of an apps/v1 Deployment the controller reads and writes. */
export interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: unknown;
    };
    [field: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
}

export const REVISION_ANNOTATION = "stepwise.dev/revision";
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "stepwise" };
export const PRIMARY_SUFFIX = "-primary";

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A short, stable hash of a pod template: the revision a rollout is about. Key order does not matter. */
export function revisionOf(template: Deployment["spec"]["template"]): string {
  return createHash("sha256").update(canonical(template)).digest("hex").slice(0, 10);
}

/**
 * Labels of the primary's pods: the target's, with each selector label suffixed, so the primary's
 * selector never matches the canary's pods and the other way round.
 */
export function primaryLabels(target: Deployment): Record<string, string> {
  const labels = { ...target.spec.template.metadata?.labels };
  for (const [key, value] of Object.entries(target.spec.selector.matchLabels ?? {}))
    labels[key] = `${value}${PRIMARY_SUFFIX}`;
  return labels;
}

export function primarySelector(target: Deployment): Record<string, string> {
  return Object.fromEntries(
    Object.entries(target.spec.selector.matchLabels ?? {}).map(([key, value]) => [
      key,
      `${value}${PRIMARY_SUFFIX}`,
    ]),
  );
}

/** The primary Deployment that runs `target`'s pod template as the stable version. */
export function primaryFor(target: Deployment, replicas: number, owner: OwnerReference): Deployment {
  const template = target.spec.template;
  const revision = revisionOf(template);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: `${target.metadata.name}${PRIMARY_SUFFIX}`,
      namespace: target.metadata.namespace,
      labels: { ...MANAGED_BY },
      annotations: { [REVISION_ANNOTATION]: revision },
      ownerReferences: [owner],
    },
    spec: {
      replicas,
      selector: { matchLabels: primarySelector(target) },
      template: {
        ...template,
        metadata: {
          ...template.metadata,
          labels: primaryLabels(target),
          annotations: { ...template.metadata?.annotations, [REVISION_ANNOTATION]: revision },
        },
      },
    },
  };
}

/** All replicas of the current generation are updated and ready. */
export function deploymentReady(deployment: Deployment, replicas = deployment.spec.replicas ?? 1): boolean {
  const status = deployment.status ?? {};
  const generation = deployment.metadata.generation ?? 0;
  return (
    (status.observedGeneration ?? 0) >= generation &&
    (status.updatedReplicas ?? 0) >= replicas &&
    (status.readyReplicas ?? 0) >= replicas &&
    (status.availableReplicas ?? 0) >= replicas &&
    (status.replicas ?? 0) === replicas
  );
}
