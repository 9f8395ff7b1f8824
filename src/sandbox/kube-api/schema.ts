import { clone, deepEqual, formatFieldPath } from "./json.ts";
import { type FieldError, renderValue } from "./status-errors.ts";
import { isObj, type Obj } from "./types.ts";

/** The structural OpenAPI v3 subset that CRDs use, plus the list/patch annotations built-in schemas carry. */
export interface Schema {
  type?: string;
  description?: string;
  format?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  not?: Schema;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-patch-merge-key"?: string;
  "x-kubernetes-patch-strategy"?: string;
}

type Path = (string | number)[];

/** Fields of ObjectMeta that survive decoding; anything else under metadata is dropped like an unknown Go field. */
const OBJECT_META_FIELDS = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);

export function childSchema(schema: Schema | undefined, key: string): Schema | undefined {
  if (!schema) return undefined;
  const prop = schema.properties?.[key];
  if (prop) return prop;
  return isObj(schema.additionalProperties) ? (schema.additionalProperties as Schema) : undefined;
}

/** Removes fields the schema does not declare and returns their paths (`spec.foo`), as CRD pruning does. */
export function prune(obj: Obj, schema: Schema | undefined): string[] {
  const dropped: string[] = [];
  if (!schema) return dropped;
  pruneObject(obj, schema, [], dropped, true);
  return dropped;
}

function pruneObject(obj: Obj, schema: Schema, path: Path, dropped: string[], embedded: boolean): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (embedded && (key === "apiVersion" || key === "kind")) continue;
    if (embedded && key === "metadata") {
      if (isObj(value)) pruneMetadata(value, [...path, key], dropped);
      continue;
    }
    const prop = schema.properties?.[key];
    const additional = schema.additionalProperties;
    const sub = prop ?? (isObj(additional) ? (additional as Schema) : undefined);
    if (!sub) {
      if (!schema["x-kubernetes-preserve-unknown-fields"] && additional !== true) {
        delete obj[key];
        dropped.push(formatFieldPath([...path, key]));
      }
      continue;
    }
    pruneValue(value, sub, [...path, key], dropped);
  }
}

function pruneMetadata(meta: Obj, path: Path, dropped: string[]): void {
  for (const key of Object.keys(meta)) {
    if (OBJECT_META_FIELDS.has(key)) continue;
    delete meta[key];
    dropped.push(formatFieldPath([...path, key]));
  }
}

function pruneValue(value: unknown, schema: Schema, path: Path, dropped: string[]): void {
  if (Array.isArray(value)) {
    const items = schema.items;
    if (items)
      value.forEach((item, i) => {
        pruneValue(item, items, [...path, i], dropped);
      });
    return;
  }
  if (!isObj(value)) return;
  const hasStructure = schema.properties !== undefined || schema.additionalProperties !== undefined;
  if (!hasStructure && (schema["x-kubernetes-preserve-unknown-fields"] || schema.type === undefined)) return;
  pruneObject(value, schema, path, dropped, schema["x-kubernetes-embedded-resource"] === true);
}

/** Fills `default` values for absent (or null, non-nullable) fields inside objects that exist. */
export function applyDefaults(value: unknown, schema: Schema | undefined): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    if (schema.items) for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isObj(value)) return;
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const missing = value[key] === undefined || (value[key] === null && !prop.nullable);
    if (missing && prop.default !== undefined) value[key] = clone(prop.default);
    if (value[key] !== undefined) applyDefaults(value[key], prop);
  }
  if (isObj(schema.additionalProperties)) {
    for (const key of Object.keys(value)) {
      if (!schema.properties?.[key]) applyDefaults(value[key], schema.additionalProperties as Schema);
    }
  }
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(value: unknown, schema: Schema): boolean {
  if (schema["x-kubernetes-int-or-string"]) return typeof value === "string" || Number.isInteger(value);
  const actual = jsonType(value);
  switch (schema.type) {
    case undefined:
      return true;
    case "number":
      return actual === "number" || actual === "integer";
    default:
      return actual === schema.type;
  }
}

/** Validates like the apiextensions apiserver (go-openapi messages mapped onto field errors). */
export function validateValue(value: unknown, schema: Schema | undefined, path: Path = []): FieldError[] {
  const errors: FieldError[] = [];
  if (schema) check(value, schema, path, errors);
  return errors;
}

function check(value: unknown, schema: Schema, path: Path, errors: FieldError[]): void {
  const field = formatFieldPath(path);
  const where = field || "body";
  if (value === null && (schema.nullable || schema.type === undefined)) return;
  if (!typeMatches(value, schema)) {
    const expected = schema["x-kubernetes-int-or-string"] ? "integer-or-string" : schema.type;
    const actual = renderValue(jsonType(value));
    errors.push({
      field,
      type: "FieldValueTypeInvalid",
      value: actual,
      detail: `${where} in body must be of type ${expected}: ${actual}`,
    });
    return;
  }
  if (schema.enum && !schema.enum.some((allowed) => deepEqual(allowed, value))) {
    errors.push({
      field,
      type: "FieldValueNotSupported",
      value: renderValue(value),
      detail: `supported values: ${schema.enum.map((v) => renderValue(v)).join(", ")}`,
    });
  }
  if (typeof value === "number") checkNumber(value, schema, field, where, errors);
  if (typeof value === "string") checkString(value, schema, field, where, errors);
  if (Array.isArray(value)) checkArray(value, schema, path, where, errors);
  if (isObj(value)) checkObject(value, schema, path, errors);
  checkCombinators(value, schema, path, errors);
}

function checkNumber(
  value: number,
  schema: Schema,
  field: string,
  where: string,
  errors: FieldError[],
): void {
  const fail = (detail: string) =>
    errors.push({ field, type: "FieldValueInvalid", value: String(value), detail });
  if (schema.minimum !== undefined) {
    if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum) {
      fail(
        `${where} in body should be greater than ${schema.exclusiveMinimum ? "" : "or equal to "}${schema.minimum}`,
      );
    }
  }
  if (schema.maximum !== undefined) {
    if (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum) {
      fail(
        `${where} in body should be less than ${schema.exclusiveMaximum ? "" : "or equal to "}${schema.maximum}`,
      );
    }
  }
}

function checkString(
  value: string,
  schema: Schema,
  field: string,
  where: string,
  errors: FieldError[],
): void {
  if (schema.maxLength !== undefined && Buffer.byteLength(value) > schema.maxLength) {
    errors.push({
      field,
      type: "FieldValueTooLong",
      detail: `may not be more than ${schema.maxLength} bytes`,
    });
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    errors.push({
      field,
      type: "FieldValueInvalid",
      value: renderValue(value),
      detail: `${where} in body should be at least ${schema.minLength} chars long`,
    });
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
    errors.push({
      field,
      type: "FieldValueInvalid",
      value: renderValue(value),
      detail: `${where} in body should match '${schema.pattern}'`,
    });
  }
}

function checkArray(value: unknown[], schema: Schema, path: Path, where: string, errors: FieldError[]): void {
  const field = formatFieldPath(path);
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errors.push({
      field,
      type: "FieldValueTooMany",
      value: String(value.length),
      detail: `must have at most ${schema.maxItems} items`,
    });
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errors.push({
      field,
      type: "FieldValueInvalid",
      value: renderValue(value),
      detail: `${where} in body should have at least ${schema.minItems} items`,
    });
  }
  const listType = schema["x-kubernetes-list-type"];
  if (schema.uniqueItems || listType === "set") {
    value.forEach((item, i) => {
      if (value.findIndex((other) => deepEqual(other, item)) < i) {
        errors.push({
          field: formatFieldPath([...path, i]),
          type: "FieldValueDuplicate",
          value: renderValue(item),
        });
      }
    });
  }
  if (listType === "map") {
    const keys = schema["x-kubernetes-list-map-keys"] ?? [];
    const seen = new Set<string>();
    value.forEach((item, i) => {
      if (!isObj(item)) return;
      const id = JSON.stringify(keys.map((k) => item[k]));
      if (seen.has(id)) {
        errors.push({
          field: formatFieldPath([...path, i]),
          type: "FieldValueDuplicate",
          value: renderValue(item),
        });
      }
      seen.add(id);
    });
  }
  const items = schema.items;
  if (items)
    value.forEach((item, i) => {
      check(item, items, [...path, i], errors);
    });
}

function checkObject(value: Obj, schema: Schema, path: Path, errors: FieldError[]): void {
  for (const key of schema.required ?? []) {
    if (value[key] === undefined)
      errors.push({ field: formatFieldPath([...path, key]), type: "FieldValueRequired" });
  }
  const count = Object.keys(value).length;
  const field = formatFieldPath(path);
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    errors.push({
      field,
      type: "FieldValueTooMany",
      value: String(count),
      detail: `must have at most ${schema.maxProperties} items`,
    });
  }
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    errors.push({
      field,
      type: "FieldValueInvalid",
      value: String(count),
      detail: `${field || "body"} in body should have at least ${schema.minProperties} properties`,
    });
  }
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    const sub =
      schema.properties?.[key] ??
      (isObj(schema.additionalProperties) ? (schema.additionalProperties as Schema) : undefined);
    if (sub) check(child, sub, [...path, key], errors);
  }
}

function checkCombinators(value: unknown, schema: Schema, path: Path, errors: FieldError[]): void {
  const field = formatFieldPath(path);
  const where = field || "body";
  const passes = (alternative: Schema) => validateValue(value, alternative).length === 0;
  const fail = (detail: string) =>
    errors.push({ field, type: "FieldValueInvalid", value: renderValue(jsonType(value)), detail });
  if (schema.oneOf) {
    const matching = schema.oneOf.filter(passes).length;
    if (matching !== 1) {
      const found = matching === 0 ? "none" : String(matching);
      fail(`"${where}" must validate one and only one schema (oneOf). Found ${found} valid alternatives`);
    }
  }
  if (schema.anyOf && !schema.anyOf.some(passes))
    fail(`"${where}" must validate at least one schema (anyOf)`);
  for (const part of schema.allOf ?? []) check(value, part, path, errors);
  if (schema.not && passes(schema.not)) fail(`"${where}" must not validate the schema (not)`);
}

/** How server-side apply and strategic merge treat a list: by key, as a set, or whole. */
export interface ListShape {
  type: "atomic" | "set" | "map";
  keys: string[];
}

export function listShape(schema: Schema | undefined): ListShape {
  const declared = schema?.["x-kubernetes-list-type"];
  if (declared === "map") return { type: "map", keys: schema?.["x-kubernetes-list-map-keys"] ?? [] };
  if (declared === "set") return { type: "set", keys: [] };
  return { type: "atomic", keys: [] };
}

export function isAtomicMap(schema: Schema | undefined): boolean {
  return schema?.["x-kubernetes-map-type"] === "atomic";
}
