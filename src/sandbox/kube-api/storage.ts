import { parseApplyConfig, refreshLastApplied, serverSideApply } from "./apply.ts";
import { clone, deepEqual, duplicateJsonFields } from "./json.ts";
import { checkStoredSize, validateAnnotationsSize } from "./limits.ts";
import { recordUpdate } from "./managed-fields.ts";
import {
  generateName,
  nameRuleFor,
  newUid,
  timestamp,
  validateObjectMeta,
  wipeSystemFields,
} from "./object-meta.ts";
import { jsonPatch, mergePatch, PATCH_TYPES, strategicMergePatch } from "./patch.ts";
import { apiVersionOf, type ResourceType } from "./resources/registry.ts";
import { applyDefaults, prune, type Schema, validateValue } from "./schema.ts";
import { both, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  type FieldError,
  forbidden,
  type GroupResource,
  invalid,
  notFound,
  STALE_OBJECT,
  unsupportedMediaType,
} from "./status-errors.ts";
import type { Store } from "./store.ts";
import { type FieldValidation, isObj, type KubeObject, type Obj } from "./types.ts";

export interface WriteOptions {
  dryRun: boolean;
  /** The fieldManager query parameter, when given. */
  fieldManager?: string;
  userAgent: string;
  fieldValidation: FieldValidation;
  /** Only for apply patches. */
  force?: boolean;
}

export interface WriteResult {
  object: KubeObject;
  created: boolean;
  /** The object is gone (its last finalizer was removed, or it had none). */
  deleted: boolean;
  warnings: string[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

export interface DeleteOptions {
  dryRun: boolean;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** Who the write's fields belong to: a plain writer (recorded as an Update) or an apply that already recorded itself. */
type Ownership = { manager: string } | { applied: true };

const NAMESPACES_KEY = "/namespaces";
const PROTECTED_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);
const CONTINUE_EXPIRED =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

export function groupResource(rt: ResourceType): GroupResource {
  return { group: rt.group, resource: rt.plural };
}

function managerName(opts: WriteOptions): string {
  return opts.fieldManager || opts.userAgent.split("/")[0] || "unknown";
}

function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}

/** Equality that ignores managedFields timestamps, so a write that changes nothing is a no-op as on a real server. */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => ({
    ...o,
    metadata: {
      ...o.metadata,
      managedFields: o.metadata.managedFields?.map((m) => ({ ...m, time: undefined })),
    },
  });
  return deepEqual(strip(a), strip(b));
}

function goType(schema: Schema | undefined): string {
  if (schema?.type === "integer") return schema.format ?? "int64";
  if (schema?.type === "number") return "float64";
  if (schema?.type === "boolean") return "bool";
  if (schema?.type === "array") return "[]interface {}";
  if (schema?.type === "object") return "map[string]interface {}";
  return schema?.type ?? "string";
}

/**
 * The REST semantics of the apiserver's generic registry: create, update, patch, apply, delete, get
 * and list over the store, with defaulting, pruning, validation, generation, status isolation,
 * finalizers and managedFields.
 */
export class Storage {
  constructor(
    readonly store: Store,
    private readonly garbageCollection: boolean,
  ) {}

  toServed(rt: ResourceType, stored: KubeObject): KubeObject {
    if (rt.conversion) return rt.conversion.fromStorage(stored);
    return { ...stored, apiVersion: apiVersionOf(rt), kind: rt.kind };
  }

  private toStored(rt: ResourceType, obj: KubeObject): KubeObject {
    return rt.conversion ? rt.conversion.toStorage(obj) : obj;
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const stored = this.store.get(rt.storageKey, namespace, name);
    if (!stored) throw notFound(groupResource(rt), name);
    return this.toServed(rt, stored);
  }

  list(rt: ResourceType, namespace: string | undefined, opts: ListOptions): ListResult {
    const matches = both(
      parseLabelSelector(opts.labelSelector),
      parseFieldSelector(opts.fieldSelector, rt.fieldSelectors),
    );
    let rv = this.store.currentRv();
    let after = "";
    if (opts.continueToken) {
      ({ rv, start: after } = decodeContinue(opts.continueToken));
      if (rv < this.store.oldestRv()) throw expired(CONTINUE_EXPIRED);
    } else if (opts.resourceVersion && opts.resourceVersionMatch === "Exact") {
      rv = parseResourceVersion(opts.resourceVersion);
    }
    const items = this.store
      .listAt(rt.storageKey, rv, namespace)
      .filter((o) => objectKey(o) > after)
      .map((o) => this.toServed(rt, o))
      .filter(matches);
    const limit = opts.limit ?? 0;
    if (limit <= 0 || items.length <= limit) return { items, resourceVersion: String(rv) };
    const page = items.slice(0, limit);
    const selective = Boolean(opts.labelSelector || opts.fieldSelector);
    return {
      items: page,
      resourceVersion: String(rv),
      continueToken: encodeContinue(rv, objectKey(page[page.length - 1]!)),
      remainingItemCount: selective ? undefined : items.length - limit,
    };
  }

  create(
    rt: ResourceType,
    namespace: string | undefined,
    body: Obj,
    opts: WriteOptions,
    rawBody?: string,
  ): WriteResult {
    const warnings: string[] = [];
    const obj = this.decodeBody(rt, body, opts, warnings, rawBody);
    return this.admitCreate(rt, namespace, obj, opts, { manager: managerName(opts) }, warnings);
  }

  update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: Obj,
    opts: WriteOptions,
    subresource?: string,
    rawBody?: string,
  ): WriteResult {
    const warnings: string[] = [];
    const obj = this.decodeBody(rt, body, opts, warnings, rawBody);
    checkName(obj, name);
    const stored = this.store.get(rt.storageKey, namespace, name);
    if (!stored) {
      if (rt.allowCreateOnUpdate && !subresource) {
        return this.admitCreate(rt, namespace, obj, opts, { manager: managerName(opts) }, warnings);
      }
      throw notFound(groupResource(rt), name);
    }
    const current = this.toServed(rt, stored);
    if (rt.custom && !obj.metadata.resourceVersion) {
      throw invalid({ group: rt.group, kind: rt.kind }, name, [
        {
          field: "metadata.resourceVersion",
          type: "FieldValueInvalid",
          value: "0x0",
          detail: "must be specified for an update",
        },
      ]);
    }
    checkPreconditions(rt, current, obj);
    return this.commitUpdate(rt, current, obj, opts, subresource, { manager: managerName(opts) }, warnings);
  }

  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    raw: string,
    opts: WriteOptions,
    subresource?: string,
  ): WriteResult {
    if (contentType === PATCH_TYPES.apply) return this.apply(rt, namespace, name, raw, opts, subresource);
    if (opts.force !== undefined) {
      throw invalid({ group: "meta.k8s.io", kind: "PatchOptions" }, "", [
        { field: "force", type: "FieldValueForbidden", detail: "may not be specified for non-apply patch" },
      ]);
    }
    if (contentType === PATCH_TYPES.strategic && rt.custom) {
      throw unsupportedMediaType([PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply]);
    }
    const current = this.get(rt, namespace, name);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message}`);
    }
    const issues =
      opts.fieldValidation === "Ignore" ? [] : duplicateJsonFields(raw).map((f) => `duplicate field "${f}"`);
    const patched = (
      contentType === PATCH_TYPES.json
        ? jsonPatch(current, body)
        : contentType === PATCH_TYPES.merge
          ? mergePatch(current, body)
          : strategicMergePatch(current, body, rt.schema)
    ) as KubeObject;
    if (!isObj(patched.metadata)) patched.metadata = {};
    const warnings: string[] = [];
    issues.push(...prune(patched, rt.schema).map((f) => `unknown field "${f}"`));
    if (issues.length > 0 && opts.fieldValidation === "Strict") {
      throw invalid({ group: "", kind: "" }, "", [
        {
          field: "patch",
          type: "FieldValueInvalid",
          value: JSON.stringify(JSON.stringify(patched)),
          detail: `strict decoding error: ${issues.join(", ")}`,
        },
      ]);
    }
    if (opts.fieldValidation === "Warn") warnings.push(...issues);
    checkName(patched, name);
    checkPreconditions(rt, current, patched);
    return this.commitUpdate(
      rt,
      current,
      patched,
      opts,
      subresource,
      { manager: managerName(opts) },
      warnings,
    );
  }

  private apply(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    raw: string,
    opts: WriteOptions,
    subresource: string | undefined,
  ): WriteResult {
    if (!opts.fieldManager) {
      throw invalid({ group: "meta.k8s.io", kind: "PatchOptions" }, "", [
        { field: "fieldManager", type: "FieldValueRequired", detail: "is required for apply patch" },
      ]);
    }
    const warnings: string[] = [];
    const config = parseApplyConfig(raw, opts.fieldValidation, warnings);
    const expected = apiVersionOf(rt);
    if (config.apiVersion !== expected || config.kind !== rt.kind) {
      throw badRequest(
        `invalid object type: ${String(config.apiVersion ?? "")}, Kind=${String(config.kind ?? "")}; expected ${expected}, Kind=${rt.kind}`,
      );
    }
    config.metadata = isObj(config.metadata) ? config.metadata : {};
    checkName(config, name);
    config.metadata.name = name;
    if (namespace !== undefined) config.metadata.namespace ??= namespace;
    const undeclared = prune(clone(config), rt.schema);
    if (undeclared.length > 0) {
      const gvk = `${expected.includes("/") ? expected : `/${expected}`}, Kind=${rt.kind}`;
      const lines = undeclared.map((f) => `.${f}: field not declared in schema`);
      const detail = lines.length === 1 ? lines[0] : `errors:\n  ${lines.join("\n  ")}`;
      throw new ApiError(500, "", `failed to create typed patch object (${gvk}): ${detail}`);
    }
    const stored = this.store.get(rt.storageKey, namespace, name);
    const live = stored ? this.toServed(rt, stored) : undefined;
    if (live) checkPreconditions(rt, live, config);
    const merged = serverSideApply({
      live,
      config,
      schema: rt.schema,
      statusSubresource: rt.statusSubresource,
      subresource,
      apiVersion: expected,
      manager: opts.fieldManager,
      force: opts.force === true,
    });
    refreshLastApplied(merged, config, opts.fieldManager);
    if (!live) {
      if (subresource) throw notFound(groupResource(rt), name);
      return this.admitCreate(rt, namespace, merged, opts, { applied: true }, warnings);
    }
    return this.commitUpdate(rt, live, merged, opts, subresource, { applied: true }, warnings);
  }

  delete(rt: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions): WriteResult {
    const current = this.get(rt, namespace, name);
    if (rt.kind === "Namespace" && PROTECTED_NAMESPACES.has(name)) {
      throw forbidden(groupResource(rt), name, "this namespace may not be deleted");
    }
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== current.metadata.uid) {
      throw conflict(
        groupResource(rt),
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        groupResource(rt),
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      );
    }
    const finalizers = [...(current.metadata.finalizers ?? [])];
    // The orphan and foreground policies are carried out by the garbage collector, so they only hold the object when it runs.
    if (this.garbageCollection && opts.propagationPolicy === "Orphan" && !finalizers.includes("orphan")) {
      finalizers.push("orphan");
    }
    if (
      this.garbageCollection &&
      opts.propagationPolicy === "Foreground" &&
      !finalizers.includes("foregroundDeletion")
    ) {
      finalizers.push("foregroundDeletion");
    }
    // a namespace is also held by its spec.finalizers, which only the namespace controller clears
    const held = finalizers.length > 0 || namespaceHeld(current);
    if (held) {
      if (current.metadata.deletionTimestamp)
        return { object: current, created: false, deleted: false, warnings: [] };
      const next = clone(current);
      next.metadata.deletionTimestamp = timestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (finalizers.length > 0) next.metadata.finalizers = finalizers;
      if (next.metadata.generation) next.metadata.generation += 1;
      if (rt.kind === "Namespace")
        next.status = { ...(isObj(next.status) ? next.status : {}), phase: "Terminating" };
      if (!opts.dryRun)
        this.store.commit(
          "MODIFIED",
          rt.storageKey,
          this.toStored(rt, next),
          this.store.get(rt.storageKey, namespace, name),
        );
      return { object: next, created: false, deleted: false, warnings: [] };
    }
    if (opts.dryRun) return { object: current, created: false, deleted: true, warnings: [] };
    const stored = this.store.get(rt.storageKey, namespace, name)!;
    const event = this.store.commit("DELETED", rt.storageKey, clone(stored), stored);
    return { object: this.toServed(rt, event.object), created: false, deleted: true, warnings: [] };
  }

  /** Turns a request body into an object of this resource: type meta checked, unknown fields pruned per fieldValidation. */
  private decodeBody(
    rt: ResourceType,
    body: Obj,
    opts: WriteOptions,
    warnings: string[],
    rawBody?: string,
  ): KubeObject {
    const expected = apiVersionOf(rt);
    if (body.apiVersion !== undefined && body.apiVersion !== expected) {
      throw badRequest(
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expected})`,
      );
    }
    if (body.kind !== undefined && body.kind !== rt.kind) {
      throw badRequest(
        `${String(body.kind)} in version "${rt.version}" cannot be handled as a ${rt.kind}: the kind in the data does not match the expected kind ${rt.kind}`,
      );
    }
    const obj = clone(body) as KubeObject;
    obj.apiVersion = expected;
    obj.kind = rt.kind;
    if (!isObj(obj.metadata)) obj.metadata = {};
    const dropped = prune(obj, rt.schema);
    if (opts.fieldValidation === "Ignore") return obj;
    const issues = [
      ...(rawBody ? duplicateJsonFields(rawBody) : []).map((f) => `duplicate field "${f}"`),
      ...dropped.map((f) => `unknown field "${f}"`),
    ];
    if (issues.length === 0) return obj;
    if (opts.fieldValidation === "Strict") {
      throw badRequest(
        `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${issues.join(", ")}`,
      );
    }
    warnings.push(...issues);
    return obj;
  }

  private admitCreate(
    rt: ResourceType,
    namespace: string | undefined,
    obj: KubeObject,
    opts: WriteOptions,
    ownership: Ownership,
    warnings: string[],
  ): WriteResult {
    const meta = obj.metadata;
    if (rt.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      meta.namespace = namespace;
    } else delete meta.namespace;
    const managedFields = meta.managedFields;
    wipeSystemFields(obj);
    if ("applied" in ownership) meta.managedFields = managedFields;
    if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName);
    if (rt.namespaced && namespace) this.requireActiveNamespace(rt, namespace, meta.name ?? "");
    // status starts empty; compiled-in kinds serialize their empty status struct as {}
    if (rt.statusSubresource) {
      if (rt.custom) delete obj.status;
      else obj.status = {};
    }
    if (rt.hasGeneration) meta.generation = 1;
    applyDefaults(obj, rt.schema);
    rt.strategy.prepareForCreate?.(obj);
    this.validate(rt, obj, undefined);
    meta.uid = newUid();
    meta.creationTimestamp = timestamp();
    if ("manager" in ownership)
      recordUpdate(undefined, obj, this.updateContext(rt, undefined, ownership.manager));
    if (this.store.get(rt.storageKey, meta.namespace, meta.name!))
      throw alreadyExists(groupResource(rt), meta.name!);
    if (opts.dryRun) return { object: obj, created: true, deleted: false, warnings };
    checkStoredSize(obj);
    this.store.commit("ADDED", rt.storageKey, this.toStored(rt, obj));
    return {
      object: this.toServed(rt, this.store.get(rt.storageKey, meta.namespace, meta.name!)!),
      created: true,
      deleted: false,
      warnings,
    };
  }

  private requireActiveNamespace(rt: ResourceType, namespace: string, name: string): void {
    const ns = this.store.get(NAMESPACES_KEY, undefined, namespace);
    if (!ns) throw notFound({ group: "", resource: "namespaces" }, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(
        groupResource(rt),
        name,
        `unable to create new content in namespace ${namespace} because it is being terminated`,
      );
    }
  }

  private updateContext(rt: ResourceType, subresource: string | undefined, manager: string) {
    return {
      schema: rt.schema,
      statusSubresource: rt.statusSubresource,
      subresource,
      apiVersion: apiVersionOf(rt),
      manager,
    };
  }

  private validate(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined): void {
    const schemaErrors = validateValue(obj, rt.schema);
    const typeError = schemaErrors.find((e) => e.type === "FieldValueTypeInvalid");
    if (!rt.custom && typeError) {
      // compiled-in kinds fail while decoding into Go structs, before validation
      const actual = typeError.value?.replaceAll('"', "") ?? "value";
      throw badRequest(
        `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: json: cannot unmarshal ${actual} into Go struct field ${rt.kind}.${typeError.field} of type ${goType(fieldSchema(rt.schema, typeError.field))}`,
      );
    }
    const errors: FieldError[] = [
      ...validateObjectMeta(obj, nameRuleFor(rt.kind), rt.namespaced),
      ...validateAnnotationsSize(obj),
      ...schemaErrors,
      ...(rt.strategy.validate?.(obj, old) ?? []),
    ];
    if (errors.length > 0) throw invalid({ group: rt.group, kind: rt.kind }, obj.metadata.name ?? "", errors);
  }

  /** The shared tail of update, patch and apply against an existing object. */
  private commitUpdate(
    rt: ResourceType,
    current: KubeObject,
    incoming: KubeObject,
    opts: WriteOptions,
    subresource: string | undefined,
    ownership: Ownership,
    warnings: string[],
  ): WriteResult {
    let next = incoming;
    if (subresource === "status") {
      next = { ...clone(current), status: clone(incoming.status) };
      if (next.status === undefined) delete next.status;
      if ("applied" in ownership) next.metadata.managedFields = incoming.metadata.managedFields;
    } else if (subresource === "finalize") {
      // a namespace's /finalize endpoint changes nothing but spec.finalizers
      const finalizers = isObj(incoming.spec) ? incoming.spec.finalizers : undefined;
      next = { ...clone(current), spec: { ...(isObj(current.spec) ? current.spec : {}), finalizers } };
    }
    const meta = next.metadata;
    for (const key of [
      "uid",
      "creationTimestamp",
      "deletionTimestamp",
      "deletionGracePeriodSeconds",
      "generation",
      "name",
      "namespace",
      "resourceVersion",
    ]) {
      if (current.metadata[key] === undefined) delete meta[key];
      else meta[key] = current.metadata[key];
    }
    if (subresource === undefined) {
      if (rt.statusSubresource) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      rt.strategy.prepareForUpdate?.(next, current);
    }
    applyDefaults(next, rt.schema);
    if (current.metadata.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter((f) => !(current.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) {
        throw invalid({ group: rt.group, kind: rt.kind }, meta.name ?? "", [
          {
            field: "metadata.finalizers",
            type: "FieldValueForbidden",
            detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
          },
        ]);
      }
    }
    this.validate(rt, next, current);
    if (rt.hasGeneration && subresource === undefined && specChanged(rt, current, next)) {
      meta.generation = (current.metadata.generation ?? 0) + 1;
    }
    if ("manager" in ownership)
      recordUpdate(current, next, this.updateContext(rt, subresource, ownership.manager));
    if (sameContent(current, next)) return { object: current, created: false, deleted: false, warnings };
    const finished =
      Boolean(meta.deletionTimestamp) && (meta.finalizers ?? []).length === 0 && !namespaceHeld(next);
    if (opts.dryRun) return { object: next, created: false, deleted: finished, warnings };
    checkStoredSize(next);
    const prev = this.store.get(rt.storageKey, current.metadata.namespace, current.metadata.name!);
    const event = this.store.commit(
      finished ? "DELETED" : "MODIFIED",
      rt.storageKey,
      this.toStored(rt, next),
      prev,
    );
    return { object: this.toServed(rt, event.object), created: false, deleted: finished, warnings };
  }
}

function namespaceHeld(obj: KubeObject): boolean {
  return (
    obj.kind === "Namespace" &&
    isObj(obj.spec) &&
    Array.isArray(obj.spec.finalizers) &&
    obj.spec.finalizers.length > 0
  );
}

function fieldSchema(schema: Schema | undefined, field: string): Schema | undefined {
  let node = schema;
  for (const part of field.replace(/\[\d+\]/g, ".[]").split(".")) {
    if (!node || part === "") continue;
    node = part === "[]" ? node.items : node.properties?.[part];
  }
  return node;
}

/** For CRs anything outside metadata (and status, when it has its own endpoint) is "spec"; built-ins track `spec`. */
function specChanged(rt: ResourceType, a: KubeObject, b: KubeObject): boolean {
  if (!rt.custom) return !deepEqual(a.spec, b.spec);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (key === "metadata" || key === "apiVersion" || key === "kind") continue;
    if (key === "status" && rt.statusSubresource) continue;
    if (!deepEqual(a[key], b[key])) return true;
  }
  return false;
}

function checkName(obj: KubeObject, name: string): void {
  if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
    throw badRequest(
      `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
    );
  }
}

function checkPreconditions(rt: ResourceType, current: KubeObject, incoming: KubeObject): void {
  const name = current.metadata.name!;
  if (incoming.metadata.uid && incoming.metadata.uid !== current.metadata.uid) {
    throw conflict(
      groupResource(rt),
      name,
      `Precondition failed: UID in precondition: ${incoming.metadata.uid}, UID in object meta: ${current.metadata.uid}`,
    );
  }
  const rv = incoming.metadata.resourceVersion;
  if (rv && rv !== current.metadata.resourceVersion) throw conflict(groupResource(rt), name, STALE_OBJECT);
}

export function parseResourceVersion(text: string): number {
  if (!/^\d+$/.test(text)) throw badRequest(`invalid resource version: ${text}`);
  return Number(text);
}

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start: `${start}\u0000` })).toString(
    "base64url",
  );
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString()) as {
      v?: string;
      rv?: number;
      start?: string;
    };
    if (parsed.v !== "meta.k8s.io/v1" || typeof parsed.rv !== "number" || typeof parsed.start !== "string")
      throw new Error();
    return {
      rv: parsed.rv,
      start: parsed.start.endsWith("\u0000") ? parsed.start.slice(0, -1) : parsed.start,
    };
  } catch {
    throw badRequest(
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    );
  }
}
