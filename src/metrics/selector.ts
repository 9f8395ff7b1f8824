/**
 * PromQL instant-vector selectors (`name{label="value", other=~"re"}`): parsed, printed back, and matched
 * against a series' labels in the controller, so one query for many rollouts can be split by rollout.
 * Only a bare selector is understood; anything else (a function, an operator, an offset) is not a selector
 * and parses to undefined, and the caller queries it as it stands.
 */

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  /** The string's value, unescaped. */
  value: string;
}

export interface Selector {
  metric: string;
  matchers: LabelMatcher[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const OP = /^(=~|!~|!=|=)/;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'" };

/** A double-quoted PromQL string at the start of `text`: its value and the length it takes. */
function readString(text: string): { value: string; length: number } | undefined {
  if (text[0] !== '"') return undefined;
  let value = "";
  for (let i = 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') return { value, length: i + 1 };
    if (char === "\\") {
      const escaped = ESCAPES[text[i + 1] ?? ""];
      if (escaped === undefined) return undefined; // \x.., \u.. and octal: not worth understanding here
      value += escaped;
      i++;
    } else value += char;
  }
  return undefined;
}

export function parseSelector(text: string): Selector | undefined {
  let rest = text.trim();
  const metric = NAME.exec(rest)?.[0];
  if (!metric) return undefined;
  rest = rest.slice(metric.length).trimStart();
  const matchers: LabelMatcher[] = [];
  if (rest === "") return { metric, matchers };
  if (rest[0] !== "{") return undefined;
  rest = rest.slice(1).trimStart();
  while (rest[0] !== "}") {
    const label = LABEL.exec(rest)?.[0];
    if (!label) return undefined;
    rest = rest.slice(label.length).trimStart();
    const op = OP.exec(rest)?.[0] as MatchOp | undefined;
    if (!op) return undefined;
    rest = rest.slice(op.length).trimStart();
    const string = readString(rest);
    if (!string) return undefined;
    matchers.push({ label, op, value: string.value });
    rest = rest.slice(string.length).trimStart();
    if (rest[0] === ",") rest = rest.slice(1).trimStart();
    else if (rest[0] !== "}") return undefined;
  }
  return rest.slice(1).trim() === "" ? { metric, matchers } : undefined;
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

export function formatSelector(selector: Selector): string {
  const matchers = selector.matchers.map((m) => `${m.label}${m.op}${quote(m.value)}`);
  return matchers.length === 0 ? selector.metric : `${selector.metric}{${matchers.join(", ")}}`;
}

const compiled = new Map<string, RegExp>();

/** Prometheus anchors a label regex at both ends, and its `.` matches a newline. */
function anchored(source: string): RegExp {
  let regex = compiled.get(source);
  if (!regex) {
    regex = new RegExp(`^(?:${source})$`, "s");
    if (compiled.size >= 10_000) compiled.clear();
    compiled.set(source, regex);
  }
  return regex;
}

/** Whether a series' labels satisfy one matcher; a missing label is the empty string, as in Prometheus. */
export function matches(labels: Readonly<Record<string, string>>, matcher: LabelMatcher): boolean {
  const value = labels[matcher.label] ?? "";
  switch (matcher.op) {
    case "=":
      return value === matcher.value;
    case "!=":
      return value !== matcher.value;
    case "=~":
      return anchored(matcher.value).test(value);
    case "!~":
      return !anchored(matcher.value).test(value);
  }
}
