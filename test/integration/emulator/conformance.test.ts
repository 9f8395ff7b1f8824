import { readFileSync } from "node:fs";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { KubeObject } from "../../../src/sandbox/kube-api/types.ts";
import {
  apiVersion,
  CANARIES,
  clientNodeDriver,
  DEPLOYMENTS,
  type Driver,
  DriverError,
  kubectlDriver,
  NAMESPACES,
  SERVICES,
} from "./drivers.ts";
import { eventually, type Harness, startHarness } from "./harness.ts";

const CRD = YAML.parse(
  readFileSync(new URL("../../fixtures/emulator/canaries.crd.yaml", import.meta.url), "utf8"),
) as KubeObject;

function canary(
  name: string,
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: apiVersion(CANARIES),
    kind: "Canary",
    metadata: { name, namespace: "default", ...metadata },
    spec,
  };
}

async function failure(promise: Promise<unknown>): Promise<DriverError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DriverError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

const drivers: [string, (h: Harness) => Driver][] = [
  ["kubectl", kubectlDriver],
  ["client-node", clientNodeDriver],
];

describe.each(drivers)("conformance through %s", (_name, makeDriver) => {
  let h: Harness;
  let d: Driver;

  beforeAll(async () => {
    h = await startHarness();
    d = makeDriver(h);
    await d.installCrd(CRD);
    await d.apply(
      canary("web", { service: { name: "web", port: 8080 }, weight: 10 }, { labels: { app: "web" } }),
    );
  });
  afterAll(() => h.close());

  it("serves a custom object applied after its CRD", async () => {
    const obj = await d.get(CANARIES, "default", "web");
    expect(obj.spec).toMatchObject({ service: { name: "web", port: 8080 }, weight: 10 });
    expect(obj.metadata.generation).toBe(1);
    expect(obj.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(obj.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(obj.metadata.labels).toEqual({ app: "web" });
  });

  it("prints the CRD's additional printer columns", async () => {
    const table = await d.table(CANARIES, "default");
    expect(table.headers).toEqual(["NAME", "PHASE", "WEIGHT", "AGE"]);
    const row = table.rows.find((r) => r[0] === "web");
    expect(row?.slice(0, 3)).toEqual(["web", "", "10"]);
    expect(row?.[3]).toMatch(/^\d+s$/);
  });

  it("a watch sees an update", async () => {
    const events = await d.watch(
      CANARIES,
      "default",
      "web",
      () => d.patch(CANARIES, "default", "web", "merge", { spec: { weight: 20 } }),
      (seen) =>
        seen.some((e) => e.type === "MODIFIED" && (e.object.spec as { weight: number }).weight === 20),
    );
    expect(events[0]?.type).toBe("ADDED");
    expect(events.at(-1)).toMatchObject({ type: "MODIFIED", object: { spec: { weight: 20 } } });
  });

  it("applies merge and JSON patches, and a failed JSON patch test is Invalid", async () => {
    await d.patch(CANARIES, "default", "web", "merge", { spec: { weight: 30 } });
    await d.patch(CANARIES, "default", "web", "json", [
      { op: "test", path: "/spec/weight", value: 30 },
      { op: "replace", path: "/spec/weight", value: 31 },
    ]);
    expect((await d.get(CANARIES, "default", "web")).spec).toMatchObject({ weight: 31 });
    const err = await failure(
      d.patch(CANARIES, "default", "web", "json", [
        { op: "test", path: "/spec/weight", value: 99 },
        { op: "replace", path: "/spec/weight", value: 0 },
      ]),
    );
    expect(err.reason).toBe("Invalid");
    expect(err.message).toContain("the server rejected our request due to an error in our request");
    expect((await d.get(CANARIES, "default", "web")).spec).toMatchObject({ weight: 31 });
  });

  it("refuses a replace with a stale resourceVersion", async () => {
    const stale = await d.get(CANARIES, "default", "web");
    await d.patch(CANARIES, "default", "web", "merge", { spec: { weight: 32 } });
    const err = await failure(d.replace({ ...stale, spec: { ...(stale.spec as object), weight: 33 } }));
    expect(err.reason).toBe("Conflict");
    expect(err.message).toContain('canaries.fixtures.stepwise.dev "web": the object has been modified');
    expect((await d.get(CANARIES, "default", "web")).spec).toMatchObject({ weight: 32 });
  });

  it("keeps status behind its subresource and bumps generation on spec changes only", async () => {
    const before = await d.get(CANARIES, "default", "web");
    await d.patch(CANARIES, "default", "web", "merge", { status: { phase: "Ignored" } });
    const afterMain = await d.get(CANARIES, "default", "web");
    expect(afterMain.status).toBeUndefined();
    expect(afterMain.metadata.generation).toBe(before.metadata.generation);

    await d.patch(CANARIES, "default", "web", "merge", { status: { phase: "Progressing" } }, "status");
    const afterStatus = await d.get(CANARIES, "default", "web");
    expect(afterStatus.status).toEqual({ phase: "Progressing" });
    expect(afterStatus.metadata.generation).toBe(before.metadata.generation);

    await d.patch(CANARIES, "default", "web", "merge", { metadata: { labels: { extra: "yes" } } });
    expect((await d.get(CANARIES, "default", "web")).metadata.generation).toBe(before.metadata.generation);

    await d.patch(CANARIES, "default", "web", "merge", { spec: { weight: 40 } });
    const afterSpec = await d.get(CANARIES, "default", "web");
    expect(afterSpec.metadata.generation).toBe(before.metadata.generation! + 1);
    expect(afterSpec.status).toEqual({ phase: "Progressing" });
  });

  it("strict field validation names the offending field", async () => {
    const unknown = await failure(d.create(canary("bad", { service: { name: "web" }, foo: 1 })));
    expect(unknown.reason).toBe("BadRequest");
    expect(unknown.message).toContain(
      'Canary in version "v1alpha1" cannot be handled as a Canary: strict decoding error: unknown field "spec.foo"',
    );

    const typed = await failure(d.create(canary("bad", { service: { name: "web", port: "http" } })));
    expect(typed.reason).toBe("Invalid");
    expect(typed.message).toContain(
      'spec.service.port: Invalid value: "string": spec.service.port in body must be of type integer: "string"',
    );
    const missing = await failure(d.create(canary("bad", { weight: 101 })));
    expect(missing.reason).toBe("Invalid");
    expect(missing.message).toContain("spec.service: Required value");
    expect(missing.message).toContain(
      "spec.weight: Invalid value: 101: spec.weight in body should be less than or equal to 100",
    );
  });

  it("holds a deletion until the finalizers are gone", async () => {
    await d.apply(
      canary("held", { service: { name: "held" } }, { finalizers: ["fixtures.stepwise.dev/hold"] }),
    );
    await d.delete(CANARIES, "default", "held");
    const terminating = await d.get(CANARIES, "default", "held");
    expect(terminating.metadata.deletionTimestamp).toMatch(/Z$/);
    expect(terminating.metadata.finalizers).toEqual(["fixtures.stepwise.dev/hold"]);
    await d.patch(CANARIES, "default", "held", "merge", { metadata: { finalizers: null } });
    const gone = await failure(d.get(CANARIES, "default", "held"));
    expect(gone.reason).toBe("NotFound");
  });

  it("server-side apply by two managers conflicts on the shared field until forced", async () => {
    await d.serverSideApply(canary("shared", { service: { name: "shared" }, weight: 5 }), "alice", false);
    const err = await failure(
      d.serverSideApply(canary("shared", { service: { name: "shared" }, weight: 7 }), "bob", false),
    );
    expect(err.reason).toBe("Conflict");
    expect(err.message).toContain('Apply failed with 1 conflict: conflict with "alice": .spec.weight');
    expect((await d.get(CANARIES, "default", "shared")).spec).toMatchObject({ weight: 5 });
    await d.serverSideApply(canary("shared", { service: { name: "shared" }, weight: 7 }), "bob", true);
    expect((await d.get(CANARIES, "default", "shared")).spec).toMatchObject({ weight: 7 });
  });

  it("filters lists with every label selector operator", async () => {
    const labelled: [string, Record<string, string>][] = [
      ["sel-a", { suite: "sel", tier: "web", track: "stable", rank: "3" }],
      ["sel-b", { suite: "sel", tier: "web", track: "canary", rank: "7" }],
      ["sel-c", { suite: "sel", tier: "db" }],
    ];
    for (const [name, labels] of labelled) await d.apply(canary(name, { service: { name } }, { labels }));
    const names = async (selector: string) =>
      (await d.list(CANARIES, "default", selector)).map((o) => o.metadata.name).sort();
    expect(await names("suite=sel,tier=web")).toEqual(["sel-a", "sel-b"]);
    expect(await names("suite==sel,tier==db")).toEqual(["sel-c"]);
    expect(await names("suite=sel,track!=canary")).toEqual(["sel-a", "sel-c"]);
    expect(await names("suite=sel,track in (canary, stable)")).toEqual(["sel-a", "sel-b"]);
    expect(await names("suite=sel,track notin (canary)")).toEqual(["sel-a", "sel-c"]);
    expect(await names("suite=sel,track")).toEqual(["sel-a", "sel-b"]);
    expect(await names("suite=sel,!track")).toEqual(["sel-c"]);
    expect(await names("suite=sel,rank>5")).toEqual(["sel-b"]);
  });

  it("serves namespaces, deployments and services", async () => {
    await d.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
    const deployment = (image: string): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "api", namespace: "team", labels: { app: "api" } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "api" } },
        template: {
          metadata: { labels: { app: "api" } },
          spec: { containers: [{ name: "api", image, ports: [{ containerPort: 8080 }] }] },
        },
      },
    });
    await d.apply(deployment("example/api:1.0"));
    await d.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "api", namespace: "team" },
      spec: { selector: { app: "api" }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const ns = await d.get(NAMESPACES, undefined, "team");
    expect(ns.status).toEqual({ phase: "Active" });
    expect(ns.metadata.labels).toEqual({ "kubernetes.io/metadata.name": "team" });

    const created = await d.get(DEPLOYMENTS, "team", "api");
    expect(created.metadata.generation).toBe(1);
    expect(created.spec).toMatchObject({
      replicas: 2,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      template: {
        spec: {
          containers: [
            {
              name: "api",
              imagePullPolicy: "IfNotPresent",
              ports: [{ containerPort: 8080, protocol: "TCP" }],
            },
          ],
        },
      },
    });
    await d.apply(deployment("example/api:1.1"));
    const updated = await d.get(DEPLOYMENTS, "team", "api");
    expect(updated.metadata.generation).toBe(2);
    expect(updated.spec).toMatchObject({
      template: { spec: { containers: [{ image: "example/api:1.1" }] } },
    });

    const svc = await d.get(SERVICES, "team", "api");
    expect(svc.spec).toMatchObject({
      type: "ClusterIP",
      ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
    });
    expect((svc.spec as { clusterIP: string }).clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
    expect((await d.list(DEPLOYMENTS, "team", "app=api")).map((o) => o.metadata.name)).toEqual(["api"]);
    expect(await d.list(DEPLOYMENTS, "team", "app!=api")).toEqual([]);
  });
});

describe("pagination and watch replay through both clients", () => {
  let h: Harness;
  let core: k8s.CoreV1Api;
  const names = ["cm-1", "cm-2", "cm-3", "cm-4", "cm-5"];

  beforeAll(async () => {
    h = await startHarness({ watchHistorySize: 50 });
    core = h.kc.makeApiClient(k8s.CoreV1Api);
    for (const name of names)
      await core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name }, data: { n: name } },
      });
  });
  afterAll(() => h.close());

  it("client-node pages with limit and continue at one snapshot", async () => {
    const first = await core.listNamespacedConfigMap({ namespace: "default", limit: 2 });
    expect(first.items.map((c) => c.metadata?.name)).toEqual(["cm-1", "cm-2"]);
    expect(first.metadata?.remainingItemCount).toBe(3);
    // a write between pages does not show up in the paginated snapshot
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-0-late" } } });
    const second = await core.listNamespacedConfigMap({
      namespace: "default",
      limit: 2,
      _continue: first.metadata?._continue,
    });
    const third = await core.listNamespacedConfigMap({
      namespace: "default",
      limit: 2,
      _continue: second.metadata?._continue,
    });
    expect([...second.items, ...third.items].map((c) => c.metadata?.name)).toEqual(["cm-3", "cm-4", "cm-5"]);
    expect(third.metadata?._continue).toBeUndefined();
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    await core.deleteNamespacedConfigMap({ namespace: "default", name: "cm-0-late" });
  });

  it("kubectl pages with limit and continue", async () => {
    const page = JSON.parse(
      await h.kubectlOk(["get", "--raw", "/api/v1/namespaces/default/configmaps?limit=3"]),
    ) as {
      items: KubeObject[];
      metadata: { continue: string };
    };
    expect(page.items.map((c) => c.metadata.name)).toEqual(["cm-1", "cm-2", "cm-3"]);
    const rest = JSON.parse(
      await h.kubectlOk([
        "get",
        "--raw",
        `/api/v1/namespaces/default/configmaps?limit=3&continue=${page.metadata.continue}`,
      ]),
    ) as { items: KubeObject[]; metadata: { continue?: string } };
    expect(rest.items.map((c) => c.metadata.name)).toEqual(["cm-4", "cm-5"]);
    expect(rest.metadata.continue).toBeUndefined();
    // kubectl's own chunking walks the same tokens
    const chunked = await h.kubectlOk(["get", "configmaps", "--chunk-size=2", "-o", "name"]);
    expect(chunked.trim().split("\n")).toEqual(names.map((n) => `configmap/${n}`));
  });

  it("replays history after a resourceVersion and answers 410 once it is compacted", async () => {
    const start = (await core.readNamespacedConfigMap({ namespace: "default", name: "cm-1" })).metadata!
      .resourceVersion!;
    await core.patchNamespacedConfigMap(
      { namespace: "default", name: "cm-1", body: { data: { n: "changed" } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const path = `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${start}&timeoutSeconds=1`;
    const replayed = (await h.kubectlOk(["get", "--raw", path]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(replayed.some((e) => e.type === "MODIFIED" && e.object.data.n === "changed")).toBe(true);
    expect(replayed.every((e) => Number(e.object.metadata.resourceVersion) > Number(start))).toBe(true);

    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void new k8s.Watch(h.kc).watch(
        "/api/v1/namespaces/default/configmaps",
        { resourceVersion: start, timeoutSeconds: 1 },
        (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
        () => resolve(),
      );
    });
    expect(seen).toContain("MODIFIED cm-1");

    h.api.compact();
    const expired = (await h.kubectlOk(["get", "--raw", path]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(expired).toEqual([
      {
        type: "ERROR",
        object: expect.objectContaining({ kind: "Status", code: 410, reason: "Expired", status: "Failure" }),
      },
    ]);
    const errors: { code: number }[] = [];
    await new Promise<void>((resolve) => {
      void new k8s.Watch(h.kc).watch(
        "/api/v1/namespaces/default/configmaps",
        { resourceVersion: start },
        (type, obj) => {
          if (type === "ERROR") errors.push(obj);
        },
        () => resolve(),
      );
    });
    expect(errors).toEqual([expect.objectContaining({ code: 410, reason: "Expired" })]);
  });

  it("kubectl get -w prints updates as table rows", async () => {
    const watch = h.kubectl(["get", "configmaps", "-w", "--request-timeout=2s"]);
    await eventually(() => (h.api.watchCount() > 0 ? true : undefined));
    await core.patchNamespacedConfigMap(
      { namespace: "default", name: "cm-2", body: { data: { n: "2", extra: "x" } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await eventually(() =>
      h.api.requestLog.all({ verb: "patch", name: "cm-2" }).length > 0 ? true : undefined,
    );
    h.api.faults.closeWatches();
    const out = (await watch).stdout.trim().split("\n");
    expect(out[0]).toMatch(/^NAME\s+DATA\s+AGE$/);
    expect(out.filter((l) => l.startsWith("cm-2 ")).at(-1)).toMatch(/^cm-2\s+2\s+\d+s$/);
  });
});

describe("kubectl workflows beyond the shared scenarios", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ controllers: { deployments: { delayMs: 20 } } });
  });
  afterAll(() => h.close());

  it("creates objects from kubectl's generators, which send protobuf", async () => {
    await h.kubectlOk(["create", "namespace", "gen"]);
    await Promise.all([
      h.kubectlOk(["create", "configmap", "settings", "-n", "gen", "--from-literal=mode=fast"]),
      h.kubectlOk(["create", "secret", "generic", "creds", "-n", "gen", "--from-literal=token=s3cret"]),
      h.kubectlOk([
        "create",
        "deployment",
        "api",
        "-n",
        "gen",
        "--image=example/api:2",
        "--replicas=0",
        "--port=8080",
      ]),
      h.kubectlOk(["create", "service", "clusterip", "api", "-n", "gen", "--tcp=80:8080"]),
    ]);
    const get = async (what: string) =>
      JSON.parse(await h.kubectlOk(["get", what, "-n", "gen", "-o", "json"])) as KubeObject;
    const [cm, secret, deploy, svc] = await Promise.all([
      get("cm/settings"),
      get("secret/creds"),
      get("deploy/api"),
      get("svc/api"),
    ]);
    expect((cm as { data?: unknown }).data).toEqual({ mode: "fast" });
    expect((secret as { data?: unknown }).data).toEqual({ token: Buffer.from("s3cret").toString("base64") });
    expect(deploy.spec).toMatchObject({
      replicas: 0,
      selector: { matchLabels: { app: "api" } },
      template: {
        spec: { containers: [{ name: "api", image: "example/api:2", ports: [{ containerPort: 8080 }] }] },
      },
    });
    expect(svc.spec).toMatchObject({
      type: "ClusterIP",
      ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
    });
    expect(h.api.requestLog.all({ verb: "create", resource: "deployments" })[0]?.contentType).toBe(
      "application/vnd.kubernetes.protobuf",
    );
  });

  it("moves client-side apply ownership to server-side apply and keeps the last-applied annotation current", async () => {
    const manifest = (image: string) =>
      YAML.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "default" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image }] } },
        },
      });
    expect(await h.kubectlOk(["apply", "-f", "-"], manifest("web:1"))).toBe("deployment.apps/web created\n");
    const migrated = await h.kubectl(["apply", "--server-side", "-f", "-"], manifest("web:2"));
    expect(migrated.stderr).toBe("");
    expect(migrated.stdout).toBe("deployment.apps/web serverside-applied\n");
    const live = JSON.parse(
      await h.kubectlOk(["get", "deploy", "web", "-o", "json", "--show-managed-fields"]),
    ) as KubeObject;
    expect(live.spec).toMatchObject({ template: { spec: { containers: [{ image: "web:2" }] } } });
    expect(
      live.metadata.managedFields
        ?.filter((m) => m.manager.startsWith("kubectl"))
        .map((m) => `${m.manager}/${m.operation}`),
    ).toEqual(["kubectl/Apply", "kubectl-last-applied/Apply"]);
    const lastApplied = JSON.parse(
      live.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"] ?? "{}",
    );
    expect(lastApplied.spec.template.spec.containers[0].image).toBe("web:2");
    // and client-side apply keeps working from there
    expect(await h.kubectlOk(["apply", "-f", "-"], manifest("web:3"))).toBe(
      "deployment.apps/web configured\n",
    );
  });

  it("waits for rollouts, scales through /scale and waits for deletions", async () => {
    await h.kubectlOk(["rollout", "status", "deployment/web", "--timeout=10s"]);
    await h.kubectlOk(["scale", "deployment/web", "--replicas=3"]);
    const status = await h.kubectlOk(["rollout", "status", "deployment/web", "--timeout=10s"]);
    expect(status).toContain('deployment "web" successfully rolled out');
    expect(await h.kubectlOk(["get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}"])).toBe("3");
    expect(h.api.requestLog.all({ subresource: "scale", verb: "patch" })).toHaveLength(1);
    expect(await h.kubectlOk(["delete", "deployment", "web", "--timeout=10s"])).toBe(
      'deployment.apps "web" deleted\n',
    );
    expect((await h.kubectl(["get", "deployment", "web"])).stderr).toContain(
      'deployments.apps "web" not found',
    );
  });
});
