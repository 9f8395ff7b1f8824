import { createHash } from "node:crypto";
import { KUBE_VERSION } from "./discovery.ts";
import { openApiV2Document, openApiV2Protobuf } from "./openapi-v2.ts";
import { OBJECT_META } from "./resources/builtin-schemas.ts";
import { apiVersionOf, type Registry, type ResourceType } from "./resources/registry.ts";
import type { Schema } from "./schema.ts";
import type { Obj } from "./types.ts";

// OpenAPI v3 documents, enough for kubectl: `explain` reads the component schemas, and kubectl's
// field-validation check looks for a PATCH operation tagged with the kind's
// x-kubernetes-group-version-kind that accepts a `fieldValidation` query parameter.

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const BUILTIN_PACKAGES: Record<string, string> = {
  "": "io.k8s.api.core",
  apps: "io.k8s.api.apps",
  autoscaling: "io.k8s.api.autoscaling",
  "events.k8s.io": "io.k8s.api.events",
  "coordination.k8s.io": "io.k8s.api.coordination",
  "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
};

function componentName(rt: ResourceType): string {
  const pkg = rt.custom ? rt.group.split(".").reverse().join(".") : (BUILTIN_PACKAGES[rt.group] ?? rt.group);
  return `${pkg}.${rt.version}.${rt.kind}`;
}

function gvk(rt: ResourceType): Obj {
  return { group: rt.group, version: rt.version, kind: rt.kind };
}

function kindSchema(rt: ResourceType): Obj {
  const schema = (rt.schema ?? { type: "object" }) as Schema;
  const properties: Obj = {
    apiVersion: {
      type: "string",
      description: "APIVersion defines the versioned schema of this representation of an object.",
    },
    kind: {
      type: "string",
      description: "Kind is a string value representing the REST resource this object represents.",
    },
    ...(schema.properties ?? {}),
    metadata: { allOf: [ref(`${META}.ObjectMeta`)], default: {} },
  };
  return { ...schema, type: "object", properties, "x-kubernetes-group-version-kind": [gvk(rt)] };
}

function listSchema(rt: ResourceType, item: string): Obj {
  return {
    type: "object",
    required: ["items"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      items: { type: "array", items: ref(item) },
      metadata: { allOf: [ref(`${META}.ListMeta`)], default: {} },
    },
    "x-kubernetes-group-version-kind": [{ ...gvk(rt), kind: rt.listKind }],
  };
}

function query(name: string, type = "string"): Obj {
  return { name, in: "query", schema: { type, uniqueItems: true } };
}

const WRITE_PARAMS = [query("dryRun"), query("fieldManager"), query("fieldValidation")];
const LIST_PARAMS = [
  "allowWatchBookmarks",
  "continue",
  "fieldSelector",
  "labelSelector",
  "limit",
  "resourceVersion",
  "resourceVersionMatch",
  "sendInitialEvents",
  "timeoutSeconds",
  "watch",
].map((p) => query(p));

function operation(
  rt: ResourceType,
  action: string,
  body: Obj | undefined,
  response: Obj,
  params: Obj[],
): Obj {
  const op: Obj = {
    description: `${action} ${rt.kind}`,
    operationId: `${action}${rt.kind}`,
    parameters: params,
    responses: { "200": { description: "OK", content: { "application/json": { schema: response } } } },
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk(rt),
  };
  if (body) op.requestBody = { content: body, required: true };
  return op;
}

function paths(rt: ResourceType, name: string): Record<string, Obj> {
  const base = `/${rt.group ? `apis/${rt.group}` : "api"}/${rt.version}${rt.namespaced ? "/namespaces/{namespace}" : ""}/${rt.plural}`;
  const kindRef = ref(name);
  const jsonBody = { "application/json": { schema: kindRef } };
  const patchBody: Obj = {
    "application/json-patch+json": { schema: ref(`${META}.Patch`) },
    "application/merge-patch+json": { schema: ref(`${META}.Patch`) },
    "application/apply-patch+yaml": { schema: ref(`${META}.Patch`) },
  };
  if (!rt.custom) patchBody["application/strategic-merge-patch+json"] = { schema: ref(`${META}.Patch`) };
  const pathParams = [
    ...(rt.namespaced ? [{ name: "namespace", in: "path", required: true, schema: { type: "string" } }] : []),
  ];
  const named = [...pathParams, { name: "name", in: "path", required: true, schema: { type: "string" } }];
  const item = (suffix: string) => ({
    get: operation(rt, "get", undefined, kindRef, []),
    put: operation(rt, "put", jsonBody, kindRef, WRITE_PARAMS),
    patch: operation(rt, "patch", patchBody, kindRef, [...WRITE_PARAMS, query("force", "boolean")]),
    ...(suffix === ""
      ? {
          delete: operation(rt, "delete", undefined, ref(`${META}.Status`), [
            query("dryRun"),
            query("propagationPolicy"),
          ]),
        }
      : {}),
    parameters: named,
  });
  const out: Record<string, Obj> = {
    [base]: {
      get: operation(rt, "list", undefined, ref(`${name}List`), LIST_PARAMS),
      post: operation(rt, "post", jsonBody, kindRef, WRITE_PARAMS),
      delete: operation(rt, "deletecollection", undefined, ref(`${META}.Status`), LIST_PARAMS),
      parameters: pathParams,
    },
    [`${base}/{name}`]: item(""),
  };
  if (rt.statusSubresource) out[`${base}/{name}/status`] = item("/status");
  return out;
}

function metaSchemas(): Obj {
  return {
    [`${META}.ObjectMeta`]: {
      ...OBJECT_META,
      description:
        "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
    },
    [`${META}.ListMeta`]: {
      type: "object",
      properties: {
        continue: { type: "string" },
        remainingItemCount: { type: "integer", format: "int64" },
        resourceVersion: { type: "string" },
      },
    },
    [`${META}.Patch`]: {
      type: "object",
      description: "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
    },
    [`${META}.Status`]: {
      type: "object",
      properties: {
        code: { type: "integer" },
        message: { type: "string" },
        reason: { type: "string" },
        status: { type: "string" },
        details: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      },
      "x-kubernetes-group-version-kind": [{ group: "", version: "v1", kind: "Status" }],
    },
  };
}

export function groupVersionDocument(registry: Registry, group: string, version: string): Obj | undefined {
  const resources = registry.resources(group, version);
  if (resources.length === 0) return undefined;
  const schemas: Obj = metaSchemas();
  let allPaths: Obj = {};
  for (const rt of resources) {
    const name = componentName(rt);
    schemas[name] = kindSchema(rt);
    schemas[`${name}List`] = listSchema(rt, name);
    allPaths = { ...allPaths, ...paths(rt, name) };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: KUBE_VERSION.gitVersion },
    paths: allPaths,
    components: { schemas },
  };
}

/**
 * Serves /openapi/v3 and its per-group-version documents, and /openapi/v2 (every group-version's
 * schemas in one document), rebuilt whenever the set of served resources changes.
 */
export class OpenApiCache {
  private builtAt = -1;
  private docs = new Map<string, { body: string; hash: string }>();
  private v2: { json: string; protobuf: Buffer } = { json: "", protobuf: Buffer.alloc(0) };

  constructor(private readonly registry: Registry) {}

  private refresh(): void {
    if (this.builtAt === this.registry.version()) return;
    this.docs = new Map();
    const definitions: Record<string, Obj> = {};
    const gvs = new Set(this.registry.all().map((rt) => apiVersionOf(rt)));
    for (const gv of gvs) {
      const [group, version] = gv.includes("/") ? gv.split("/") : ["", gv];
      const doc = groupVersionDocument(this.registry, group!, version!);
      if (!doc) continue;
      Object.assign(definitions, (doc.components as { schemas: Obj }).schemas);
      const body = JSON.stringify(doc);
      const hash = createHash("sha512").update(body).digest("hex").toUpperCase();
      this.docs.set(group ? `apis/${group}/${version}` : `api/${version}`, { body, hash });
    }
    const v2 = openApiV2Document(definitions);
    this.v2 = { json: JSON.stringify(v2), protobuf: openApiV2Protobuf(v2) };
    this.builtAt = this.registry.version();
  }

  /** /openapi/v2 as JSON and as the protobuf client-go asks for. */
  v2Document(): { json: string; protobuf: Buffer } {
    this.refresh();
    return this.v2;
  }

  root(): Obj {
    this.refresh();
    const paths: Obj = {};
    for (const [key, doc] of this.docs)
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${doc.hash}` };
    return { paths };
  }

  document(key: string): { body: string; hash: string } | undefined {
    this.refresh();
    return this.docs.get(key);
  }
}
