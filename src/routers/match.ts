/** A/B request matches and faults in the shapes each traffic API writes them. */
import { formatDuration } from "../api/duration.ts";
import {
  FAULT_GRPC_STATUS_HEADER,
  FAULT_STATUS_HEADER,
  type Fault,
  type RequestMatch,
} from "./traffic-router.ts";

/**
 * A cookie regex is matched against the whole Cookie header, which holds every cookie of the request;
 * the APIs match regexes against the full value, so the expression is wrapped to match anywhere in it.
 */
export function cookieRegex(regex: string): string {
  return `.*(?:${regex}).*`;
}

/** Escapes text for use inside an RE2 regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/** Istio HTTPMatchRequest `headers` for one A/B match (header names lower-case, as HTTP/2 sends them). */
export function istioHeaders(match: RequestMatch): Record<string, Record<string, string>> {
  const headers: Record<string, Record<string, string>> = {};
  for (const [name, value] of Object.entries(match.headers ?? {})) {
    if (value.exact !== undefined) headers[name.toLowerCase()] = { exact: value.exact };
    else if (value.prefix !== undefined) headers[name.toLowerCase()] = { prefix: value.prefix };
    else if (value.regex !== undefined) headers[name.toLowerCase()] = { regex: value.regex };
  }
  if (match.cookie !== undefined) headers.cookie = { regex: cookieRegex(match.cookie) };
  return headers;
}

/** Gateway API header matches (HTTPHeaderMatch / GRPCHeaderMatch): Exact or RegularExpression only. */
export function gatewayHeaders(match: RequestMatch): { type: string; name: string; value: string }[] {
  const headers: { type: string; name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(match.headers ?? {})) {
    if (value.exact !== undefined) headers.push({ type: "Exact", name, value: value.exact });
    else if (value.prefix !== undefined)
      headers.push({ type: "RegularExpression", name, value: `^${escapeRegex(value.prefix)}.*` });
    else if (value.regex !== undefined) headers.push({ type: "RegularExpression", name, value: value.regex });
  }
  if (match.cookie !== undefined)
    headers.push({ type: "RegularExpression", name: "Cookie", value: cookieRegex(match.cookie) });
  return headers;
}

/** gRPC status codes by number, as Istio names them in `fault.abort.grpcStatus`. */
export const GRPC_STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** The percentage of requests a fault affects. */
export function faultPercent(fault: Fault): number {
  return fault.abort?.percent ?? fault.delay?.percent ?? 0;
}

/** Istio HTTPFaultInjection for a fault. Durations as protobuf JSON wants them ("2s", "0.250s"). */
export function istioFault(fault: Fault): Record<string, unknown> {
  if (fault.delay) {
    return {
      delay: { fixedDelay: `${fault.delay.fixed / 1000}s`, percentage: { value: fault.delay.percent } },
    };
  }
  const abort = fault.abort!;
  const code =
    abort.grpcStatus !== undefined
      ? { grpcStatus: GRPC_STATUS_NAMES[abort.grpcStatus] ?? String(abort.grpcStatus) }
      : { httpStatus: abort.httpStatus };
  return { abort: { ...code, percentage: { value: abort.percent } } };
}

/** A fault as a person reads it: "abort 503 for 5%", "delay 2s for 10%". */
export function describeFault(fault: Fault): string {
  if (fault.delay) return `delay ${formatDuration(fault.delay.fixed)} for ${fault.delay.percent}%`;
  const abort = fault.abort!;
  const code = abort.grpcStatus !== undefined ? `gRPC ${abort.grpcStatus}` : `HTTP ${abort.httpStatus}`;
  return `abort ${code} for ${abort.percent}%`;
}

/** The request headers that tell the error backend what to answer (abort faults only). */
export function faultHeaders(fault: Fault | undefined): Record<string, string> {
  const abort = fault?.abort;
  if (abort?.grpcStatus !== undefined) return { [FAULT_GRPC_STATUS_HEADER]: String(abort.grpcStatus) };
  if (abort?.httpStatus !== undefined) return { [FAULT_STATUS_HEADER]: String(abort.httpStatus) };
  return {};
}
