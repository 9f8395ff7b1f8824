import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KubeNotFoundError, type KubeObject } from "../../../src/kube/client.ts";
import { UnsupportedOperationError } from "../../../src/routers/errors.ts";
import { createRouter } from "../../../src/routers/index.ts";
import { fixtureSource } from "../../unit/routers/support.ts";
import { type Harness, refOf, rolloutWith, startHarness, userContent } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.api.requestLog.clear();
});

function backends(object: KubeObject): unknown[] {
  return (object.spec as { backends: unknown[] }).backends;
}

function expectOneWrite(verb = "patch") {
  const writes = h.writes();
  expect(writes.map((w) => `${w.verb} ${w.resource}/${w.name ?? ""} ${w.status}`)).toHaveLength(1);
  expect(writes[0]).toMatchObject({ verb, resource: "trafficsplits", status: verb === "create" ? 201 : 200 });
}

/** Each version in its own namespace, as each is a different cluster's TrafficSplit. */
async function place(
  version: string,
  namespace = `smi-${version}`,
): Promise<{ original: KubeObject; namespace: string }> {
  await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const source = fixtureSource(`trafficsplit-${version}`);
  source.metadata.namespace = namespace;
  return { original: await h.other.create(source), namespace };
}

function routerFor(namespace: string, apiVersion?: string) {
  const rollout = rolloutWith({
    provider: "smi",
    routeRef: { kind: "TrafficSplit", name: "checkout", ...(apiVersion ? { apiVersion } : {}) },
  });
  return createRouter({ ...rollout, metadata: { ...rollout.metadata, namespace } }, h.client);
}

describe.each([
  {
    version: "v1alpha1",
    at5: [
      { service: "checkout-primary", weight: "950m" },
      { service: "checkout-canary", weight: "50m" },
    ],
  },
  {
    version: "v1alpha2",
    at5: [
      { service: "checkout-primary", weight: 950 },
      { service: "checkout-canary", weight: 50 },
    ],
  },
  {
    version: "v1alpha3",
    at5: [
      { service: "checkout-legacy", weight: 100 },
      { service: "checkout-primary", weight: 850 },
      { service: "checkout-canary", weight: 50 },
    ],
  },
  {
    version: "v1alpha4",
    at5: [
      { service: "checkout-primary", weight: 950 },
      { service: "checkout-canary", weight: 50 },
    ],
  },
])("SMI TrafficSplit $version", ({ version, at5 }) => {
  it("splits in the version's weight format, one write per change, abort as a backend share, finalize restores", async () => {
    const { original, namespace } = await place(version);
    const router = routerFor(namespace, `split.smi-spec.io/${version}`);
    const ensured = await router.ensure();
    // v1alpha3's fixture sends 10% to the user's checkout-legacy; the stable has the rest.
    expect(ensured).toMatchObject({ canaryWeight: 0, stableWeight: 100 - ensured.foreignWeight });
    h.api.requestLog.clear();
    expect(await router.setWeight(5)).toMatchObject({ wrote: true, desired: 5, applied: 5 });
    expectOneWrite();
    expect(backends(await h.other.get(refOf(original)))).toEqual(at5);

    h.api.requestLog.clear();
    const faulted = await router.applyFault({ abort: { httpStatus: 503, percent: 10 } });
    expectOneWrite();
    expect(faulted.state).toMatchObject({ fault: { percent: 10 } });
    // The canary keeps its share, to the precision left once the user's and the fault's shares are set.
    expect(Math.abs(faulted.state.canaryWeight - 5)).toBeLessThan(0.1);
    expect(backends(await h.other.get(refOf(original)))).toContainEqual(
      expect.objectContaining({ service: "checkout-fault" }),
    );

    h.api.requestLog.clear();
    expect(await router.setWeight(40)).toMatchObject({ wrote: true, applied: 40 });
    expectOneWrite();
    expect((await router.read()).faultWeight).toBeGreaterThan(9);

    await expect(router.setMatch([{ headers: { "x-beta": { exact: "1" } } }])).rejects.toThrow(
      UnsupportedOperationError,
    );
    await expect(router.setMirror(10)).rejects.toThrow("SMI TrafficSplit cannot mirror traffic");
    await expect(router.applyFault({ delay: { fixed: 100, percent: 1 } })).rejects.toThrow(
      /cannot delay requests/,
    );

    for (const step of [() => router.clearFault(), () => router.finalize()]) {
      h.api.requestLog.clear();
      expect((await step()).wrote).toBe(true);
      expectOneWrite();
    }
    expect(userContent(await h.other.get(refOf(original)))).toEqual(userContent(original));
  });
});

describe("SMI TrafficSplit version", () => {
  it("uses the cluster's preferred served version when the routeRef names none", async () => {
    const { original, namespace } = await place("v1alpha4", "smi-preferred");
    expect(original.apiVersion).toBe("split.smi-spec.io/v1alpha4");
    const router = routerFor(namespace);
    const state = await router.setWeight(10);
    expect(state.state.object.apiVersion).toBe("split.smi-spec.io/v1alpha4");
    const paths = h.api.requestLog.all({ userAgent: "stepwise", verb: "patch" }).map((e) => e.path);
    expect(paths).toEqual([
      `/apis/split.smi-spec.io/v1alpha4/namespaces/${namespace}/trafficsplits/checkout`,
    ]);
  });

  it("picks the highest version served when the preferred one is not served", async () => {
    const crd = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      namespace: undefined,
      name: "trafficsplits.split.smi-spec.io",
    };
    const current = await h.other.get(crd);
    const versions = (current.spec as { versions: { name: string }[] }).versions;
    // A cluster with an older SMI extension: v1alpha3 and v1alpha4 not served.
    await h.other.jsonPatch(
      crd,
      versions.flatMap((v, i) =>
        v.name === "v1alpha3" || v.name === "v1alpha4"
          ? [{ op: "replace" as const, path: `/spec/versions/${i}/served`, value: false }]
          : [],
      ),
    );
    // The client discovered v1alpha4 before: a request to it finds the path not served, and the client
    // forgets what it discovered about the group.
    await expect(
      h.client.get({
        apiVersion: "split.smi-spec.io/v1alpha4",
        kind: "TrafficSplit",
        namespace: "smi-preferred",
        name: "checkout",
      }),
    ).rejects.toThrow(KubeNotFoundError);
    const group = await h.client.apiGroup("split.smi-spec.io");
    expect(group?.versions).not.toContain("v1alpha4");
    await h.other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "smi-created" } });
    const rollout = rolloutWith({ provider: "smi" });
    const router = createRouter(
      { ...rollout, metadata: { ...rollout.metadata, namespace: "smi-created" } },
      h.client,
    );
    h.api.requestLog.clear();
    await router.ensure();
    expectOneWrite("create");
    expect(await router.setWeight(25)).toMatchObject({ wrote: true, applied: 25 });
    const created = await h.other.get({
      apiVersion: "split.smi-spec.io/v1alpha2",
      kind: "TrafficSplit",
      namespace: "smi-created",
      name: "checkout",
    });
    expect(created.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "stepwise",
      "stepwise.dev/rollout": "checkout",
    });
    expect(created.spec).toMatchObject({
      service: "checkout",
      backends: [
        { service: "checkout-primary", weight: 750 },
        { service: "checkout-canary", weight: 250 },
      ],
    });
  });
});
