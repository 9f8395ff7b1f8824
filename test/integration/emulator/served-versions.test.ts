import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { type Harness, type Json, raw, startHarness } from "./harness.ts";

// Real kubectl over HTTP against the emulator, on objects as their projects publish them
// (test/fixtures/upstream/, each file names its source).

const UPSTREAM = new URL("../../fixtures/upstream/", import.meta.url);
const fixturePath = (file: string) => new URL(file, UPSTREAM).pathname;
const fixture = (file: string) => YAML.parse(readFileSync(fixturePath(file), "utf8")) as Json;

/** Each upstream object with every version its resource is served in, as the upstream CRDs serve them. */
const OBJECTS: { file: string; plural: string; versions: string[] }[] = [
  {
    file: "istio/virtual-service-reviews-90-10.yaml",
    plural: "virtualservices",
    versions: ["v1", "v1beta1", "v1alpha3"],
  },
  {
    file: "istio/destination-rule-reviews.yaml",
    plural: "destinationrules",
    versions: ["v1", "v1beta1", "v1alpha3"],
  },
  { file: "gateway-api/traffic-split-2.yaml", plural: "httproutes", versions: ["v1", "v1beta1"] },
  { file: "gateway-api/grpc-traffic-split-2.yaml", plural: "grpcroutes", versions: ["v1", "v1alpha2"] },
  {
    file: "smi/traffic-split-leaf-weights.yaml",
    plural: "trafficsplits",
    versions: ["v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"],
  },
  {
    file: "smi/foobar-rollout-v1alpha2.yaml",
    plural: "trafficsplits",
    versions: ["v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"],
  },
  { file: "consul/service-splitter.yaml", plural: "servicesplitters", versions: ["v1alpha1"] },
];

const groupOf = (apiVersion: string) => apiVersion.split("/")[0]!;

describe("kubectl against the emulator's served versions", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it("applies each upstream object in its own version and gets it back in every served version", async () => {
    for (const { file, plural, versions } of OBJECTS) {
      const manifest = fixture(file);
      const group = groupOf(manifest.apiVersion);
      const applied = await h.kubectlOk(["apply", "-f", fixturePath(file)]);
      expect(applied).toBe(`${manifest.kind.toLowerCase()}.${group}/${manifest.metadata.name} created\n`);
      const served = await Promise.all(
        versions.map(async (version) =>
          JSON.parse(
            await h.kubectlOk(["get", `${plural}.${version}.${group}`, manifest.metadata.name, "-o", "json"]),
          ),
        ),
      );
      served.forEach((obj, i) => {
        expect(obj.apiVersion).toBe(`${group}/${versions[i]}`);
        expect(obj.kind).toBe(manifest.kind);
        // the same stored object: only apiVersion differs between versions
        expect({ ...obj, apiVersion: undefined }).toEqual({ ...served[0], apiVersion: undefined });
        // the spec as written, plus what the schema defaults (Gateway API backendRef group/kind, ...)
        expect(obj.spec).toMatchObject(manifest.spec);
      });
    }
  });

  it("lists and watches in each served version, and discovery prefers GA, then beta, then alpha", async () => {
    const vs = fixture("istio/virtual-service-reviews-90-10.yaml");
    const group = (await raw(h.api, "GET", "/apis/networking.istio.io")).json;
    expect(group.versions.map((v: Json) => v.version)).toEqual(["v1", "v1beta1", "v1alpha3"]);
    expect(group.preferredVersion).toEqual({ groupVersion: "networking.istio.io/v1", version: "v1" });
    const gateway = (await raw(h.api, "GET", "/apis/gateway.networking.k8s.io")).json;
    expect(gateway.versions.map((v: Json) => v.version)).toEqual(["v1", "v1beta1", "v1alpha2"]);
    const smi = (await raw(h.api, "GET", "/apis/split.smi-spec.io")).json;
    expect(smi.preferredVersion.version).toBe("v1alpha4");
    const crd = (
      await raw(
        h.api,
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/virtualservices.networking.istio.io",
      )
    ).json;
    expect(crd.status.storedVersions).toEqual(["v1"]);
    // discovery's storageVersionHash names the stored version, so it is one value across served versions
    const hashes = await Promise.all(
      ["v1", "v1beta1", "v1alpha3"].map(async (version) => {
        const list = (await raw(h.api, "GET", `/apis/networking.istio.io/${version}`)).json;
        return list.resources.find((r: Json) => r.name === "virtualservices").storageVersionHash;
      }),
    );
    expect(new Set(hashes)).toEqual(new Set([hashes[0]]));
    const pods = (await raw(h.api, "GET", "/api/v1")).json.resources.find((r: Json) => r.name === "pods");
    expect(pods.storageVersionHash).toBe("xPOwRZ+Yhw8="); // as every kube-apiserver reports it

    await h.kubectlOk(["apply", "-f", "-"], YAML.stringify({ ...vs, metadata: { name: "listed" } }));
    for (const version of ["v1", "v1beta1", "v1alpha3"]) {
      const list = JSON.parse(
        await h.kubectlOk(["get", `virtualservices.${version}.networking.istio.io`, "-o", "json"]),
      );
      expect(list.items.find((o: Json) => o.metadata.name === "listed")?.apiVersion).toBe(
        `networking.istio.io/${version}`,
      );
      const controller = new AbortController();
      const response = await fetch(
        `${h.api.url}/apis/networking.istio.io/${version}/namespaces/default/virtualservices?watch=true&fieldSelector=metadata.name%3Dlisted`,
        { headers: { Authorization: `Bearer ${h.api.token}` }, signal: controller.signal },
      );
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      const event = JSON.parse(first.split("\n")[0]!);
      expect(event.type).toBe("ADDED");
      expect(event.object.apiVersion).toBe(`networking.istio.io/${version}`);
    }
  });

  it("answers a kind it does not serve with kubectl's own no-matches error, client- and server-side", async () => {
    const unserved = [
      { apiVersion: "networking.istio.io/v1alpha2", kind: "VirtualService" },
      { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway" },
      { apiVersion: "cert-manager.io/v1", kind: "Certificate" },
    ];
    for (const { apiVersion, kind } of unserved) {
      const manifest = YAML.stringify({ apiVersion, kind, metadata: { name: "x" }, spec: {} });
      for (const mode of [[], ["--server-side"]]) {
        const result = await h.kubectl(["apply", ...mode, "-f", "-"], manifest);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          `resource mapping not found for name: "x" namespace: "" from "STDIN": no matches for kind "${kind}" in version "${apiVersion}"`,
        );
        expect(result.stderr).not.toContain("openapi");
      }
    }
  });

  it("makes a second field manager's apply of the same field a conflict until it forces, which moves ownership", async () => {
    const vs = fixture("istio/virtual-service-reviews-90-10.yaml");
    const manifest: Json = { ...vs, metadata: { name: "shared" } };
    await h.kubectlOk(["apply", "--server-side", "--field-manager=a", "-f", "-"], YAML.stringify(manifest));
    const changed = structuredClone(manifest);
    changed.spec.http[0].route[0].weight = 50;
    changed.spec.http[0].route[1].weight = 50;
    const refused = await h.kubectl(
      ["apply", "--server-side", "--field-manager=b", "-f", "-"],
      YAML.stringify(changed),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: Apply failed with 1 conflict: conflict with "a": .spec.http');
    expect(refused.stderr).toContain("--force-conflicts");
    const kept = JSON.parse(await h.kubectlOk(["get", "vs", "shared", "-o", "json"]));
    expect(kept.spec.http[0].route.map((r: Json) => r.weight)).toEqual([90, 10]);

    await h.kubectlOk(
      ["apply", "--server-side", "--field-manager=b", "--force-conflicts", "-f", "-"],
      YAML.stringify(changed),
    );
    const forced = JSON.parse(
      await h.kubectlOk(["get", "vs", "shared", "-o", "json", "--show-managed-fields"]),
    );
    expect(forced.spec.http[0].route.map((r: Json) => r.weight)).toEqual([50, 50]);
    const owners = (forced.metadata.managedFields as Json[])
      .map((m) => ({
        manager: m.manager,
        apiVersion: m.apiVersion,
        ownsHttp: "f:http" in (m.fieldsV1?.["f:spec"] ?? {}),
      }))
      .sort((x, y) => x.manager.localeCompare(y.manager));
    // a keeps what b did not take (hosts); the routes are b's now
    expect(owners).toEqual([
      { manager: "a", apiVersion: "networking.istio.io/v1alpha3", ownsHttp: false },
      { manager: "b", apiVersion: "networking.istio.io/v1alpha3", ownsHttp: true },
    ]);
  });

  it("holds annotations to 256 KiB, request bodies to 3 MiB and stored objects to etcd's 1.5 MiB", async () => {
    const configMap = (name: string, annotation: number, data: number) =>
      YAML.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, annotations: { big: "a".repeat(annotation) } },
        data: { blob: "d".repeat(data) },
      });
    // "big" (3 bytes) + value: exactly at the limit is allowed, one byte more is not
    await h.kubectlOk(["create", "-f", "-"], configMap("at-limit", 262141, 1));
    const over = await h.kubectl(["create", "-f", "-"], configMap("over-limit", 262142, 1));
    expect(over.code).toBe(1);
    expect(over.stderr).toContain(
      'The ConfigMap "over-limit" is invalid: metadata.annotations: Too long: must have at most 262144 bytes',
    );

    const huge = await h.kubectl(["create", "-f", "-"], configMap("huge", 1, 3 * 1024 * 1024));
    expect(huge.code).toBe(1);
    expect(huge.stderr).toContain("Error from server (RequestEntityTooLarge)");
    expect(huge.stderr).toContain("Request entity too large: limit is 3145728");
    const direct = await raw(
      h.api,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      "x".repeat(3 * 1024 * 1024 + 1),
    );
    expect(direct.status).toBe(413);
    expect(direct.json.reason).toBe("RequestEntityTooLarge");

    const tooBigToStore = await h.kubectl(["create", "-f", "-"], configMap("etcd", 1, 1600 * 1024));
    expect(tooBigToStore.code).toBe(1);
    expect(tooBigToStore.stderr).toContain(
      'Error from server: error when creating "STDIN": etcdserver: request is too large',
    );
    const missing = await h.kubectl(["get", "configmap", "etcd"]);
    expect(missing.stderr).toContain('configmaps "etcd" not found');
  });

  it("serves autoscaling/v2 HorizontalPodAutoscaler with defaults, validation, status and kubectl's columns", async () => {
    const resources = (await raw(h.api, "GET", "/apis/autoscaling/v2")).json.resources as Json[];
    expect(resources.map((r) => [r.name, r.namespaced, r.shortNames])).toEqual([
      ["horizontalpodautoscalers", true, ["hpa"]],
      ["horizontalpodautoscalers/status", true, undefined],
    ]);
    await h.kubectlOk(["apply", "-f", fixturePath("kubernetes/hpa-php-apache.yaml")]);
    const table = await h.kubectlOk(["get", "hpa"]);
    expect(table).toMatch(
      /^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE\nphp-apache\s+Deployment\/php-apache\s+cpu: <unknown>\/50%\s+1\s+10\s+0\s+\d+s\n$/,
    );

    const path = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
    const defaulted = await raw(h.api, "POST", path, {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "web-primary" },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web-primary" },
        maxReplicas: 5,
      },
    });
    expect(defaulted.status).toBe(201);
    expect(defaulted.json.spec).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web-primary" },
      minReplicas: 1,
      maxReplicas: 5,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } },
        },
      ],
    });
    const status = await raw(
      h.api,
      "PATCH",
      `${path}/web-primary/status`,
      {
        status: {
          currentReplicas: 3,
          desiredReplicas: 3,
          currentMetrics: [
            { type: "Resource", resource: { name: "cpu", current: { averageUtilization: 40 } } },
          ],
        },
      },
      { "Content-Type": "application/merge-patch+json" },
    );
    expect(status.json.status).toMatchObject({ currentReplicas: 3 });
    expect(await h.kubectlOk(["get", "hpa", "web-primary", "--no-headers"])).toMatch(
      /^web-primary\s+Deployment\/web-primary\s+cpu: 40%\/80%\s+1\s+5\s+3\s+\d+s\n$/,
    );
    const ignored = await raw(
      h.api,
      "PATCH",
      `${path}/web-primary`,
      { spec: { maxReplicas: 6 }, status: { currentReplicas: 9 } },
      { "Content-Type": "application/merge-patch+json" },
    );
    expect(ignored.json.spec.maxReplicas).toBe(6);
    expect(ignored.json.status.currentReplicas).toBe(3);
    expect(ignored.json.metadata.generation).toBe(2);

    const invalid = await h.kubectl(
      ["apply", "-f", "-"],
      YAML.stringify({
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "bad" },
        spec: { scaleTargetRef: { kind: "Deployment" }, minReplicas: 3, maxReplicas: 2 },
      }),
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain(
      "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
    );
    expect(invalid.stderr).toContain("spec.scaleTargetRef.name: Required value");

    await h.kubectlOk(["delete", "hpa", "web-primary"]);
    expect((await h.kubectl(["get", "hpa", "web-primary"])).stderr).toContain(
      'horizontalpodautoscalers.autoscaling "web-primary" not found',
    );
  });
});
