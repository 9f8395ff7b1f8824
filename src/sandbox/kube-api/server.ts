import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import YAML from "yaml";
import { CrdController, systemWrite } from "./crd-controller.ts";
import { Faults } from "./faults.ts";
import { ApiHandlers, sendError } from "./handlers.ts";
import { kubeconfigYaml, writeKubeconfig } from "./kubeconfig.ts";
import { MAX_REQUEST_BODY_BYTES, requestEntityTooLarge } from "./limits.ts";
import { OpenApiCache } from "./openapi.ts";
import { parseRequestInfo } from "./request-info.ts";
import { RequestLog } from "./request-log.ts";
import { builtinResources } from "./resources/builtins.ts";
import { CRD_STORAGE_KEY } from "./resources/crd.ts";
import { Registry } from "./resources/registry.ts";
import { type ControllerOptions, SimulatedControllers } from "./simulated-controllers.ts";
import { ApiError, internalError } from "./status-errors.ts";
import { Storage } from "./storage.ts";
import { Store } from "./store.ts";
import { isObj } from "./types.ts";
import { WatchHub } from "./watch.ts";

export interface KubeApiOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback only; defaults to 127.0.0.1. */
  host?: string;
  /** Bearer token clients must present; random by default. */
  token?: string;
  /** Events kept for watch replay and paginated lists before older resourceVersions answer 410 (default 10000). */
  watchHistorySize?: number;
  /** How often watches that allow bookmarks get one (default 60 s, like kube-apiserver). */
  bookmarkIntervalMs?: number;
  /** Every watch is closed by the server after this long (default 1800 s). */
  maxWatchSeconds?: number;
  /** Entries kept in the request log (default 10000). */
  requestLogSize?: number;
  /** Opt-in simulated controllers; all off by default. */
  controllers?: ControllerOptions;
  /** Serve the bundled third-party CRDs (Istio, SMI, Gateway API, Consul) from the start (default true). */
  thirdPartyCrds?: boolean;
}

export interface KubeApi {
  url: string;
  port: number;
  token: string;
  faults: Faults;
  requestLog: RequestLog;
  /** The kubeconfig YAML for this server. */
  kubeconfig(): string;
  writeKubeconfig(path: string): Promise<void>;
  /** The newest resourceVersion. */
  resourceVersion(): string;
  /** Drops all event history: watches and continue tokens from before now answer 410 Expired. */
  compact(): void;
  /**
   * Test hook: the server loses all its data but the CustomResourceDefinitions (which keep their types
   * served) and comes back with only its initial namespaces; open watches are cut, and resourceVersions
   * restart lower than clients have seen.
   */
  wipe(): void;
  /** Open watch connections. */
  watchCount(): number;
  close(): Promise<void>;
}

const BUNDLED_CRDS = new URL("./crds/", import.meta.url);
const INITIAL_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/**
 * kubectl never sends a bearer token over plain HTTP, so requests without credentials are served as
 * the old insecure port served them; a wrong token is still refused, as a real server refuses it.
 */
function authenticate(req: IncomingMessage, token: string): void {
  const header = req.headers.authorization;
  if (header !== undefined && header !== `Bearer ${token}`)
    throw new ApiError(401, "Unauthorized", "Unauthorized");
}

async function loadBundledCrds(): Promise<unknown[]> {
  const files = (await readdir(BUNDLED_CRDS)).filter((f) => f.endsWith(".yaml")).sort();
  const docs: unknown[] = [];
  for (const file of files) {
    const text = await readFile(new URL(file, BUNDLED_CRDS), "utf8");
    for (const doc of YAML.parseAllDocuments(text, { merge: true }).map((d) => d.toJSON() as unknown)) {
      if (isObj(doc) && doc.kind === "List" && Array.isArray(doc.items)) docs.push(...doc.items);
      else if (isObj(doc)) docs.push(doc);
    }
  }
  return docs;
}

/** Starts the emulated kube-apiserver on loopback HTTP. */
export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const token = options.token ?? randomBytes(16).toString("hex");
  const store = new Store(options.watchHistorySize ?? 10_000);
  const registry = new Registry();
  for (const rt of builtinResources()) registry.add(rt);
  const controllers = options.controllers ?? {};
  const storage = new Storage(store, controllers.garbageCollector === true);
  const hub = new WatchHub(storage, {
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    maxWatchSeconds: options.maxWatchSeconds ?? 1800,
  });
  const faults = new Faults(hub);
  const requestLog = new RequestLog(options.requestLogSize ?? 10_000);
  const crds = new CrdController(storage, registry);
  const simulated = new SimulatedControllers(storage, registry, controllers);
  let address = "";
  const handlers = new ApiHandlers(storage, registry, hub, new OpenApiCache(registry), () => address);

  crds.start();
  simulated.start();
  const bootstrap = systemWrite("kube-apiserver");
  const nsType = registry.find("", "v1", "namespaces")!;
  const createInitialNamespaces = () => {
    for (const name of INITIAL_NAMESPACES)
      storage.create(nsType, undefined, { metadata: { name } }, bootstrap);
  };
  createInitialNamespaces();
  if (options.thirdPartyCrds ?? true) {
    const crdType = registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")!;
    for (const doc of await loadBundledCrds())
      storage.create(crdType, undefined, doc as Record<string, unknown>, bootstrap);
  }
  // let the CRD controller mark the bundled CRDs Established before anyone connects
  await new Promise((resolve) => setImmediate(resolve));

  /** `body` is undefined when the client sent more than MAX_REQUEST_BODY_BYTES. */
  const serve = async (req: IncomingMessage, res: ServerResponse, body: Buffer | undefined) => {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://emulator");
    const info = parseRequestInfo(req.method ?? "GET", url.pathname, url.searchParams);
    const record = () =>
      requestLog.record({
        time: new Date().toISOString(),
        method: req.method ?? "",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        verb: info.verb,
        group: info.group,
        version: info.version,
        resource: info.resource,
        subresource: info.subresource,
        namespace: info.namespace,
        name: info.name,
        userAgent: req.headers["user-agent"] ?? "",
        status: res.statusCode,
        contentType: req.headers["content-type"],
        responseContentType: String(res.getHeader("content-type") ?? ""),
        durationMs: performance.now() - started,
      });
    const watching = info.verb === "watch";
    if (!watching) res.on("finish", record);
    try {
      authenticate(req, token);
      const delay = faults.delayFor(info);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const injected = faults.errorFor(info) ?? faults.conflictFor(info);
      if (injected) throw injected;
      if (!body) throw requestEntityTooLarge();
      handlers.handle(req, res, info, url, body, watching && faults.expireWatch(info));
    } catch (err) {
      if (res.headersSent) res.destroy();
      else
        sendError(res, err instanceof ApiError ? err : internalError(String((err as Error)?.stack ?? err)));
    }
    if (watching) record();
  };

  const server = createServer({ keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // past the limit the rest is read and dropped, so the client still gets the answer
      if (size <= MAX_REQUEST_BODY_BYTES) chunks.push(chunk);
    });
    req.on(
      "end",
      () => void serve(req, res, size > MAX_REQUEST_BODY_BYTES ? undefined : Buffer.concat(chunks)),
    );
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? "127.0.0.1"}:${port}`;
  address = `${options.host ?? "127.0.0.1"}:${port}`;

  return {
    url,
    port,
    token,
    faults,
    requestLog,
    kubeconfig: () => kubeconfigYaml(url, token),
    writeKubeconfig: (path) => writeKubeconfig(path, url, token),
    resourceVersion: () => String(store.currentRv()),
    compact: () => store.compact(),
    wipe() {
      hub.dropAll();
      store.wipe((key) => key === CRD_STORAGE_KEY);
      createInitialNamespaces();
    },
    watchCount: () => hub.count(),
    async close() {
      simulated.stop();
      crds.stop();
      hub.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
