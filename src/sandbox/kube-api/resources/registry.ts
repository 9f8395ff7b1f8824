import type { Schema } from "../schema.ts";
import type { FieldError } from "../status-errors.ts";
import type { KubeObject } from "../types.ts";

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  format?: string;
  description?: string;
  priority?: number;
}

export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** Per-kind behaviour that the generic write path calls, like a registry strategy in the apiserver. */
export interface Strategy {
  /** Defaults and initial status that the apiserver fills on create (after schema defaults). */
  prepareForCreate?(obj: KubeObject): void;
  /** Fields the main endpoint may not change, copied back from the stored object. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Semantic checks beyond the schema, reported as 422 Invalid. */
  validate?(obj: KubeObject, old: KubeObject | undefined): FieldError[];
}

/** Converts between the stored form and one served version (only apiVersion differs unless a kind needs more). */
export interface Conversion {
  toStorage(obj: KubeObject): KubeObject;
  fromStorage(obj: KubeObject): KubeObject;
}

/** One resource as served at one group/version. */
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Served from a CustomResourceDefinition rather than compiled in. */
  custom: boolean;
  /** `group/plural`: every served version of a resource shares one table in the store. */
  storageKey: string;
  /** The apiVersion objects are stored in (the CRD's storage version; a builtin's own, but for events.k8s.io). */
  storageVersion: string;
  schema?: Schema;
  statusSubresource: boolean;
  scale?: ScaleSubresource;
  printerColumns?: PrinterColumn[];
  hasGeneration: boolean;
  /** Field selector labels beyond metadata.name/metadata.namespace. */
  fieldSelectors: string[];
  allowCreateOnUpdate: boolean;
  returnDeletedObject: boolean;
  strategy: Strategy;
  conversion?: Conversion;
}

export function apiVersionOf(rt: { group: string; version: string }): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** Kubernetes version order: GA before beta before alpha, higher numbers first, then anything else by name. */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    const stage = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
  return a.localeCompare(b);
}

export interface GroupInfo {
  name: string;
  /** Served versions, preferred first. */
  versions: string[];
}

/** Which resources are served where; CRDs add and remove entries while the server runs. */
export class Registry {
  private readonly byGroupVersion = new Map<string, Map<string, ResourceType>>();
  private generation = 0;

  add(rt: ResourceType): void {
    const gv = apiVersionOf(rt);
    let resources = this.byGroupVersion.get(gv);
    if (!resources) {
      resources = new Map();
      this.byGroupVersion.set(gv, resources);
    }
    resources.set(rt.plural, rt);
    this.generation++;
  }

  /** Removes every version of the resource stored under `storageKey`. */
  removeStorage(storageKey: string): void {
    for (const [gv, resources] of this.byGroupVersion) {
      for (const [plural, rt] of resources) if (rt.storageKey === storageKey) resources.delete(plural);
      if (resources.size === 0) this.byGroupVersion.delete(gv);
    }
    this.generation++;
  }

  /** Bumped on every change, so discovery and OpenAPI documents know when to rebuild. */
  version(): number {
    return this.generation;
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.byGroupVersion.get(apiVersionOf({ group, version }))?.get(plural);
  }

  resources(group: string, version: string): ResourceType[] {
    return [...(this.byGroupVersion.get(apiVersionOf({ group, version }))?.values() ?? [])];
  }

  all(): ResourceType[] {
    return [...this.byGroupVersion.values()].flatMap((m) => [...m.values()]);
  }

  /** The served versions of one stored resource, preferred first. */
  versionsOf(storageKey: string): ResourceType[] {
    return this.all()
      .filter((rt) => rt.storageKey === storageKey)
      .sort((a, b) => compareVersions(a.version, b.version));
  }

  /** Non-core groups with their versions, preferred first; the core group is served under /api. */
  groups(): GroupInfo[] {
    const versions = new Map<string, Set<string>>();
    for (const rt of this.all()) {
      if (rt.group === "") continue;
      let set = versions.get(rt.group);
      if (!set) {
        set = new Set();
        versions.set(rt.group, set);
      }
      set.add(rt.version);
    }
    return [...versions.entries()]
      .map(([name, set]) => ({ name, versions: [...set].sort(compareVersions) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
