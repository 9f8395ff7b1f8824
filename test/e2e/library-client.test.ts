/**
 * The package's library entry as a TypeScript pipeline imports it: the RolloutClient against the API
 * emulator over HTTP. The test plays the controller's part by writing the Rollout's status, so each
 * client call is checked by what it did to the stored objects, and `watch` by the snapshots it yields.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_ANNOTATION } from "../../src/api/commands.ts";
import {
  InvalidRequestError,
  KubeNotFoundError,
  RolloutClient,
  type RolloutSnapshot,
} from "../../src/index.ts";
import type { KubeObject } from "../../src/kube/client.ts";
import {
  canaryRollout,
  deployment,
  ROLLOUT_TYPE,
  startTestCluster,
  type TestCluster,
} from "../support/cluster.ts";

let cluster: TestCluster;
let rollouts: RolloutClient;
const NAME = "checkout";

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.client.create(deployment(NAME, cluster.namespace, "shop/checkout:1"));
  await cluster.client.create(canaryRollout(NAME, cluster.namespace, [{ setWeight: 50 }]));
  rollouts = RolloutClient.fromKubeconfig({ kubeconfig: cluster.kubeconfig, namespace: cluster.namespace });
});

afterAll(async () => {
  await cluster?.close();
});

const annotationOf = async (name: string) => {
  const object = await cluster.client.get({ ...ROLLOUT_TYPE, namespace: cluster.namespace, name });
  return JSON.parse(object.metadata.annotations?.[COMMAND_ANNOTATION] ?? "null") as Record<string, unknown>;
};

/** Writes the status as the controller would. */
const writeStatus = (status: Record<string, unknown>) =>
  cluster.client.mergePatchStatus({ ...ROLLOUT_TYPE, namespace: cluster.namespace, name: NAME }, { status });

describe("RolloutClient", () => {
  it("status reads the stored rollout, parsed (durations in milliseconds)", async () => {
    const rollout = await rollouts.status(NAME);
    expect(rollout.metadata.name).toBe(NAME);
    expect(rollout.spec.analysis.interval).toBe(1000);
    await expect(rollouts.status("missing")).rejects.toBeInstanceOf(KubeNotFoundError);
  });

  it("start sets the new image on the target Deployment and returns the revision to roll out", async () => {
    const started = await rollouts.start(NAME, { images: [{ image: "shop/checkout:2" }] });
    expect(started).toEqual({ revision: expect.stringMatching(/^[0-9a-f]+$/) });
    const target = await cluster.client.get<
      KubeObject & {
        spec: { template: { spec: { containers: { image: string }[] } } };
      }
    >({ apiVersion: "apps/v1", kind: "Deployment", namespace: cluster.namespace, name: NAME });
    expect(target.spec.template.spec.containers[0]!.image).toBe("shop/checkout:2");
    await expect(rollouts.start(NAME, { images: [{ container: "nope", image: "x" }] })).rejects.toThrow(
      new InvalidRequestError(`${NAME} has no container nope (it has app)`),
    );
  });

  it("start without images, promote and abort send commands the controller reads from the annotation", async () => {
    const retry = await rollouts.start(NAME);
    expect(retry).toEqual({ commandId: expect.any(String) });
    expect(await annotationOf(NAME)).toEqual({
      id: (retry as { commandId: string }).commandId,
      type: "retry",
    });
    const promote = await rollouts.promote(NAME, { full: true });
    expect(await annotationOf(NAME)).toEqual({ id: promote, type: "promote", full: true });
    const abort = await rollouts.abort(NAME);
    expect(await annotationOf(NAME)).toEqual({ id: abort, type: "abort" });
    expect(new Set([promote, abort]).size).toBe(2);
  });

  it("watch yields a snapshot per change, live, and ends when the rollout is deleted", async () => {
    const seen: RolloutSnapshot[] = [];
    let deleted = false;
    const done = (async () => {
      for await (const snapshot of rollouts.watch(NAME)) {
        seen.push(snapshot);
        if (snapshot.rollout?.status?.phase === "Progressing" && !deleted) {
          deleted = true;
          await cluster.client.delete({ ...ROLLOUT_TYPE, namespace: cluster.namespace, name: NAME });
        }
      }
    })();
    while (!seen.some((s) => s.connection === "live" && s.rollout))
      await new Promise((r) => setTimeout(r, 20));
    await writeStatus({ phase: "Progressing", step: 0, message: "setting the canary weight to 50%" });
    await done;
    expect(seen[0]!.connection).toBe("connecting");
    const phases = seen.map((s) => s.rollout?.status?.phase ?? null);
    expect(phases).toContain("Progressing");
    expect(seen.at(-1)).toMatchObject({ rollout: undefined, connection: "gone" });
  });

  it("watch stops when the signal aborts, and for a rollout that does not exist says it is gone", async () => {
    const seen: RolloutSnapshot[] = [];
    for await (const snapshot of rollouts.watch("missing")) seen.push(snapshot);
    expect(seen.at(-1)!.connection).toBe("gone");
    expect(seen.every((s) => s.rollout === undefined)).toBe(true);

    await cluster.client.create(canaryRollout("other", cluster.namespace, [{ setWeight: 50 }]));
    const controller = new AbortController();
    const other: RolloutSnapshot[] = [];
    for await (const snapshot of new RolloutClient(cluster.client, cluster.namespace).watch("other", {
      signal: controller.signal,
    })) {
      other.push(snapshot);
      if (snapshot.rollout) controller.abort();
    }
    expect(other.at(-1)!.rollout!.metadata.name).toBe("other");
    // the watch's connection is closed: the server sees it go (after the close reaches it)
    for (let i = 0; i < 100 && cluster.api.watchCount() > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(cluster.api.watchCount()).toBe(0);
  });
});
