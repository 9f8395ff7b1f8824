import type { Rollout } from "../api/rollout.ts";
import type { KubeObject, OwnerReference } from "../kube/client.ts";
import {
  CANARY_SUFFIX,
  type Deployment,
  MANAGED_BY,
  PRIMARY_SUFFIX,
  primarySelector,
} from "./deployments.ts";

export interface Service extends KubeObject {
  spec: {
    selector?: Record<string, string>;
    ports: { name?: string; port: number; targetPort?: number | string }[];
  };
}

/**
 * The Services the traffic APIs route between: `<name>-primary` (stable pods), `<name>-canary` (the
 * target's pods) and the apex `<name>` that callers address, which selects the stable pods so that
 * callers outside the mesh get the stable version. The apex is created only when missing.
 */
export function servicesFor(
  rollout: Rollout,
  target: Deployment,
  owner: OwnerReference,
): { apex: Service; primary: Service; canary: Service } {
  const { port, targetPort, portName } = rollout.spec.service;
  const name = rollout.metadata.name;
  const make = (serviceName: string, selector: Record<string, string>): Service => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: serviceName,
      namespace: rollout.metadata.namespace,
      labels: { ...MANAGED_BY, "stepwise.dev/rollout": name },
      ownerReferences: [owner],
    },
    spec: { selector, ports: [{ name: portName ?? "http", port, targetPort: targetPort ?? port }] },
  });
  return {
    apex: make(name, primarySelector(target)),
    primary: make(`${name}${PRIMARY_SUFFIX}`, primarySelector(target)),
    canary: make(`${name}${CANARY_SUFFIX}`, { ...target.spec.selector.matchLabels }),
  };
}
