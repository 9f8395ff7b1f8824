import {
  KubeApiError,
  type KubeClient,
  KubeNotFoundError,
  type KubeObject,
  type ObjectRef,
} from "./client.ts";
import { Informer } from "./informer.ts";
import { apiSource } from "./watch-source.ts";

/**
 * Where the routers read route objects from. `get` and `list` may answer from a cache that lags the API
 * server; a caller that must see the server's current object (after a conditional write was refused as
 * stale) asks `live`. `wrote` tells the reader what this process just wrote (the write's response, or
 * `undefined` for a delete), so that its next read is never older than its own write.
 */
export interface ObjectReader {
  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace: string): Promise<T[]>;
  live: LiveReader;
  wrote(ref: ObjectRef, object: KubeObject | undefined): void;
}

/** Every read from the API server: what the CLI uses, and what a cache falls back to. */
export class LiveReader implements ObjectReader {
  constructor(private readonly client: KubeClient) {}

  get live(): LiveReader {
    return this;
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.client.get<T>(ref);
    } catch (error) {
      if (error instanceof KubeNotFoundError) return undefined;
      throw error;
    }
  }

  list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace: string): Promise<T[]> {
    return this.client.list<T>(apiVersion, kind, namespace);
  }

  wrote(): void {}
}

/** What this process wrote to one object, until the informer shows it or something newer. */
interface OwnWrite {
  object: KubeObject | undefined;
}

/**
 * Route objects from informers, one per apiVersion and kind, started on the first read of that kind
 * (the controller manages whichever kinds its Rollouts name) and kept for the process's life. A kind the
 * server does not let this process list and watch (not served, or RBAC without list/watch) is read live.
 *
 * An informer lags the writes this process makes. Each write's response is kept (`wrote`) and answered in
 * place of the informer's copy until the informer delivers any event for that object: the event for that
 * write or a later one, after which the informer's copy is at least as new. Every write the routers make
 * is conditional on what they read, so a copy that is still stale (someone else wrote meanwhile) is
 * refused by the server, and the router then reads live.
 */
export class InformerCache implements ObjectReader {
  readonly live: LiveReader;
  private readonly informers = new Map<string, Promise<Informer<KubeObject> | undefined>>();
  /** The informers whose first list is done, by type. */
  private readonly started = new Map<string, Informer<KubeObject>>();
  private readonly ownWrites = new Map<string, OwnWrite>();

  constructor(
    private readonly client: KubeClient,
    /** The namespace the controller watches; all namespaces when undefined. */
    private readonly namespace: string | undefined,
    private readonly onWatchError: (kind: string, error: unknown) => void = () => {},
  ) {
    this.live = new LiveReader(client);
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    const informer = await this.informer(ref.apiVersion, ref.kind);
    if (!informer) return this.live.get<T>(ref);
    const own = this.ownWrites.get(objectKey(ref.apiVersion, ref.kind, ref.namespace, ref.name));
    if (own) return own.object as T | undefined;
    return informer.get(ref.namespace, ref.name) as T | undefined;
  }

  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
  ): Promise<T[]> {
    const informer = await this.informer(apiVersion, kind);
    if (!informer) return this.live.list<T>(apiVersion, kind, namespace);
    const objects = new Map<string, KubeObject | undefined>();
    for (const object of informer.list())
      if (object.metadata.namespace === namespace) objects.set(object.metadata.name, object);
    const prefix = objectKey(apiVersion, kind, namespace, "");
    for (const [key, own] of this.ownWrites)
      if (key.startsWith(prefix)) objects.set(key.slice(prefix.length), own.object);
    return [...objects.values()].filter((object): object is T => object !== undefined);
  }

  wrote(ref: ObjectRef, object: KubeObject | undefined): void {
    const informer = this.started.get(typeKey(ref.apiVersion, ref.kind));
    if (!informer) return;
    const seen = informer.get(ref.namespace, ref.name);
    // the informer delivered this write's event before its response came: it is as new already
    if (object && seen?.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.ownWrites.set(objectKey(ref.apiVersion, ref.kind, ref.namespace, ref.name), { object });
  }

  stop(): void {
    for (const informer of this.started.values()) informer.stop();
  }

  /** The informer of a kind, started (and its first list done) on first use; undefined when it cannot run. */
  private informer(apiVersion: string, kind: string): Promise<Informer<KubeObject> | undefined> {
    const type = typeKey(apiVersion, kind);
    let started = this.informers.get(type);
    if (!started) {
      started = this.start(apiVersion, kind);
      this.informers.set(type, started);
    }
    return started;
  }

  private async start(apiVersion: string, kind: string): Promise<Informer<KubeObject> | undefined> {
    const informer = new Informer<KubeObject>(
      apiSource(this.client, apiVersion, kind, this.namespace),
      (error) => this.onWatchError(kind, error),
    );
    informer.on((_type, object) =>
      this.ownWrites.delete(objectKey(apiVersion, kind, object.metadata.namespace, object.metadata.name)),
    );
    try {
      await informer.start();
      this.started.set(typeKey(apiVersion, kind), informer);
      return informer;
    } catch (error) {
      informer.stop();
      // Not allowed to list here: read live from now on. Anything else (not served yet, unreachable) is
      // tried again on the next read.
      if (!(error instanceof KubeApiError && error.statusCode === 403))
        this.informers.delete(typeKey(apiVersion, kind));
      this.onWatchError(kind, error);
      return undefined;
    }
  }
}

const typeKey = (apiVersion: string, kind: string) => `${apiVersion}|${kind}`;
const objectKey = (apiVersion: string, kind: string, namespace: string | undefined, name: string) =>
  `${typeKey(apiVersion, kind)}|${namespace ?? ""}/${name}`;
