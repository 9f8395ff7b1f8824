import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import type { FieldError } from "./errors.ts";
import { parseRollout, type Rollout } from "./rollout.ts";
import { parseSLOProfile, type SLOProfile } from "./slo-profile.ts";

/** A problem found in a file, with the line it is on (1-based). */
export interface DocumentError extends FieldError {
  line: number;
}

export type ApiObject = Rollout | SLOProfile;

export interface DocumentResult {
  /** The line where the document starts. */
  line: number;
  object?: ApiObject;
  errors: DocumentError[];
}

const PARSERS: Record<
  string,
  (document: unknown) => ReturnType<typeof parseRollout | typeof parseSLOProfile>
> = {
  Rollout: parseRollout,
  SLOProfile: parseSLOProfile,
};

/** Splits a `path.to[3].field` back into the keys and indexes it was made from. */
function splitPath(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] === undefined ? m[1]! : Number(m[2])));
}

/** The start offset of the deepest node along `path` that exists in the YAML document. */
function offsetOf(root: Node | null, path: (string | number)[]): number | undefined {
  let node: unknown = root;
  let offset = (root as Node | null)?.range?.[0];
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number" && node.items[key]) {
      node = node.items[key];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

/**
 * Parses every document of a YAML text as a Stepwise object. Each error carries its line, so a person can
 * find it; unknown kinds are errors, not skipped.
 */
export function parseDocuments(text: string): DocumentResult[] {
  const lines = new LineCounter();
  const results: DocumentResult[] = [];
  for (const document of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })) {
    const start = document.contents?.range?.[0] ?? document.range[0];
    const line = lines.linePos(start).line;
    const lineAt = (offset: number | undefined) => (offset === undefined ? line : lines.linePos(offset).line);
    if (document.errors.length > 0) {
      const errors = document.errors.map((e) => ({
        path: "(yaml)",
        message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
        line: lineAt(e.pos[0]),
      }));
      results.push({ line, errors });
      continue;
    }
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing ---
    const kind =
      typeof value === "object" && !Array.isArray(value) ? (value as { kind?: unknown }).kind : undefined;
    const parse = typeof kind === "string" ? PARSERS[kind] : undefined;
    if (!parse) {
      const message =
        kind === undefined
          ? "has no kind; expected Rollout or SLOProfile"
          : `unknown kind ${JSON.stringify(kind)}; expected Rollout or SLOProfile`;
      results.push({
        line,
        errors: [{ path: "kind", message, line: lineAt(offsetOf(document.contents, ["kind"])) }],
      });
      continue;
    }
    const parsed = parse(value);
    if (parsed.ok) results.push({ line, object: parsed.value, errors: [] });
    else {
      const errors = parsed.errors.map((e) => ({
        ...e,
        line: lineAt(offsetOf(document.contents, splitPath(e.path))),
      }));
      results.push({ line, errors: errors.sort((a, b) => a.line - b.line) });
    }
  }
  return results;
}
