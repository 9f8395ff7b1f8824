import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Harness, raw, startHarness } from "./harness.ts";

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** Reads a watch stream to its end and returns the parsed events. */
async function watchEvents(h: Harness, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${h.api.url}${path}`, {
    headers: { Authorization: `Bearer ${h.api.token}`, ...headers },
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    events: text
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(
        (line) =>
          JSON.parse(line) as {
            type: string;
            object: Record<string, unknown> & { metadata: Record<string, unknown> };
          },
      ),
  };
}

describe("watch", () => {
  let h: Harness;
  let core: k8s.CoreV1Api;

  beforeAll(async () => {
    h = await startHarness({ bookmarkIntervalMs: 100, maxWatchSeconds: 2 });
    core = h.kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "w" } } });
  });
  afterAll(() => h.close());

  it("an informer that hits 410 relists and keeps every update", async () => {
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "inf" }, data: { v: "0" } },
    });
    const informer = k8s.makeInformer(h.kc, "/api/v1/namespaces/w/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "w" }),
    );
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on("add", (cm) => seen.push(`add ${cm.data?.v}`));
    informer.on("update", (cm) => seen.push(`update ${cm.data?.v}`));
    informer.on("error", (err) => errors.push(err));
    await informer.start();
    await eventually(() => (h.api.watchCount() === 1 ? true : undefined));

    h.api.faults.expireNextWatch(1, { resource: "configmaps", namespace: "w" });
    h.api.faults.closeWatches();
    // written while the informer is between watches: only the relist can deliver it
    await core.patchNamespacedConfigMap({ namespace: "w", name: "inf", body: { data: { v: "1" } } }, merge);
    await eventually(() => (seen.includes("update 1") ? true : undefined));
    await eventually(() => (h.api.watchCount() === 1 ? true : undefined));
    await core.patchNamespacedConfigMap({ namespace: "w", name: "inf", body: { data: { v: "2" } } }, merge);
    await eventually(() => (seen.includes("update 2") ? true : undefined));
    // stopping aborts the open request, which client-node reports as an error of its own
    const errorsWhileRunning = [...errors];
    await informer.stop();

    expect(seen).toEqual(["add 0", "update 1", "update 2"]);
    expect(errorsWhileRunning).toEqual([]);
    const lists = h.api.requestLog.all({ verb: "list", resource: "configmaps", namespace: "w" });
    expect(lists.length).toBe(2);
    const watches = h.api.requestLog.all({ verb: "watch", resource: "configmaps", namespace: "w" });
    expect(watches.length).toBeGreaterThanOrEqual(3);
  });

  it("sends bookmarks when asked and ends the stream at timeoutSeconds", async () => {
    const rv = h.api.resourceVersion();
    const started = Date.now();
    const { events } = await watchEvents(
      h,
      `/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=1`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.type === "BOOKMARK")).toBe(true);
    expect(events[0]?.object).toEqual({
      kind: "ConfigMap",
      apiVersion: "v1",
      metadata: { resourceVersion: rv },
    });
  });

  it("closes every watch after the server's own limit", async () => {
    const started = Date.now();
    const { events } = await watchEvents(
      h,
      "/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=1&timeoutSeconds=60",
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(events.some((e) => e.type === "ADDED")).toBe(true);
  });

  it("applies selectors to events: leaving the selection is DELETED, entering it is ADDED", async () => {
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "sel", labels: { pick: "yes" } } },
    });
    const rv = h.api.resourceVersion();
    const pending = watchEvents(
      h,
      `/api/v1/namespaces/w/configmaps?watch=1&labelSelector=pick%3Dyes&resourceVersion=${rv}&timeoutSeconds=1`,
    );
    await eventually(() => (h.api.watchCount() > 0 ? true : undefined));
    await core.patchNamespacedConfigMap({ namespace: "w", name: "sel", body: { data: { a: "1" } } }, merge);
    await core.patchNamespacedConfigMap(
      { namespace: "w", name: "sel", body: { metadata: { labels: { pick: "no" } } } },
      merge,
    );
    await core.patchNamespacedConfigMap({ namespace: "w", name: "sel", body: { data: { a: "2" } } }, merge);
    await core.patchNamespacedConfigMap(
      { namespace: "w", name: "sel", body: { metadata: { labels: { pick: "yes" } } } },
      merge,
    );
    await core.deleteNamespacedConfigMap({ namespace: "w", name: "sel" });
    const { events } = await pending;
    expect(events.map((e) => e.type)).toEqual(["MODIFIED", "DELETED", "ADDED", "DELETED"]);
    expect(events[1]?.object.metadata.labels).toEqual({ pick: "no" });
  });

  it("starts with the current state when no resourceVersion is given, ending with a bookmark for sendInitialEvents", async () => {
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "initial" } } });
    const { events } = await watchEvents(
      h,
      "/api/v1/namespaces/w/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dinitial&timeoutSeconds=1",
    );
    expect(events[0]).toMatchObject({ type: "ADDED", object: { metadata: { name: "initial" } } });
    expect(events[1]).toMatchObject({
      type: "BOOKMARK",
      object: { metadata: { annotations: { "k8s.io/initial-events-end": "true" } } },
    });
  });

  it("streams Table rows when asked for tables, with column definitions only once", async () => {
    const rv = h.api.resourceVersion();
    const pending = watchEvents(
      h,
      `/api/v1/namespaces/w/configmaps?watch=1&resourceVersion=${rv}&timeoutSeconds=1`,
      {
        Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
      },
    );
    await eventually(() => (h.api.watchCount() > 0 ? true : undefined));
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "t1" }, data: { a: "1", b: "2" } },
    });
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "t2" } } });
    const { events, contentType } = await pending;
    expect(contentType).toBe("application/json;as=Table;v=v1;g=meta.k8s.io");
    expect(events.map((e) => e.object.kind)).toEqual(["Table", "Table"]);
    const [first, second] = events;
    const columns = first!.object.columnDefinitions as { name: string }[];
    expect(columns.map((c) => c.name)).toEqual(["Name", "Data", "Age"]);
    expect(second!.object.columnDefinitions).toBeUndefined();
    expect((first!.object.rows as { cells: unknown[] }[])[0]!.cells.slice(0, 2)).toEqual(["t1", 2]);
  });

  it("rejects a bad selector before streaming", async () => {
    const response = await raw(
      h.api,
      "GET",
      "/api/v1/namespaces/w/configmaps?watch=1&fieldSelector=spec.nope%3D1",
    );
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({
      reason: "BadRequest",
      message: "field label not supported: spec.nope",
    });
  });
});
