import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeManifest, LIMITS, parseDocuments } from "../../../src/api/documents.ts";
import { aliasBomb, deepNesting, hostileYaml } from "../../support/hostile-yaml.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** The single error of a one-document text. */
function onlyError(text: string) {
  const results = parseDocuments(text);
  expect(results).toHaveLength(1);
  expect(results[0]!.errors).toHaveLength(1);
  return results[0]!.errors[0]!;
}

describe("parseDocuments under hostile input", () => {
  it("an alias bomb is one error at the first alias, not an exception", () => {
    // 9^6 = 531441 "lol"s from 8 lines
    expect(onlyError(aliasBomb(9, 6))).toEqual({
      path: "(yaml)",
      message: `its aliases stand for more than ${LIMITS.maxAliasCount} nodes (an alias bomb?); write the values out`,
      line: 3,
    });
  });

  it("a few aliases are fine", () => {
    const results = parseDocuments("kind: Rollout\na: &a [1, 2]\nb: *a\n");
    expect(results[0]!.errors.map((e) => e.message)).not.toContainEqual(expect.stringMatching(/alias/));
  });

  it.each(["flow-seq", "flow-map", "compact-seq"] as const)(
    "10,000 levels of nesting (%s) are one error naming the limit and the line",
    (style) => {
      expect(onlyError(deepNesting(10_000, style))).toEqual({
        path: "(yaml)",
        message: `nested more than ${LIMITS.maxDepth} levels deep`,
        line: style === "compact-seq" ? 3 : 2,
      });
    },
  );

  it("nesting up to the limit is checked as usual; one level more is the depth error", () => {
    // the document's map is level 1, so N lists inside each other under spec make N + 1 levels
    const within = parseDocuments(deepNesting(LIMITS.maxDepth - 1, "flow-seq"));
    expect(within[0]!.errors.map((e) => e.message)).toContain("must be an object, not a list");
    expect(within[0]!.errors.map((e) => e.message).join("\n")).not.toMatch(/nested/);
    expect(onlyError(deepNesting(LIMITS.maxDepth, "flow-seq")).message).toMatch(/^nested more than/);
  });

  it("reports only the first YAML syntax error of a document", () => {
    const error = onlyError("kind: Rollout\nspec: [\n  a: {\n b: ]\n}}}\n");
    expect(error.path).toBe("(yaml)");
  });

  it("never throws, and every error is one line with a line number inside the file, other kinds skipped or not (fuzz)", () => {
    fc.assert(
      fc.property(hostileYaml, (bytes) => {
        const decoded = decodeManifest(bytes);
        if (!decoded.ok) {
          expect(decoded.message).not.toContain("\n");
          return;
        }
        const lineCount = decoded.text.split("\n").length;
        const results = [
          ...parseDocuments(decoded.text),
          ...parseDocuments(decoded.text, { otherKinds: "skip" }),
        ];
        for (const result of results) {
          for (const error of result.errors) {
            expect(error.message).not.toContain("\n");
            expect(error.message).not.toMatch(/Maximum call stack|resource exhaustion/);
            expect(Number.isInteger(error.line)).toBe(true);
            expect(error.line).toBeGreaterThanOrEqual(1);
            expect(error.line).toBeLessThanOrEqual(lineCount);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("parseDocuments with other kinds skipped (a whole app's files)", () => {
  const app = [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata: {name: podinfo, namespace: shop}",
    "---",
    "apiVersion: networking.istio.io/v1alpha3",
    "kind: VirtualService",
    "metadata: {name: podinfo}",
    "spec: {hosts: [podinfo]}",
    "---",
    "apiVersion: argoproj.io/v1alpha1",
    "kind: Rollout",
    "metadata: {name: podinfo}",
    "---",
    "apiVersion: stepwise.dev/v1alpha1",
    "kind: Rolout",
    "---",
    "kind: Rollout",
    "metadata: {name: podinfo}",
    "---",
    "metadata: {name: no-kind}",
  ].join("\n");

  it("returns other kinds as skipped documents with their name and namespace, Argo's Rollout among them", () => {
    const results = parseDocuments(app, { otherKinds: "skip" });
    expect(results.slice(0, 3).map((r) => ({ line: r.line, other: r.other, errors: r.errors }))).toEqual([
      {
        line: 1,
        other: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: "podinfo",
          namespace: "shop",
          value: {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "podinfo", namespace: "shop" },
          },
        },
        errors: [],
      },
      {
        line: 5,
        other: expect.objectContaining({
          kind: "VirtualService",
          name: "podinfo",
          value: expect.objectContaining({ spec: { hosts: ["podinfo"] } }),
        }),
        errors: [],
      },
      {
        line: 10,
        other: expect.objectContaining({ apiVersion: "argoproj.io/v1alpha1", kind: "Rollout" }),
        errors: [],
      },
    ]);
    expect(results[2]!.other).not.toHaveProperty("namespace");
  });

  it("still checks an unknown kind in our API group, a Rollout without apiVersion, and a document without kind", () => {
    const results = parseDocuments(app, { otherKinds: "skip" });
    expect(results.slice(3).map((r) => [r.other, r.errors[0]])).toEqual([
      [
        undefined,
        { path: "kind", line: 15, message: 'unknown kind "Rolout"; expected Rollout or SLOProfile' },
      ],
      [undefined, expect.objectContaining({ path: "apiVersion", line: 17 })],
      [
        undefined,
        {
          path: "kind",
          line: 20,
          message:
            "has no kind; expected a Kubernetes object (Rollout and SLOProfile are checked, other kinds skipped)",
        },
      ],
    ]);
  });

  it("without the option, another kind is an error as before", () => {
    const [deployment] = parseDocuments(app);
    expect(deployment).toEqual({
      line: 1,
      errors: [
        { path: "kind", line: 2, message: 'unknown kind "Deployment"; expected Rollout or SLOProfile' },
      ],
    });
  });

  it("gives a valid object's field lines, for checks made after parsing", () => {
    const text = readFileSync(join(import.meta.dirname, "../../fixtures/lint/app/rollout.yaml"), "utf8");
    const [rollout] = parseDocuments(text, { otherKinds: "skip" });
    expect(rollout!.object?.kind).toBe("Rollout");
    expect(rollout!.lineOf!("spec.traffic.routes[0]")).toBe(11);
    expect(rollout!.lineOf!("spec.traffic.routeRef")).toBe(10);
    // a field the document lacks: the line of the deepest part it has
    expect(rollout!.lineOf!("spec.traffic.stableService")).toBe(8);
  });
});

describe("decodeManifest", () => {
  it("refuses a file larger than the limit, saying how large it is", () => {
    const big = new Uint8Array(5 * 1024 * 1024).fill(0x61);
    expect(decodeManifest(big)).toEqual({
      ok: false,
      message:
        "is 5.0 MiB; lint reads files of at most 2.0 MiB (Kubernetes stores objects of at most 1.5 MiB)",
    });
  });

  it("calls an empty or blank file empty", () => {
    for (const text of ["", "  \n\n\t\n"]) {
      expect(decodeManifest(encode(text))).toEqual({
        ok: false,
        message: "is empty; expected a Rollout or SLOProfile",
      });
    }
  });

  it("names bytes that are not UTF-8, with their line", () => {
    const bytes = Uint8Array.from([...encode("kind: Rollout\nmetadata:\n  name: caf"), 0xe9, 0x0a]);
    expect(decodeManifest(bytes)).toEqual({
      ok: false,
      message: "is not UTF-8 text (a binary file?)",
      line: 3,
    });
  });

  it("names a control character YAML does not allow, with its line", () => {
    expect(decodeManifest(encode("kind: Rollout\n\u0000\u0001"))).toEqual({
      ok: false,
      message: "holds the control character 0x00, which YAML does not allow (a binary file?)",
      line: 2,
    });
  });

  it("passes tabs, CRLF and non-ASCII text through", () => {
    const text = "kind: Rollout\r\nmetadata:\r\n\tname: café\r\n";
    expect(decodeManifest(encode(text))).toEqual({ ok: true, text });
  });
});
