import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../../src/kube/client.ts";
import { NotLeaderError } from "../../../src/kube/leader-election.ts";
import { type KubeApi, startKubeApi } from "../../../src/sandbox/kube-api/index.ts";

// The controller's lease fence sits in the client: a refused write must never reach the API server,
// while reads and the Lease's own (unfenced) writes go on.

let api: KubeApi;
let client: KubeClient;
const configMap = (name: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default" },
  data: { a: "1" },
});
const ref = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", namespace: "default", name });

beforeAll(async () => {
  api = await startKubeApi({ port: 0 });
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  client = new KubeClient(kc, { userAgent: "fenced" });
  await client.create(configMap("existing"));
});

afterAll(async () => {
  await api?.close();
});

describe("KubeClient write fence", () => {
  it("refuses every kind of write before it is sent, and lets reads through", async () => {
    let holds = false;
    client.setWriteFence(() => {
      if (!holds) throw new NotLeaderError("lost the lease");
    });
    api.requestLog.clear();
    const writes = [
      () => client.create(configMap("new")),
      () => client.mergePatch(ref("existing"), { data: { a: "2" } }),
      () => client.jsonPatch(ref("existing"), [{ op: "replace", path: "/data/a", value: "3" }]),
      () => client.mergePatchStatus(ref("existing"), { status: {} }),
      () => client.delete(ref("existing")),
    ];
    for (const write of writes) await expect(write()).rejects.toBeInstanceOf(NotLeaderError);
    expect((await client.get(ref("existing"))).data).toEqual({ a: "1" });
    expect(await client.list("v1", "ConfigMap", "default")).toHaveLength(1);
    expect(api.requestLog.all().filter((e) => e.method !== "GET")).toEqual([]);

    holds = true;
    await client.mergePatch(ref("existing"), { data: { a: "2" } });
    expect((await client.get(ref("existing"))).data).toEqual({ a: "2" });
    client.setWriteFence(undefined);
  });

  it("gives an unfenced copy for the Lease's own writes", async () => {
    client.setWriteFence(() => {
      throw new NotLeaderError("lost the lease");
    });
    const unfenced = client.withoutFence();
    await unfenced.create(configMap("lease-like"));
    expect((await client.get(ref("lease-like"))).metadata.name).toBe("lease-like");
    await expect(client.delete(ref("lease-like"))).rejects.toBeInstanceOf(NotLeaderError);
    client.setWriteFence(undefined);
  });
});
