import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { InformerCache } from "../../../src/kube/object-cache.ts";
import { type Harness, startHarness } from "./harness.ts";

// The route objects' cache (src/kube/object-cache.ts) against the emulator over HTTP: reads after the
// first list are served without a request, this process's own write is answered at once, someone else's
// arrives by the watch, and a kind the server does not serve is read live until it is.

const VS = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", namespace: "shop" };
let h: Harness;
let cache: InformerCache;

function virtualService(name: string, host: string): KubeObject {
  return { ...VS, metadata: { name, namespace: "shop" }, spec: { hosts: [host], http: [] } };
}

/** The client's requests for a resource but its watches (logged when they end). */
const readsOf = (resource: string) =>
  h.api.requestLog
    .all({ userAgent: "stepwise", resource })
    .filter((e) => e.verb !== "watch")
    .map((e) => `${e.method} ${e.verb}`);

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let tries = 0; ; tries++) {
    const value = await read();
    if (done(value) || tries > 100) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  h = await startHarness();
  await h.other.create(virtualService("checkout", "checkout"));
  cache = new InformerCache(h.client, undefined);
});

afterAll(async () => {
  cache?.stop();
  await h?.close();
});

describe("the route objects' cache", () => {
  it("lists a kind on its first read, then answers from the informer, without managedFields", async () => {
    h.api.requestLog.clear();
    const first = await cache.get({ ...VS, name: "checkout" });
    expect(first?.spec).toEqual({ hosts: ["checkout"], http: [] });
    expect(readsOf("virtualservices")).toEqual(["GET list"]);
    h.api.requestLog.clear();
    for (let i = 0; i < 5; i++) await cache.get({ ...VS, name: "checkout" });
    expect(await cache.get({ ...VS, name: "absent" })).toBeUndefined();
    expect(await cache.list(VS.apiVersion, VS.kind, "shop")).toHaveLength(1);
    expect(readsOf("virtualservices")).toEqual([]);
    expect(first?.metadata).not.toHaveProperty("managedFields");
    expect((await h.client.get({ ...VS, name: "checkout" })).metadata).toHaveProperty("managedFields");
  });

  it("answers this process's own write at once, and someone else's once the watch brings it", async () => {
    const ref = { ...VS, name: "checkout" };
    const written = await h.client.jsonPatch(ref, [{ op: "add", path: "/spec/hosts/-", value: "mine" }]);
    cache.wrote(ref, written);
    expect((await cache.get(ref))?.metadata.resourceVersion).toBe(written.metadata.resourceVersion);
    const theirs = await h.other.jsonPatch(ref, [{ op: "add", path: "/spec/hosts/-", value: "theirs" }]);
    const seen = await eventually(
      () => cache.get(ref),
      (object) => object?.metadata.resourceVersion === theirs.metadata.resourceVersion,
    );
    expect(seen?.spec).toEqual({ hosts: ["checkout", "mine", "theirs"], http: [] });
    // a delete of its own is a miss at once
    await h.client.delete(ref);
    cache.wrote(ref, undefined);
    expect(await cache.get(ref)).toBeUndefined();
    expect(await cache.list(VS.apiVersion, VS.kind, "shop")).toEqual([]);
  });

  it("reads a kind the server does not serve live, and caches it once its CRD is installed", async () => {
    const split = { apiVersion: "split.smi-spec.io/v1alpha4", kind: "TrafficSplit", namespace: "shop" };
    const crd = await h.other.get({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      name: "trafficsplits.split.smi-spec.io",
    });
    await h.other.delete({ apiVersion: crd.apiVersion, kind: crd.kind, name: crd.metadata.name });
    await eventually(
      () => h.other.apiGroup("split.smi-spec.io"),
      (group) => group === undefined,
    );
    expect(await cache.get({ ...split, name: "checkout" })).toBeUndefined();
    const { resourceVersion: _, uid: __, creationTimestamp: ___, ...metadata } = crd.metadata;
    await h.other.create({ ...crd, metadata, status: undefined } as KubeObject);
    await h.other.create({
      ...split,
      metadata: { name: "checkout", namespace: "shop" },
      spec: { service: "checkout", backends: [{ service: "checkout-primary", weight: 100 }] },
    });
    const found = await eventually(
      () => cache.get({ ...split, name: "checkout" }),
      (object) => object !== undefined,
    );
    expect(found?.spec).toMatchObject({ service: "checkout" });
    h.api.requestLog.clear();
    await cache.get({ ...split, name: "checkout" });
    expect(readsOf("trafficsplits")).toEqual([]);
  });
});
