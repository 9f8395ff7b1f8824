import { timestamp } from "./object-meta.ts";
import { OBJECT_META } from "./resources/builtin-schemas.ts";
import { childSchema, isAtomicMap, listShape, type Schema } from "./schema.ts";
import { isObj, type KubeObject, type ManagedFieldsEntry, type Obj } from "./types.ts";

// Field sets in the FieldsV1 vocabulary: a path is a list of elements `f:name`, `k:{"name":"web"}`
// (list item by key) or `v:"x"` (set member), stored joined so sets are plain JS Sets.

const SEP = "\u0001";
export type FieldSet = Set<string>;

export function joinPath(elements: readonly string[]): string {
  return elements.join(SEP);
}

export function splitPath(path: string): string[] {
  return path.split(SEP);
}

type Entry = { kind: "leaf"; json: string } | { kind: "container" } | { kind: "item" };

/** System metadata that field management never tracks. */
const UNTRACKED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
  "generateName",
]);

export function keyElement(item: Obj, keys: readonly string[], itemSchema: Schema | undefined): string {
  const picked: Obj = {};
  for (const key of [...keys].sort()) picked[key] = item[key] ?? childSchema(itemSchema, key)?.default;
  return `k:${JSON.stringify(picked)}`;
}

/** The schema of a root field: metadata is typed the same for every kind. */
export function rootChild(schema: Schema | undefined, key: string): Schema | undefined {
  return key === "metadata" ? OBJECT_META : childSchema(schema, key);
}

/** Every path in an object: leaves with their value, structural containers, and keyed list items. */
function walk(
  value: unknown,
  schema: Schema | undefined,
  path: string[],
  out: Map<string, Entry>,
  root: boolean,
): void {
  if (Array.isArray(value)) {
    const shape = listShape(schema);
    if (shape.type === "atomic" || value.length === 0) {
      out.set(joinPath(path), { kind: "leaf", json: JSON.stringify(value) });
      return;
    }
    out.set(joinPath(path), { kind: "container" });
    for (const item of value) {
      if (shape.type === "set" || !isObj(item)) {
        out.set(joinPath([...path, `v:${JSON.stringify(item)}`]), {
          kind: "leaf",
          json: JSON.stringify(item),
        });
        continue;
      }
      const itemPath = [...path, keyElement(item, shape.keys, schema?.items)];
      out.set(joinPath(itemPath), { kind: "item" });
      walkObject(item, schema?.items, itemPath, out, false);
    }
    return;
  }
  if (isObj(value) && !isAtomicMap(schema) && Object.keys(value).length > 0) {
    if (!root) out.set(joinPath(path), { kind: "container" });
    walkObject(value, schema, path, out, root);
    return;
  }
  out.set(joinPath(path), { kind: "leaf", json: JSON.stringify(value) });
}

function walkObject(
  obj: Obj,
  schema: Schema | undefined,
  path: string[],
  out: Map<string, Entry>,
  root: boolean,
): void {
  for (const [key, child] of Object.entries(obj)) {
    if (child === undefined) continue;
    const sub = root ? rootChild(schema, key) : childSchema(schema, key);
    walk(child, sub, [...path, `f:${key}`], out, false);
  }
}

/** The part of an object field management looks at: no type meta, no system metadata, only the endpoint's own fields. */
export function trackedPart(
  obj: KubeObject | undefined,
  statusSubresource: boolean,
  subresource: string | undefined,
): Obj {
  if (!obj) return {};
  const out: Obj = {};
  for (const [key, value] of Object.entries(obj)) {
    if (key === "apiVersion" || key === "kind") continue;
    if (
      subresource === "status"
        ? key !== "status" && key !== "metadata"
        : key === "status" && statusSubresource
    ) {
      continue;
    }
    if (key === "metadata" && isObj(value)) {
      const meta: Obj = {};
      for (const [m, v] of Object.entries(value)) if (!UNTRACKED_METADATA.has(m)) meta[m] = v;
      if (Object.keys(meta).length > 0 && subresource !== "status") out.metadata = meta;
      continue;
    }
    out[key] = value;
  }
  return out;
}

export function entriesOf(obj: Obj, schema: Schema | undefined): Map<string, Entry> {
  const out = new Map<string, Entry>();
  walkObject(obj, schema, [], out, true);
  // metadata always exists on a stored object, so it is never itself "added"
  out.delete(joinPath(["f:metadata"]));
  return out;
}

/** The fields an apply configuration sets: leaves and list items, not the maps that hold them. */
export function appliedFieldSet(config: Obj, schema: Schema | undefined): FieldSet {
  const set: FieldSet = new Set();
  for (const [path, entry] of entriesOf(config, schema)) if (entry.kind !== "container") set.add(path);
  return set;
}

export interface Comparison {
  changed: FieldSet;
  removed: FieldSet;
}

export function compareObjects(before: Obj, after: Obj, schema: Schema | undefined): Comparison {
  const a = entriesOf(before, schema);
  const b = entriesOf(after, schema);
  const changed: FieldSet = new Set();
  const removed: FieldSet = new Set();
  for (const [path, entry] of b) {
    const old = a.get(path);
    if (
      !old ||
      old.kind !== entry.kind ||
      (old.kind === "leaf" && entry.kind === "leaf" && old.json !== entry.json)
    ) {
      changed.add(path);
    }
  }
  for (const path of a.keys()) if (!b.has(path)) removed.add(path);
  return { changed, removed };
}

export function fieldsV1ToSet(fields: unknown, prefix: string[] = [], out: FieldSet = new Set()): FieldSet {
  if (!isObj(fields)) return out;
  for (const [key, child] of Object.entries(fields)) {
    if (key === ".") {
      out.add(joinPath(prefix));
      continue;
    }
    const path = [...prefix, key];
    if (isObj(child) && Object.keys(child).length > 0) fieldsV1ToSet(child, path, out);
    else out.add(joinPath(path));
  }
  return out;
}

interface TreeNode {
  member: boolean;
  children: Map<string, TreeNode>;
}

export function setToFieldsV1(set: FieldSet): Obj {
  const root: TreeNode = { member: false, children: new Map() };
  for (const path of set) {
    let node = root;
    for (const element of splitPath(path)) {
      let next = node.children.get(element);
      if (!next) {
        next = { member: false, children: new Map() };
        node.children.set(element, next);
      }
      node = next;
    }
    node.member = true;
  }
  const render = (node: TreeNode): Obj => {
    const out: Obj = {};
    if (node.member && node.children.size > 0) out["."] = {};
    for (const key of [...node.children.keys()].sort()) out[key] = render(node.children.get(key)!);
    return out;
  };
  return render(root);
}

export interface Manager {
  manager: string;
  operation: "Apply" | "Update";
  subresource?: string;
  apiVersion: string;
  time?: string;
  fields: FieldSet;
}

export function readManagers(obj: KubeObject | undefined): Manager[] {
  return (obj?.metadata.managedFields ?? []).map((entry) => ({
    manager: entry.manager,
    operation: entry.operation,
    subresource: entry.subresource,
    apiVersion: entry.apiVersion,
    time: entry.time,
    fields: fieldsV1ToSet(entry.fieldsV1),
  }));
}

export function sameManager(a: Pick<Manager, "manager" | "operation" | "subresource">, b: typeof a): boolean {
  return (
    a.manager === b.manager && a.operation === b.operation && (a.subresource ?? "") === (b.subresource ?? "")
  );
}

export function writeManagers(managers: Manager[]): ManagedFieldsEntry[] {
  return managers
    .filter((m) => m.fields.size > 0)
    .map((m) => {
      const entry: ManagedFieldsEntry = {
        manager: m.manager,
        operation: m.operation,
        apiVersion: m.apiVersion,
        time: m.time,
        fieldsType: "FieldsV1",
        fieldsV1: setToFieldsV1(m.fields),
      };
      if (m.subresource) entry.subresource = m.subresource;
      return entry;
    });
}

export function fieldSetMinus(set: FieldSet, remove: FieldSet): FieldSet {
  return new Set([...set].filter((p) => !remove.has(p)));
}

export interface UpdateContext {
  schema: Schema | undefined;
  statusSubresource: boolean;
  subresource: string | undefined;
  apiVersion: string;
  manager: string;
}

/**
 * Records a non-apply write: the writer takes the fields it changed, nobody keeps fields that were
 * removed, and other managers lose what was overwritten (updates never conflict).
 */
export function recordUpdate(before: KubeObject | undefined, after: KubeObject, ctx: UpdateContext): void {
  const cmp = compareObjects(
    trackedPart(before, ctx.statusSubresource, ctx.subresource),
    trackedPart(after, ctx.statusSubresource, ctx.subresource),
    ctx.schema,
  );
  const self = { manager: ctx.manager, operation: "Update" as const, subresource: ctx.subresource };
  // A main-endpoint write that carries managedFields sets them (kubectl migrates client-side apply
  // ownership this way); writes without them keep the stored ones.
  const supplied = ctx.subresource === undefined && (after.metadata.managedFields?.length ?? 0) > 0;
  const managers = readManagers(supplied ? after : before).map((m) =>
    sameManager(m, self)
      ? m
      : { ...m, fields: fieldSetMinus(fieldSetMinus(m.fields, cmp.changed), cmp.removed) },
  );
  let mine = managers.find((m) => sameManager(m, self));
  if (!mine) {
    if (cmp.changed.size === 0) {
      after.metadata.managedFields = writeManagers(managers);
      return;
    }
    mine = { ...self, apiVersion: ctx.apiVersion, fields: new Set() };
    managers.push(mine);
  }
  const fields = fieldSetMinus(new Set([...mine.fields, ...cmp.changed]), cmp.removed);
  if (cmp.changed.size > 0 || fields.size !== mine.fields.size) mine.time = timestamp();
  mine.fields = fields;
  mine.apiVersion = ctx.apiVersion;
  after.metadata.managedFields = writeManagers(managers);
}
