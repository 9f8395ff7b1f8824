import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderCrdFiles, stepwiseCrds } from "../../../src/api/crds.ts";

const crdDir = join(import.meta.dirname, "../../../manifests/crds");

/** Every schema node that breaks the structural-schema rules of apiextensions.k8s.io/v1, by JSON path. */
function nonStructural(node: Record<string, unknown>, path = ""): string[] {
  const problems: string[] = [];
  const typed =
    typeof node.type === "string" ||
    node["x-kubernetes-int-or-string"] ||
    node["x-kubernetes-preserve-unknown-fields"];
  if (!typed) problems.push(`${path}: no type`);
  for (const banned of ["anyOf", "allOf", "$ref", "$schema", "const", "propertyNames"]) {
    if (banned in node) problems.push(`${path}: ${banned}`);
  }
  if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
  if (node.properties && node.additionalProperties)
    problems.push(`${path}: properties with additionalProperties`);
  for (const [name, child] of Object.entries(
    (node.properties as Record<string, Record<string, unknown>>) ?? {},
  )) {
    problems.push(...nonStructural(child, `${path}.${name}`));
  }
  if (node.items) problems.push(...nonStructural(node.items as Record<string, unknown>, `${path}[]`));
  if (typeof node.additionalProperties === "object") {
    problems.push(...nonStructural(node.additionalProperties as Record<string, unknown>, `${path}{}`));
  }
  return problems;
}

describe("generated CRDs", () => {
  it("match the checked-in manifests/crds files (run npm run gen:crds after changing src/api)", () => {
    for (const [name, text] of Object.entries(renderCrdFiles())) {
      expect(readFileSync(join(crdDir, name), "utf8"), name).toBe(text);
    }
  });

  it("are structural, with a status subresource, short names and printer columns", () => {
    const { "rollouts.stepwise.dev.yaml": rollout } = stepwiseCrds();
    const version = rollout.spec.versions[0]!;
    expect(nonStructural(version.schema.openAPIV3Schema)).toEqual([]);
    expect(version.subresources).toEqual({ status: {} });
    expect(rollout.spec.names.shortNames).toEqual(["sro"]);
    expect(version.additionalPrinterColumns.map((c) => c.name)).toEqual([
      "Phase",
      "Step",
      "Weight",
      "Reason",
      "Age",
    ]);
    const profile = stepwiseCrds()["sloprofiles.stepwise.dev.yaml"].spec.versions[0]!;
    expect(nonStructural(profile.schema.openAPIV3Schema)).toEqual([]);
  });

  it("carry the zod rules a server can check: bounds, enums, patterns and one-of groups", () => {
    const schema = stepwiseCrds()["rollouts.stepwise.dev.yaml"].spec.versions[0]!.schema
      .openAPIV3Schema as Record<
      string,
      // biome-ignore lint/suspicious/noExplicitAny: walking a JSON schema
      any
    >;
    const step = schema.properties.spec.properties.strategy.properties.canary.properties.steps.items;
    expect(step.properties.setWeight).toMatchObject({
      type: "number",
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 100,
    });
    expect(step.oneOf).toEqual([
      { required: ["setWeight"] },
      { required: ["pause"] },
      { required: ["analysis"] },
      { required: ["chaos"] },
    ]);
    expect(schema.properties.spec.properties.service.properties.targetPort).toEqual({
      "x-kubernetes-int-or-string": true,
    });
    expect(schema.properties.spec.properties.analysis.properties.interval.pattern).toBe(
      "^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$",
    );
  });
});
