import fastJsonPatch from "fast-json-patch";
import { clone } from "./json.ts";
import { childSchema, type Schema } from "./schema.ts";
import { ApiError, badRequest } from "./status-errors.ts";
import { isObj, type Obj } from "./types.ts";

export const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
} as const;

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * RFC 6902 patch. A document that is not a list of operations is a 400; an operation that cannot be
 * applied (including a failed `test`) is the apiserver's generic 422 with empty details.
 */
export function jsonPatch(doc: Obj, ops: unknown): Obj {
  if (!Array.isArray(ops) || !ops.every(isObj)) {
    throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  try {
    const result = fastJsonPatch.applyPatch(
      clone(doc),
      ops as unknown as fastJsonPatch.Operation[],
      true,
      true,
    );
    return result.newDocument;
  } catch {
    throw new ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {});
  }
}

function withoutDirectives(value: unknown): unknown {
  if (Array.isArray(value))
    return value.filter((item) => !(isObj(item) && item.$patch === "delete")).map(withoutDirectives);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith("$")) continue;
    out[k] = withoutDirectives(v);
  }
  return out;
}

function mergeList(original: unknown, patch: unknown[], schema: Schema | undefined): unknown[] {
  const strategy = schema?.["x-kubernetes-patch-strategy"] ?? "";
  if (patch.some((item) => isObj(item) && item.$patch === "replace")) {
    return patch.filter((item) => !(isObj(item) && item.$patch === "replace")).map(withoutDirectives);
  }
  if (!strategy.includes("merge") || !Array.isArray(original)) return withoutDirectives(patch) as unknown[];
  const mergeKey = schema?.["x-kubernetes-patch-merge-key"];
  const out = clone(original);
  for (const item of patch) {
    if (mergeKey === undefined || !isObj(item)) {
      if (!out.some((o) => JSON.stringify(o) === JSON.stringify(item))) out.push(clone(item));
      continue;
    }
    const at = out.findIndex((o) => isObj(o) && o[mergeKey] === item[mergeKey]);
    if (item.$patch === "delete") {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) out[at] = strategicMergePatch(out[at], item, schema?.items);
    else out.push(withoutDirectives(item));
  }
  return out;
}

/**
 * Strategic merge patch for compiled-in kinds: a merge patch whose lists merge by the schema's patch
 * merge key (containers by name, ports by port, ...), honouring the `$patch`, `$retainKeys`,
 * `$deleteFromPrimitiveList/` and `$setElementOrder/` directives kubectl sends.
 */
export function strategicMergePatch(original: unknown, patch: unknown, schema: Schema | undefined): unknown {
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === "replace") return withoutDirectives(patch);
  const out: Obj = isObj(original) ? { ...original } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$deleteFromPrimitiveList/")) {
      const field = key.slice("$deleteFromPrimitiveList/".length);
      const drop = Array.isArray(value) ? value : [];
      if (Array.isArray(out[field])) out[field] = (out[field] as unknown[]).filter((v) => !drop.includes(v));
      continue;
    }
    if (key.startsWith("$")) continue;
    if (value === null || (isObj(value) && value.$patch === "delete")) {
      delete out[key];
      continue;
    }
    const sub = childSchema(schema, key);
    if (Array.isArray(value)) out[key] = mergeList(out[key], value, sub);
    else out[key] = strategicMergePatch(out[key], value, sub);
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.map(String));
    for (const key of Object.keys(out)) if (!keep.has(key)) delete out[key];
  }
  return out;
}
