import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Harness, startHarness } from "./harness.ts";

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

function deployment(name: string, replicas: number): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image: "app:1" }] },
      },
    },
  };
}

describe("simulated controllers", () => {
  describe("when off (the default)", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(() => h.close());

    it("leave deployment status and namespace contents alone", async () => {
      const apps = h.kc.makeApiClient(k8s.AppsV1Api);
      const core = h.kc.makeApiClient(k8s.CoreV1Api);
      await apps.createNamespacedDeployment({ namespace: "default", body: deployment("idle", 2) });
      await core.createNamespace({ body: { metadata: { name: "stays" } } });
      await core.createNamespacedConfigMap({ namespace: "stays", body: { metadata: { name: "cm" } } });
      await core.deleteNamespace({ name: "stays" });
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await apps.readNamespacedDeployment({ namespace: "default", name: "idle" })).status).toEqual(
        {},
      );
      expect((await core.readNamespace({ name: "stays" })).status?.phase).toBe("Terminating");
      expect((await core.listNamespacedConfigMap({ namespace: "stays" })).items).toHaveLength(1);
    });
  });

  describe("when on", () => {
    let h: Harness;
    let apps: k8s.AppsV1Api;
    let core: k8s.CoreV1Api;

    beforeAll(async () => {
      h = await startHarness({
        controllers: { deployments: { delayMs: 30 }, namespaces: true, garbageCollector: true },
      });
      apps = h.kc.makeApiClient(k8s.AppsV1Api);
      core = h.kc.makeApiClient(k8s.CoreV1Api);
    });
    afterAll(() => h.close());

    it("rolls deployments out after each spec change, including to zero", async () => {
      await apps.createNamespacedDeployment({ namespace: "default", body: deployment("web", 3) });
      const rolled = await eventually(async () => {
        const d = await apps.readNamespacedDeployment({ namespace: "default", name: "web" });
        return d.status?.observedGeneration === 1 ? d : undefined;
      });
      expect(rolled.status).toMatchObject({
        replicas: 3,
        readyReplicas: 3,
        updatedReplicas: 3,
        availableReplicas: 3,
      });
      expect(rolled.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual([
        "Available=True",
        "Progressing=True",
      ]);
      expect(
        rolled.metadata?.managedFields?.some(
          (m) => m.manager === "deployment-controller" && m.subresource === "status",
        ),
      ).toBe(true);

      await apps.patchNamespacedDeployment(
        { namespace: "default", name: "web", body: { spec: { replicas: 0 } } },
        merge,
      );
      const scaledDown = await eventually(async () => {
        const d = await apps.readNamespacedDeployment({ namespace: "default", name: "web" });
        return d.status?.observedGeneration === 2 ? d : undefined;
      });
      expect(scaledDown.status?.replicas).toBeUndefined();
      expect(scaledDown.status?.readyReplicas).toBeUndefined();
    });

    it("deletes a namespace's objects, then the namespace", async () => {
      await core.createNamespace({ body: { metadata: { name: "team" } } });
      await core.createNamespacedConfigMap({ namespace: "team", body: { metadata: { name: "cm" } } });
      await apps.createNamespacedDeployment({ namespace: "team", body: deployment("api", 1) });
      await core.deleteNamespace({ name: "team" });
      await eventually(async () => {
        try {
          await core.readNamespace({ name: "team" });
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      });
      expect((await core.listNamespacedConfigMap({ namespace: "team" })).items).toEqual([]);
      expect((await apps.listNamespacedDeployment({ namespace: "team" })).items).toEqual([]);
    });

    it("collects dependents of a deleted owner, and orphans them on request", async () => {
      const owner = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "owner" } },
      });
      const ref = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid! };
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "dependent", ownerReferences: [ref] } },
      });
      await core.deleteNamespacedConfigMap({ namespace: "default", name: "owner" });
      await eventually(async () => {
        const names = (await core.listNamespacedConfigMap({ namespace: "default" })).items.map(
          (c) => c.metadata?.name,
        );
        return names.includes("dependent") ? undefined : true;
      });

      const keeper = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "keeper" } },
      });
      const keeperRef = { apiVersion: "v1", kind: "ConfigMap", name: "keeper", uid: keeper.metadata!.uid! };
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "orphan", ownerReferences: [keeperRef] } },
      });
      await core.deleteNamespacedConfigMap({
        namespace: "default",
        name: "keeper",
        propagationPolicy: "Orphan",
      });
      const orphan = await eventually(async () => {
        const cm = await core.readNamespacedConfigMap({ namespace: "default", name: "orphan" });
        return cm.metadata?.ownerReferences === undefined || cm.metadata.ownerReferences.length === 0
          ? cm
          : undefined;
      });
      expect(orphan.metadata?.name).toBe("orphan");
      await eventually(async () => {
        const names = (await core.listNamespacedConfigMap({ namespace: "default" })).items.map(
          (c) => c.metadata?.name,
        );
        return names.includes("keeper") ? undefined : true;
      });
    });

    it("holds a foreground deletion until the dependents are gone", async () => {
      const owner = await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "fg-owner" } },
      });
      const ref = {
        apiVersion: "v1",
        kind: "ConfigMap",
        name: "fg-owner",
        uid: owner.metadata!.uid!,
        blockOwnerDeletion: true,
      };
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "fg-dep", ownerReferences: [ref] } },
      });
      await core.deleteNamespacedConfigMap({
        namespace: "default",
        name: "fg-owner",
        propagationPolicy: "Foreground",
      });
      await eventually(async () => {
        const names = (await core.listNamespacedConfigMap({ namespace: "default" })).items.map(
          (c) => c.metadata?.name,
        );
        return names.includes("fg-owner") || names.includes("fg-dep") ? undefined : true;
      });
      const deletes = h.api.requestLog.all({ verb: "delete", name: "fg-owner" });
      expect(deletes).toHaveLength(1);
    });
  });
});
