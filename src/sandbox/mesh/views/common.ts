/** Helpers the route views share: reading loosely typed objects, ordering them, header operations. */
import type { KubeObject } from "../../../kube/client.ts";
import { asArray, asRecord, describeObject } from "../../../routers/index.ts";
import type { HeaderOps } from "../types.ts";

export { asArray, asRecord, describeObject };

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function spec(object: KubeObject): Record<string, unknown> {
  return asRecord(object.spec);
}

/**
 * Objects in the order meshes break ties between them: the oldest first (creationTimestamp), then by
 * namespace/name. Istio keeps only the oldest VirtualService of a host for sidecars; the Gateway API ranks
 * equal matches of several routes this way.
 */
export function oldestFirst<T extends KubeObject>(objects: readonly T[]): T[] {
  const key = (o: T) =>
    `${String(o.metadata.creationTimestamp ?? "")}\u0000${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  return [...objects].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Header operations from maps (`{set: {name: value}, add: {...}, remove: [names]}`), as Istio and Consul write them. */
export function headerOpsFromMaps(value: unknown): HeaderOps {
  const ops = asRecord(value);
  const pairs = (map: unknown) =>
    Object.entries(asRecord(map)).map(([name, v]) => [name.toLowerCase(), String(v)] as const);
  return {
    set: pairs(ops.set),
    add: pairs(ops.add),
    remove: asArray(ops.remove).map((name) => String(name).toLowerCase()),
  };
}

/** Header operations from Gateway API lists (`{set: [{name, value}], add: [...], remove: [names]}`). */
export function headerOpsFromLists(value: unknown): HeaderOps {
  const ops = asRecord(value);
  const pairs = (list: unknown) =>
    asArray(list).map((entry) => {
      const e = asRecord(entry);
      return [String(e.name ?? "").toLowerCase(), String(e.value ?? "")] as const;
    });
  return {
    set: pairs(ops.set),
    add: pairs(ops.add),
    remove: asArray(ops.remove).map((name) => String(name).toLowerCase()),
  };
}
