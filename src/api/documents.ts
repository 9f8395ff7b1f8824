import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { API_GROUP } from "./common.ts";
import type { FieldError } from "./errors.ts";
import { parseRollout, type Rollout } from "./rollout.ts";
import { parseSLOProfile, type SLOProfile } from "./slo-profile.ts";

/** A problem found in a file, with the line it is on (1-based). */
export interface DocumentError extends FieldError {
  line: number;
}

export type ApiObject = Rollout | SLOProfile;

/** A document of a kind Stepwise does not define (Deployment, Service, VirtualService, ...), as parsed. */
export interface OtherDocument {
  apiVersion?: string;
  kind: string;
  name?: string;
  namespace?: string;
  /** The whole document, for checks that read it (the route objects a Rollout names). */
  value: Record<string, unknown>;
}

export interface DocumentResult {
  /** The line where the document starts. */
  line: number;
  object?: ApiObject;
  /** Set instead of `object` for a document of another kind when other kinds are skipped. */
  other?: OtherDocument;
  errors: DocumentError[];
  /** The line of a field (`spec.traffic.routes[0]`), or of the deepest part of its path the document has. */
  lineOf?: (path: string) => number;
}

export interface ParseOptions {
  /**
   * What a document of a kind Stepwise does not define is: an error (the default, for files meant to hold
   * only Stepwise objects), or skipped and returned as `other` (for a whole app's manifests, as lint reads
   * them). A document in the stepwise.dev group with an unknown kind is an error either way.
   */
  otherKinds?: "error" | "skip";
}

/**
 * What a manifest may ask of the parser, so hostile input (an alias bomb, deep nesting, a huge or binary
 * file) ends as one error instead of exhausting memory or the stack. A Stepwise object nests about a
 * dozen levels and Kubernetes stores objects of at most 1.5 MiB, so real manifests stay far below.
 */
export const LIMITS = {
  /** Bytes per file. */
  maxBytes: 2 * 1024 * 1024,
  /** Nodes an alias may stand for in total (the yaml library's maxAliasCount). */
  maxAliasCount: 100,
  /** Levels of maps and sequences inside each other. */
  maxDepth: 64,
} as const;

const TOO_DEEP = `nested more than ${LIMITS.maxDepth} levels deep`;

/** A manifest file's bytes as text, or why they are not a YAML text (with the line, where there is one). */
export type ManifestText = { ok: true; text: string } | { ok: false; message: string; line?: number };

/** The line (1-based) of byte `offset`. */
function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** The offset of the first byte that does not start or continue a UTF-8 sequence, or -1 (for the line only). */
function firstNonUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i]!;
    const length =
      lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/**
 * Checks a file's bytes before parsing: not too large, not empty, UTF-8 without NUL or other control
 * characters YAML does not allow (so a binary file is named as one, not as a page of syntax errors).
 */
export function decodeManifest(bytes: Uint8Array): ManifestText {
  if (bytes.length > LIMITS.maxBytes) {
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    return {
      ok: false,
      message: `is ${mib(bytes.length)}; lint reads files of at most ${mib(LIMITS.maxBytes)} (Kubernetes stores objects of at most 1.5 MiB)`,
    };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const bad = firstNonUtf8(bytes);
    return {
      ok: false,
      message: "is not UTF-8 text (a binary file?)",
      ...(bad >= 0 ? { line: lineOfByte(bytes, bad) } : {}),
    };
  }
  // YAML allows tab, line feed and carriage return among the C0 controls, and no DEL
  const control = bytes.findIndex((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f);
  if (control >= 0) {
    const code = bytes[control]!.toString(16).padStart(2, "0");
    return {
      ok: false,
      message: `holds the control character 0x${code}, which YAML does not allow (a binary file?)`,
      line: lineOfByte(bytes, control),
    };
  }
  if (text.trim() === "") return { ok: false, message: "is empty; expected a Rollout or SLOProfile" };
  return { ok: true, text };
}

/** The start offset of the first map or sequence nested deeper than LIMITS.maxDepth, walked without recursion. */
function tooDeep(root: Node | null): number | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (isMap(node) || isSeq(node)) {
      if (depth >= LIMITS.maxDepth) return node.range?.[0] ?? 0;
      for (const item of node.items) {
        if (isPair(item)) {
          stack.push({ node: item.key, depth: depth + 1 });
          stack.push({ node: item.value, depth: depth + 1 });
        } else stack.push({ node: item, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** The start offset of the document's first alias (`*name`). */
function firstAlias(root: Node | null): number | undefined {
  const stack: unknown[] = [root];
  let first: number | undefined;
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) {
      const offset = node.range?.[0];
      if (offset !== undefined && (first === undefined || offset < first)) first = offset;
    } else if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) stack.push(item.key, item.value);
        else stack.push(item);
      }
    }
  }
  return first;
}

/** yaml reports the stack overflow of its own recursion as an error; it only happens past LIMITS.maxDepth. */
const isStackOverflow = (error: unknown) =>
  error instanceof RangeError || /Maximum call stack size exceeded/.test(String((error as Error)?.message));

/**
 * Kinds of other API groups that share a name with ours: an Argo Rollouts `Rollout` next to a Stepwise one is
 * another kind, not a Stepwise Rollout with a wrong apiVersion.
 */
const NAMESAKE_GROUPS = new Set(["argoproj.io"]);

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

/** yaml's documents of a text, or undefined when its parser ran out of stack (nesting past LIMITS.maxDepth). */
function parseAll(text: string, lineCounter: LineCounter) {
  try {
    return parseAllDocuments(text, { lineCounter, uniqueKeys: true });
  } catch (error) {
    if (isStackOverflow(error)) return undefined;
    throw error;
  }
}

/** The API group of an apiVersion (`networking.istio.io/v1` -> `networking.istio.io`, `v1` -> ""). */
const groupOf = (apiVersion: unknown) =>
  typeof apiVersion === "string" && apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";

/**
 * A document of another kind, or undefined when it is (or claims to be) Stepwise's: a kind we parse whose
 * apiVersion is ours, missing or mistyped, or any kind in our API group.
 */
function otherDocument(value: Record<string, unknown>, kind: string): OtherDocument | undefined {
  const group = groupOf(value.apiVersion);
  if (group === API_GROUP || (PARSERS[kind] && !NAMESAKE_GROUPS.has(group))) return undefined;
  const metadata = value.metadata !== null && typeof value.metadata === "object" ? value.metadata : {};
  const text = (field: string) => {
    const v = (metadata as Record<string, unknown>)[field];
    return typeof v === "string" ? v : undefined;
  };
  const other: OtherDocument = { kind, value };
  if (typeof value.apiVersion === "string") other.apiVersion = value.apiVersion;
  const name = text("name");
  if (name !== undefined) other.name = name;
  const namespace = text("namespace");
  if (namespace !== undefined) other.namespace = namespace;
  return other;
}

/**
 * Parses every document of a YAML text as a Stepwise object. Each error carries its line, so a person can
 * find it; unknown kinds are errors unless `options.otherKinds` skips them. A YAML syntax error is reported
 * once per document (the first: later ones mostly follow from it), and input beyond LIMITS is one error,
 * never an exception.
 */
export function parseDocuments(text: string, options: ParseOptions = {}): DocumentResult[] {
  const lines = new LineCounter();
  const results: DocumentResult[] = [];
  const documents = parseAll(text, lines);
  if (!documents) return [{ line: 1, errors: [{ path: "(yaml)", message: TOO_DEEP, line: 1 }] }];
  for (const document of documents) {
    const start = document.contents?.range?.[0] ?? document.range[0];
    const line = lines.linePos(start).line;
    const lineAt = (offset: number | undefined) => (offset === undefined ? line : lines.linePos(offset).line);
    const syntax = document.errors[0];
    if (syntax) {
      const message = isStackOverflow(syntax)
        ? TOO_DEEP
        : syntax.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      results.push({ line, errors: [{ path: "(yaml)", message, line: lineAt(syntax.pos[0]) }] });
      continue;
    }
    const deep = tooDeep(document.contents);
    if (deep !== undefined) {
      results.push({ line, errors: [{ path: "(yaml)", message: TOO_DEEP, line: lineAt(deep) }] });
      continue;
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: LIMITS.maxAliasCount });
    } catch (error) {
      if (!(error instanceof ReferenceError)) throw error;
      // an alias bomb: a few lines of anchors whose aliases expand to billions of nodes
      const message = /Excessive alias count/.test(error.message)
        ? `its aliases stand for more than ${LIMITS.maxAliasCount} nodes (an alias bomb?); write the values out`
        : error.message;
      results.push({
        line,
        errors: [{ path: "(yaml)", message, line: lineAt(firstAlias(document.contents)) }],
      });
      continue;
    }
    if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing ---
    const kind =
      typeof value === "object" && !Array.isArray(value) ? (value as { kind?: unknown }).kind : undefined;
    const other =
      options.otherKinds === "skip" && typeof kind === "string" && kind !== ""
        ? otherDocument(value as Record<string, unknown>, kind)
        : undefined;
    if (other) {
      results.push({ line, other, errors: [] });
      continue;
    }
    const parse = typeof kind === "string" ? PARSERS[kind] : undefined;
    if (!parse) {
      const message =
        kind === undefined
          ? options.otherKinds === "skip"
            ? "has no kind; expected a Kubernetes object (Rollout and SLOProfile are checked, other kinds skipped)"
            : "has no kind; expected Rollout or SLOProfile"
          : `unknown kind ${JSON.stringify(kind)}; expected Rollout or SLOProfile`;
      results.push({
        line,
        errors: [{ path: "kind", message, line: lineAt(offsetOf(document.contents, ["kind"])) }],
      });
      continue;
    }
    const parsed = parse(value);
    const lineOf = (path: string) => lineAt(offsetOf(document.contents, splitPath(path)));
    if (parsed.ok) results.push({ line, object: parsed.value, errors: [], lineOf });
    else {
      const errors = parsed.errors.map((e) => ({ ...e, line: lineOf(e.path) }));
      results.push({ line, errors: errors.sort((a, b) => a.line - b.line) });
    }
  }
  return results;
}
