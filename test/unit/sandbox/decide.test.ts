import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/analysis/random.ts";
import { chance, pickWeighted } from "../../../src/sandbox/mesh/choose.ts";
import { forwardHeaders } from "../../../src/sandbox/mesh/headers.ts";
import { parseServiceHost } from "../../../src/sandbox/mesh/hosts.ts";
import { fullRegex, matchCondition, matchString } from "../../../src/sandbox/mesh/match.ts";
import { NO_HEADER_OPS, type WeightedBackend } from "../../../src/sandbox/mesh/types.ts";
import { serviceTable } from "../../../src/sandbox/mesh/views/index.ts";
import { draw, NS, request, workload } from "./support.ts";

const backend = (service: string, weight: number): WeightedBackend => ({
  backend: { service, namespace: NS },
  weight,
  headers: NO_HEADER_OPS,
});

describe("pickWeighted", () => {
  it("never picks a zero weight, and picks nothing only when no weight is positive", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 }), { maxLength: 6 }), fc.integer(), (weights, seed) => {
        const backends = weights.map((w, i) => backend(`b${i}`, w));
        const picked = pickWeighted(backends, seededRandom(seed));
        if (weights.every((w) => w === 0)) return picked === undefined;
        return picked !== undefined && picked.weight > 0;
      }),
    );
  });

  it("does not draw for a single live backend", () => {
    const random = { next: () => Number.NaN };
    expect(pickWeighted([backend("a", 0), backend("b", 3)], random)?.backend.service).toBe("b");
  });
});

describe("chance", () => {
  it("is never at 0%, always at 100%, and near the percentage in between", () => {
    const random = seededRandom(9);
    expect(Array.from({ length: 100 }, () => chance(random, 0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 100 }, () => chance(random, 100)).every(Boolean)).toBe(true);
    const hits = Array.from({ length: 10_000 }, () => chance(random, 0.5)).filter(Boolean).length;
    expect(Math.abs(hits / 10_000 - 0.005)).toBeLessThan(0.015);
  });
});

describe("matching", () => {
  it("matches path prefixes element by element for the Gateway API, plainly for Istio", () => {
    expect(matchString({ kind: "pathPrefix", value: "/v1/" }, "/v1")).toBe(true);
    expect(matchString({ kind: "pathPrefix", value: "/v1" }, "/v1/x")).toBe(true);
    expect(matchString({ kind: "pathPrefix", value: "/v1" }, "/v1x")).toBe(false);
    expect(matchString({ kind: "pathPrefix", value: "/" }, "/anything")).toBe(true);
    expect(matchString({ kind: "prefix", value: "/v1" }, "/v1x")).toBe(true);
  });

  it("matches regular expressions against the whole value; an invalid one never matches", () => {
    expect(matchString({ kind: "regex", pattern: fullRegex("abc") }, "xabcx")).toBe(false);
    expect(matchString({ kind: "regex", pattern: fullRegex(".*abc.*") }, "xabcx")).toBe(true);
    expect(matchString({ kind: "regex", pattern: fullRegex("(") }, "(")).toBe(false);
  });

  it("requires every condition of a block, and the caller's labels and namespace", () => {
    const condition = {
      headers: [{ name: "x-a", match: { kind: "exact" as const, value: "1" } }],
      query: [],
      sourceLabels: { app: "podinfo" },
      sourceNamespace: NS,
    };
    const caller = workload("podinfo", { app: "podinfo", version: "2" });
    expect(matchCondition(condition, request({ headers: { "x-a": "1" }, source: caller }))).toBe(true);
    expect(matchCondition(condition, request({ headers: { "x-a": "1" } }))).toBe(false);
    expect(matchCondition(condition, request({ source: caller }))).toBe(false);
  });
});

describe("service hosts", () => {
  it("reads short names, namespaced names and FQDNs, and rejects non-service hosts", () => {
    expect(parseServiceHost("podinfo", NS)).toEqual({ name: "podinfo", namespace: NS });
    expect(parseServiceHost("podinfo:9898", NS)).toEqual({ name: "podinfo", namespace: NS });
    expect(parseServiceHost("podinfo.other", NS)).toEqual({ name: "podinfo", namespace: "other" });
    expect(parseServiceHost("Podinfo.shop.svc.cluster.local", "x")).toEqual({
      name: "podinfo",
      namespace: NS,
    });
    expect(parseServiceHost("*.example.com", NS)).toBeUndefined();
    expect(parseServiceHost("api.example.com", NS)).toBeUndefined();
    expect(parseServiceHost("127.0.0.1:8080", NS)).toBeUndefined();
  });

  it("routes a service without route objects to itself", () => {
    expect(draw(serviceTable({ name: "payments", namespace: NS }), 3)).toEqual({ payments: 3 });
  });
});

describe("forwarded headers", () => {
  it("drops hop-by-hop and source headers, applies set, add and remove in order, and sets the authority", () => {
    const out = forwardHeaders(
      {
        connection: "keep-alive",
        "x-sandbox-source-workload": "w",
        "x-keep": "1",
        "x-drop": "1",
        host: "old",
      },
      [
        { set: [["x-set", "a"]], add: [["x-keep", "2"]], remove: [] },
        { set: [], add: [], remove: ["x-drop"] },
      ],
      "podinfo-shadow",
    );
    expect(out).toEqual({ "x-keep": ["1", "2"], "x-set": "a", host: "podinfo-shadow" });
  });
});
