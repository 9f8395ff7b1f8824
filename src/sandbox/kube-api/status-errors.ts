import type { Obj } from "./types.ts";

/** One entry of `details.causes` in a Status body. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** A qualified resource as the apiserver names it in messages: `rollouts.stepwise.dev`, or `services`. */
export interface GroupResource {
  group: string;
  resource: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** An API error that the HTTP layer turns into a `kind: Status` body with the same code, reason and details. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toStatus(): Obj {
    const status: Obj = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      details: this.details,
      code: this.code,
    };
    if (this.reason === "") delete status.reason;
    if (this.details === undefined) delete status.details;
    return status;
  }
}

export function successStatus(details: StatusDetails): Obj {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}

export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualified(gr)} "${name}" not found`, {
    name,
    group: gr.group || undefined,
    kind: gr.resource,
  });
}

/** The answer for a URL that names no resource at all. */
export function pathNotFound(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource", {});
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualified(gr)} "${name}" already exists`, {
    name,
    group: gr.group || undefined,
    kind: gr.resource,
  });
}

export function conflict(gr: GroupResource, name: string, why: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`,
    {
      name,
      group: gr.group || undefined,
      kind: gr.resource,
    },
  );
}

export const STALE_OBJECT =
  "the object has been modified; please apply your changes to the latest version and try again";

/** A field error as apimachinery's field.Error renders it: `Invalid value: "x": detail`. */
export interface FieldError {
  field: string;
  type:
    | "FieldValueInvalid"
    | "FieldValueRequired"
    | "FieldValueNotSupported"
    | "FieldValueTypeInvalid"
    | "FieldValueForbidden"
    | "FieldValueTooLong"
    | "FieldValueTooMany"
    | "FieldValueDuplicate";
  /** The bad value, already rendered (quoted string, number, ...); absent for Required/Forbidden. */
  value?: string;
  detail?: string;
}

const TYPE_TEXT: Record<FieldError["type"], string> = {
  FieldValueInvalid: "Invalid value",
  FieldValueRequired: "Required value",
  FieldValueNotSupported: "Unsupported value",
  FieldValueTypeInvalid: "Invalid value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooLong: "Too long",
  FieldValueTooMany: "Too many",
  FieldValueDuplicate: "Duplicate value",
};

export function fieldErrorBody(e: FieldError): string {
  let text = TYPE_TEXT[e.type];
  if (e.value !== undefined) text += `: ${e.value}`;
  if (e.detail) text += `: ${e.detail}`;
  return text;
}

/** Renders a decoded JSON value the way Go's field errors print it (%q for strings, %v for numbers). */
export function renderValue(value: unknown): string {
  if (value === null || value === undefined) return '"null"';
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export interface GroupKind {
  group: string;
  kind: string;
}

/** 422 Invalid, as errors.NewInvalid builds it. */
export function invalid(gk: GroupKind, name: string, errors: FieldError[]): ApiError {
  const qualifiedKind = gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
  const rendered = [...new Set(errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`))];
  const aggregate = rendered.length === 1 ? rendered[0] : `[${rendered.join(", ")}]`;
  return new ApiError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${aggregate}`, {
    name: name || undefined,
    group: gk.group || undefined,
    kind: gk.kind || undefined,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function forbidden(gr: GroupResource, name: string, why: string): ApiError {
  return new ApiError(403, "Forbidden", `${qualified(gr)} "${name}" is forbidden: ${why}`, {
    name,
    group: gr.group || undefined,
    kind: gr.resource,
  });
}

export function methodNotAllowed(): ApiError {
  return new ApiError(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    {},
  );
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
    {},
  );
}

export function notAcceptable(): ApiError {
  return new ApiError(
    406,
    "NotAcceptable",
    "only the following media types are accepted: application/json, application/yaml",
    {},
  );
}

export function expired(message: string): ApiError {
  return new ApiError(410, "Expired", message);
}

/** kube-apiserver's answer to a watch from a revision it has not reached (e.g. after it lost its data). */
export function tooLargeResourceVersion(requested: number, current: number): ApiError {
  return new ApiError(504, "Timeout", `Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  });
}

export function internalError(message: string): ApiError {
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ reason: "", message }],
  });
}
