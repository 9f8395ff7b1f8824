/**
 * The user's own objects, through the real controller process over HTTP (the API emulator):
 * - a Service the user already has, named in spec.traffic.stableService, is adopted (its selector points
 *   at the stable pods, the original is saved), and deleting the Rollout gives it back as it was;
 * - a target with a HorizontalPodAutoscaler: the primary gets its own HPA made from the user's and kept
 *   in sync, and over a release in which both autoscalers scale, the controller writes the canary's
 *   replicas only to wake it and to put it to sleep, never against the HPA.
 * The emulator runs no HPA controller: the test scales the Deployments as the two HPAs would, while the
 * release waits for its pre-rollout webhook (held by the test), the phase in which the canary is scaled.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRollout } from "../../../src/api/rollout.ts";
import { RolloutClient } from "../../../src/client/rollout-client.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ADOPTED_SELECTOR_ANNOTATION, ROLLOUT_LABEL } from "../../../src/workloads/adoption.ts";
import { AUTOSCALER, type HorizontalPodAutoscaler } from "../../../src/workloads/autoscaler.ts";
import type { Deployment } from "../../../src/workloads/deployments.ts";
import type { Service } from "../../../src/workloads/services.ts";
import { Workloads } from "../../../src/workloads/workloads.ts";
import { ROLLOUT_TYPE, setImage } from "../../support/cluster.ts";
import { type ControllerWorld, startControllerWorld } from "../../support/controller-world.ts";

const NS = "adopt";
const SERVICE = { apiVersion: "v1", kind: "Service", namespace: NS } as const;
const DEPLOYMENT = { apiVersion: "apps/v1", kind: "Deployment", namespace: NS } as const;
const HPA = { ...AUTOSCALER, namespace: NS } as const;
const ROLLOUT_TYPE_NS = { ...ROLLOUT_TYPE, namespace: NS } as const;

/** The Service the user had before Stepwise, named the Argo way; it selects every pod of the app. */
const userService: Service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: "podinfo-stable",
    namespace: NS,
    labels: { team: "web" },
    annotations: { "example.com/owner": "web-team" },
  },
  spec: {
    selector: { app: "podinfo", tier: "frontend" },
    ports: [{ name: "http", port: 80, targetPort: 9898 }],
  },
};

// After Flagger's podinfo HPA (fluxcd/flagger kustomize/podinfo/hpa.yaml), for the Deployment `web`.
const userHpa: HorizontalPodAutoscaler = {
  ...AUTOSCALER,
  metadata: { name: "web", namespace: NS },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    minReplicas: 2,
    maxReplicas: 4,
    metrics: [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 99 } },
      },
    ],
  },
};

/** A pre-rollout webhook that answers 200 only once the test lets it. */
class HeldWebhook {
  private held: ServerResponse[] = [];
  private open = false;
  private arrived: (() => void) | undefined;
  readonly server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    if (this.open) response.writeHead(200).end();
    else this.held.push(response);
    this.arrived?.();
  });
  url = "";

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/pre-rollout`;
  }

  /** Resolves once a call is held. */
  called(): Promise<void> {
    if (this.held.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.arrived = resolve;
    });
  }

  approve(): void {
    this.open = true;
    for (const response of this.held.splice(0)) response.writeHead(200).end();
  }
}

const webhook = new HeldWebhook();
let world: ControllerWorld;
beforeAll(async () => {
  await webhook.listen();
  world = await startControllerWorld(NS, {
    podinfo: {
      steps: [{ setWeight: 20 }],
      errorRate: 0.001,
      spec: { traffic: { provider: "istio", stableService: "podinfo-stable" } },
      objects: [userService],
    },
    web: {
      steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }],
      errorRate: 0.001,
      objects: [userHpa],
      spec: { webhooks: [{ type: "pre-rollout", url: webhook.url, timeout: "60s", retries: 0 }] },
    },
  });
}, 180_000);
afterAll(async () => {
  webhook.approve();
  await world?.close();
  webhook.server.close();
});

const get = <T extends KubeObject>(
  ref: { apiVersion: string; kind: string; namespace: string },
  name: string,
) => world.cluster.client.get<T>({ ...ref, name });

/** The controller's writes to one object since the request log was last cleared, as "verb status". */
const controllerWrites = (resource: string, name: string) =>
  world.cluster.api.requestLog
    .all({ resource, name, namespace: NS })
    .filter((e) => e.userAgent.startsWith("stepwise-controller") && e.method !== "GET")
    .map((e) => `${e.verb} ${e.status}`);

/** Polls `read` until `done` holds of its value (a minute at most); the failure shows the last value. */
async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline)
      throw new Error(`${what}: not within a minute; last: ${JSON.stringify(value)}\n${world.state()}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    value = await read();
  }
  return value;
}

describe("a user's Service named in spec.traffic", () => {
  it("is adopted: selects the stable pods, keeps its ports, saves the original, is not owned", async () => {
    const service = await get<Service>(SERVICE, "podinfo-stable");
    expect(service.spec.selector).toEqual({ app: "podinfo-primary" });
    // the user's port, with the protocol the API server defaults
    expect(service.spec.ports).toEqual([{ ...userService.spec.ports[0], protocol: "TCP" }]);
    expect(service.metadata.labels).toEqual({ team: "web", [ROLLOUT_LABEL]: "podinfo" });
    expect(JSON.parse(service.metadata.annotations![ADOPTED_SELECTOR_ANNOTATION]!)).toEqual(
      userService.spec.selector,
    );
    expect(service.metadata.ownerReferences ?? []).toEqual([]);
    // the canary Service did not exist: created as before, owned by the Rollout
    const canary = await get<Service>(SERVICE, "podinfo-canary");
    expect(canary.spec.selector).toEqual({ app: "podinfo" });
    expect(canary.metadata.ownerReferences?.map((o) => o.kind)).toEqual(["Rollout"]);
  });

  it("is given back as the user wrote it when the Rollout is deleted; release again writes nothing", async () => {
    const parsed = parseRollout(await get(ROLLOUT_TYPE_NS, "podinfo"));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const adopted = await get<Service>(SERVICE, "podinfo-stable");
    // the finalizer calls Workloads.release before it lets the Rollout go
    await world.cluster.client.delete({ ...ROLLOUT_TYPE_NS, name: "podinfo" });
    await until(
      "the Rollout gone",
      () => get(ROLLOUT_TYPE_NS, "podinfo").catch(() => undefined),
      (rollout) => rollout === undefined,
    );
    const restored = await get<Service>(SERVICE, "podinfo-stable");
    // the user's selector back, and nothing else in the spec changed (the API server's defaults stay)
    expect(restored.spec).toEqual({ ...adopted.spec, selector: userService.spec.selector });
    expect(restored.metadata.labels).toEqual(userService.metadata.labels);
    expect(restored.metadata.annotations).toEqual(userService.metadata.annotations);
    await new Workloads(world.cluster.client, { get: () => undefined }).release(parsed.value);
    const again = await get<Service>(SERVICE, "podinfo-stable");
    expect(again.metadata.resourceVersion).toBe(restored.metadata.resourceVersion);
    // the Service the controller created was its own: it goes with the Rollout, the adopted one stays
    await until(
      "podinfo-canary garbage-collected",
      () => get<Service>(SERVICE, "podinfo-canary").catch(() => undefined),
      (service) => service === undefined,
    );
  });
});

describe("a target with a HorizontalPodAutoscaler", () => {
  const primarySpec = (spec: HorizontalPodAutoscaler["spec"]) => ({
    ...spec,
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web-primary" },
  });

  it("gets a primary HPA that follows the user's spec; the user's is left as written", async () => {
    const rollout = await get(ROLLOUT_TYPE_NS, "web");
    const primary = await until(
      "web-primary HPA",
      () => get<HorizontalPodAutoscaler>(HPA, "web-primary").catch(() => undefined),
      (hpa) => hpa !== undefined,
    );
    const user = await get<HorizontalPodAutoscaler>(HPA, "web");
    expect(primary!.spec).toEqual(primarySpec(user.spec));
    expect(primary!.metadata.ownerReferences?.map((o) => o.uid)).toEqual([rollout.metadata.uid]);
    expect(user.spec).toEqual(userHpa.spec);
    expect(user.metadata.ownerReferences).toBeUndefined();

    // the user changes their HPA: the primary's follows
    const behavior = { scaleDown: { stabilizationWindowSeconds: 30 } };
    const changed = await world.cluster.client.mergePatch<HorizontalPodAutoscaler>(
      { ...HPA, name: "web" },
      { spec: { maxReplicas: 6, behavior } },
    );
    const followed = await until(
      "web-primary HPA to follow",
      () => get<HorizontalPodAutoscaler>(HPA, "web-primary"),
      (hpa) => hpa.spec.maxReplicas === 6,
    );
    expect(followed.spec).toEqual(primarySpec(changed.spec));
    // the controller never wrote the user's HPA
    expect(controllerWrites("horizontalpodautoscalers", "web")).toEqual([]);
  });

  it("has no replica fight over a release in which both autoscalers scale", async () => {
    const api = world.cluster.api;
    const hpaWritesBefore = controllerWrites("horizontalpodautoscalers", "web-primary").length;
    api.requestLog.clear();
    const target = () => get<Deployment>(DEPLOYMENT, "web");
    const primary = () => get<Deployment>(DEPLOYMENT, "web-primary");
    expect((await target()).spec.replicas).toBe(0); // idle: the user's HPA does nothing at zero
    expect((await primary()).spec.replicas).toBe(2);

    await setImage(world.cluster.client, NS, "web", "registry/app:2");
    // the release waits for its pre-rollout webhook; the canary was woken at the primary's count
    await webhook.called();
    expect((await target()).spec.replicas).toBe(2);

    // the two HPAs scale, as they would under load, while the canary is being made ready
    await world.cluster.client.mergePatch({ ...DEPLOYMENT, name: "web" }, { spec: { replicas: 3 } });
    await world.cluster.client.mergePatch({ ...DEPLOYMENT, name: "web-primary" }, { spec: { replicas: 4 } });
    webhook.approve();
    // the canary is ready at the count its HPA chose, and keeps it
    await world.waitUntil("web", (s) => s.phase === "Paused" && s.step === 1, "the manual gate");
    expect((await target()).spec.replicas).toBe(3);
    await new RolloutClient(world.cluster.client, NS).promote("web");
    await world.waitUntil(
      "web",
      (s) => s.phase === "Succeeded" && s.stableRevision === s.revision,
      "Succeeded with the new revision",
    );
    await until("the canary back at zero", target, (d) => d.spec.replicas === 0);

    // the controller wrote the canary's replicas twice: to wake it, and to zero at the end
    expect(controllerWrites("deployments", "web")).toEqual(["patch 200", "patch 200"]);
    // the promotion kept the count the primary's HPA chose
    expect((await primary()).spec.replicas).toBe(4);
    // and the primary's HPA was not written again once in sync
    expect(controllerWrites("horizontalpodautoscalers", "web-primary")).toEqual([]);
    expect(hpaWritesBefore).toBeGreaterThan(0);
  });
});
