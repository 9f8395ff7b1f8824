import { type KubeClient, KubeNotFoundError, type KubeObject } from "./client.ts";

/**
 * Records Kubernetes Events (core/v1) about an object, as `kubectl describe` shows them, correlated the way
 * client-go's recorder does it (k8s.io/client-go/tools/record, events_cache.go), with its defaults:
 *
 * - a repeat (same object, type, reason and message) PATCHes the existing Event's count and lastTimestamp
 *   instead of POSTing a new one;
 * - similar events (same object, type and reason) with 10 different messages within 10 minutes are
 *   combined: from the 10th on, one Event "(combined from similar events): <latest message>" is counted up;
 * - a token bucket per object allows a burst of 25 Events (new or counted up), refilled by one every 5
 *   minutes; an Event beyond it is dropped (its count still includes it when the next one is written).
 */

/** client-go's defaults (defaultAggregateMaxEvents, defaultAggregateIntervalInSeconds, defaultSpam*). */
export const EVENT_LIMITS = {
  similarMessages: 10,
  similarWindowMs: 600_000,
  burst: 25,
  refillEveryMs: 300_000,
  /** Entries in each of the correlator's caches (client-go's maxLruCacheEntries). */
  cacheEntries: 4096,
} as const;

export const COMBINED_PREFIX = "(combined from similar events): ";

/** The fields of an Event that correlation reads. */
export interface EventDraft {
  object: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** What to do with an event: drop it, create an Event, or count up an existing one. */
export type Correlation =
  | { action: "skip" }
  | { action: "create" | "patch"; name: string; message: string; count: number; firstTimestamp: number };

/** A Map that forgets its least recently used entry beyond a size. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
  }
}

/** The decisions of client-go's EventCorrelator (aggregate, then observe, then the spam filter); no I/O. */
export class EventCorrelator {
  private readonly similar = new Lru<{ messages: Set<string>; last: number }>(EVENT_LIMITS.cacheEntries);
  private readonly observed = new Lru<{ name: string; count: number; firstTimestamp: number }>(
    EVENT_LIMITS.cacheEntries,
  );
  private readonly buckets = new Lru<{ tokens: number; at: number }>(EVENT_LIMITS.cacheEntries);

  constructor(private readonly newName: (object: string, now: number) => string) {}

  correlate(event: EventDraft, now: number): Correlation {
    // Aggregate: the 10th different message of a type and reason about an object turns into one combined Event.
    const similarKey = JSON.stringify([event.object, event.type, event.reason]);
    let similar = this.similar.get(similarKey);
    if (!similar || now - similar.last > EVENT_LIMITS.similarWindowMs)
      similar = { messages: new Set(), last: now };
    similar.messages.add(event.message);
    similar.last = now;
    this.similar.set(similarKey, similar);
    let key = JSON.stringify([event.object, event.type, event.reason, event.message]);
    let message = event.message;
    if (similar.messages.size >= EVENT_LIMITS.similarMessages) {
      similar.messages.delete(similar.messages.values().next().value!);
      key = similarKey;
      message = `${COMBINED_PREFIX}${event.message}`;
    }
    // Observe: a repeat counts up the Event it repeats.
    const previous = this.observed.get(key);
    const seen = previous
      ? { name: previous.name, count: previous.count + 1, firstTimestamp: previous.firstTimestamp }
      : { name: this.newName(event.object, now), count: 1, firstTimestamp: now };
    this.observed.set(key, seen);
    // Filter: the object's token bucket.
    const bucket = this.buckets.get(event.object) ?? { tokens: EVENT_LIMITS.burst, at: now };
    bucket.tokens = Math.min(
      EVENT_LIMITS.burst,
      bucket.tokens + (now - bucket.at) / EVENT_LIMITS.refillEveryMs,
    );
    bucket.at = now;
    this.buckets.set(event.object, bucket);
    if (bucket.tokens < 1) return { action: "skip" };
    bucket.tokens -= 1;
    return { action: previous ? "patch" : "create", message, ...seen };
  }
}

/** The object an Event is about, as the Event names it. */
interface EventReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string | undefined;
  resourceVersion: string | undefined;
}

export interface EventRecorderOptions {
  /** Wall-clock time in ms; tests pass one they move. */
  now?: () => number;
}

export class EventRecorder {
  /** Names as client-go makes them (the object's name and the time in hex), with a counter so none repeats. */
  private named = 0;
  private readonly correlator = new EventCorrelator(
    (object, now) =>
      `${object.split("/").at(-1)}.${now.toString(16)}${(this.named++ % 0x10000).toString(16).padStart(4, "0")}${Math.floor(Math.random() * 0x1000).toString(16)}`,
  );
  private readonly now: () => number;
  /** Per object, the write in progress: an object's Events are written one after another, in order. */
  private readonly writing = new Map<string, Promise<void>>();

  constructor(
    private readonly client: KubeClient,
    private readonly component = "stepwise-controller",
    options: EventRecorderOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async record(about: KubeObject, reason: string, message: string, warning = false): Promise<void> {
    // only the reference is kept while the write waits its turn, not the object
    const involvedObject: EventReference = {
      apiVersion: about.apiVersion,
      kind: about.kind,
      name: about.metadata.name,
      namespace: about.metadata.namespace ?? "default",
      uid: about.metadata.uid,
      resourceVersion: about.metadata.resourceVersion,
    };
    const { apiVersion, kind, namespace, uid, name } = involvedObject;
    const object = [apiVersion, kind, namespace, uid ?? "", name].join("/");
    const type = warning ? "Warning" : "Normal";
    const now = this.now();
    const decision = this.correlator.correlate({ object, type, reason, message }, now);
    if (decision.action === "skip") return;
    const previous = this.writing.get(object) ?? Promise.resolve();
    const write = previous
      .catch(() => {})
      .then(() => this.write(involvedObject, type, reason, decision, new Date(now).toISOString()));
    this.writing.set(object, write);
    try {
      await write;
    } finally {
      if (this.writing.get(object) === write) this.writing.delete(object);
    }
  }

  private async write(
    involvedObject: EventReference,
    type: string,
    reason: string,
    decision: Exclude<Correlation, { action: "skip" }>,
    now: string,
  ): Promise<void> {
    const { namespace } = involvedObject;
    if (decision.action === "patch") {
      try {
        await this.client.mergePatch(
          { apiVersion: "v1", kind: "Event", namespace, name: decision.name },
          { count: decision.count, lastTimestamp: now, message: decision.message },
        );
        return;
      } catch (error) {
        // the Event expired (its TTL) or the API server lost it: create it again, as client-go does
        if (!(error instanceof KubeNotFoundError)) throw error;
      }
    }
    await this.client.create({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: decision.name, namespace },
      involvedObject,
      reason,
      message: decision.message,
      type,
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: new Date(decision.firstTimestamp).toISOString(),
      lastTimestamp: now,
      count: decision.count,
    });
  }
}
