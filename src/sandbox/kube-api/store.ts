import { expired } from "./status-errors.ts";
import type { KubeObject, WatchEventType } from "./types.ts";

/** One committed change. `prev` lets list snapshots be rebuilt and watchers evaluate selector transitions. */
export interface StoredEvent {
  rv: number;
  type: WatchEventType;
  /** Storage key `group/plural`, shared by every served version of a resource. */
  key: string;
  object: KubeObject;
  prev?: KubeObject;
}

function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}

function byNamespaceThenName(a: KubeObject, b: KubeObject): number {
  const ka = objectKey(a);
  const kb = objectKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * The etcd stand-in: one global revision counter, objects per resource, and a bounded history of
 * events from which watches replay and paginated lists rebuild their snapshot. Stored objects are
 * never mutated after commit; writers always hand in fresh copies.
 */
export class Store {
  private rv = 0;
  private readonly tables = new Map<string, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  /** Every event with a revision above this one is still in `history`. */
  private compactedRv = 0;
  private readonly listeners = new Set<(event: StoredEvent) => void>();

  constructor(private readonly historyLimit: number) {}

  currentRv(): number {
    return this.rv;
  }

  oldestRv(): number {
    return this.compactedRv;
  }

  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.tables.get(key)?.get(`${namespace ?? ""}/${name}`);
  }

  list(key: string, namespace?: string): KubeObject[] {
    const items = [...(this.tables.get(key)?.values() ?? [])];
    const scoped = namespace === undefined ? items : items.filter((o) => o.metadata.namespace === namespace);
    return scoped.sort(byNamespaceThenName);
  }

  /** The objects as they were at revision `rv`, undoing later events; 410 once history no longer reaches back. */
  listAt(key: string, rv: number, namespace?: string): KubeObject[] {
    if (rv >= this.rv) return this.list(key, namespace);
    this.requireRetained(rv);
    const state = new Map(this.tables.get(key) ?? []);
    for (let i = this.history.length - 1; i >= 0 && this.history[i]!.rv > rv; i--) {
      const event = this.history[i]!;
      if (event.key !== key) continue;
      if (event.type === "ADDED") state.delete(objectKey(event.object));
      else state.set(objectKey(event.prev!), event.prev!);
    }
    const items = [...state.values()];
    return (namespace === undefined ? items : items.filter((o) => o.metadata.namespace === namespace)).sort(
      byNamespaceThenName,
    );
  }

  /** Events after `rv`, oldest first; throws 410 Expired when some of them were compacted away. */
  eventsSince(rv: number): StoredEvent[] {
    this.requireRetained(rv);
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  private requireRetained(rv: number): void {
    if (rv < this.compactedRv) {
      throw expired(`too old resource version: ${rv} (${this.compactedRv + 1})`);
    }
  }

  /** Commits a change: assigns the next revision, stores it, records history and notifies listeners. */
  commit(type: WatchEventType, key: string, object: KubeObject, prev?: KubeObject): StoredEvent {
    this.rv += 1;
    object.metadata.resourceVersion = String(this.rv);
    let table = this.tables.get(key);
    if (!table) {
      table = new Map();
      this.tables.set(key, table);
    }
    if (type === "DELETED") table.delete(objectKey(object));
    else table.set(objectKey(object), object);
    const event: StoredEvent = { rv: this.rv, type, key, object, prev };
    this.history.push(event);
    if (this.history.length > this.historyLimit * 1.25) {
      const drop = this.history.length - this.historyLimit;
      this.compactedRv = this.history[drop - 1]!.rv;
      this.history = this.history.slice(drop);
    }
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Forgets all history, as an etcd compaction does: older watches and continue tokens get 410. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /**
   * Loses every object except those under the kept storage keys, and all history, without telling
   * anyone (as an etcd that lost its data): the revision falls back to the newest kept object's, so
   * resourceVersions clients hold may be ahead of the server.
   */
  wipe(keep: (key: string) => boolean): void {
    let newest = 0;
    for (const [key, table] of this.tables) {
      if (!keep(key)) this.tables.delete(key);
      else
        for (const object of table.values())
          newest = Math.max(newest, Number(object.metadata.resourceVersion));
    }
    this.rv = newest;
    this.compactedRv = 0;
    this.history = [];
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
