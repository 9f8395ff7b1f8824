import { systemWrite } from "./crd-controller.ts";
import { clone } from "./json.ts";
import { timestamp } from "./object-meta.ts";
import type { Registry, ResourceType } from "./resources/registry.ts";
import { ApiError } from "./status-errors.ts";
import type { Storage } from "./storage.ts";
import type { StoredEvent } from "./store.ts";
import { isObj, type KubeObject, type Obj } from "./types.ts";

/** Controllers a real cluster runs in kube-controller-manager; the emulator runs them only when asked. */
export interface ControllerOptions {
  /** Deployment status converges after `delayMs` (default 50) following every spec change. */
  deployments?: boolean | { delayMs?: number };
  /** Deleting a namespace deletes its objects, then the namespace. */
  namespaces?: boolean;
  /** Deleting an owner deletes (or, for Orphan, releases) its dependents. */
  garbageCollector?: boolean;
}

/** Runs a write and ignores the races a controller expects (the object moved on or is already gone). */
function tolerant(write: () => void): void {
  try {
    write();
  } catch (err) {
    if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) throw err;
  }
}

export class SimulatedControllers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly registry: Registry,
    private readonly options: ControllerOptions,
  ) {}

  start(): void {
    if (!this.options.deployments && !this.options.namespaces && !this.options.garbageCollector) return;
    this.unsubscribe = this.storage.store.subscribe((event) => this.onEvent(event));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Runs `task` once after `ms`, coalescing repeated requests for the same key. */
  private schedule(key: string, ms: number, task: () => void): void {
    if (this.timers.has(key)) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        task();
      }, ms),
    );
  }

  private typeOf(storageKey: string): ResourceType | undefined {
    return this.registry.versionsOf(storageKey)[0];
  }

  private onEvent(event: StoredEvent): void {
    const obj = event.object;
    if (this.options.deployments && event.key === "apps/deployments" && event.type !== "DELETED")
      this.deploymentChanged(obj);
    if (this.options.namespaces) {
      if (event.key === "/namespaces" && obj.metadata.deletionTimestamp)
        this.schedule(`ns:${obj.metadata.name}`, 0, () => this.drainNamespace(obj.metadata.name!));
      const ns = obj.metadata.namespace;
      if (
        ns &&
        event.type === "DELETED" &&
        this.storage.store.get("/namespaces", undefined, ns)?.metadata.deletionTimestamp
      ) {
        this.schedule(`ns:${ns}`, 0, () => this.drainNamespace(ns));
      }
    }
    if (this.options.garbageCollector) this.collectGarbage(event);
  }

  private deploymentChanged(obj: KubeObject): void {
    const status = isObj(obj.status) ? obj.status : {};
    if (obj.metadata.deletionTimestamp || status.observedGeneration === obj.metadata.generation) return;
    const delay =
      typeof this.options.deployments === "object" ? (this.options.deployments.delayMs ?? 50) : 50;
    const { namespace, name } = obj.metadata;
    this.schedule(`deploy:${namespace}/${name}`, delay, () => this.rollOut(namespace!, name!));
  }

  private rollOut(namespace: string, name: string): void {
    const rt = this.typeOf("apps/deployments")!;
    const stored = this.storage.store.get(rt.storageKey, namespace, name);
    if (!stored) return;
    const current = this.storage.toServed(rt, stored);
    const spec = isObj(current.spec) ? current.spec : {};
    const replicas = typeof spec.replicas === "number" ? spec.replicas : 1;
    const at = timestamp();
    const counts: Obj =
      replicas > 0
        ? { replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas }
        : {};
    const status: Obj = {
      observedGeneration: current.metadata.generation,
      ...counts,
      conditions: [
        {
          type: "Available",
          status: "True",
          lastUpdateTime: at,
          lastTransitionTime: at,
          reason: "MinimumReplicasAvailable",
          message: "Deployment has minimum availability.",
        },
        {
          type: "Progressing",
          status: "True",
          lastUpdateTime: at,
          lastTransitionTime: at,
          reason: "NewReplicaSetAvailable",
          message: `ReplicaSet "${name}" has successfully progressed.`,
        },
      ],
    };
    tolerant(() =>
      this.storage.update(
        rt,
        namespace,
        name,
        { ...clone(current), status },
        systemWrite("deployment-controller"),
        "status",
      ),
    );
    // A spec change that raced with this update gets its own pass.
    const after = this.storage.store.get(rt.storageKey, namespace, name);
    if (after) this.deploymentChanged(after);
  }

  /** The namespace controller: delete everything inside, and finalize once nothing is left. */
  private drainNamespace(namespace: string): void {
    const nsType = this.typeOf("/namespaces")!;
    const ns = this.storage.store.get(nsType.storageKey, undefined, namespace);
    if (!ns?.metadata.deletionTimestamp) return;
    const keys = new Set(
      this.registry
        .all()
        .filter((rt) => rt.namespaced)
        .map((rt) => rt.storageKey),
    );
    for (const key of keys) {
      const rt = this.typeOf(key)!;
      for (const obj of this.storage.store.list(key, namespace)) {
        if (obj.metadata.deletionTimestamp) continue;
        tolerant(() =>
          this.storage.delete(rt, namespace, obj.metadata.name!, {
            dryRun: false,
            propagationPolicy: "Background",
          }),
        );
      }
    }
    // objects held by finalizers keep the namespace; their DELETED events bring the controller back
    if ([...keys].some((key) => this.storage.store.list(key, namespace).length > 0)) return;
    const next = clone(this.storage.toServed(nsType, ns));
    next.spec = { finalizers: [] };
    tolerant(() =>
      this.storage.update(
        nsType,
        undefined,
        namespace,
        next,
        systemWrite("namespace-controller"),
        "finalize",
      ),
    );
  }

  private dependentsOf(uid: string): { rt: ResourceType; obj: KubeObject }[] {
    const out: { rt: ResourceType; obj: KubeObject }[] = [];
    for (const key of new Set(this.registry.all().map((rt) => rt.storageKey))) {
      const rt = this.typeOf(key)!;
      for (const obj of this.storage.store.list(key)) {
        if (obj.metadata.ownerReferences?.some((ref) => ref.uid === uid)) out.push({ rt, obj });
      }
    }
    return out;
  }

  private ownerExists(uid: string): boolean {
    for (const key of new Set(this.registry.all().map((rt) => rt.storageKey))) {
      if (this.storage.store.list(key).some((o) => o.metadata.uid === uid && !o.metadata.deletionTimestamp))
        return true;
    }
    return false;
  }

  private release(rt: ResourceType, obj: KubeObject, ownerUid: string): void {
    const next = clone(this.storage.toServed(rt, obj));
    next.metadata.ownerReferences = next.metadata.ownerReferences?.filter((ref) => ref.uid !== ownerUid);
    tolerant(() =>
      this.storage.update(
        rt,
        obj.metadata.namespace,
        obj.metadata.name!,
        next,
        systemWrite("generic-garbage-collector"),
      ),
    );
  }

  private dropFinalizer(storageKey: string, obj: KubeObject, finalizer: string): void {
    const rt = this.typeOf(storageKey)!;
    const next = clone(this.storage.toServed(rt, obj));
    next.metadata.finalizers = next.metadata.finalizers?.filter((f) => f !== finalizer);
    tolerant(() =>
      this.storage.update(
        rt,
        next.metadata.namespace,
        next.metadata.name!,
        next,
        systemWrite("generic-garbage-collector"),
      ),
    );
  }

  /** The garbage collector: background deletion of orphans, foreground deletion, and orphaning on request. */
  private collectGarbage(event: StoredEvent): void {
    const obj = event.object;
    const uid = obj.metadata.uid!;
    const finalizers = obj.metadata.finalizers ?? [];
    if (event.type === "DELETED") {
      this.schedule(`gc:${uid}`, 0, () => {
        for (const dep of this.dependentsOf(uid)) {
          const others = dep.obj.metadata.ownerReferences!.filter(
            (ref) => ref.uid !== uid && this.ownerExists(ref.uid),
          );
          if (others.length > 0) this.release(dep.rt, dep.obj, uid);
          else
            tolerant(() =>
              this.storage.delete(dep.rt, dep.obj.metadata.namespace, dep.obj.metadata.name!, {
                dryRun: false,
                propagationPolicy: "Background",
              }),
            );
        }
      });
      // a dependent that went away may be what a foreground deletion was waiting for
      for (const ref of obj.metadata.ownerReferences ?? [])
        this.schedule(`fg:${ref.uid}`, 0, () => this.resumeForeground(ref.uid));
      return;
    }
    if (!obj.metadata.deletionTimestamp) return;
    if (finalizers.includes("orphan")) {
      this.schedule(`orphan:${uid}`, 0, () => {
        for (const dep of this.dependentsOf(uid)) this.release(dep.rt, dep.obj, uid);
        this.dropFinalizer(event.key, obj, "orphan");
      });
    }
    if (finalizers.includes("foregroundDeletion"))
      this.schedule(`fg:${uid}`, 0, () => this.resumeForeground(uid));
  }

  private resumeForeground(uid: string): void {
    for (const key of new Set(this.registry.all().map((rt) => rt.storageKey))) {
      const owner = this.storage.store.list(key).find((o) => o.metadata.uid === uid);
      if (!owner?.metadata.finalizers?.includes("foregroundDeletion")) continue;
      const dependents = this.dependentsOf(uid);
      for (const dep of dependents) {
        if (!dep.obj.metadata.deletionTimestamp) {
          tolerant(() =>
            this.storage.delete(dep.rt, dep.obj.metadata.namespace, dep.obj.metadata.name!, {
              dryRun: false,
              propagationPolicy: "Foreground",
            }),
          );
        }
      }
      if (dependents.length === 0) this.dropFinalizer(key, owner, "foregroundDeletion");
      return;
    }
  }
}
