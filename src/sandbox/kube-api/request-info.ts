import type { Verb } from "./types.ts";

/** What a URL addresses, resolved the way the apiserver's RequestInfoFactory does. */
export interface RequestInfo {
  /** False for discovery, OpenAPI, /version and health paths. */
  isResourceRequest: boolean;
  verb: Verb | "";
  /** "" for the core group. */
  group: string;
  version: string;
  namespace?: string;
  resource?: string;
  name?: string;
  subresource?: string;
}

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

function verbFor(method: string, named: boolean, watch: boolean): Verb | "" {
  switch (method) {
    case "GET":
      return named ? "get" : watch ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      return "";
  }
}

export function isWatchParam(value: string | null): boolean {
  return value === "1" || value === "true";
}

export function parseRequestInfo(method: string, pathname: string, query: URLSearchParams): RequestInfo {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  const none: RequestInfo = { isResourceRequest: false, verb: "", group: "", version: "" };
  let rest: string[];
  let group = "";
  let version: string | undefined;
  if (parts[0] === "api") {
    version = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === "apis") {
    group = parts[1] ?? "";
    version = parts[2];
    rest = parts.slice(3);
  } else return none;
  if (!version || rest.length === 0) return { ...none, group, version: version ?? "" };
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  const watch = isWatchParam(query.get("watch"));
  return {
    isResourceRequest: true,
    verb: verbFor(method, name !== undefined, watch),
    group,
    version,
    namespace,
    resource,
    name,
    subresource,
  };
}
