/** Request matching: does a request satisfy a rule's match blocks. Pure. */
import type { RequestCondition, RequestFacts, StringMatch } from "./types.ts";

/** Compiles a regular expression that must match a whole value; an invalid one never matches. */
export function fullRegex(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`, "s");
  } catch {
    return /(?!)/;
  }
}

export function matchString(match: StringMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (match.kind) {
    case "present":
      return true;
    case "exact":
      return match.ignoreCase ? value.toLowerCase() === match.value.toLowerCase() : value === match.value;
    case "prefix":
      return match.ignoreCase
        ? value.toLowerCase().startsWith(match.value.toLowerCase())
        : value.startsWith(match.value);
    case "pathPrefix": {
      const prefix = match.value.replace(/\/+$/, "");
      return prefix === "" || value === prefix || value.startsWith(`${prefix}/`);
    }
    case "regex":
      return match.pattern.test(value);
  }
}

/** True when `labels` carries every label of `wanted`. */
export function labelsInclude(labels: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

export function matchCondition(condition: RequestCondition, request: RequestFacts): boolean {
  if (condition.path && !matchString(condition.path, request.path)) return false;
  if (condition.method && !matchString(condition.method, request.method)) return false;
  if (condition.authority && !matchString(condition.authority, request.authority)) return false;
  for (const header of condition.headers) {
    if (matchString(header.match, request.headers[header.name]) === Boolean(header.negate)) return false;
  }
  for (const param of condition.query) {
    if (!matchString(param.match, request.query.get(param.name) ?? undefined)) return false;
  }
  if (condition.sourceLabels && !labelsInclude(request.source?.labels ?? {}, condition.sourceLabels))
    return false;
  if (condition.sourceNamespace !== undefined && request.source?.namespace !== condition.sourceNamespace)
    return false;
  return true;
}

/** True when any match block holds, or when there are none. */
export function matchAny(conditions: readonly RequestCondition[], request: RequestFacts): boolean {
  return conditions.length === 0 || conditions.some((condition) => matchCondition(condition, request));
}
