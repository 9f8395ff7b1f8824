import type { ServerResponse } from "node:http";
import { apiVersionOf, type ResourceType } from "./resources/registry.ts";
import { both, type Matcher, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { ApiError, expired, tooLargeResourceVersion } from "./status-errors.ts";
import { parseResourceVersion, type Storage } from "./storage.ts";
import type { StoredEvent } from "./store.ts";
import { type IncludeObject, TABLE_CONTENT_TYPE, toTable } from "./table.ts";
import type { KubeObject, Obj } from "./types.ts";

export interface WatchRequest {
  rt: ResourceType;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
  /** Render each event's object as a one-row Table (kubectl get -w). */
  table?: IncludeObject;
  /** Answer with 410 Expired whatever the resourceVersion (fault hook). */
  forceExpired: boolean;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
  /** The server closes every watch after this long, as kube-apiserver's min-request-timeout does. */
  maxWatchSeconds: number;
}

type EventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One open watch response. */
class WatchStream {
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private sentColumns = false;
  closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly req: WatchRequest,
    private readonly matcher: Matcher,
    private readonly storage: Storage,
    private readonly onClose: (stream: WatchStream) => void,
  ) {}

  open(settings: WatchSettings): void {
    const { req, storage } = this;
    this.res.writeHead(200, {
      "Content-Type": req.table ? TABLE_CONTENT_TYPE : "application/json",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    // clients wait for the headers before they consider the watch established
    this.res.flushHeaders();
    this.res.on("close", () => this.finish());
    let replay: StoredEvent[] = [];
    const rvText = req.resourceVersion ?? "";
    const initial = req.sendInitialEvents || rvText === "" || rvText === "0";
    try {
      if (req.forceExpired)
        throw expired(`too old resource version: ${rvText || "0"} (${storage.store.currentRv()})`);
      if (!initial) {
        const rv = parseResourceVersion(rvText);
        // kube-apiserver first waits up to 3 s for its cache to reach `rv`; nothing here would catch up
        if (rv > storage.store.currentRv()) throw tooLargeResourceVersion(rv, storage.store.currentRv());
        replay = storage.store.eventsSince(rv);
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.write("ERROR", err.toStatus());
      this.res.end();
      return;
    }
    if (initial) {
      for (const obj of storage.store.list(req.rt.storageKey, this.namespace())) {
        if (this.inScope(obj)) this.deliver("ADDED", obj, undefined);
      }
      if (req.sendInitialEvents && req.allowWatchBookmarks) this.bookmark(true);
    } else {
      for (const event of replay) this.onEvent(event);
    }
    this.unsubscribe = storage.store.subscribe((event) => this.onEvent(event));
    if (req.allowWatchBookmarks) {
      this.timers.push(setInterval(() => this.bookmark(false), settings.bookmarkIntervalMs));
    }
    const seconds = Math.min(req.timeoutSeconds ?? settings.maxWatchSeconds, settings.maxWatchSeconds);
    this.timers.push(setTimeout(() => this.end(), seconds * 1000));
  }

  private namespace(): string | undefined {
    return this.req.rt.namespaced ? this.req.namespace : undefined;
  }

  private inScope(obj: KubeObject | undefined): obj is KubeObject {
    if (!obj) return false;
    const ns = this.namespace();
    return (
      (ns === undefined || obj.metadata.namespace === ns) &&
      this.matcher(this.storage.toServed(this.req.rt, obj))
    );
  }

  /** Selector transitions: an object that stops matching is DELETED for this watcher, one that starts matching is ADDED. */
  private onEvent(event: StoredEvent): void {
    if (this.closed || event.key !== this.req.rt.storageKey) return;
    const now = event.type !== "DELETED" && this.inScope(event.object);
    const before = event.type !== "ADDED" && this.inScope(event.prev);
    if (event.type === "DELETED") {
      if (before) this.deliver("DELETED", event.object, event);
    } else if (now && before) this.deliver("MODIFIED", event.object, event);
    else if (now) this.deliver("ADDED", event.object, event);
    else if (before) this.deliver("DELETED", event.object, event);
  }

  private deliver(type: EventType, stored: KubeObject, event: StoredEvent | undefined): void {
    const obj = this.storage.toServed(this.req.rt, stored);
    if (this.req.table) {
      const table = toTable(
        this.req.rt,
        [obj],
        this.req.table,
        { resourceVersion: obj.metadata.resourceVersion },
        !this.sentColumns,
      );
      this.sentColumns = true;
      this.write(type, table);
      return;
    }
    if (event) {
      this.res.write(serializedEvent(event, type, obj));
      return;
    }
    this.write(type, obj);
  }

  private bookmark(initialEventsEnd: boolean): void {
    const metadata: Obj = { resourceVersion: String(this.storage.store.currentRv()) };
    if (initialEventsEnd) metadata.annotations = { "k8s.io/initial-events-end": "true" };
    this.write("BOOKMARK", { kind: this.req.rt.kind, apiVersion: apiVersionOf(this.req.rt), metadata });
  }

  private write(type: EventType, object: unknown): void {
    if (!this.closed) this.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  end(): void {
    if (this.closed) return;
    this.res.end();
    this.finish();
  }

  drop(): void {
    this.res.socket?.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const timer of this.timers) clearTimeout(timer);
    this.onClose(this);
  }
}

/** Each event is serialized once per served version and type, however many watchers receive it. */
const serialized = new WeakMap<StoredEvent, Map<string, string>>();

function serializedEvent(event: StoredEvent, type: EventType, obj: KubeObject): string {
  let byVariant = serialized.get(event);
  if (!byVariant) {
    byVariant = new Map();
    serialized.set(event, byVariant);
  }
  const variant = `${type} ${obj.apiVersion}`;
  let line = byVariant.get(variant);
  if (line === undefined) {
    line = `${JSON.stringify({ type, object: obj })}\n`;
    byVariant.set(variant, line);
  }
  return line;
}

/** All open watches, so faults and shutdown can reach them. */
export class WatchHub {
  private readonly streams = new Set<WatchStream>();

  constructor(
    private readonly storage: Storage,
    private readonly settings: WatchSettings,
  ) {}

  /** Starts streaming; selector errors are thrown before any header is written. */
  serve(res: ServerResponse, req: WatchRequest): void {
    const matcher = both(
      parseLabelSelector(req.labelSelector),
      parseFieldSelector(req.fieldSelector, req.rt.fieldSelectors),
    );
    const stream = new WatchStream(res, req, matcher, this.storage, (s) => this.streams.delete(s));
    this.streams.add(stream);
    stream.open(this.settings);
  }

  count(): number {
    return this.streams.size;
  }

  closeAll(): void {
    for (const stream of [...this.streams]) stream.end();
  }

  dropAll(): void {
    for (const stream of [...this.streams]) stream.drop();
  }
}
