import type { Schema } from "../schema.ts";
import { type FieldError, renderValue } from "../status-errors.ts";
import { isObj, type KubeObject, type Obj } from "../types.ts";
import type { Conversion, PrinterColumn, ResourceType, ScaleSubresource, Strategy } from "./registry.ts";

export const CRD_STORAGE_KEY = "apiextensions.k8s.io/customresourcedefinitions";
export const CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";

interface CrdNames {
  plural: string;
  singular?: string;
  kind: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: Schema };
  subresources?: { status?: Obj; scale?: ScaleSubresource };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: { jsonPath: string }[];
}

export interface CrdSpec {
  group: string;
  names: CrdNames;
  scope: "Namespaced" | "Cluster";
  versions: CrdVersion[];
}

export function crdSpec(crd: KubeObject): CrdSpec {
  return crd.spec as unknown as CrdSpec;
}

export function validateCrd(crd: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const spec = (isObj(crd.spec) ? crd.spec : {}) as Partial<CrdSpec>;
  const names = (isObj(spec.names) ? spec.names : {}) as Partial<CrdNames>;
  if (!spec.group) errors.push({ field: "spec.group", type: "FieldValueRequired" });
  else if (!spec.group.includes(".")) {
    errors.push({
      field: "spec.group",
      type: "FieldValueInvalid",
      value: renderValue(spec.group),
      detail: "should be a domain with at least one dot",
    });
  }
  if (!names.plural) errors.push({ field: "spec.names.plural", type: "FieldValueRequired" });
  if (!names.kind) errors.push({ field: "spec.names.kind", type: "FieldValueRequired" });
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    errors.push({
      field: "spec.scope",
      type: "FieldValueNotSupported",
      value: renderValue(spec.scope ?? ""),
      detail: 'supported values: "Cluster", "Namespaced"',
    });
  }
  if (names.plural && spec.group && crd.metadata.name !== `${names.plural}.${spec.group}`) {
    errors.push({
      field: "metadata.name",
      type: "FieldValueInvalid",
      value: renderValue(crd.metadata.name),
      detail: 'must be spec.names.plural+"."+spec.group',
    });
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0)
    errors.push({
      field: "spec.versions",
      type: "FieldValueInvalid",
      value: "[]",
      detail: "must have exactly one version marked as storage version",
    });
  else if (versions.filter((v) => v.storage).length !== 1) {
    errors.push({
      field: "spec.versions",
      type: "FieldValueInvalid",
      value: renderValue(versions.map((v) => v.name)),
      detail: "must have exactly one version marked as storage version",
    });
  }
  versions.forEach((v, i) => {
    if (!v.schema?.openAPIV3Schema) {
      errors.push({
        field: `spec.versions[${i}].schema.openAPIV3Schema`,
        type: "FieldValueRequired",
        detail: "schemas are required",
      });
    }
  });
  return errors;
}

function storageVersion(spec: CrdSpec): string | undefined {
  return spec.versions.find((v) => v.storage)?.name;
}

/** The apiextensions strategy: a fresh CRD waits for its cleanup finalizer and starts with empty status. */
export const crdStrategy: Strategy = {
  prepareForCreate(crd) {
    const finalizers = crd.metadata.finalizers ?? [];
    if (!finalizers.includes(CRD_CLEANUP_FINALIZER))
      crd.metadata.finalizers = [...finalizers, CRD_CLEANUP_FINALIZER];
    const stored = storageVersion(crdSpec(crd));
    crd.status = {
      acceptedNames: { kind: "", plural: "" },
      conditions: [],
      storedVersions: stored ? [stored] : [],
    };
  },
  validate: (crd) => validateCrd(crd),
};

/** The status the naming and establishing controllers converge on once the names are free. */
export function establishedStatus(crd: KubeObject, at: string): Obj {
  const spec = crdSpec(crd);
  const previous =
    isObj(crd.status) && Array.isArray(crd.status.storedVersions)
      ? (crd.status.storedVersions as string[])
      : [];
  const stored = storageVersion(spec);
  const names = spec.names;
  return {
    acceptedNames: {
      plural: names.plural,
      singular: names.singular ?? names.kind.toLowerCase(),
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      ...(names.shortNames ? { shortNames: names.shortNames } : {}),
      ...(names.categories ? { categories: names.categories } : {}),
    },
    conditions: [
      {
        type: "NamesAccepted",
        status: "True",
        lastTransitionTime: at,
        reason: "NoConflicts",
        message: "no conflicts found",
      },
      {
        type: "Established",
        status: "True",
        lastTransitionTime: at,
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
      },
    ],
    storedVersions: [...new Set([...previous, ...(stored ? [stored] : [])])],
  };
}

const DEFAULT_COLUMNS: PrinterColumn[] = [
  {
    name: "Age",
    type: "date",
    jsonPath: ".metadata.creationTimestamp",
    description:
      "CreationTimestamp is a timestamp representing the server time when this object was created.",
  },
];

/**
 * The `None` conversion strategy of apiextensions-apiserver (nopConverter): an object read or written
 * in any served version is stored in the storage version, and only apiVersion changes between them.
 */
function noneConversion(group: string, served: string, stored: string): Conversion {
  return {
    toStorage: (obj) => ({ ...obj, apiVersion: `${group}/${stored}` }),
    fromStorage: (obj) => ({ ...obj, apiVersion: `${group}/${served}` }),
  };
}

/** One served resource per served version of the CRD. */
export function crdResourceTypes(crd: KubeObject): ResourceType[] {
  const spec = crdSpec(crd);
  const names = spec.names;
  const stored = storageVersion(spec) ?? spec.versions[0]!.name;
  return spec.versions
    .filter((v) => v.served)
    .map((v) => ({
      group: spec.group,
      version: v.name,
      kind: names.kind,
      listKind: names.listKind ?? `${names.kind}List`,
      plural: names.plural,
      singular: names.singular ?? names.kind.toLowerCase(),
      shortNames: names.shortNames ?? [],
      categories: names.categories ?? [],
      namespaced: spec.scope === "Namespaced",
      custom: true,
      storageKey: `${spec.group}/${names.plural}`,
      storageVersion: `${spec.group}/${stored}`,
      schema: v.schema?.openAPIV3Schema,
      statusSubresource: isObj(v.subresources?.status),
      scale: v.subresources?.scale,
      printerColumns: v.additionalPrinterColumns?.length ? v.additionalPrinterColumns : DEFAULT_COLUMNS,
      hasGeneration: true,
      fieldSelectors: (v.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, "")),
      allowCreateOnUpdate: false,
      returnDeletedObject: false,
      strategy: {},
      conversion: noneConversion(spec.group, v.name, stored),
    }));
}
