import YAML from "yaml";
import { clone } from "./json.ts";
import {
  appliedFieldSet,
  compareObjects,
  entriesOf,
  type FieldSet,
  fieldSetMinus,
  keyElement,
  type Manager,
  readManagers,
  rootChild,
  sameManager,
  splitPath,
  trackedPart,
  writeManagers,
} from "./managed-fields.ts";
import { timestamp } from "./object-meta.ts";
import { childSchema, isAtomicMap, listShape, type Schema } from "./schema.ts";
import { ApiError, badRequest } from "./status-errors.ts";
import { type FieldValidation, isObj, type KubeObject, type Obj } from "./types.ts";

export interface ApplyRequest {
  live: KubeObject | undefined;
  config: KubeObject;
  schema: Schema | undefined;
  statusSubresource: boolean;
  subresource: string | undefined;
  apiVersion: string;
  manager: string;
  force: boolean;
}

function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = stripNulls(v);
  return out;
}

/** Merges an apply configuration into the live value: maps by key, keyed lists by item, sets by value, the rest replaced. */
function mergeApplied(live: unknown, config: unknown, schema: Schema | undefined, root: boolean): unknown {
  if (Array.isArray(config) && Array.isArray(live)) {
    const shape = listShape(schema);
    if (shape.type === "atomic") return clone(config);
    const out = clone(live);
    for (const item of config) {
      if (shape.type === "map" && isObj(item)) {
        const id = keyElement(item, shape.keys, schema?.items);
        const at = out.findIndex((o) => isObj(o) && keyElement(o, shape.keys, schema?.items) === id);
        if (at >= 0) out[at] = mergeApplied(out[at], item, schema?.items, false);
        else out.push(clone(item));
      } else if (!out.some((o) => JSON.stringify(o) === JSON.stringify(item))) out.push(clone(item));
    }
    return out;
  }
  if (isObj(config) && isObj(live) && !isAtomicMap(schema)) {
    const out: Obj = { ...live };
    for (const [key, value] of Object.entries(config)) {
      const sub = root ? rootChild(schema, key) : childSchema(schema, key);
      out[key] = mergeApplied(live[key], value, sub, false);
    }
    return out;
  }
  return clone(config);
}

/**
 * Deletes one field path (`f:spec`, `k:{...}`, `v:...` elements) from an object, if it is there,
 * and then any map below the top level that the deletion left empty.
 */
function removePath(root: Obj, elements: string[], schema: Schema | undefined): void {
  // the maps walked through since the last list item, to prune the ones the deletion empties
  const chain: { parent: Obj; key: string }[] = [];
  let fromRoot = true;
  let node: unknown = root;
  let nodeSchema = schema;
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i]!;
    const last = i === elements.length - 1;
    if (element.startsWith("f:") && isObj(node)) {
      const key = element.slice(2);
      if (last) {
        // a map's or list's own path only marks ownership; its entries go one by one, and an emptied map with them
        const value = node[key];
        if ((isObj(value) && Object.keys(value).length > 0) || (Array.isArray(value) && value.length > 0))
          return;
        delete node[key];
        break;
      }
      chain.push({ parent: node, key });
      nodeSchema = i === 0 ? rootChild(nodeSchema, key) : childSchema(nodeSchema, key);
      node = node[key];
      continue;
    }
    if (!Array.isArray(node)) return;
    const list = node;
    const at = element.startsWith("k:")
      ? list.findIndex(
          (o) => isObj(o) && keyElement(o, listShape(nodeSchema).keys, nodeSchema?.items) === element,
        )
      : list.findIndex((o) => `v:${JSON.stringify(o)}` === element);
    if (at < 0) return;
    if (last) {
      list.splice(at, 1);
      return;
    }
    node = list[at];
    nodeSchema = nodeSchema?.items;
    chain.length = 0;
    fromRoot = false;
  }
  for (let at = chain.length - 1; at >= (fromRoot ? 1 : 0); at--) {
    const { parent, key } = chain[at]!;
    const child = parent[key];
    if (!isObj(child) || Object.keys(child).length > 0) return;
    delete parent[key];
  }
}

/** Renders a field path the way structured-merge-diff prints it: `.spec.containers[name="web"].image`. */
export function printFieldPath(path: string): string {
  return splitPath(path)
    .map((element) => {
      if (element.startsWith("f:")) return `.${element.slice(2)}`;
      if (element.startsWith("v:")) return `[=${element.slice(2)}]`;
      const keys = JSON.parse(element.slice(2)) as Obj;
      return `[${Object.entries(keys)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(",")}]`;
    })
    .join("");
}

function describeManager(m: Manager): string {
  let text = JSON.stringify(m.manager);
  if (m.subresource) text += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === "Update") text += ` using ${m.apiVersion}${m.time ? ` at ${m.time}` : ""}`;
  return text;
}

function conflictError(conflicts: { manager: Manager; path: string }[]): ApiError {
  const causes = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${describeManager(c.manager)}`,
    field: printFieldPath(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: ${causes[0]!.message}: ${causes[0]!.field}`;
  } else {
    const lines: string[] = [];
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const name = describeManager(c.manager);
      byManager.set(name, [...(byManager.get(name) ?? []), printFieldPath(c.path)]);
    }
    for (const name of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${name}:`, ...byManager.get(name)!.map((p) => `- ${p}`));
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError(409, "Conflict", message, { causes });
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Fields that kubectl's client-side apply annotation sets to their live values. When kubectl moves an
 * object to server-side apply, conflicts on these are waived (the apiserver's last-applied manager),
 * so switching apply modes does not fight the client-side apply manager.
 */
function lastAppliedFields(
  live: KubeObject | undefined,
  schema: Schema | undefined,
  tracked: (o: KubeObject | undefined) => Obj,
): FieldSet {
  const text = live?.metadata.annotations?.[LAST_APPLIED];
  if (!text) return new Set();
  let lastApplied: KubeObject;
  try {
    lastApplied = JSON.parse(text) as KubeObject;
  } catch {
    return new Set();
  }
  const liveEntries = entriesOf(tracked(live), schema);
  const out: FieldSet = new Set();
  for (const [path, entry] of entriesOf(tracked(lastApplied), schema)) {
    const current = liveEntries.get(path);
    if (!current || entry.kind === "container") continue;
    if (entry.kind === "leaf" && (current.kind !== "leaf" || current.json !== entry.json)) continue;
    out.add(path);
  }
  return out;
}

/**
 * Server-side apply: merges the configuration, drops fields this manager applied before but no
 * longer sets (unless someone else also owns them), and refuses to change fields owned by other
 * managers unless forced. Returns the merged object with its managedFields already recorded.
 */
export function serverSideApply(req: ApplyRequest): KubeObject {
  const config = stripNulls(req.config) as KubeObject;
  const tracked = (obj: KubeObject | undefined) => trackedPart(obj, req.statusSubresource, req.subresource);
  const applied = appliedFieldSet(tracked(config), req.schema);
  const self = { manager: req.manager, operation: "Apply" as const, subresource: req.subresource };
  const managers = readManagers(req.live);
  const previous = managers.find((m) => sameManager(m, self))?.fields ?? new Set<string>();
  const others = managers.filter((m) => !sameManager(m, self));
  const ownedByOthers: FieldSet = new Set(others.flatMap((m) => [...m.fields]));

  const merged = mergeApplied(req.live ?? { metadata: {} }, config, req.schema, true) as KubeObject;
  for (const path of previous) {
    if (!applied.has(path) && !ownedByOthers.has(path)) removePath(merged, splitPath(path), req.schema);
  }

  const cmp = compareObjects(tracked(req.live), tracked(merged), req.schema);
  const touched = new Set([...cmp.changed, ...cmp.removed]);
  const conflicts = others.flatMap((m) =>
    [...m.fields].filter((p) => touched.has(p)).map((path) => ({ manager: m, path })),
  );
  const forgiven =
    req.manager === "kubectl" ? lastAppliedFields(req.live, req.schema, tracked) : new Set<string>();
  const blocking = conflicts.filter((c) => !forgiven.has(c.path));
  if (blocking.length > 0 && !req.force) throw conflictError(blocking);

  const lost = new Set(conflicts.map((c) => c.path));
  const prior = managers.find((m) => sameManager(m, self));
  const unchanged =
    prior && prior.fields.size === applied.size && [...applied].every((p) => prior.fields.has(p));
  const mine: Manager = {
    ...self,
    apiVersion: req.apiVersion,
    time: unchanged ? prior.time : timestamp(),
    fields: applied,
  };
  const result = managers.map((m) =>
    sameManager(m, self) ? mine : { ...m, fields: fieldSetMinus(fieldSetMinus(m.fields, lost), cmp.removed) },
  );
  if (!prior) result.push(mine);
  merged.metadata.managedFields = writeManagers(result);
  return merged;
}

/** Go encodes maps with sorted keys, which is what the last-applied annotation holds. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (isObj(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Server-side apply by the "kubectl" manager keeps an existing client-side apply annotation in step
 * with what was applied, as kube-apiserver's last-applied updater does, so a later client-side apply
 * diffs against the right configuration.
 */
export function refreshLastApplied(merged: KubeObject, config: KubeObject, manager: string): void {
  const annotations = merged.metadata.annotations;
  if (manager !== "kubectl" || annotations?.[LAST_APPLIED] === undefined) return;
  const applied = clone(config);
  if (applied.metadata.annotations) {
    const { [LAST_APPLIED]: _previous, ...rest } = applied.metadata.annotations;
    applied.metadata.annotations = rest;
  }
  merged.metadata.annotations = { ...annotations, [LAST_APPLIED]: `${sortedJson(applied)}\n` };
}

export function parseApplyConfig(raw: string, validation: FieldValidation, warnings: string[]): KubeObject {
  let parsed: unknown;
  try {
    parsed = YAML.parse(raw, { uniqueKeys: true });
  } catch (err) {
    const message = (err as Error).message.split("\n")[0];
    const duplicate = /unique/i.test(message ?? "");
    if (!duplicate) throw badRequest(`error decoding YAML: ${message}`);
    if (validation === "Strict") throw badRequest(`error strict decoding YAML: ${message}`);
    if (validation === "Warn") warnings.push(message ?? "duplicate field");
    parsed = YAML.parse(raw, { uniqueKeys: false });
  }
  if (!isObj(parsed)) throw badRequest("error decoding YAML: the apply configuration must be an object");
  return parsed as KubeObject;
}
