import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setImages } from "../../../src/client/actions.ts";
import { isStaleWrite, type KubeClient, type ObjectRef } from "../../../src/kube/client.ts";
import type { Deployment } from "../../../src/workloads/deployments.ts";
import { canaryRollout, deployment, startTestCluster, type TestCluster } from "../../support/cluster.ts";

// `rollout start` sets the image on the target Deployment with a resourceVersion test. The Deployment's
// own controller writes its status at any time (a release that just ended scales pods): a write that
// loses that race is made again on the Deployment as it is now, over HTTP to the emulator.

const NS = "shop";
let cluster: TestCluster;

/** The cluster's client, except that after each of the first `times` reads of the Deployment someone else changes it. */
function racingClient(times: number): KubeClient {
  let raced = 0;
  return new Proxy(cluster.client, {
    get(target, property, receiver) {
      if (property !== "get") return Reflect.get(target, property, receiver);
      return async (ref: ObjectRef) => {
        const object = await target.get(ref);
        if (ref.kind === "Deployment" && raced < times) {
          raced += 1;
          await target.mergePatch(ref, { metadata: { labels: { [`touched-${raced}`]: "yes" } } });
        }
        return object;
      };
    },
  });
}

const patches = (name: string) =>
  cluster.api.requestLog.all({ verb: "patch", resource: "deployments" }).filter((e) => e.name === name);

beforeAll(async () => {
  cluster = await startTestCluster({}, NS);
});
afterAll(async () => {
  await cluster?.close();
});

describe("setImages", () => {
  it("sets the image on the Deployment as it is now when it changed since it was read", async () => {
    await cluster.client.create(deployment("web", NS, "web:1"));
    await cluster.client.create(canaryRollout("web", NS, [{ setWeight: 10 }]));
    const revision = await setImages(racingClient(2), { namespace: NS, name: "web" }, [{ image: "web:2" }]);
    const stored = await cluster.client.get<Deployment>({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: NS,
      name: "web",
    });
    const containers = (stored.spec.template.spec as { containers: { image: string }[] }).containers;
    expect(containers[0]!.image).toBe("web:2");
    expect(stored.metadata.labels).toMatchObject({ "touched-1": "yes", "touched-2": "yes" });
    expect(revision).toMatch(/^[0-9a-f]+$/);
    // two writes refused as stale, the third applied (each race's own label patch is a patch too)
    const mine = patches("web").filter((entry) => entry.userAgent === "test");
    expect(mine.map((entry) => entry.status)).toEqual([200, 422, 200, 422, 200]);
  });

  it("gives up with the stale-write error when the Deployment changes after every read", async () => {
    await cluster.client.create(deployment("api", NS, "api:1"));
    await cluster.client.create(canaryRollout("api", NS, [{ setWeight: 10 }]));
    const error = await setImages(racingClient(100), { namespace: NS, name: "api" }, [
      { image: "api:2" },
    ]).catch((e: unknown) => e);
    expect(isStaleWrite(error)).toBe(true);
    expect(patches("api").filter((entry) => entry.status === 422)).toHaveLength(5);
  });
});
