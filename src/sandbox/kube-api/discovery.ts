import { createHash } from "node:crypto";
import { apiVersionOf, type Registry, type ResourceType } from "./resources/registry.ts";
import type { Obj } from "./types.ts";

export const KUBE_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.4" };

export function versionInfo(): Obj {
  return {
    ...KUBE_VERSION,
    gitCommit: "59526cd4867447956156ae3a602fcbac5a8a2c4d",
    gitTreeState: "clean",
    buildDate: "2025-04-22T16:02:27Z",
    goVersion: "go1.23.6",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/** apiserver's discovery.StorageVersionHash of the stored group/version/kind: equal for every served version. */
function storageVersionHash(rt: ResourceType): string {
  const groupVersion = rt.storageVersion.includes("/") ? rt.storageVersion : `/${rt.storageVersion}`;
  return createHash("sha256").update(`${groupVersion}/${rt.kind}`).digest().subarray(0, 8).toString("base64");
}

function apiResources(rt: ResourceType): Obj[] {
  const main: Obj = {
    name: rt.plural,
    singularName: rt.singular,
    namespaced: rt.namespaced,
    kind: rt.kind,
    verbs: ALL_VERBS,
    storageVersionHash: storageVersionHash(rt),
  };
  if (rt.shortNames.length > 0) main.shortNames = rt.shortNames;
  if (rt.categories.length > 0) main.categories = rt.categories;
  const out = [main];
  const sub = (name: string, extra: Obj) =>
    out.push({ name: `${rt.plural}/${name}`, singularName: "", namespaced: rt.namespaced, ...extra });
  if (rt.statusSubresource) sub("status", { kind: rt.kind, verbs: ["get", "patch", "update"] });
  if (rt.scale)
    sub("scale", { group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] });
  if (rt.kind === "Namespace") sub("finalize", { kind: rt.kind, verbs: ["update"] });
  return out;
}

/** /api/v1 or /apis/<group>/<version>: an APIResourceList, or undefined when nothing is served there. */
export function resourceList(registry: Registry, group: string, version: string): Obj | undefined {
  const resources = registry.resources(group, version);
  if (resources.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf({ group, version }),
    resources: resources.sort((a, b) => a.plural.localeCompare(b.plural)).flatMap(apiResources),
  };
}

export function coreVersions(serverAddress: string): Obj {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupEntry(name: string, versions: string[]): Obj {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function groupList(registry: Registry): Obj {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: registry.groups().map((g) => groupEntry(g.name, g.versions)),
  };
}

export function apiGroup(registry: Registry, name: string): Obj | undefined {
  const group = registry.groups().find((g) => g.name === name);
  return group
    ? { kind: "APIGroup", apiVersion: "v1", ...groupEntry(group.name, group.versions) }
    : undefined;
}
