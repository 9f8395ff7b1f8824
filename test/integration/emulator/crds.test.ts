import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { type Harness, type Json, raw, startHarness } from "./harness.ts";

const PROJECT_CRDS = new URL("../../../manifests/crds/", import.meta.url);
const projectCrdFiles = readdirSync(PROJECT_CRDS).filter((f) => f.endsWith(".yaml"));

describe("bundled third-party CRDs", () => {
  let h: Harness;
  const call = (method: string, path: string, body?: unknown) => raw(h.api, method, path, body);

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it("are established from the start", async () => {
    const crds = (await call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).json
      .items as Json[];
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      "destinationrules.networking.istio.io",
      "grpcroutes.gateway.networking.k8s.io",
      "httproutes.gateway.networking.k8s.io",
      "servicesplitters.consul.hashicorp.com",
      "trafficsplits.split.smi-spec.io",
      "virtualservices.networking.istio.io",
    ]);
    for (const crd of crds) {
      expect(crd.status.conditions.find((c: Json) => c.type === "Established")?.status).toBe("True");
    }
  });

  it("serve every SMI TrafficSplit version, with quantity weights in v1alpha1", async () => {
    const v1alpha1 = "/apis/split.smi-spec.io/v1alpha1/namespaces/default/trafficsplits";
    const created = await call("POST", v1alpha1, {
      apiVersion: "split.smi-spec.io/v1alpha1",
      kind: "TrafficSplit",
      metadata: { name: "web" },
      spec: {
        service: "web",
        backends: [
          { service: "web-v1", weight: "500m" },
          { service: "web-v2", weight: 500 },
        ],
      },
    });
    expect(created.status).toBe(201);
    const asV4 = await call("GET", "/apis/split.smi-spec.io/v1alpha4/namespaces/default/trafficsplits/web");
    expect(asV4.json).toMatchObject({
      apiVersion: "split.smi-spec.io/v1alpha4",
      kind: "TrafficSplit",
      spec: { service: "web" },
    });
    const badQuantity = await call("POST", v1alpha1, {
      apiVersion: "split.smi-spec.io/v1alpha1",
      kind: "TrafficSplit",
      metadata: { name: "bad" },
      spec: { service: "web", backends: [{ service: "a", weight: "lots" }] },
    });
    expect(badQuantity.status).toBe(422);
    expect(badQuantity.json.details.causes[0].field).toBe("spec.backends[0].weight");
    const quantityInV2 = await call(
      "POST",
      "/apis/split.smi-spec.io/v1alpha2/namespaces/default/trafficsplits",
      {
        apiVersion: "split.smi-spec.io/v1alpha2",
        kind: "TrafficSplit",
        metadata: { name: "bad" },
        spec: { service: "web", backends: [{ service: "a", weight: "500m" }] },
      },
    );
    expect(quantityInV2.status).toBe(422);
    expect(quantityInV2.json.message).toContain("spec.backends[0].weight in body must be of type integer");
    const matched = await call("POST", "/apis/split.smi-spec.io/v1alpha3/namespaces/default/trafficsplits", {
      apiVersion: "split.smi-spec.io/v1alpha3",
      kind: "TrafficSplit",
      metadata: { name: "matched" },
      spec: {
        service: "web",
        backends: [{ service: "a", weight: 100 }],
        matches: [{ kind: "HTTPRouteGroup", name: "ab" }],
      },
    });
    expect(matched.status).toBe(201);
  });

  it("default Gateway API route fields as the upstream CRDs do", async () => {
    const route = await call("POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "web" },
      spec: { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "web-v1", port: 80 }] }] },
    });
    expect(route.status).toBe(201);
    expect(route.json.spec.rules[0]).toEqual({
      matches: [{ path: { type: "PathPrefix", value: "/" } }],
      backendRefs: [{ name: "web-v1", port: 80, weight: 1, group: "", kind: "Service" }],
    });
    expect(route.json.spec.parentRefs).toEqual([
      { name: "gw", group: "gateway.networking.k8s.io", kind: "Gateway" },
    ]);
    const grpc = await call("POST", "/apis/gateway.networking.k8s.io/v1/namespaces/default/grpcroutes", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GRPCRoute",
      metadata: { name: "rpc" },
      spec: {
        rules: [
          {
            matches: [{ method: { service: "pkg.Svc" } }],
            backendRefs: [{ name: "rpc", port: 9000, weight: 2000000 }],
          },
        ],
      },
    });
    expect(grpc.status).toBe(422);
    expect(grpc.json.message).toContain("spec.rules[0].backendRefs[0].weight: Invalid value: 2000000");
  });

  it("print the upstream columns through kubectl, for Istio in both served versions and for Consul", async () => {
    const manifests = [
      {
        apiVersion: "networking.istio.io/v1beta1",
        kind: "VirtualService",
        metadata: { name: "web", namespace: "default" },
        spec: {
          hosts: ["web"],
          http: [{ route: [{ destination: { host: "web", subset: "v1" }, weight: 100 }] }],
        },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name: "web", namespace: "default" },
        spec: { host: "web", subsets: [{ name: "v1", labels: { version: "v1" } }] },
      },
      {
        apiVersion: "consul.hashicorp.com/v1alpha1",
        kind: "ServiceSplitter",
        metadata: { name: "web", namespace: "default" },
        spec: {
          splits: [
            { weight: 90.5, service: "web" },
            { weight: 9.5, service: "web", serviceSubset: "canary" },
          ],
        },
      },
    ];
    await h.kubectlOk(["apply", "-f", "-"], manifests.map((m) => YAML.stringify(m)).join("---\n"));
    const [vs, dr, splitter] = await Promise.all([
      h.kubectlOk(["get", "virtualservices.v1beta1.networking.istio.io"]),
      h.kubectlOk(["get", "dr"]),
      h.kubectlOk(["get", "servicesplitters"]),
    ]);
    expect(vs).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+AGE\nweb\s+\["web"\]\s+\d+s\n$/);
    expect(dr).toMatch(/^NAME\s+HOST\s+AGE\nweb\s+web\s+\d+s\n$/);
    expect(splitter).toMatch(/^NAME\s+SYNCED\s+LAST SYNCED\s+AGE\nweb\s+\s+\d+s\n$/);
    const stored = YAML.parse(
      await h.kubectlOk(["get", "virtualservices.v1.networking.istio.io", "web", "-o", "yaml"]),
    ) as Json;
    expect(stored).toMatchObject({
      apiVersion: "networking.istio.io/v1",
      spec: { http: [{ route: [{ weight: 100 }] }] },
    });
  });
});

describe("the project's CRDs from manifests/crds", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it.runIf(projectCrdFiles.length > 0)("apply through kubectl and serve their resources", async () => {
    const output = await h.kubectlOk(["apply", "-f", new URL(PROJECT_CRDS).pathname]);
    const crds = projectCrdFiles.flatMap((file) =>
      YAML.parseAllDocuments(readFileSync(new URL(file, PROJECT_CRDS), "utf8"))
        .map((d) => d.toJSON() as Json)
        .filter((d) => d?.kind === "CustomResourceDefinition"),
    );
    for (const crd of crds)
      expect(output).toContain(`customresourcedefinition.apiextensions.k8s.io/${crd.metadata.name} created`);
    await h.kubectlOk([
      "wait",
      "--for",
      "condition=established",
      "--timeout=10s",
      ...crds.map((c) => `crd/${c.metadata.name}`),
    ]);
    const listed = await Promise.all(
      crds.map((crd) => h.kubectl(["get", `${crd.spec.names.plural}.${crd.spec.group}`])),
    );
    for (const result of listed) {
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("No resources found in default namespace.");
    }
  });
});
