import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { type Harness, type Json, raw, startHarness } from "./harness.ts";

const CRD = YAML.parse(
  readFileSync(new URL("../../fixtures/emulator/canaries.crd.yaml", import.meta.url), "utf8"),
);
const CANARIES = "/apis/fixtures.stepwise.dev/v1alpha1/namespaces/default/canaries";
const CONFIGMAPS = "/api/v1/namespaces/default/configmaps";
const DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments";
const MERGE = { "Content-Type": "application/merge-patch+json" };
const APPLY = { "Content-Type": "application/apply-patch+yaml" };

function canary(name: string, spec: Json = { service: { name } }): Json {
  return { apiVersion: "fixtures.stepwise.dev/v1alpha1", kind: "Canary", metadata: { name }, spec };
}

function deployment(name: string, containers: Json[]): Json {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers } },
    },
  };
}

describe("API semantics", () => {
  let h: Harness;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    raw(h.api, method, path, body, headers);

  beforeAll(async () => {
    h = await startHarness();
    expect((await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)).status).toBe(
      201,
    );
    // served at once, established a moment later by the CRD controller
    for (let i = 0; i < 50; i++) {
      const crd = await call(
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/canaries.fixtures.stepwise.dev",
      );
      if (crd.json.status?.conditions?.some((c: Json) => c.type === "Established" && c.status === "True"))
        break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  afterAll(() => h.close());

  describe("create", () => {
    it("defaults, sets system metadata and refuses duplicates", async () => {
      const created = await call("POST", CANARIES, canary("one"));
      expect(created.status).toBe(201);
      expect(created.json.spec).toEqual({ service: { name: "one" }, weight: 0, strategy: "Canary" });
      expect(created.json.metadata).toMatchObject({ namespace: "default", generation: 1 });
      expect(created.json.metadata.managedFields[0]).toMatchObject({
        manager: "node",
        operation: "Update",
        fieldsType: "FieldsV1",
      });
      const again = await call("POST", CANARIES, canary("one"));
      expect(again.status).toBe(409);
      expect(again.json).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'canaries.fixtures.stepwise.dev "one" already exists',
        reason: "AlreadyExists",
        details: { name: "one", group: "fixtures.stepwise.dev", kind: "canaries" },
        code: 409,
      });
    });

    it("fills generateName, and needs an existing, active namespace", async () => {
      const generated = await call("POST", CONFIGMAPS, { metadata: { generateName: "gen-" } });
      expect(generated.json.metadata.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      const missing = await call("POST", "/api/v1/namespaces/nowhere/configmaps", {
        metadata: { name: "x" },
      });
      expect(missing.status).toBe(404);
      expect(missing.json).toMatchObject({ reason: "NotFound", message: 'namespaces "nowhere" not found' });
      await call("POST", "/api/v1/namespaces", { metadata: { name: "doomed" } });
      const deleted = await call("DELETE", "/api/v1/namespaces/doomed");
      expect(deleted.json.status).toEqual({ phase: "Terminating" });
      const refused = await call("POST", "/api/v1/namespaces/doomed/configmaps", { metadata: { name: "x" } });
      expect(refused.status).toBe(403);
      expect(refused.json.message).toBe(
        'configmaps "x" is forbidden: unable to create new content in namespace doomed because it is being terminated',
      );
      expect((await call("DELETE", "/api/v1/namespaces/default")).status).toBe(403);
    });

    it("validates names", async () => {
      const bad = await call("POST", CONFIGMAPS, { metadata: { name: "Not_Valid" } });
      expect(bad.status).toBe(422);
      expect(bad.json.message).toMatch(
        /^ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain/,
      );
      expect(bad.json.details.causes[0]).toMatchObject({
        reason: "FieldValueInvalid",
        field: "metadata.name",
      });
    });
  });

  describe("CRD schema validation", () => {
    const GADGETS = "/apis/fixtures.stepwise.dev/v1/namespaces/default/gadgets";
    const gadget = (name: string, spec: Json) => ({
      apiVersion: "fixtures.stepwise.dev/v1",
      kind: "Gadget",
      metadata: { name },
      spec,
    });

    beforeAll(async () => {
      const created = await call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "gadgets.fixtures.stepwise.dev" },
        spec: {
          group: "fixtures.stepwise.dev",
          scope: "Namespaced",
          names: { plural: "gadgets", kind: "Gadget" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: {
                      type: "object",
                      oneOf: [{ required: ["port"] }, { required: ["portName"] }],
                      properties: {
                        port: { "x-kubernetes-int-or-string": true },
                        portName: { type: "string" },
                        mode: { type: "string", enum: ["a", "b"] },
                        ratio: { type: "number", minimum: 0, exclusiveMinimum: true },
                        extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                      },
                    },
                  },
                },
              },
            },
          ],
        },
      });
      expect(created.status).toBe(201);
    });

    it("accepts int-or-string values and keeps preserved unknown fields", async () => {
      const byName = await call(
        "POST",
        GADGETS,
        gadget("by-name", { port: "http", extra: { deep: { any: [1, "x"] } } }),
      );
      expect(byName.status).toBe(201);
      expect(byName.json.spec.extra).toEqual({ deep: { any: [1, "x"] } });
      expect((await call("POST", GADGETS, gadget("by-number", { port: 8080, ratio: 0.5 }))).status).toBe(201);
    });

    it("enforces oneOf, enums, types and exclusive minimums", async () => {
      const both = await call("POST", GADGETS, gadget("both", { port: 1, portName: "x" }));
      expect(both.status).toBe(422);
      expect(both.json.message).toContain('"spec" must validate one and only one schema (oneOf)');
      const neither = await call("POST", GADGETS, gadget("neither", { mode: "a" }));
      expect(neither.json.details.causes).toEqual([
        expect.objectContaining({
          field: "spec",
          message: expect.stringContaining("Found none valid alternatives"),
        }),
      ]);
      const wrong = await call("POST", GADGETS, gadget("wrong", { mode: "c", ratio: 0, port: true }));
      expect(wrong.status).toBe(422);
      const fields = (wrong.json.details.causes as Json[]).map((c) => `${c.field} ${c.reason}`).sort();
      expect(fields).toEqual([
        "spec.mode FieldValueNotSupported",
        "spec.port FieldValueTypeInvalid",
        "spec.ratio FieldValueInvalid",
      ]);
      expect(wrong.json.message).toContain('spec.mode: Unsupported value: "c": supported values: "a", "b"');
      expect(wrong.json.message).toContain(
        "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
      );
    });
  });

  describe("CRD removal", () => {
    it("deletes every instance, then stops serving the resource", async () => {
      const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.fixtures.stepwise.dev";
      expect(
        (await call("GET", "/apis/fixtures.stepwise.dev/v1/namespaces/default/gadgets")).json.items.length,
      ).toBeGreaterThan(0);
      const deleting = await call("DELETE", path);
      expect(deleting.json.metadata.finalizers).toEqual(["customresourcecleanup.apiextensions.k8s.io"]);
      for (let i = 0; i < 100 && (await call("GET", path)).status === 200; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect((await call("GET", path)).status).toBe(404);
      expect((await call("GET", "/apis/fixtures.stepwise.dev/v1/namespaces/default/gadgets")).status).toBe(
        404,
      );
      const discovery = (await call("GET", "/apis/fixtures.stepwise.dev/v1alpha1")).json.resources as Json[];
      expect(discovery.map((r) => r.name)).toEqual(["canaries", "canaries/status"]);
    });
  });

  describe("update", () => {
    it("requires a resourceVersion for custom resources but not for configmaps", async () => {
      await call("POST", CANARIES, canary("upd"));
      const unconditional = await call("PUT", `${CANARIES}/upd`, canary("upd", { service: { name: "x" } }));
      expect(unconditional.status).toBe(422);
      expect(unconditional.json.message).toBe(
        'Canary.fixtures.stepwise.dev "upd" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      );
      await call("POST", CONFIGMAPS, { metadata: { name: "upd" }, data: { a: "1" } });
      const cm = await call("PUT", `${CONFIGMAPS}/upd`, { metadata: { name: "upd" }, data: { a: "2" } });
      expect(cm.status).toBe(200);
      expect(cm.json.data).toEqual({ a: "2" });
      const missing = await call("PUT", `${CONFIGMAPS}/absent`, { metadata: { name: "absent" } });
      expect(missing.status).toBe(404);
    });

    it("does not write (or bump resourceVersion) when nothing changes", async () => {
      const before = await call("GET", `${CONFIGMAPS}/upd`);
      const same = await call("PUT", `${CONFIGMAPS}/upd`, before.json);
      expect(same.json.metadata.resourceVersion).toBe(before.json.metadata.resourceVersion);
      const patched = await call("PATCH", `${CONFIGMAPS}/upd`, { data: { a: "2" } }, MERGE);
      expect(patched.json.metadata.resourceVersion).toBe(before.json.metadata.resourceVersion);
    });

    it("writes only status through /status", async () => {
      const current = (await call("GET", `${CANARIES}/upd`)).json;
      const put = await call("PUT", `${CANARIES}/upd/status`, {
        ...current,
        spec: { service: { name: "ignored" } },
        status: { phase: "Ready" },
      });
      expect(put.status).toBe(200);
      expect(put.json.status).toEqual({ phase: "Ready" });
      expect(put.json.spec.service.name).toBe("upd");
      expect(put.json.metadata.generation).toBe(current.metadata.generation);
      expect(put.json.metadata.managedFields.some((m: Json) => m.subresource === "status")).toBe(true);
    });
  });

  describe("dryRun=All", () => {
    it("runs every write without persisting it", async () => {
      const rv = h.api.resourceVersion();
      const created = await call("POST", `${CONFIGMAPS}?dryRun=All`, {
        metadata: { name: "dry" },
        data: { a: "1" },
      });
      expect(created.status).toBe(201);
      expect(created.json.metadata.uid).toBeDefined();
      expect((await call("GET", `${CONFIGMAPS}/dry`)).status).toBe(404);
      const patched = await call("PATCH", `${CONFIGMAPS}/upd?dryRun=All`, { data: { a: "dry" } }, MERGE);
      expect(patched.json.data).toEqual({ a: "dry" });
      const updated = await call("PUT", `${CONFIGMAPS}/upd?dryRun=All`, {
        metadata: { name: "upd" },
        data: { a: "dry" },
      });
      expect(updated.json.data).toEqual({ a: "dry" });
      const deleted = await call("DELETE", `${CONFIGMAPS}/upd?dryRun=All`);
      expect(deleted.status).toBe(200);
      expect((await call("GET", `${CONFIGMAPS}/upd`)).json.data).toEqual({ a: "2" });
      expect(h.api.resourceVersion()).toBe(rv);
      const invalid = await call("POST", `${CONFIGMAPS}?dryRun=Some`, { metadata: { name: "dry" } });
      expect(invalid.status).toBe(422);
    });
  });

  describe("patch", () => {
    it("answers 415 for strategic merge on custom resources", async () => {
      const response = await call(
        "PATCH",
        `${CANARIES}/upd`,
        { spec: {} },
        { "Content-Type": "application/strategic-merge-patch+json" },
      );
      expect(response.status).toBe(415);
      expect(response.json).toMatchObject({
        reason: "UnsupportedMediaType",
        message:
          "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
      });
    });

    it("merges containers by name in strategic merge patches of deployments", async () => {
      await call(
        "POST",
        DEPLOYMENTS,
        deployment("smp", [
          { name: "app", image: "app:1", env: [{ name: "A", value: "1" }] },
          { name: "sidecar", image: "side:1" },
        ]),
      );
      const patched = await call(
        "PATCH",
        `${DEPLOYMENTS}/smp`,
        {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: "app", image: "app:2", env: [{ name: "B", value: "2" }] },
                  { name: "sidecar", $patch: "delete" },
                ],
              },
            },
          },
        },
        { "Content-Type": "application/strategic-merge-patch+json" },
      );
      expect(patched.status).toBe(200);
      const containers = patched.json.spec.template.spec.containers;
      expect(containers.map((c: Json) => [c.name, c.image])).toEqual([["app", "app:2"]]);
      expect(containers[0].env).toEqual([
        { name: "A", value: "1" },
        { name: "B", value: "2" },
      ]);
      expect(patched.json.metadata.generation).toBe(2);
    });

    it("reports unknown fields per fieldValidation", async () => {
      const warn = await call("PATCH", `${CANARIES}/upd`, { spec: { bogus: 1 } }, MERGE);
      expect(warn.status).toBe(200);
      expect(warn.headers.get("warning")).toBe('299 - "unknown field \\"spec.bogus\\""');
      expect(warn.json.spec.bogus).toBeUndefined();
      const ignore = await call(
        "PATCH",
        `${CANARIES}/upd?fieldValidation=Ignore`,
        { spec: { bogus: 1 } },
        MERGE,
      );
      expect(ignore.headers.get("warning")).toBeNull();
      const strict = await call(
        "PATCH",
        `${CANARIES}/upd?fieldValidation=Strict`,
        { spec: { bogus: 1 } },
        MERGE,
      );
      expect(strict.status).toBe(422);
      expect(strict.json.details.causes[0].field).toBe("patch");
      expect(strict.json.message).toContain('strict decoding error: unknown field "spec.bogus"');
      const duplicate = await call(
        "POST",
        `${CONFIGMAPS}?fieldValidation=Strict`,
        '{"metadata":{"name":"dup"},"data":{"a":"1","a":"2"}}',
      );
      expect(duplicate.status).toBe(400);
      expect(duplicate.json.message).toContain('duplicate field "data.a"');
    });

    it("answers a stale resourceVersion inside a patch with 409", async () => {
      const response = await call(
        "PATCH",
        `${CANARIES}/upd`,
        { metadata: { resourceVersion: "1" }, spec: { weight: 3 } },
        MERGE,
      );
      expect(response.status).toBe(409);
      expect(response.json.reason).toBe("Conflict");
    });
  });

  describe("server-side apply", () => {
    it("tracks managed fields per manager and drops fields a manager stops applying", async () => {
      const first = await call(
        "PATCH",
        `${CANARIES}/applied?fieldManager=ci`,
        { ...canary("applied"), spec: { service: { name: "a" }, weight: 5, selector: { app: "a" } } },
        APPLY,
      );
      expect(first.status).toBe(201);
      expect(first.json.metadata.managedFields).toEqual([
        expect.objectContaining({
          manager: "ci",
          operation: "Apply",
          fieldsV1: {
            "f:spec": { "f:selector": { "f:app": {} }, "f:service": { "f:name": {} }, "f:weight": {} },
          },
        }),
      ]);
      await call(
        "PATCH",
        `${CANARIES}/applied?fieldManager=editor`,
        { spec: { steps: [{ setWeight: 10 }] } },
        MERGE,
      );
      const second = await call(
        "PATCH",
        `${CANARIES}/applied?fieldManager=ci`,
        { ...canary("applied"), spec: { service: { name: "a" }, weight: 5 } },
        APPLY,
      );
      expect(second.json.spec.selector).toBeUndefined();
      expect(second.json.spec.steps).toEqual([{ setWeight: 10 }]);
      expect(second.json.metadata.managedFields.map((m: Json) => `${m.manager}/${m.operation}`)).toEqual([
        "ci/Apply",
        "editor/Update",
      ]);

      const conflict = await call(
        "PATCH",
        `${CANARIES}/applied?fieldManager=other`,
        { ...canary("applied"), spec: { service: { name: "a" }, steps: [] } },
        APPLY,
      );
      expect(conflict.status).toBe(409);
      expect(conflict.json.message).toMatch(
        /^Apply failed with 1 conflict: conflict with "editor" using fixtures.stepwise.dev\/v1alpha1 at \S+Z: \.spec\.steps$/,
      );
      expect(conflict.json.details.causes).toEqual([
        {
          reason: "FieldManagerConflict",
          message: expect.stringMatching(/^conflict with "editor"/),
          field: ".spec.steps",
        },
      ]);
    });

    it("requires a field manager and a schema-known configuration", async () => {
      const noManager = await call("PATCH", `${CANARIES}/applied`, canary("applied"), APPLY);
      expect(noManager.status).toBe(422);
      expect(noManager.json.message).toBe(
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
      const unknown = await call(
        "PATCH",
        `${CANARIES}/applied?fieldManager=ci`,
        { ...canary("applied"), spec: { service: { name: "a" }, nope: 1 } },
        APPLY,
      );
      expect(unknown.status).toBe(500);
      expect(unknown.json.message).toBe(
        "failed to create typed patch object (fixtures.stepwise.dev/v1alpha1, Kind=Canary): .spec.nope: field not declared in schema",
      );
    });
  });

  describe("delete", () => {
    it("answers a Status for custom resources and the object for pods", async () => {
      await call("POST", CANARIES, canary("gone"));
      const status = await call("DELETE", `${CANARIES}/gone`);
      expect(status.json).toMatchObject({
        kind: "Status",
        status: "Success",
        details: { name: "gone", group: "fixtures.stepwise.dev", kind: "canaries" },
      });
      await call("POST", "/api/v1/namespaces/default/pods", {
        metadata: { name: "p" },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      });
      const pod = await call("DELETE", "/api/v1/namespaces/default/pods/p");
      expect(pod.json).toMatchObject({ kind: "Pod", metadata: { name: "p" }, status: { phase: "Pending" } });
    });

    it("deletes a labelled collection", async () => {
      for (const name of ["dc-1", "dc-2", "dc-keep"]) {
        await call("POST", CONFIGMAPS, {
          metadata: { name, labels: { batch: name === "dc-keep" ? "keep" : "drop" } },
        });
      }
      const response = await call("DELETE", `${CONFIGMAPS}?labelSelector=batch%3Ddrop`);
      expect(response.json.items.map((i: Json) => i.metadata.name)).toEqual(["dc-1", "dc-2"]);
      const left = await call("GET", `${CONFIGMAPS}?labelSelector=batch`);
      expect(left.json.items.map((i: Json) => i.metadata.name)).toEqual(["dc-keep"]);
    });
  });

  describe("lists", () => {
    it("filters by field selector and reads an exact past resourceVersion", async () => {
      const named = await call("GET", `${CONFIGMAPS}?fieldSelector=metadata.name%3Ddc-keep`);
      expect(named.json.items.map((i: Json) => i.metadata.name)).toEqual(["dc-keep"]);
      const before = named.json.metadata.resourceVersion;
      await call("DELETE", `${CONFIGMAPS}/dc-keep`);
      const past = await call(
        "GET",
        `${CONFIGMAPS}?fieldSelector=metadata.name%3Ddc-keep&resourceVersion=${before}&resourceVersionMatch=Exact`,
      );
      expect(past.json.items.map((i: Json) => i.metadata.name)).toEqual(["dc-keep"]);
      expect(past.json.metadata.resourceVersion).toBe(before);
      const bad = await call("GET", `${CONFIGMAPS}?labelSelector=a%20in%20`);
      expect(bad.status).toBe(400);
    });
  });

  describe("subresources and other kinds", () => {
    it("scales a deployment through /scale", async () => {
      const scale = await call("GET", `${DEPLOYMENTS}/smp/scale`);
      expect(scale.json).toMatchObject({
        kind: "Scale",
        apiVersion: "autoscaling/v1",
        spec: { replicas: 1 },
      });
      const patched = await call("PATCH", `${DEPLOYMENTS}/smp/scale`, { spec: { replicas: 4 } }, MERGE);
      expect(patched.json.spec).toEqual({ replicas: 4 });
      expect((await call("GET", `${DEPLOYMENTS}/smp`)).json.spec.replicas).toBe(4);
    });

    it("serves one Event through both events APIs", async () => {
      await call("POST", "/api/v1/namespaces/default/events", {
        metadata: { name: "ev1" },
        involvedObject: { kind: "Canary", name: "upd", namespace: "default" },
        reason: "Promoted",
        message: "weight 50",
        type: "Normal",
      });
      const converted = await call("GET", "/apis/events.k8s.io/v1/namespaces/default/events/ev1");
      expect(converted.json).toMatchObject({
        apiVersion: "events.k8s.io/v1",
        note: "weight 50",
        regarding: { kind: "Canary", name: "upd" },
        reason: "Promoted",
      });
      const byReason = await call(
        "GET",
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dupd,reason%3DPromoted",
      );
      expect(byReason.json.items).toHaveLength(1);
    });

    it("keeps leases and secrets like the apiserver does", async () => {
      const lease = await call("PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/leader", {
        metadata: { name: "leader" },
        spec: { holderIdentity: "a", leaseDurationSeconds: 15 },
      });
      expect(lease.status).toBe(201);
      const secret = await call("POST", "/api/v1/namespaces/default/secrets", {
        metadata: { name: "s" },
        stringData: { token: "abc" },
      });
      expect(secret.json).toMatchObject({
        type: "Opaque",
        data: { token: Buffer.from("abc").toString("base64") },
      });
      expect(secret.json.stringData).toBeUndefined();
    });
  });

  describe("discovery and OpenAPI", () => {
    it("reports Kubernetes 1.32 and serves legacy discovery", async () => {
      expect((await call("GET", "/version")).json).toMatchObject({
        major: "1",
        minor: "32",
        gitVersion: expect.stringMatching(/^v1\.32\./),
      });
      const groups = (await call("GET", "/apis")).json.groups as Json[];
      expect(groups.find((g) => g.name === "split.smi-spec.io")?.preferredVersion.version).toBe("v1alpha4");
      expect(
        groups.find((g) => g.name === "networking.istio.io")?.versions.map((v: Json) => v.version),
      ).toEqual(["v1", "v1beta1", "v1alpha3"]);
      const resources = (await call("GET", "/apis/fixtures.stepwise.dev/v1alpha1")).json.resources as Json[];
      expect(resources.map((r) => r.name)).toEqual(["canaries", "canaries/status"]);
      expect(resources[0]).toMatchObject({
        kind: "Canary",
        namespaced: true,
        shortNames: ["cny"],
        categories: ["stepwise"],
      });
    });

    it("publishes one OpenAPI v2 document with every served kind, as JSON and as kubectl's protobuf", async () => {
      const v2 = await call("GET", "/openapi/v2");
      expect(v2.status).toBe(200);
      expect(v2.json).toMatchObject({ swagger: "2.0", info: { title: "Kubernetes" } });
      const canary = v2.json.definitions["dev.stepwise.fixtures.v1alpha1.Canary"];
      expect(canary["x-kubernetes-group-version-kind"]).toEqual([
        { group: "fixtures.stepwise.dev", version: "v1alpha1", kind: "Canary" },
      ]);
      expect(canary.properties.metadata.allOf).toEqual([
        { $ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" },
      ]);
      expect(v2.json.definitions["io.k8s.api.apps.v1.Deployment"]).toBeDefined();
      const pb = await fetch(`${h.api.url}/openapi/v2`, {
        headers: {
          Authorization: `Bearer ${h.api.token}`,
          Accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        },
      });
      expect(pb.headers.get("content-type")).toBe(
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
      );
      // gnostic Document: field 1 swagger "2.0", then field 2 info with title "Kubernetes"
      const bytes = Buffer.from(await pb.arrayBuffer());
      expect(bytes.subarray(0, 5)).toEqual(Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30]));
      expect(bytes.subarray(7, 19).toString()).toBe("\n\nKubernetes");
    });

    it("publishes OpenAPI v3 documents kubectl can verify fieldValidation against", async () => {
      const root = (await call("GET", "/openapi/v3")).json.paths as Json;
      const url = root["apis/fixtures.stepwise.dev/v1alpha1"].serverRelativeURL as string;
      const doc = (await call("GET", url)).json;
      const patch =
        doc.paths["/apis/fixtures.stepwise.dev/v1alpha1/namespaces/{namespace}/canaries/{name}"].patch;
      expect(patch["x-kubernetes-group-version-kind"]).toEqual({
        group: "fixtures.stepwise.dev",
        version: "v1alpha1",
        kind: "Canary",
      });
      expect(patch.parameters.map((p: Json) => p.name)).toContain("fieldValidation");
      expect(
        doc.components.schemas["dev.stepwise.fixtures.v1alpha1.Canary"].properties.spec.required,
      ).toEqual(["service"]);
      const explained = await h.kubectlOk(["explain", "canaries.spec.service"]);
      expect(explained).toMatch(/FIELD: service <Object>/);
      expect(explained).toMatch(/port\s+<integer>/);
    });

    it("answers tables with default columns for compiled-in kinds", async () => {
      const table = await call("GET", "/api/v1/namespaces", undefined, {
        Accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
      });
      expect(table.headers.get("content-type")).toBe("application/json;as=Table;v=v1;g=meta.k8s.io");
      expect(table.json.columnDefinitions.map((c: Json) => c.name)).toEqual(["Name", "Status", "Age"]);
      expect(table.json.rows.find((r: Json) => r.cells[0] === "default").cells[1]).toBe("Active");
      expect(table.json.rows[0].object.kind).toBe("PartialObjectMetadata");
    });
  });

  describe("request log and faults", () => {
    it("records verb, resource, user agent, status and content type", async () => {
      h.api.requestLog.clear();
      await call(
        "PATCH",
        `${CONFIGMAPS}/dc-1?fieldManager=x`,
        { data: {} },
        { ...MERGE, "User-Agent": "stepwise-controller/0.1" },
      );
      expect(h.api.requestLog.all()).toEqual([
        expect.objectContaining({
          method: "PATCH",
          verb: "patch",
          resource: "configmaps",
          namespace: "default",
          name: "dc-1",
          userAgent: "stepwise-controller/0.1",
          status: 404,
          contentType: "application/merge-patch+json",
          query: { fieldManager: "x" },
        }),
      ]);
    });

    it("injects 429, 500 and 503 with Retry-After for matching requests only", async () => {
      h.api.faults.failNext(1, 429, {
        match: { verb: "list", resource: "configmaps" },
        retryAfterSeconds: 2,
      });
      h.api.faults.failNext(1, 503, { match: { verb: "get" } });
      h.api.faults.failNext(1, 500, { match: { resource: "secrets" } });
      expect((await call("GET", "/api/v1/namespaces/default/pods")).status).toBe(200);
      const throttled = await call("GET", CONFIGMAPS);
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get("retry-after")).toBe("2");
      expect(throttled.json).toMatchObject({ reason: "TooManyRequests", details: { retryAfterSeconds: 2 } });
      expect((await call("GET", CONFIGMAPS)).status).toBe(200);
      const unavailable = await call("GET", `${CANARIES}/upd`);
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers.get("retry-after")).toBe("1");
      expect((await call("GET", "/api/v1/namespaces/default/secrets")).json).toMatchObject({
        code: 500,
        reason: "InternalError",
      });
      expect((await call("GET", "/api/v1/namespaces/default/secrets")).status).toBe(200);
    });

    it("makes the next writes conflict and delays responses", async () => {
      h.api.faults.conflictNextWrites(2, { resource: "canaries" });
      const first = await call("PATCH", `${CANARIES}/upd`, { spec: { weight: 9 } }, MERGE);
      const second = await call("PATCH", `${CANARIES}/upd`, { spec: { weight: 9 } }, MERGE);
      const third = await call("PATCH", `${CANARIES}/upd`, { spec: { weight: 9 } }, MERGE);
      expect([first.status, second.status, third.status]).toEqual([409, 409, 200]);
      expect(first.json.message).toBe(
        'Operation cannot be fulfilled on canaries.fixtures.stepwise.dev "upd": the object has been modified; please apply your changes to the latest version and try again',
      );
      h.api.faults.delay(200, { match: { verb: "get" }, count: 1 });
      const started = Date.now();
      await call("GET", `${CANARIES}/upd`);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    });

    it("drops watch connections abruptly", async () => {
      const response = await fetch(
        `${h.api.url}${CONFIGMAPS}?watch=1&resourceVersion=${h.api.resourceVersion()}`,
      );
      const reading = response.text();
      for (let i = 0; i < 50 && h.api.watchCount() === 0; i++) await new Promise((r) => setTimeout(r, 10));
      h.api.faults.dropWatches();
      await expect(reading).rejects.toThrow();
      expect(h.api.watchCount()).toBe(0);
    });

    it("refuses a wrong bearer token", async () => {
      const response = await fetch(`${h.api.url}/api/v1/namespaces`, {
        headers: { Authorization: "Bearer wrong" },
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    });
  });
});
