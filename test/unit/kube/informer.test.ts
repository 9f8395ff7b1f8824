import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { Informer, type ListWatchSource, type WatchEventType } from "../../../src/kube/informer.ts";

const obj = (name: string, resourceVersion: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", resourceVersion },
});

/** A scripted source: the test pushes events and ends watches as a server would. */
class ScriptedSource implements ListWatchSource<KubeObject> {
  items = new Map<string, KubeObject>();
  version = 1;
  watches: { from: string; emit: (t: WatchEventType, o: KubeObject) => void; end: (e?: unknown) => void }[] =
    [];
  lists = 0;

  async list() {
    this.lists++;
    return { items: [...this.items.values()], resourceVersion: String(this.version) };
  }

  async watch(
    from: string,
    onEvent: (t: WatchEventType, o: KubeObject) => void,
    onDone: (e?: unknown) => void,
  ) {
    this.watches.push({ from, emit: onEvent, end: onDone });
    return () => {};
  }

  put(name: string): KubeObject {
    const o = obj(name, String(++this.version));
    this.items.set(name, o);
    return o;
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("Informer", () => {
  it("lists, then watches from the list's version, and keeps the cache in step", async () => {
    const source = new ScriptedSource();
    source.put("a");
    const seen: string[] = [];
    const informer = new Informer(source);
    informer.on((type, o) => seen.push(`${type}:${o.metadata.name}@${o.metadata.resourceVersion}`));
    await informer.start();
    expect(source.watches[0]?.from).toBe("2");
    const b = source.put("b");
    source.watches[0]!.emit("ADDED", b);
    source.watches[0]!.emit("DELETED", obj("a", "4"));
    expect(seen).toEqual(["added:a@2", "added:b@3", "deleted:a@4"]);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(["b"]);
    informer.stop();
  });

  it("re-watches from the last version after a server-side close, without relisting", async () => {
    const source = new ScriptedSource();
    const informer = new Informer(source);
    await informer.start();
    source.watches[0]!.emit("BOOKMARK", obj("", "17"));
    source.watches[0]!.end();
    await settle();
    expect(source.watches[1]?.from).toBe("17");
    expect(source.lists).toBe(1);
    informer.stop();
  });

  it("relists on 410 Gone and reports only what changed meanwhile, losing no update", async () => {
    const source = new ScriptedSource();
    source.put("kept");
    source.put("changed");
    source.put("removed");
    const informer = new Informer(source);
    const seen: string[] = [];
    await informer.start();
    informer.on((type, o) => seen.push(`${type}:${o.metadata.name}`));
    // while the watch was away: one object changed, one was deleted, one was added
    source.put("changed");
    source.items.delete("removed");
    source.put("new");
    source.watches[0]!.emit("ERROR", { code: 410 } as unknown as KubeObject);
    source.watches[0]!.end();
    await settle();
    expect(source.lists).toBe(2);
    expect(seen.sort()).toEqual(["added:new", "deleted:removed", "updated:changed"]);
    expect(informer.get("ns", "changed")?.metadata.resourceVersion).toBe(
      source.items.get("changed")?.metadata.resourceVersion,
    );
    expect(source.watches[1]?.from).toBe(String(source.version));
    informer.stop();
  });

  it("backs off and retries after watch errors", async () => {
    const source = new ScriptedSource();
    const errors: unknown[] = [];
    const informer = new Informer(source, (e) => errors.push(e));
    await informer.start();
    source.watches[0]!.end(new Error("connection reset"));
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(errors).toHaveLength(1);
    expect(source.watches.length).toBe(2);
    informer.stop();
  });

  it("after the server lost its data, relists on 'too large resource version' and reports re-created objects as delete + add", async () => {
    const source = new ScriptedSource();
    const original = source.put("recreated");
    original.metadata.uid = "uid-1";
    source.put("lost").metadata.uid = "uid-2";
    const informer = new Informer(source);
    const seen: string[] = [];
    await informer.start();
    informer.on((type, o) => seen.push(`${type}:${o.metadata.name}:${o.metadata.uid}`));
    // the store is wiped and refilled: versions restart lower, "recreated" comes back with a new uid
    source.items.clear();
    source.version = 1;
    source.put("recreated").metadata.uid = "uid-3";
    source.watches[0]!.emit("ERROR", {
      code: 504,
      reason: "Timeout",
      message: "Too large resource version: 3, current: 2",
    } as unknown as KubeObject);
    source.watches[0]!.end();
    await new Promise((resolve) => setTimeout(resolve, 250)); // an error: after a backoff (≤ 200 ms)
    expect(source.lists).toBe(2);
    expect(seen).toEqual(["deleted:recreated:uid-1", "added:recreated:uid-3", "deleted:lost:uid-2"]);
    expect(informer.get("ns", "recreated")?.metadata.uid).toBe("uid-3");
    expect(source.watches[1]?.from).toBe("2");
    informer.stop();
  });

  it("reports a watch event for a known name with a new uid as delete + add", async () => {
    const source = new ScriptedSource();
    source.put("a").metadata.uid = "uid-1";
    const informer = new Informer(source);
    const seen: string[] = [];
    await informer.start();
    informer.on((type, o) => seen.push(`${type}:${o.metadata.uid}`));
    const again = source.put("a");
    again.metadata.uid = "uid-2";
    source.watches[0]!.emit("MODIFIED", again);
    source.watches[0]!.emit("MODIFIED", { ...again, metadata: { ...again.metadata, resourceVersion: "9" } });
    expect(seen).toEqual(["deleted:uid-1", "added:uid-2", "updated:uid-2"]);
    informer.stop();
  });
});
