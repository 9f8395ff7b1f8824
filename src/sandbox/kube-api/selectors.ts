import { LabelSelectorError, labelMatcher, splitTopLevel } from "../../kube/label-selector.ts";
import { getPath } from "./json.ts";
import { badRequest } from "./status-errors.ts";
import type { KubeObject } from "./types.ts";

/** A parsed selector: true when every requirement holds (an empty selector matches everything). */
export type Matcher = (obj: KubeObject) => boolean;

export function parseLabelSelector(text: string | undefined): Matcher {
  let matches: ReturnType<typeof labelMatcher>;
  try {
    matches = labelMatcher(text);
  } catch (error) {
    if (error instanceof LabelSelectorError) throw badRequest(error.message);
    throw error;
  }
  return (obj) => matches(obj.metadata.labels);
}

/**
 * Field selectors: metadata.name and metadata.namespace everywhere, plus the few extra fields a
 * resource declares (for example `status.phase` on pods).
 */
export function parseFieldSelector(text: string | undefined, extraFields: readonly string[] = []): Matcher {
  const supported = new Set(["metadata.name", "metadata.namespace", ...extraFields]);
  const reqs = splitTopLevel(text ?? "").map((part) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1]!.trim();
    if (!supported.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { path: field.split("."), negate: m[2] === "!=", value: m[3]!.trim() };
  });
  return (obj) =>
    reqs.every((r) => {
      const raw = getPath(obj, r.path);
      const actual = raw === undefined || raw === null ? "" : String(raw);
      return r.negate ? actual !== r.value : actual === r.value;
    });
}

/** A label selector and a field selector together, as list and watch apply them. */
export function both(a: Matcher, b: Matcher): Matcher {
  return (obj) => a(obj) && b(obj);
}
