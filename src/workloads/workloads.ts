import { isDeepStrictEqual } from "node:util";
import { type Rollout, serviceNames } from "../api/rollout.ts";
import {
  type KubeClient,
  KubeConflictError,
  KubeNotFoundError,
  type KubeObject,
  type OwnerReference,
} from "../kube/client.ts";
import { adoptionPatch, releasePatch, WorkloadConflictError } from "./adoption.ts";
import {
  AUTOSCALER,
  autoscalerOf,
  canaryReplicas,
  type HorizontalPodAutoscaler,
  primaryAutoscalerFor,
  primaryAutoscalerName,
} from "./autoscaler.ts";
import {
  type Deployment,
  deploymentReady,
  PRIMARY_SUFFIX,
  primaryFor,
  REVISION_ANNOTATION,
  revisionOf,
} from "./deployments.ts";
import { type Service, servicesFor } from "./services.ts";

const DEPLOYMENT = { apiVersion: "apps/v1", kind: "Deployment" } as const;
const SERVICE = { apiVersion: "v1", kind: "Service" } as const;

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
  /** The user's HorizontalPodAutoscaler of the target, if it has one. */
  autoscaler?: HorizontalPodAutoscaler;
}

/** Where Deployments are read from: an informer's cache in the controller. */
export interface DeploymentReader {
  get(namespace: string | undefined, name: string): Deployment | undefined;
}

/** Where HorizontalPodAutoscalers are read from: an informer's cache in the controller. */
export interface AutoscalerReader {
  get(namespace: string | undefined, name: string): HorizontalPodAutoscaler | undefined;
  list(): HorizontalPodAutoscaler[];
}

const NO_AUTOSCALERS: AutoscalerReader = { get: () => undefined, list: () => [] };

const ownedBy = (object: KubeObject, owner: OwnerReference) =>
  object.metadata.ownerReferences?.some((ref) => ref.uid === owner.uid) ?? false;

/**
 * A Rollout being deleted gets no new Service or autoscaler and adopts nothing: its finalizer releases
 * what it adopted, and an adoption after that would leave the user's Service pointing at pods that go.
 */
const deleting = (rollout: Rollout) => rollout.metadata.deletionTimestamp !== undefined;

/** Reads and writes the Deployments, Services and the primary's autoscaler of one rollout. */
export class Workloads {
  private readonly servicesEnsured = new Set<string>();

  /** Without `autoscalers`, no target is seen to have an autoscaler. */
  constructor(
    private readonly client: KubeClient,
    private readonly deployments: DeploymentReader,
    private readonly autoscalers: AutoscalerReader = NO_AUTOSCALERS,
  ) {}

  /** The target and primary Deployments; undefined when the target does not exist (yet). */
  read(rollout: Rollout): WorkloadState | undefined {
    const namespace = rollout.metadata.namespace;
    const name = rollout.spec.targetRef.name;
    const target = this.deployments.get(namespace, name);
    if (!target) return undefined;
    const autoscaler = autoscalerOf(this.autoscalers.list(), target);
    return {
      target,
      primary: this.deployments.get(namespace, `${name}${PRIMARY_SUFFIX}`),
      ...(autoscaler ? { autoscaler } : {}),
    };
  }

  /**
   * Creates whichever of the rollout's Services is missing. An existing stable or canary Service that is
   * not the rollout's own is adopted (adoption.ts): its selector is pointed at the stable (or canary)
   * pods, and set again if someone changed it, each time this runs; an existing apex Service is left as
   * it is. Done once per rollout generation in this process, not on every tick. Throws
   * ServiceNotAdoptableError for a Service it cannot use.
   */
  async ensureServices(rollout: Rollout, target: Deployment, owner: OwnerReference): Promise<void> {
    const key = `${owner.uid}/${rollout.metadata.generation}`;
    if (this.servicesEnsured.has(key) || deleting(rollout)) return;
    const { apex, primary, canary, fault } = servicesFor(rollout, target, owner);
    const adopted = new Set([primary.metadata.name, canary.metadata.name]);
    // the apex may be the stable Service (the same object then, selecting the stable pods)
    const seen = new Set<string>();
    for (const service of [apex, primary, canary, fault]) {
      if (!service || seen.has(service.metadata.name)) continue;
      seen.add(service.metadata.name);
      try {
        await this.client.create(service);
      } catch (error) {
        if (!(error instanceof KubeConflictError && error.alreadyExists)) throw error;
        if (adopted.has(service.metadata.name)) await this.adopt(rollout, service, owner);
      }
    }
    this.servicesEnsured.add(key);
  }

  private async adopt(rollout: Rollout, desired: Service, owner: OwnerReference): Promise<void> {
    const ref = { ...SERVICE, namespace: rollout.metadata.namespace, name: desired.metadata.name };
    const existing = await this.client.get<Service>(ref);
    if (ownedBy(existing, owner)) return;
    const patch = adoptionPatch(
      existing,
      desired.spec.selector ?? {},
      rollout.metadata.name,
      rollout.spec.service.port,
    );
    if (patch) await this.client.mergePatch(ref, patch);
  }

  /**
   * Gives every Service this rollout adopted (only its stable and canary Services can be) back as it was
   * (adoption.ts); idempotent. Called by the Rollout's finalizer, once the Rollout has its
   * deletionTimestamp, after which ensureServices adopts nothing again.
   */
  async release(rollout: Rollout): Promise<void> {
    const { stable, canary } = serviceNames(rollout);
    for (const name of new Set([stable, canary])) {
      const ref = { ...SERVICE, namespace: rollout.metadata.namespace, name };
      let service: Service;
      try {
        service = await this.client.get<Service>(ref);
      } catch (error) {
        if (error instanceof KubeNotFoundError) continue;
        throw error;
      }
      const patch = releasePatch(service, rollout.metadata.name);
      if (patch) await this.client.mergePatch(ref, patch);
    }
  }

  /**
   * Keeps the primary's HPA made from the user's autoscaler of the target (autoscaler.ts): created,
   * updated when the user's changes, deleted when the user's is gone. Compares the informers' copies, so
   * a tick without a change writes nothing.
   */
  async ensureAutoscaler(rollout: Rollout, state: WorkloadState, owner: OwnerReference): Promise<void> {
    if (deleting(rollout)) return; // the garbage collector deletes the primary's HPA with the Rollout
    const namespace = rollout.metadata.namespace;
    const name = primaryAutoscalerName(state.target);
    const ref = { ...AUTOSCALER, namespace, name };
    const existing = this.autoscalers.get(namespace, name);
    if (existing && !ownedBy(existing, owner)) {
      if (!state.autoscaler) return; // someone else's HPA of that name, and nothing to make
      throw new WorkloadConflictError(
        `HorizontalPodAutoscaler ${name} exists and is not Rollout ${rollout.metadata.name}'s; ` +
          "delete or rename it so the controller can make the primary's autoscaler",
      );
    }
    if (!state.autoscaler) {
      if (existing) await this.client.delete(ref, { uid: existing.metadata.uid });
      return;
    }
    const desired = primaryAutoscalerFor(state.autoscaler, state.target, owner);
    if (!existing) {
      try {
        await this.client.create(desired);
      } catch (error) {
        // the informer has not seen our create yet: the next tick compares
        if (!(error instanceof KubeConflictError && error.alreadyExists)) throw error;
      }
      return;
    }
    if (isDeepStrictEqual(existing.spec, desired.spec)) return;
    await this.client.jsonPatch(ref, [
      { op: "test", path: "/metadata/resourceVersion", value: existing.metadata.resourceVersion },
      { op: "replace", path: "/spec", value: desired.spec },
    ]);
  }

  /** The canary runs its replica count (autoscaler.ts: canaryReplicas) and all of them are ready. */
  canaryReady(state: WorkloadState): boolean {
    const replicas = canaryReplicas(state);
    return state.target.spec.replicas === replicas && deploymentReady(state.target, replicas);
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
  ): Promise<boolean> {
    const current = revisionOf(state.target.spec.template);
    if (current !== revision) throw new Error(`target moved on to ${current}; not promoting ${revision}`);
    const replicas = state.primary?.spec.replicas ?? state.target.spec.replicas ?? 1;
    const desired = primaryFor(state.target, replicas, owner);
    if (!state.primary) {
      await this.client.create(desired);
      return true;
    }
    if (state.primary.metadata.annotations?.[REVISION_ANNOTATION] === revision) return false;
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
    return true;
  }

  /**
   * Scales the target (the canary) up to its count (the primary's; with the user's autoscaler, the
   * primary's only to wake it from zero, then the HPA's: no write), or down to zero. True if it wrote.
   */
  async scaleCanary(rollout: Rollout, state: WorkloadState, up: boolean): Promise<boolean> {
    const replicas = up ? canaryReplicas(state) : 0;
    if (state.target.spec.replicas === replicas) return false;
    await this.client.mergePatch(
      { ...DEPLOYMENT, namespace: rollout.metadata.namespace, name: state.target.metadata.name },
      { spec: { replicas } },
    );
    return true;
  }
}
