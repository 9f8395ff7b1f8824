/**
 * Generators of hostile manifest files for the lint tests: alias bombs, deep nesting, mutated manifests,
 * YAML-ish noise and binary bytes. Each yields the file's bytes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";

const encode = (text: string) => new TextEncoder().encode(text);

/** A valid Rollout and SLOProfile file to mutate. */
const VALID = readFileSync(join(import.meta.dirname, "../fixtures/lint/good/canary.yaml"), "utf8");

/** `levels` anchors, each a list of `breadth` aliases of the one before: breadth^levels nodes from a few lines. */
export function aliasBomb(breadth: number, levels: number): string {
  const lines = ["kind: Rollout", `l0: &l0 [${Array(breadth).fill('"lol"').join(", ")}]`];
  for (let level = 1; level <= levels; level++) {
    lines.push(
      `l${level}: &l${level} [${Array(breadth)
        .fill(`*l${level - 1}`)
        .join(", ")}]`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Maps or sequences `depth` levels inside each other, in flow style, block style or compact sequences. */
export function deepNesting(depth: number, style: "flow-seq" | "flow-map" | "compact-seq"): string {
  switch (style) {
    case "flow-seq":
      return `kind: Rollout\nspec: ${"[".repeat(depth)}1${"]".repeat(depth)}\n`;
    case "flow-map":
      return `kind: Rollout\nspec: ${"{a: ".repeat(depth)}1${"}".repeat(depth)}\n`;
    case "compact-seq":
      return `kind: Rollout\nspec:\n  ${"- ".repeat(depth)}1\n`;
  }
}

const YAMLISH = [..."[]{}:-?&*!|>'\"#%@`,\n\t ", "---", "...", "<<", "&a", "*a", "!!binary", "kind: Rollout"];

export const hostileYaml: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .record({ breadth: fc.integer({ min: 2, max: 12 }), levels: fc.integer({ min: 2, max: 12 }) })
    .map(({ breadth, levels }) => encode(aliasBomb(breadth, levels))),
  fc
    .record({
      depth: fc.integer({ min: 1, max: 20_000 }),
      style: fc.constantFrom("flow-seq" as const, "flow-map" as const, "compact-seq" as const),
    })
    .map(({ depth, style }) => encode(deepNesting(depth, style))),
  // a valid file with a few characters changed, inserted or cut
  fc
    .array(fc.record({ at: fc.nat(VALID.length), cut: fc.nat(8), insert: fc.constantFrom(...YAMLISH) }), {
      minLength: 1,
      maxLength: 6,
    })
    .map((edits) =>
      encode(
        edits.reduce((text, { at, cut, insert }) => text.slice(0, at) + insert + text.slice(at + cut), VALID),
      ),
    ),
  fc.array(fc.constantFrom(...YAMLISH), { maxLength: 200 }).map((parts) => encode(parts.join(""))),
  fc.string({ unit: "binary", maxLength: 300 }).map(encode),
  fc.uint8Array({ maxLength: 2_000 }),
);
