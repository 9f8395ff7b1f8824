/**
 * Kubernetes label selectors (k8s.io/apimachinery/pkg/labels), as list and watch requests take them:
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`, comma-separated, all of
 * which must hold. The controller checks its shard selector with the same code the API emulator
 * filters with.
 */
export class LabelSelectorError extends Error {
  override name = "LabelSelectorError";
}

type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/;

export function splitTopLevel(text: string): string[] {
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
  const fail = (why: string) => new LabelSelectorError(`unable to parse requirement: ${why}`);
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

/** Whether a label set matches; throws LabelSelectorError on a selector the API server would refuse. */
export function labelMatcher(
  text: string | undefined,
): (labels: Record<string, string> | undefined) => boolean {
  const reqs = splitTopLevel(text ?? "").map(parseRequirement);
  return (labels) => reqs.every((r) => holds(r, labels ?? {}));
}
