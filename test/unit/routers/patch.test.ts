import { describe, expect, it } from "vitest";
import { isStaleWrite, KubeConflictError, KubeInvalidError } from "../../../src/kube/client.ts";
import { PatchBuilder, pointer } from "../../../src/routers/patch.ts";
import { readRecord, recordKey, writeRecord } from "../../../src/routers/record.ts";

const object = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "x", resourceVersion: "7" },
  data: { list: [1, 2, 3], keep: "yes" },
};

describe("PatchBuilder", () => {
  it("tests the resourceVersion first and every value it replaces or removes", () => {
    const builder = new PatchBuilder(object);
    builder.set("/data/keep", "yes");
    expect(builder.changed).toBe(false);
    builder
      .set("/data/list/1", 20)
      .remove("/data/list/0")
      .insert("/data/list", "-", 4)
      .set("/data/new", { a: 1 });
    expect(builder.ops).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "test", path: "/data/list/1", value: 2 },
      { op: "replace", path: "/data/list/1", value: 20 },
      { op: "test", path: "/data/list/0", value: 1 },
      { op: "remove", path: "/data/list/0" },
      { op: "add", path: "/data/list/-", value: 4 },
      { op: "add", path: "/data/new", value: { a: 1 } },
    ]);
    expect(builder.document.data).toEqual({ list: [20, 3, 4], keep: "yes", new: { a: 1 } });
    expect(object.data.list).toEqual([1, 2, 3]);
  });

  it("escapes JSON pointer segments", () => {
    expect(pointer("metadata", "annotations", "traffic.stepwise.dev/checkout")).toBe(
      "/metadata/annotations/traffic.stepwise.dev~1checkout",
    );
    expect(pointer("a~b", 0)).toBe("/a~0b/0");
  });

  it("adds and removes its record annotation, and the annotations map when it was the only one", () => {
    const builder = new PatchBuilder(object);
    writeRecord(builder, "checkout", { canary: 5 });
    expect(builder.document.metadata).toMatchObject({
      annotations: { [recordKey("checkout")]: '{"canary":5}' },
    });
    expect(readRecord(builder.document, "checkout")).toEqual({ canary: 5 });
    writeRecord(builder, "checkout", undefined);
    expect(builder.document.metadata).toEqual(object.metadata);
  });
});

describe("stale writes", () => {
  it("are a 409 Conflict or a JSON patch the server could not apply", () => {
    const generic = {
      message: "the server rejected our request due to an error in our request",
      details: {},
    };
    expect(isStaleWrite(new KubeConflictError("PATCH", "/x", 409, "Conflict", "modified"))).toBe(true);
    expect(isStaleWrite(new KubeConflictError("POST", "/x", 409, "AlreadyExists", "exists"))).toBe(false);
    expect(isStaleWrite(new KubeInvalidError("PATCH", "/x", 422, "Invalid", generic.message, generic))).toBe(
      true,
    );
    const invalid = {
      message:
        'HTTPRoute.gateway.networking.k8s.io "x" is invalid: spec.rules: Too many: 17: must have at most 16 items',
      details: { causes: [{ field: "spec.rules", message: "Too many" }] },
    };
    expect(isStaleWrite(new KubeInvalidError("PATCH", "/x", 422, "Invalid", invalid.message, invalid))).toBe(
      false,
    );
    expect(isStaleWrite(new Error("boom"))).toBe(false);
  });
});
