import { type Rollout, serviceNames } from "../api/rollout.ts";
import { FAULT_SERVER_LABELS, FAULT_SERVER_PORT } from "../faults/deployment.ts";
import type { KubeObject, OwnerReference } from "../kube/client.ts";
import { ROLLOUT_LABEL } from "./adoption.ts";
import { type Deployment, MANAGED_BY, primarySelector } from "./deployments.ts";

export interface Service extends KubeObject {
  spec: {
    selector?: Record<string, string>;
    ports: { name?: string; port: number; targetPort?: number | string }[];
  };
}

/**
 * Whether the rollout's abort faults go to the error backend `<name>-fault`: a chaos step aborts requests
 * on the route, and the traffic API has no fault filter (every provider but Istio).
 */
function abortsToFaultBackend(rollout: Rollout): boolean {
  if (rollout.spec.traffic.provider === "istio") return false;
  const steps = rollout.spec.strategy.canary?.steps ?? [];
  return steps.some((step) => step.chaos?.target === "route" && step.chaos.fault.abort !== undefined);
}

/**
 * The Services the traffic APIs route between: `<name>-primary` (stable pods), `<name>-canary` (the
 * target's pods) and the apex `<name>` that callers address, which selects the stable pods so that
 * callers outside the mesh get the stable version. The apex is created only when missing; it may have the
 * stable Service's name (one object, then). When abort
 * faults need the error backend, also `<name>-fault`, which selects the fault server's pods
 * (manifests/fault-server, installed in the rollout's namespace).
 */
export function servicesFor(
  rollout: Rollout,
  target: Deployment,
  owner: OwnerReference,
): { apex: Service; primary: Service; canary: Service; fault?: Service } {
  const { port, targetPort, portName } = rollout.spec.service;
  const name = rollout.metadata.name;
  const make = (
    serviceName: string,
    selector: Record<string, string>,
    podPort: number | string = targetPort ?? port,
  ): Service => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: serviceName,
      namespace: rollout.metadata.namespace,
      labels: { ...MANAGED_BY, [ROLLOUT_LABEL]: name },
      ownerReferences: [owner],
    },
    spec: { selector, ports: [{ name: portName ?? "http", port, targetPort: podPort }] },
  });
  const names = serviceNames(rollout);
  return {
    apex: make(names.apex, primarySelector(target)),
    primary: make(names.stable, primarySelector(target)),
    canary: make(names.canary, { ...target.spec.selector.matchLabels }),
    ...(abortsToFaultBackend(rollout)
      ? { fault: make(names.fault, { ...FAULT_SERVER_LABELS }, FAULT_SERVER_PORT) }
      : {}),
  };
}
