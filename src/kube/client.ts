/**
 * A small client for Kubernetes objects of any apiVersion and kind, over @kubernetes/client-node's
 * KubeConfig (authentication, TLS) and HTTP layer. It speaks JSON, keeps every field of an object as the
 * server sent it (no model classes that drop unknown fields), and turns API failures into typed errors.
 *
 * Kept small on purpose: rate limits, watches and informers are layered around it elsewhere.
 */
// The package's own modules, not its index (which loads every generated API class): see lean-modules.ts.
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { createConfiguration } from "@kubernetes/client-node/dist/gen/configuration.js";
import {
  HttpMethod,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node/dist/gen/http/http.js";
import { ServerConfiguration } from "@kubernetes/client-node/dist/gen/servers.js";

/** A Kubernetes object as JSON. Fields the client does not know are kept as they are. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Names one object: its type and, for namespaced types, its namespace. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** RFC 6902 operation, as sent with `application/json-patch+json`. */
export type JsonPatchOperation =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

/** The `kind: Status` body the API server sends with a failure. */
export interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** A request the API server answered with a failure status. */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    readonly status?: StatusBody,
  ) {
    super(`${method} ${path}: ${statusCode} ${reason || "Error"}: ${message}`);
  }

  /** The server's own message, without the request prefix. */
  get serverMessage(): string {
    return this.status?.message ?? "";
  }
}

/** 404: the object (or the resource type) does not exist. */
export class KubeNotFoundError extends KubeApiError {
  override name = "KubeNotFoundError";
}

/**
 * 409: a resourceVersion precondition failed (reason Conflict), or an object to create exists already
 * (reason AlreadyExists).
 */
export class KubeConflictError extends KubeApiError {
  override name = "KubeConflictError";
  get alreadyExists(): boolean {
    return this.reason === "AlreadyExists";
  }
}

/**
 * 422: the object is invalid, or a JSON patch could not be applied to it. The API server reports a failed
 * `test` operation (and any other operation that does not apply) as a generic 422 without causes, while
 * validation failures name their fields; {@link KubeInvalidError.patchNotApplied} tells the two apart.
 */
export class KubeInvalidError extends KubeApiError {
  override name = "KubeInvalidError";
  /**
   * True when the JSON patch did not apply (for a conditional patch: a `test` failed because the object
   * changed since it was read), as opposed to the patched object failing validation.
   */
  get patchNotApplied(): boolean {
    if (this.method !== "PATCH") return false;
    const causes = this.status?.details?.causes ?? [];
    const texts = [this.serverMessage, ...causes.map((cause) => cause.message ?? "")];
    if (texts.some((text) => /test operation|testing value|test failed/i.test(text))) return true;
    return (
      causes.length === 0 && /rejected our request due to an error in our request/.test(this.serverMessage)
    );
  }
}

/** The request did not get an answer (connection refused, DNS, TLS). */
export class KubeUnreachableError extends Error {
  override name = "KubeUnreachableError";
  constructor(
    readonly server: string,
    override readonly cause: unknown,
  ) {
    super(
      `cannot reach the Kubernetes API at ${server}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/**
 * True for errors that can mean "the object changed since you read it": a 409 Conflict, or a conditional
 * JSON patch that did not apply. Re-read and decide again (a patch that does not apply to an unchanged
 * object is a bug, not a conflict: compare resourceVersions before trying again).
 */
export function isStaleWrite(error: unknown): boolean {
  if (error instanceof KubeConflictError) return !error.alreadyExists;
  return error instanceof KubeInvalidError && error.patchNotApplied;
}

export interface ApiGroupInfo {
  name: string;
  /** Served versions, in the server's order of preference. */
  versions: string[];
  preferredVersion?: string;
}

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface KubeClientOptions {
  /** The name written into managedFields for every write (default "stepwise"). */
  fieldManager?: string;
  /** The User-Agent header, which names the client in the API server's audit and request logs. */
  userAgent?: string;
  /**
   * Client-side rate limit: every request waits for a token first (see TokenBucket); a background one
   * (an Event's write, see isBackground) only when no other request waits.
   */
  limiter?: { take(background?: boolean): Promise<void> };
  /** Called after each request with its method and status code (0 when nothing answered). */
  onResponse?: (method: string, statusCode: number) => void;
  /**
   * A request (not a watch) without a complete answer by then fails as unreachable, so that a hung
   * connection cannot hold a worker forever (default 30 s).
   */
  requestTimeoutMs?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Requests nothing waits on: writes of Events, records for people. Like client-go's recorder, which writes
 * them from a goroutine of its own, they never hold up the controller's other requests.
 */
const isBackground = (kind: string) => kind === "Event";
/** How long an API group's served versions are trusted without a request that says otherwise. */
const DISCOVERY_TTL_MS = 600_000;

const JSON_TYPE = "application/json";
const JSON_PATCH_TYPE = "application/json-patch+json";
const MERGE_PATCH_TYPE = "application/merge-patch+json";

/** Splits `group/version` (or `v1` for the core group). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function groupVersionPath(apiVersion: string): string {
  const { group } = splitApiVersion(apiVersion);
  return group === "" ? `/api/${apiVersion}` : `/apis/${apiVersion}`;
}

function isLoopback(server: string): boolean {
  try {
    const host = new URL(server).hostname;
    return host === "localhost" || host === "[::1]" || host === "::1" || /^127\./.test(host);
  } catch {
    return false;
  }
}

export class KubeClient {
  private readonly config;
  private readonly server: string;
  private readonly resources = new Map<string, Promise<Map<string, ResourceInfo>>>();
  /** The served versions of each API group, as last discovered (see apiGroup). */
  private readonly groups = new Map<string, { info: ApiGroupInfo; at: number }>();
  private readonly fieldManager: string;
  private readonly userAgent: string;
  /** Checked right before each mutating request is sent; throws to refuse it. */
  private writeFence: (() => void) | undefined;
  /** The namespace of the kubeconfig's current context, or `default`. */
  readonly defaultNamespace: string;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: KubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    // client-node refuses plain HTTP unless TLS verification is off. TLS has nothing to verify on plain
    // HTTP; allow it on loopback (the emulator), keep the refusal for remote servers.
    if (cluster.server.startsWith("http:") && !cluster.skipTLSVerify && isLoopback(cluster.server)) {
      const clusters = kubeConfig.clusters.map((c) =>
        c.name === cluster.name ? { ...c, skipTLSVerify: true } : c,
      );
      const copy = new KubeConfig();
      copy.loadFromOptions({
        clusters,
        contexts: kubeConfig.contexts,
        users: kubeConfig.users,
        currentContext: kubeConfig.currentContext,
      });
      this.kubeConfig = copy;
    }
    this.server = cluster.server.replace(/\/+$/, "");
    this.config = createConfiguration({
      baseServer: new ServerConfiguration(this.server, {}),
      authMethods: { default: this.kubeConfig },
    });
    const context = kubeConfig.getContextObject(kubeConfig.currentContext);
    this.defaultNamespace = context?.namespace ?? "default";
    this.fieldManager = options.fieldManager ?? "stepwise";
    this.userAgent = options.userAgent ?? this.fieldManager;
  }

  /** A client for a kubeconfig file, or for the default kubeconfig ($KUBECONFIG, ~/.kube/config, in-cluster). */
  static fromKubeconfig(path?: string, options?: KubeClientOptions): KubeClient {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    return new KubeClient(kc, options);
  }

  /**
   * Installs a check that runs right before every create, patch and delete is sent (after the rate
   * limiter, so a write that waited for a token is judged when it leaves) and throws to refuse it: the
   * controller's lease fence. Reads and watches are never fenced.
   */
  setWriteFence(check: (() => void) | undefined): void {
    this.writeFence = check;
  }

  /** A client with this one's server, credentials and options but no write fence (for the Lease itself). */
  withoutFence(): KubeClient {
    return new KubeClient(this.kubeConfig, this.options);
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T> {
    return (await this.request("GET", await this.objectPath(ref))) as T;
  }

  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    options: ListOptions = {},
  ): Promise<T[]> {
    const resource = await this.resource(apiVersion, kind);
    const query = new URLSearchParams();
    if (options.labelSelector) query.set("labelSelector", options.labelSelector);
    if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
    const base = groupVersionPath(apiVersion);
    const scope = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    const list = (await this.request(
      "GET",
      `${base}${scope}/${resource.plural}`,
      undefined,
      undefined,
      query,
    )) as {
      items?: T[];
    };
    // List items carry no apiVersion/kind; put them back so each item is a complete object.
    return (list.items ?? []).map((item) => ({ ...item, apiVersion, kind }));
  }

  async create<T extends KubeObject = KubeObject>(object: T): Promise<T> {
    const resource = await this.resource(object.apiVersion, object.kind);
    const namespace = object.metadata.namespace ?? (resource.namespaced ? this.defaultNamespace : undefined);
    const base = groupVersionPath(object.apiVersion);
    const scope = resource.namespaced ? `/namespaces/${encodeURIComponent(namespace!)}` : "";
    return (await this.request(
      "POST",
      `${base}${scope}/${resource.plural}`,
      object,
      JSON_TYPE,
      this.writeQuery(),
      isBackground(object.kind),
    )) as T;
  }

  /** RFC 6902 JSON patch. Put `test` operations first to make it conditional on what was read. */
  async jsonPatch<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    operations: JsonPatchOperation[],
  ): Promise<T> {
    return (await this.request(
      "PATCH",
      await this.objectPath(ref),
      operations,
      JSON_PATCH_TYPE,
      this.writeQuery(),
    )) as T;
  }

  /** RFC 7386 merge patch. A `metadata.resourceVersion` in the patch makes it conditional (409 on mismatch). */
  async mergePatch<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    patch: Record<string, unknown>,
  ): Promise<T> {
    return (await this.request(
      "PATCH",
      await this.objectPath(ref),
      patch,
      MERGE_PATCH_TYPE,
      this.writeQuery(),
      isBackground(ref.kind),
    )) as T;
  }

  /** Deletes an object; with `resourceVersion`, only if it is still that version (409 otherwise). */
  async delete(ref: ObjectRef, preconditions?: { resourceVersion?: string; uid?: string }): Promise<void> {
    const body = preconditions
      ? { apiVersion: "v1", kind: "DeleteOptions", preconditions: { ...preconditions } }
      : undefined;
    await this.request("DELETE", await this.objectPath(ref), body, body ? JSON_TYPE : undefined);
  }

  /** A merge patch of the status subresource; a `metadata.resourceVersion` in it makes it conditional. */
  async mergePatchStatus<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    patch: Record<string, unknown>,
  ): Promise<T> {
    return (await this.request(
      "PATCH",
      `${await this.objectPath(ref)}/status`,
      patch,
      MERGE_PATCH_TYPE,
      this.writeQuery(),
    )) as T;
  }

  /** A list with the collection's resourceVersion, from which a watch can start. */
  async listWithVersion<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    options: ListOptions = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const query = new URLSearchParams(Object.entries(options).filter(([, v]) => v !== undefined));
    const path = await this.collectionPath(apiVersion, kind, namespace);
    const list = (await this.request("GET", path, undefined, undefined, query)) as {
      items?: T[];
      metadata?: { resourceVersion?: string };
    };
    const items = (list.items ?? []).map((item) => ({ ...item, apiVersion, kind }));
    return { items, resourceVersion: list.metadata?.resourceVersion ?? "" };
  }

  /** The path of a collection: one namespace's, or every namespace's when `namespace` is undefined. */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const resource = await this.resource(apiVersion, kind);
    const scope = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    return `${groupVersionPath(apiVersion)}${scope}/${resource.plural}`;
  }

  /** The kubeconfig requests are authenticated with (watches use it too). */
  get kubeconfig(): KubeConfig {
    return this.kubeConfig;
  }

  /**
   * The versions of an API group the server serves (GET /apis/<group>); undefined when it serves none.
   * A served group's answer is kept for {@link DISCOVERY_TTL_MS}, and dropped at once when a request
   * under the group finds its path not served (a CRD upgrade that removed a version). A group not served
   * is asked again each time: its CRDs may be installed any moment.
   */
  async apiGroup(group: string): Promise<ApiGroupInfo | undefined> {
    const cached = this.groups.get(group);
    if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.info;
    try {
      const answer = (await this.request("GET", `/apis/${group}`)) as {
        name?: string;
        versions?: { version: string }[];
        preferredVersion?: { version: string };
      };
      const info = {
        name: answer.name ?? group,
        versions: (answer.versions ?? []).map((v) => v.version),
        preferredVersion: answer.preferredVersion?.version,
      };
      this.groups.set(group, { info, at: Date.now() });
      return info;
    } catch (error) {
      if (error instanceof KubeNotFoundError) return undefined;
      throw error;
    }
  }

  /** The path of one object, e.g. /apis/networking.istio.io/v1/namespaces/shop/virtualservices/checkout. */
  async objectPath(ref: ObjectRef): Promise<string> {
    const resource = await this.resource(ref.apiVersion, ref.kind);
    const base = groupVersionPath(ref.apiVersion);
    const namespace = ref.namespace ?? this.defaultNamespace;
    const scope = resource.namespaced ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    return `${base}${scope}/${resource.plural}/${encodeURIComponent(ref.name)}`;
  }

  /** Plural name and scope of a kind, from the server's discovery document (cached per group version). */
  private async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let cached = this.resources.get(apiVersion);
    if (!cached) {
      cached = this.discover(apiVersion);
      this.resources.set(apiVersion, cached);
      cached.catch(() => this.resources.delete(apiVersion));
    }
    const found = (await cached).get(kind);
    if (found) return found;
    // A CRD may have been installed since the document was read: look once more.
    this.resources.delete(apiVersion);
    const fresh = await this.discover(apiVersion);
    this.resources.set(apiVersion, Promise.resolve(fresh));
    const again = fresh.get(kind);
    if (!again) {
      throw new KubeNotFoundError(
        "GET",
        groupVersionPath(apiVersion),
        404,
        "NotFound",
        `the server does not serve kind ${kind} in ${apiVersion}`,
      );
    }
    return again;
  }

  private async discover(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const list = (await this.request("GET", groupVersionPath(apiVersion))) as {
      resources?: { name: string; kind: string; namespaced: boolean }[];
    };
    const byKind = new Map<string, ResourceInfo>();
    for (const r of list.resources ?? []) {
      if (r.name.includes("/")) continue; // subresources such as status
      byKind.set(r.kind, { plural: r.name, namespaced: r.namespaced });
    }
    return byKind;
  }

  /**
   * A 404 that names no object is a path the server does not serve (an object's 404 names it): what was
   * discovered about that API group is out of date.
   */
  private forgetDiscovery(path: string): void {
    const [, root, group, version] = path.split("/");
    if (root !== "apis" || !group) return;
    this.groups.delete(group);
    if (version) this.resources.delete(`${group}/${version}`);
  }

  private writeQuery(): URLSearchParams {
    return new URLSearchParams({ fieldManager: this.fieldManager });
  }

  private async request(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    contentType?: string,
    query?: URLSearchParams,
    background = false,
  ): Promise<unknown> {
    const context = this.config.baseServer.makeRequestContext(path, HttpMethod[method]) as RequestContext;
    for (const [name, value] of query ?? []) context.setQueryParam(name, value);
    context.setHeaderParam("Accept", JSON_TYPE);
    context.setHeaderParam("User-Agent", this.userAgent);
    if (body !== undefined) {
      context.setHeaderParam("Content-Type", contentType ?? JSON_TYPE);
      context.setBody(JSON.stringify(body));
    }
    await this.kubeConfig.applySecurityAuthentication(context);
    await this.options.limiter?.take(background);
    if (method !== "GET") this.writeFence?.();
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const deadline = AbortSignal.timeout(timeoutMs);
    context.setSignal(deadline);
    let response: ResponseContext;
    let text: string;
    try {
      response = await this.send(context);
      text = await response.body.text();
    } catch (error) {
      this.options.onResponse?.(method, 0);
      throw new KubeUnreachableError(
        this.server,
        deadline.aborted ? new Error(`${method} ${path}: no complete answer within ${timeoutMs} ms`) : error,
      );
    }
    this.options.onResponse?.(method, response.httpStatusCode);
    const parsed = text === "" ? undefined : tryParse(text);
    if (response.httpStatusCode >= 200 && response.httpStatusCode < 300) return parsed;
    if (response.httpStatusCode === 404 && !(parsed as StatusBody | undefined)?.details?.name)
      this.forgetDiscovery(path);
    throw apiError(method, path, response.httpStatusCode, parsed, text);
  }

  private send(context: RequestContext): Promise<ResponseContext> {
    return this.config.httpApi.send(context).toPromise();
  }
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function apiError(method: string, path: string, code: number, body: unknown, text: string): KubeApiError {
  const status = (typeof body === "object" && body !== null ? body : undefined) as StatusBody | undefined;
  const reason = status?.reason ?? "";
  const message = status?.message ?? (text.trim().slice(0, 500) || `HTTP ${code}`);
  switch (code) {
    case 404:
      return new KubeNotFoundError(method, path, code, reason || "NotFound", message, status);
    case 409:
      return new KubeConflictError(method, path, code, reason || "Conflict", message, status);
    case 422:
      return new KubeInvalidError(method, path, code, reason || "Invalid", message, status);
    default:
      return new KubeApiError(method, path, code, reason, message, status);
  }
}
