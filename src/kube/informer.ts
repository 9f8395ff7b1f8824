import type { KubeObject } from "./client.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** Where an informer gets its objects: a list with its resourceVersion, and a watch from a version. */
export interface ListWatchSource<T extends KubeObject> {
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  /** Starts a watch; `onDone` is called once when it ends (error or server close). Returns a stop function. */
  watch(
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: T) => void,
    onDone: (error?: unknown) => void,
  ): Promise<() => void>;
}

export type InformerHandler<T> = (type: "added" | "updated" | "deleted", object: T) => void;

const key = (object: KubeObject) => `${object.metadata.namespace ?? ""}/${object.metadata.name}`;

/**
 * A cache of objects kept current by list + watch, that survives what a real API server does to
 * watches: server-side closes (re-watch from the last version seen), an ERROR event such as `410 Gone`
 * or "too large resource version" (re-list, and report only what changed, as client-go's reflector
 * does), failed connections (back off and re-watch). Handlers see every change exactly as the cache
 * does. An object whose uid changed under the same name is another object (deleted and re-created,
 * e.g. after the API server lost its data): handlers see a delete of the old one, then an add.
 */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private resourceVersion = "";
  private stopWatch: (() => void) | undefined;
  private stopped = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncedOnce = false;
  /** Relists done (the first list included): each 410 adds one. */
  relists = 0;

  constructor(
    private readonly source: ListWatchSource<T>,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ""}/${name}`);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Lists, then watches; resolves after the first list has filled the cache. */
  async start(): Promise<void> {
    await this.relist();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopWatch?.();
  }

  private emit(type: "added" | "updated" | "deleted", object: T): void {
    for (const handler of this.handlers) handler(type, object);
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.source.list();
    this.relists++;
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(key(item));
      const old = this.cache.get(key(item));
      // resourceVersions are compared for equality only: after a data loss they may go backwards
      if (old && !recreated(old, item) && old.metadata.resourceVersion === item.metadata.resourceVersion)
        continue;
      this.store(item);
    }
    for (const [k, old] of this.cache) {
      if (seen.has(k)) continue;
      this.cache.delete(k);
      this.emit("deleted", old);
    }
    this.resourceVersion = resourceVersion;
    this.syncedOnce = true;
    await this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    // Any ERROR event ends the watch with a relist (client-go's reflector does the same): 410 Gone for
    // an expired version, or "too large resource version" from a server that lost its data.
    let errorEvent = false;
    this.stopWatch = await this.source.watch(
      this.resourceVersion,
      (type, object) => {
        if (type === "ERROR") {
          errorEvent = true;
          const status = object as unknown as { code?: number; message?: string };
          // 410 is routine (relist at once); anything else backs off like a failure, so a server that
          // keeps answering with errors is not hammered
          if (status.code !== 410) {
            this.failures++;
            this.onError(new Error(`watch: ${status.message ?? "ERROR event"}`));
          }
          return;
        }
        this.failures = 0;
        this.resourceVersion = object.metadata.resourceVersion ?? this.resourceVersion;
        if (type === "BOOKMARK") return;
        if (type === "DELETED") {
          this.cache.delete(key(object));
          this.emit("deleted", object);
        } else this.store(object);
      },
      (error) => {
        if (this.stopped) return;
        if (error) {
          this.failures++;
          this.onError(error);
        }
        this.retry(errorEvent || isGone(error));
      },
    );
  }

  /** Caches an added or changed object; one with a new uid replaces the old one as a delete and an add. */
  private store(object: T): void {
    const old = this.cache.get(key(object));
    this.cache.set(key(object), object);
    if (old && recreated(old, object)) {
      this.emit("deleted", old);
      this.emit("added", object);
    } else this.emit(old ? "updated" : "added", object);
  }

  /** Re-watches (or re-lists after an ERROR event), at once after a clean close, with backoff after failures. */
  private retry(relist: boolean): void {
    const delay =
      this.failures === 0 ? 0 : Math.min(30_000, 200 * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => {
      const next = relist ? this.relist() : this.watch();
      next.catch((error) => {
        this.failures++;
        this.onError(error);
        this.retry(true);
      });
    }, delay);
    this.retryTimer.unref();
  }
}

/** Same name, another object: both have a uid and they differ. */
function recreated(old: KubeObject, object: KubeObject): boolean {
  return !!old.metadata.uid && !!object.metadata.uid && old.metadata.uid !== object.metadata.uid;
}

function isGone(error: unknown): boolean {
  return (error as { statusCode?: number } | undefined)?.statusCode === 410;
}
