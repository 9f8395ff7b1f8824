import { getPath } from "./json.ts";
import { badRequest } from "./status-errors.ts";
import type { KubeObject } from "./types.ts";

type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

/** A parsed selector: true when every requirement holds (an empty selector matches everything). */
export type Matcher = (obj: KubeObject) => boolean;

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/;

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function parseRequirement(text: string): Requirement {
  const fail = (why: string) => badRequest(`unable to parse requirement: ${why}`);
  const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(text);
  let req: Requirement;
  if (setMatch) {
    const values = setMatch[3]!.split(",").map((v) => v.trim());
    req = { key: setMatch[1]!, op: setMatch[2] as Operator, values: values.filter((v) => v !== "") };
  } else if (text.startsWith("!")) {
    req = { key: text.slice(1).trim(), op: "!", values: [] };
  } else {
    const m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(text);
    if (m) {
      const op: Operator = m[2] === "!=" ? "!=" : m[2] === ">" ? "gt" : m[2] === "<" ? "lt" : "=";
      req = { key: m[1]!, op, values: [m[3]!.trim()] };
      if ((op === "gt" || op === "lt") && !/^-?\d+$/.test(req.values[0]!)) {
        throw fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
      }
    } else if (/^\S+$/.test(text)) {
      req = { key: text, op: "exists", values: [] };
    } else {
      throw fail(`found '${text}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  if (!KEY.test(req.key))
    throw fail(
      `key: Invalid value: "${req.key}": name part must consist of alphanumeric characters, '-', '_' or '.'`,
    );
  return req;
}

function holds(req: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.op) {
    case "=":
      return has && value === req.values[0];
    case "!=":
      return !has || value !== req.values[0];
    case "in":
      return has && req.values.includes(value!);
    case "notin":
      return !has || !req.values.includes(value!);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
      return has && /^-?\d+$/.test(value!) && Number(value) > Number(req.values[0]);
    case "lt":
      return has && /^-?\d+$/.test(value!) && Number(value) < Number(req.values[0]);
  }
}

export function parseLabelSelector(text: string | undefined): Matcher {
  const reqs = splitTopLevel(text ?? "").map(parseRequirement);
  return (obj) => reqs.every((r) => holds(r, obj.metadata.labels ?? {}));
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
