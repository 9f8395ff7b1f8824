import { clone } from "./json.ts";
import type { ResourceType } from "./resources/registry.ts";
import { evalJsonPath } from "./table.ts";
import { isObj, type KubeObject, type Obj } from "./types.ts";

/** The autoscaling/v1 Scale view of an object with a scale subresource. */
export function toScale(rt: ResourceType, obj: KubeObject): Obj {
  const scale = rt.scale!;
  const replicas = (path: string) => {
    const value = evalJsonPath(obj, path)[0];
    return typeof value === "number" ? value : 0;
  };
  const selector = scale.labelSelectorPath ? evalJsonPath(obj, scale.labelSelectorPath)[0] : undefined;
  const { name, namespace, uid, resourceVersion, creationTimestamp } = obj.metadata;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: replicas(scale.specReplicasPath) },
    status: {
      replicas: replicas(scale.statusReplicasPath),
      ...(typeof selector === "string" ? { selector } : {}),
    },
  };
}

/** The object with the Scale's spec.replicas written back to its spec replicas path. */
export function fromScale(rt: ResourceType, obj: KubeObject, scale: Obj): KubeObject {
  const next = clone(obj);
  const parts = rt.scale!.specReplicasPath.replace(/^\./, "").split(".");
  let node: Obj = next;
  for (const part of parts.slice(0, -1)) {
    if (!isObj(node[part])) node[part] = {};
    node = node[part] as Obj;
  }
  node[parts[parts.length - 1]!] = isObj(scale.spec) ? scale.spec.replicas : undefined;
  const meta = isObj(scale.metadata) ? scale.metadata : {};
  next.metadata.resourceVersion = typeof meta.resourceVersion === "string" ? meta.resourceVersion : undefined;
  return next;
}
