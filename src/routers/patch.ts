/**
 * Builds RFC 6902 JSON patches that change only what they name. Every patch starts with a `test` of the
 * resourceVersion it was computed from; every `replace` and `remove` is preceded by a `test` of the value
 * it replaces, so the server applies the patch only to the object the decision was made on.
 *
 * The builder applies each operation to a working copy as it goes, so later operations are computed
 * against the document as the earlier ones leave it (array indexes stay right).
 */
import jsonpatch, { type Operation } from "fast-json-patch";
import type { JsonPatchOperation, KubeObject } from "../kube/client.ts";

/** A JSON pointer from path segments, escaping `~` and `/`. */
export function pointer(...segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => deepEqual(item, other[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const otherKeys = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return keys.length === otherKeys.length && keys.every((k) => deepEqual(ra[k], rb[k]));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

export class PatchBuilder<T extends KubeObject = KubeObject> {
  readonly ops: JsonPatchOperation[] = [];
  private doc: T;
  private writes = 0;

  constructor(original: T) {
    this.doc = clone(original);
    const resourceVersion = original.metadata.resourceVersion;
    if (resourceVersion !== undefined)
      this.push({ op: "test", path: "/metadata/resourceVersion", value: resourceVersion });
  }

  /** The document with the operations so far applied. */
  get document(): T {
    return this.doc;
  }

  /** True when the patch changes anything (more than its tests). */
  get changed(): boolean {
    return this.writes > 0;
  }

  get(path: string): unknown {
    try {
      return jsonpatch.getValueByPointer(this.doc, path);
    } catch {
      return undefined;
    }
  }

  has(path: string): boolean {
    return this.get(path) !== undefined;
  }

  test(path: string, value: unknown): this {
    return this.push({ op: "test", path, value: clone(value) });
  }

  /** Sets a value: add when absent, replace (after testing the old value) when different, nothing when equal. */
  set(path: string, value: unknown): this {
    const current = this.get(path);
    if (current === undefined) return this.write({ op: "add", path, value: clone(value) });
    if (deepEqual(current, value)) return this;
    this.test(path, current);
    return this.write({ op: "replace", path, value: clone(value) });
  }

  /** Inserts into an array at `index` (or appends with "-"). */
  insert(arrayPath: string, index: number | "-", value: unknown): this {
    return this.write({ op: "add", path: `${arrayPath}/${index}`, value: clone(value) });
  }

  /** Removes a value after testing it; nothing when absent. */
  remove(path: string): this {
    const current = this.get(path);
    if (current === undefined) return this;
    this.test(path, current);
    return this.write({ op: "remove", path });
  }

  /** Makes sure an object exists at `path` (adds `{}` when absent). */
  ensureObject(path: string): this {
    if (this.get(path) === undefined) this.write({ op: "add", path, value: {} });
    return this;
  }

  private write(op: JsonPatchOperation): this {
    this.writes++;
    return this.push(op);
  }

  private push(op: JsonPatchOperation): this {
    this.doc = jsonpatch.applyOperation(this.doc, op as Operation, true, true).newDocument;
    this.ops.push(op);
    return this;
  }
}

/** Sets an annotation, or removes it with `undefined`; the annotations map is created or dropped as needed. */
export function setAnnotation(builder: PatchBuilder, key: string, value: string | undefined): void {
  const annotations = builder.get("/metadata/annotations");
  const present = isRecord(annotations) && annotations[key] !== undefined;
  if (value === undefined) {
    if (!present) return;
    if (Object.keys(annotations).length === 1) builder.remove("/metadata/annotations");
    else builder.remove(pointer("metadata", "annotations", key));
  } else if (!isRecord(annotations)) builder.set("/metadata/annotations", { [key]: value });
  else builder.set(pointer("metadata", "annotations", key), value);
}
