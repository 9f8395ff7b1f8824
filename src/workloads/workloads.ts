import type { Rollout } from "../api/rollout.ts";
import { type KubeClient, KubeConflictError, type OwnerReference } from "../kube/client.ts";
import {
  type Deployment,
  PRIMARY_SUFFIX,
  primaryFor,
  REVISION_ANNOTATION,
  revisionOf,
} from "./deployments.ts";
import { servicesFor } from "./services.ts";

const DEPLOYMENT = { apiVersion: "apps/v1", kind: "Deployment" } as const;

export function ownerOf(rollout: Rollout & { metadata: { uid?: string } }): OwnerReference {
  return {
    apiVersion: rollout.apiVersion,
    kind: rollout.kind,
    name: rollout.metadata.name,
    uid: String(rollout.metadata.uid ?? ""),
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface WorkloadState {
  target: Deployment;
  primary: Deployment | undefined;
}

/** Where Deployments are read from: an informer's cache in the controller. */
export interface DeploymentReader {
  get(namespace: string | undefined, name: string): Deployment | undefined;
}

/** Reads and writes the Deployments and Services of one rollout. */
export class Workloads {
  private readonly servicesEnsured = new Set<string>();

  constructor(
    private readonly client: KubeClient,
    private readonly deployments: DeploymentReader,
  ) {}

  /** The target and primary Deployments; undefined when the target does not exist (yet). */
  read(rollout: Rollout): WorkloadState | undefined {
    const namespace = rollout.metadata.namespace;
    const name = rollout.spec.targetRef.name;
    const target = this.deployments.get(namespace, name);
    return target
      ? { target, primary: this.deployments.get(namespace, `${name}${PRIMARY_SUFFIX}`) }
      : undefined;
  }

  /**
   * Creates whichever of the rollout's Services is missing; an existing apex Service is left as it is.
   * Done once per rollout generation in this process, not on every tick.
   */
  async ensureServices(rollout: Rollout, target: Deployment, owner: OwnerReference): Promise<void> {
    const key = `${owner.uid}/${rollout.metadata.generation}`;
    if (this.servicesEnsured.has(key)) return;
    for (const service of Object.values(servicesFor(rollout, target, owner))) {
      try {
        await this.client.create(service);
      } catch (error) {
        if (!(error instanceof KubeConflictError && error.alreadyExists)) throw error;
      }
    }
    this.servicesEnsured.add(key);
  }

  /**
   * Makes the primary run `revision`, which must be the target's current pod template (a stale request
   * is refused: the engine sees the new revision on its next tick). Keeps the primary's replica count.
   */
  async promote(
    rollout: Rollout,
    state: WorkloadState,
    revision: string,
    owner: OwnerReference,
  ): Promise<void> {
    const current = revisionOf(state.target.spec.template);
    if (current !== revision) throw new Error(`target moved on to ${current}; not promoting ${revision}`);
    const replicas = state.primary?.spec.replicas ?? state.target.spec.replicas ?? 1;
    const desired = primaryFor(state.target, replicas, owner);
    if (!state.primary) {
      await this.client.create(desired);
      return;
    }
    if (state.primary.metadata.annotations?.[REVISION_ANNOTATION] === revision) return;
    await this.client.mergePatch(
      { ...DEPLOYMENT, namespace: rollout.metadata.namespace, name: desired.metadata.name },
      {
        metadata: {
          resourceVersion: state.primary.metadata.resourceVersion,
          annotations: desired.metadata.annotations,
        },
        spec: { template: desired.spec.template },
      },
    );
  }

  /** Scales the target (the canary) to the primary's size, or to zero. */
  async scaleCanary(rollout: Rollout, state: WorkloadState, up: boolean): Promise<void> {
    const replicas = up ? (state.primary?.spec.replicas ?? 1) : 0;
    if (state.target.spec.replicas === replicas) return;
    await this.client.mergePatch(
      { ...DEPLOYMENT, namespace: rollout.metadata.namespace, name: state.target.metadata.name },
      { spec: { replicas } },
    );
  }
}
