import type { z } from "zod";

/** One problem in a document: where it is (`spec.strategy.canary.steps[3].setWeight`) and what is wrong. */
export interface FieldError {
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text === "" ? String(part) : `.${String(part)}`;
  }
  return text || "(document)";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the text ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: "a text value",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "an object",
  array: "a list",
};

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known key closest to a misspelt one, when it is close enough to be a likely typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function boundMessage(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall): string {
  const small = issue.code === "too_small";
  const bound = small
    ? (issue as z.core.$ZodIssueTooSmall).minimum
    : (issue as z.core.$ZodIssueTooBig).maximum;
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case "array":
    case "set":
      return small
        ? `must have at least ${bound} item${bound === 1 ? "" : "s"}`
        : `must have at most ${bound} items`;
    case "string":
      return small
        ? bound === 1
          ? "must not be empty"
          : `must be at least ${bound} characters long`
        : `must be at most ${bound} characters long`;
    default:
      if (small) return inclusive ? `must be at least ${bound}` : `must be greater than ${bound}`;
      return inclusive ? `must be at most ${bound}` : `must be less than ${bound}`;
  }
}

/**
 * The message for an issue, in words a person can act on. Passed to zod per parse, so messages a schema
 * sets itself take precedence.
 */
export function humanMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? "is required"
        : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}, not ${describe(issue.input)}`;
    case "too_big":
    case "too_small":
      return boundMessage(issue as z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall);
    case "invalid_value": {
      if (issue.input === undefined) return "is required";
      const options = issue.values.map((v) => JSON.stringify(v)).join(", ");
      return `must be ${issue.values.length === 1 ? options : `one of ${options}`}, not ${describe(issue.input)}`;
    }
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    default:
      return undefined;
  }
}

/**
 * Turns zod's issues into field errors. `knownKeys` gives the fields allowed at a path, so an unknown
 * field is answered with the likely intended one.
 */
export function toFieldErrors(
  issues: readonly z.core.$ZodIssue[],
  knownKeys: (path: readonly PropertyKey[]) => readonly string[] = () => [],
): FieldError[] {
  return issues.flatMap((issue) => {
    if (issue.code !== "unrecognized_keys") return [{ path: formatPath(issue.path), message: issue.message }];
    return issue.keys.map((key) => {
      const suggestion = closestKey(key, knownKeys(issue.path));
      return {
        path: formatPath([...issue.path, key]),
        message: suggestion ? `unknown field (did you mean "${suggestion}"?)` : "unknown field",
      };
    });
  });
}

/** Parses with human messages and field paths; the common body of every `parseX` of the API. */
export function parseWith<S extends z.ZodType>(schema: S, document: unknown): ParseResult<z.output<S>> {
  const result = schema.safeParse(document, { error: humanMessage, reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: toFieldErrors(result.error.issues, (path) => knownKeysAt(schema, path)) };
}

/** The field names an object schema allows at `path` (walking through lists, optionals and codecs). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.core.$ZodType | undefined = schema;
  const rest = [...path];
  while (node) {
    const def = node._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
    if ("innerType" in def) node = def.innerType as z.core.$ZodType;
    else if (def.type === "pipe") node = def.in as z.core.$ZodType;
    else if (rest.length === 0) return def.type === "object" ? Object.keys(def.shape as object) : [];
    else if (def.type === "object") node = (def.shape as Record<PropertyKey, z.core.$ZodType>)[rest.shift()!];
    else if (def.type === "array") {
      rest.shift();
      node = def.element as z.core.$ZodType;
    } else if (def.type === "record") {
      rest.shift();
      node = def.valueType as z.core.$ZodType;
    } else return [];
  }
  return [];
}
