import type { IncomingMessage, ServerResponse } from "node:http";
import YAML from "yaml";
import { apiGroup, coreVersions, groupList, resourceList, versionInfo } from "./discovery.ts";
import type { OpenApiCache } from "./openapi.ts";
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_RESPONSE } from "./openapi-v2.ts";
import { jsonPatch, mergePatch, PATCH_TYPES, strategicMergePatch } from "./patch.ts";
import { decodeProtobufBody, PROTOBUF } from "./protobuf.ts";
import { isWatchParam, type RequestInfo } from "./request-info.ts";
import { apiVersionOf, type Registry, type ResourceType } from "./resources/registry.ts";
import { fromScale, toScale } from "./scale.ts";
import {
  type ApiError,
  badRequest,
  invalid,
  methodNotAllowed,
  notAcceptable,
  pathNotFound,
  successStatus,
  unsupportedMediaType,
} from "./status-errors.ts";
import { groupResource, type Storage, type WriteOptions, type WriteResult } from "./storage.ts";
import { type IncludeObject, TABLE_CONTENT_TYPE, toTable, wantsTable } from "./table.ts";
import { type FieldValidation, isObj, type KubeObject, type Obj } from "./types.ts";
import type { WatchHub } from "./watch.ts";

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-cache, private",
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.code, err.toStatus(), err.headers);
}

/** A Warning header value as the apiserver formats it: code 299, agent "-", quoted text. */
function warningHeader(warnings: string[]): Record<string, string[]> {
  return warnings.length === 0 ? {} : { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}

function acceptable(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(",").some((part) => {
    const type = part.split(";")[0]!.trim();
    return (
      type === "application/json" || type === "*/*" || type === "application/*" || type === "application/yaml"
    );
  });
}

const TEXT_BODIES = ["application/json", "application/yaml"];

/** A request body as an object: JSON, YAML, or the protobuf kubectl's typed clients send. */
function parseBody(body: Buffer, contentType: string): Obj {
  if (contentType === PROTOBUF) return decodeProtobufBody(body);
  if (!TEXT_BODIES.includes(contentType)) throw unsupportedMediaType([...TEXT_BODIES, PROTOBUF]);
  const raw = body.toString("utf8");
  if (raw.trim() === "") throw badRequest("the body of the request was empty");
  let parsed: unknown;
  try {
    parsed = contentType === "application/yaml" ? YAML.parse(raw) : JSON.parse(raw);
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
  if (!isObj(parsed))
    throw badRequest("couldn't get version/kind; json parse error: the body must be an object");
  return parsed;
}

function optionsKind(verb: string): string {
  return { create: "CreateOptions", update: "UpdateOptions", patch: "PatchOptions" }[verb] ?? "DeleteOptions";
}

/** Reads dryRun, fieldManager, fieldValidation and force, rejecting values the apiserver would reject. */
function writeOptions(query: URLSearchParams, verb: string, userAgent: string): WriteOptions {
  const dryRun = query.getAll("dryRun");
  const bad = dryRun.find((v) => v !== "All");
  if (bad !== undefined) {
    throw invalid({ group: "meta.k8s.io", kind: optionsKind(verb) }, "", [
      {
        field: "dryRun",
        type: "FieldValueNotSupported",
        value: JSON.stringify(bad),
        detail: 'supported values: "All"',
      },
    ]);
  }
  const validation = query.get("fieldValidation") ?? "";
  const normalized = { "": "Warn", strict: "Strict", warn: "Warn", ignore: "Ignore" }[
    validation.toLowerCase()
  ];
  if (!normalized) {
    throw badRequest(
      `fieldValidation: Invalid value: ${JSON.stringify(validation)}: must be one of "Ignore", "Warn", or "Strict"`,
    );
  }
  const force = query.get("force");
  return {
    dryRun: dryRun.length > 0,
    fieldManager: query.get("fieldManager") ?? undefined,
    userAgent,
    fieldValidation: normalized as FieldValidation,
    force: force === null ? undefined : force === "true",
  };
}

function includeObject(query: URLSearchParams): IncludeObject {
  const value = query.get("includeObject");
  return value === "None" || value === "Object" ? value : "Metadata";
}

function numberParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === "") return undefined;
  if (!/^\d+$/.test(text)) throw badRequest(`invalid ${name}: ${text}`);
  return Number(text);
}

/** Turns HTTP requests into storage calls and storage results into apiserver-shaped responses. */
export class ApiHandlers {
  constructor(
    private readonly storage: Storage,
    private readonly registry: Registry,
    private readonly watches: WatchHub,
    private readonly openapi: OpenApiCache,
    private readonly serverAddress: () => string,
  ) {}

  handle(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    url: URL,
    body: Buffer,
    forceExpired: boolean,
  ): void {
    if (!info.isResourceRequest && url.pathname === "/openapi/v2") {
      this.openapiV2(req, res);
      return;
    }
    if (!acceptable(req.headers.accept) && !wantsTable(req.headers.accept)) throw notAcceptable();
    if (!info.isResourceRequest) {
      this.nonResource(req, res, url);
      return;
    }
    const rt = this.registry.find(info.group, info.version, info.resource ?? "");
    if (!rt) throw pathNotFound();
    const scoped = info.namespace !== undefined;
    if (scoped && !rt.namespaced) throw pathNotFound();
    // Objects of a namespaced resource live inside a namespace; only list and watch may span all of them.
    if (rt.namespaced && !scoped && info.verb !== "list" && info.verb !== "watch") throw pathNotFound();
    if (info.subresource) {
      this.subresource(req, res, rt, info, url, body);
      return;
    }
    const query = url.searchParams;
    const userAgent = req.headers["user-agent"] ?? "";
    const contentType = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim();
    const raw = body.toString("utf8");
    // the raw text lets Strict validation find duplicate JSON fields
    const text = contentType === "application/json" ? raw : undefined;
    switch (info.verb) {
      case "get": {
        const obj = this.storage.get(rt, info.namespace, info.name!);
        this.sendObjects(req, res, rt, obj, query);
        return;
      }
      case "list":
        this.list(req, res, rt, info, query);
        return;
      case "watch":
        this.watches.serve(res, {
          rt,
          namespace: info.namespace,
          labelSelector: query.get("labelSelector") ?? undefined,
          fieldSelector: query.get("fieldSelector") ?? undefined,
          resourceVersion: query.get("resourceVersion") ?? undefined,
          allowWatchBookmarks: query.get("allowWatchBookmarks") === "true",
          sendInitialEvents: query.get("sendInitialEvents") === "true",
          timeoutSeconds: numberParam(query, "timeoutSeconds"),
          table: wantsTable(req.headers.accept) ? includeObject(query) : undefined,
          forceExpired,
        });
        return;
      case "create": {
        const result = this.storage.create(
          rt,
          info.namespace,
          parseBody(body, contentType),
          writeOptions(query, "create", userAgent),
          text,
        );
        this.sendWrite(res, 201, result);
        return;
      }
      case "update": {
        const opts = writeOptions(query, "update", userAgent);
        const result = this.storage.update(
          rt,
          info.namespace,
          info.name!,
          parseBody(body, contentType),
          opts,
          undefined,
          text,
        );
        this.sendWrite(res, result.created ? 201 : 200, result);
        return;
      }
      case "patch": {
        this.requirePatchType(rt, contentType);
        const opts = writeOptions(query, "patch", userAgent);
        const result = this.storage.patch(rt, info.namespace, info.name!, contentType, raw, opts);
        this.sendWrite(res, result.created ? 201 : 200, result);
        return;
      }
      case "delete":
        this.delete(res, rt, info.namespace, info.name!, query, body);
        return;
      case "deletecollection":
        this.deleteCollection(res, rt, info.namespace, query, body);
        return;
      default:
        throw methodNotAllowed();
    }
  }

  private nonResource(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== "GET") throw methodNotAllowed();
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const parts = path.split("/").filter(Boolean);
    if (path === "/version") return sendJson(res, 200, versionInfo());
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("ok");
      return;
    }
    if (path === "/api") return sendJson(res, 200, coreVersions(this.serverAddress()));
    if (path === "/apis") return sendJson(res, 200, groupList(this.registry));
    if (parts[0] === "apis" && parts.length === 2) {
      const group = apiGroup(this.registry, parts[1]!);
      if (group) return sendJson(res, 200, group);
    }
    const gv =
      parts[0] === "api" && parts.length === 2
        ? ["", parts[1]!]
        : parts[0] === "apis" && parts.length === 3
          ? [parts[1]!, parts[2]!]
          : undefined;
    if (gv) {
      const list = resourceList(this.registry, gv[0]!, gv[1]!);
      if (list) return sendJson(res, 200, list);
    }
    if (path === "/openapi/v3") return sendJson(res, 200, this.openapi.root());
    if (path.startsWith("/openapi/v3/")) {
      const doc = this.openapi.document(path.slice("/openapi/v3/".length));
      if (doc) {
        const immutable = url.searchParams.get("hash") === doc.hash;
        res.writeHead(200, {
          "Content-Type": "application/json",
          ETag: `"${doc.hash}"`,
          "Cache-Control": immutable ? "public, immutable" : "no-cache, private",
        });
        res.end(doc.body);
        return;
      }
    }
    throw pathNotFound();
  }

  /** /openapi/v2 as protobuf when asked for it (client-go always is), otherwise as JSON. */
  private openapiV2(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "GET") throw methodNotAllowed();
    const doc = this.openapi.v2Document();
    if ((req.headers.accept ?? "").includes(OPENAPI_V2_PROTOBUF)) {
      res.writeHead(200, {
        "Content-Type": OPENAPI_V2_PROTOBUF_RESPONSE,
        "Content-Length": doc.protobuf.length,
        "Cache-Control": "no-cache, private",
      });
      res.end(doc.protobuf);
      return;
    }
    if (!acceptable(req.headers.accept)) throw notAcceptable();
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(doc.json),
      "Cache-Control": "no-cache, private",
    });
    res.end(doc.json);
  }

  private requirePatchType(rt: ResourceType, contentType: string): void {
    const accepted: string[] = [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply];
    if (!rt.custom) accepted.splice(2, 0, PATCH_TYPES.strategic);
    if (!accepted.includes(contentType)) throw unsupportedMediaType(accepted);
  }

  private sendWrite(res: ServerResponse, code: number, result: WriteResult): void {
    sendJson(res, code, result.object, warningHeader(result.warnings));
  }

  /** A single object or a list, as JSON or as a Table when the client asks for one. */
  private sendObjects(
    req: IncomingMessage,
    res: ServerResponse,
    rt: ResourceType,
    obj: KubeObject,
    query: URLSearchParams,
  ): void {
    if (!wantsTable(req.headers.accept)) return sendJson(res, 200, obj);
    const table = toTable(rt, [obj], includeObject(query), { resourceVersion: obj.metadata.resourceVersion });
    sendJson(res, 200, table, { "Content-Type": TABLE_CONTENT_TYPE });
  }

  private list(
    req: IncomingMessage,
    res: ServerResponse,
    rt: ResourceType,
    info: RequestInfo,
    query: URLSearchParams,
  ): void {
    const result = this.storage.list(rt, info.namespace, {
      labelSelector: query.get("labelSelector") ?? undefined,
      fieldSelector: query.get("fieldSelector") ?? undefined,
      limit: numberParam(query, "limit"),
      continueToken: query.get("continue") ?? undefined,
      resourceVersion: query.get("resourceVersion") ?? undefined,
      resourceVersionMatch: query.get("resourceVersionMatch") ?? undefined,
    });
    const listMeta: Obj = { resourceVersion: result.resourceVersion };
    if (result.continueToken) listMeta.continue = result.continueToken;
    if (result.remainingItemCount !== undefined) listMeta.remainingItemCount = result.remainingItemCount;
    if (wantsTable(req.headers.accept)) {
      sendJson(res, 200, toTable(rt, result.items, includeObject(query), listMeta), {
        "Content-Type": TABLE_CONTENT_TYPE,
      });
      return;
    }
    // Lists of compiled-in kinds leave type meta off their items; CR lists keep it.
    const items = rt.custom
      ? result.items
      : result.items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    sendJson(res, 200, { apiVersion: apiVersionOf(rt), kind: rt.listKind, metadata: listMeta, items });
  }

  private deleteOptions(query: URLSearchParams, payload: Buffer) {
    const body = payload.toString("utf8").trim() === "" ? {} : parseBody(payload, "application/json");
    const dryRun = [
      ...query.getAll("dryRun"),
      ...(Array.isArray(body.dryRun) ? body.dryRun.map(String) : []),
    ];
    if (dryRun.some((v) => v !== "All")) {
      throw invalid({ group: "meta.k8s.io", kind: "DeleteOptions" }, "", [
        {
          field: "dryRun",
          type: "FieldValueNotSupported",
          value: JSON.stringify(dryRun.find((v) => v !== "All")),
          detail: 'supported values: "All"',
        },
      ]);
    }
    const policy =
      query.get("propagationPolicy") ??
      (typeof body.propagationPolicy === "string" ? body.propagationPolicy : undefined);
    const orphan = body.orphanDependents === true ? "Orphan" : undefined;
    const pre = isObj(body.preconditions) ? body.preconditions : {};
    return {
      dryRun: dryRun.length > 0,
      propagationPolicy: policy ?? orphan,
      preconditions: {
        uid: typeof pre.uid === "string" ? pre.uid : undefined,
        resourceVersion: typeof pre.resourceVersion === "string" ? pre.resourceVersion : undefined,
      },
    };
  }

  private delete(
    res: ServerResponse,
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    query: URLSearchParams,
    body: Buffer,
  ): void {
    const result = this.storage.delete(rt, namespace, name, this.deleteOptions(query, body));
    if (!result.deleted || rt.returnDeletedObject) return sendJson(res, 200, result.object);
    const { group, resource } = groupResource(rt);
    sendJson(
      res,
      200,
      successStatus({ name, group: group || undefined, kind: resource, uid: result.object.metadata.uid }),
    );
  }

  private deleteCollection(
    res: ServerResponse,
    rt: ResourceType,
    namespace: string | undefined,
    query: URLSearchParams,
    body: Buffer,
  ): void {
    const opts = this.deleteOptions(query, body);
    const { items, resourceVersion } = this.storage.list(rt, namespace, {
      labelSelector: query.get("labelSelector") ?? undefined,
      fieldSelector: query.get("fieldSelector") ?? undefined,
    });
    const deleted = items.map(
      (item) => this.storage.delete(rt, item.metadata.namespace, item.metadata.name!, opts).object,
    );
    sendJson(res, 200, {
      apiVersion: apiVersionOf(rt),
      kind: rt.listKind,
      metadata: { resourceVersion },
      items: deleted,
    });
  }

  private subresource(
    req: IncomingMessage,
    res: ServerResponse,
    rt: ResourceType,
    info: RequestInfo,
    url: URL,
    body: Buffer,
  ): void {
    const sub = info.subresource!;
    const query = url.searchParams;
    const userAgent = req.headers["user-agent"] ?? "";
    const contentType = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim();
    const name = info.name!;
    const raw = body.toString("utf8");
    const known =
      (sub === "status" && rt.statusSubresource) ||
      (sub === "scale" && rt.scale) ||
      (sub === "finalize" && rt.kind === "Namespace");
    if (!known || isWatchParam(query.get("watch"))) throw pathNotFound();
    if (sub === "scale") {
      this.scale(req, res, rt, info, url, body);
      return;
    }
    let result: WriteResult;
    switch (info.verb) {
      case "get":
        if (sub === "finalize") throw methodNotAllowed();
        return this.sendObjects(req, res, rt, this.storage.get(rt, info.namespace, name), query);
      case "update":
        result = this.storage.update(
          rt,
          info.namespace,
          name,
          parseBody(body, contentType),
          writeOptions(query, "update", userAgent),
          sub,
          raw,
        );
        break;
      case "patch":
        if (sub === "finalize") throw methodNotAllowed();
        this.requirePatchType(rt, contentType);
        result = this.storage.patch(
          rt,
          info.namespace,
          name,
          contentType,
          raw,
          writeOptions(query, "patch", userAgent),
          sub,
        );
        break;
      default:
        throw methodNotAllowed();
    }
    this.sendWrite(res, 200, result);
  }

  private scale(
    req: IncomingMessage,
    res: ServerResponse,
    rt: ResourceType,
    info: RequestInfo,
    url: URL,
    body: Buffer,
  ): void {
    const query = url.searchParams;
    const userAgent = req.headers["user-agent"] ?? "";
    const contentType = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim();
    const current = this.storage.get(rt, info.namespace, info.name!);
    let scale: Obj;
    switch (info.verb) {
      case "get":
        return sendJson(res, 200, toScale(rt, current));
      case "update":
        scale = parseBody(body, contentType);
        break;
      case "patch": {
        if (contentType === PATCH_TYPES.apply)
          throw unsupportedMediaType([PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic]);
        this.requirePatchType(rt, contentType);
        let patch: unknown;
        try {
          patch = JSON.parse(body.toString("utf8"));
        } catch (err) {
          throw badRequest(`error decoding patch: ${(err as Error).message}`);
        }
        const base = toScale(rt, current);
        scale = (
          contentType === PATCH_TYPES.json
            ? jsonPatch(base, patch)
            : contentType === PATCH_TYPES.merge
              ? mergePatch(base, patch)
              : strategicMergePatch(base, patch, undefined)
        ) as Obj;
        break;
      }
      default:
        throw methodNotAllowed();
    }
    const next = fromScale(rt, current, scale);
    const result = this.storage.update(
      rt,
      info.namespace,
      info.name!,
      next,
      writeOptions(query, info.verb, userAgent),
    );
    sendJson(res, 200, toScale(rt, result.object), warningHeader(result.warnings));
  }
}
