import { clone, deepEqual } from "./json.ts";
import { timestamp } from "./object-meta.ts";
import {
  CRD_CLEANUP_FINALIZER,
  CRD_STORAGE_KEY,
  crdResourceTypes,
  crdSpec,
  establishedStatus,
} from "./resources/crd.ts";
import type { Registry, ResourceType } from "./resources/registry.ts";
import type { Storage, WriteOptions } from "./storage.ts";
import type { StoredEvent } from "./store.ts";
import { isObj, type KubeObject } from "./types.ts";

export function systemWrite(manager: string): WriteOptions {
  return { dryRun: false, fieldManager: manager, userAgent: manager, fieldValidation: "Ignore" };
}

/**
 * The apiextensions controllers: serve a CRD's resource as soon as it is stored, mark it
 * NamesAccepted/Established, and on deletion remove every instance before releasing the CRD.
 */
export class CrdController {
  private readonly pending = new Set<NodeJS.Immediate>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly registry: Registry,
  ) {}

  start(): void {
    this.unsubscribe = this.storage.store.subscribe((event) => this.onEvent(event));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const handle of this.pending) clearImmediate(handle);
    this.pending.clear();
  }

  private get crdType(): ResourceType {
    return this.registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")!;
  }

  private later(task: () => void): void {
    const handle = setImmediate(() => {
      this.pending.delete(handle);
      task();
    });
    this.pending.add(handle);
  }

  private onEvent(event: StoredEvent): void {
    if (event.key !== CRD_STORAGE_KEY) return;
    const crd = event.object;
    const spec = crdSpec(crd);
    const storageKey = `${spec.group}/${spec.names.plural}`;
    if (event.type === "DELETED") {
      this.registry.removeStorage(storageKey);
      return;
    }
    if (crd.metadata.deletionTimestamp) {
      this.later(() => this.cleanUp(crd.metadata.name!, storageKey));
      return;
    }
    this.registry.removeStorage(storageKey);
    for (const rt of crdResourceTypes(crd)) this.registry.add(rt);
    this.later(() => this.establish(crd.metadata.name!));
  }

  private establish(name: string): void {
    const current = this.storage.store.get(CRD_STORAGE_KEY, undefined, name);
    if (!current || current.metadata.deletionTimestamp) return;
    const conditions =
      isObj(current.status) && Array.isArray(current.status.conditions) ? current.status.conditions : [];
    const established = conditions.find((c) => isObj(c) && c.type === "Established");
    const since =
      isObj(established) && typeof established.lastTransitionTime === "string"
        ? established.lastTransitionTime
        : timestamp();
    const status = establishedStatus(current, since);
    if (deepEqual(status, current.status)) return;
    this.storage.update(
      this.crdType,
      undefined,
      name,
      { ...clone(current), status },
      systemWrite("apiextensions-apiserver"),
      "status",
    );
  }

  private cleanUp(name: string, storageKey: string): void {
    const current = this.storage.store.get(CRD_STORAGE_KEY, undefined, name);
    if (!current) return;
    for (const instance of this.storage.store.list(storageKey)) {
      this.storage.store.commit("DELETED", storageKey, clone(instance), instance);
    }
    this.registry.removeStorage(storageKey);
    const next: KubeObject = clone(current);
    next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== CRD_CLEANUP_FINALIZER);
    this.storage.update(this.crdType, undefined, name, next, systemWrite("apiextensions-apiserver"));
  }
}
