/**
 * What the error backend of fault injection answers (`<rollout>-fault`, for traffic APIs without a fault
 * filter): the status the route asks for in a request header, else the backend's default. Pure; the
 * production server (server.ts) and the sandbox's simulated backend both answer with it.
 */
import { FAULT_GRPC_STATUS_HEADER, FAULT_STATUS_HEADER } from "../routers/traffic-router.ts";

/** What an abort fault answers when nothing asks for another status. */
export const DEFAULT_FAULT_STATUS = 503;

export interface FaultAnswer {
  /** The HTTP status; 200 for a gRPC answer, whose error is in `grpcStatus`. */
  status: number;
  /** The gRPC status code, when the route asked for one. */
  grpcStatus?: number;
}

/** An HTTP status an abort fault may answer: the range a Rollout's `abort.httpStatus` allows. */
export function isFaultHttpStatus(value: number): boolean {
  return Number.isInteger(value) && value >= 200 && value <= 599;
}

/** A gRPC status code (0 OK to 16 UNAUTHENTICATED), the range a Rollout's `abort.grpcStatus` allows. */
function isGrpcStatus(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 16;
}

/** The header's value as a number when it is one in range; a list or anything else counts as absent. */
function statusHeader(
  value: string | string[] | undefined,
  valid: (status: number) => boolean,
): number | undefined {
  if (typeof value !== "string" || !/^\d+$/.test(value.trim())) return undefined;
  const status = Number(value);
  return valid(status) ? status : undefined;
}

/**
 * The answer to one request, from its headers (lower-case names, as node:http gives them). A gRPC status
 * wins over an HTTP one; a header out of range is ignored, so the default applies.
 */
export function faultAnswer(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  defaultStatus: number,
): FaultAnswer {
  const grpcStatus = statusHeader(headers[FAULT_GRPC_STATUS_HEADER], isGrpcStatus);
  if (grpcStatus !== undefined) return { status: 200, grpcStatus };
  return { status: statusHeader(headers[FAULT_STATUS_HEADER], isFaultHttpStatus) ?? defaultStatus };
}
