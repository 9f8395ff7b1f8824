/** Request headers on their way through the proxy. Pure. */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { HeaderOps } from "./types.ts";

/**
 * The header a meshed caller's sidecar would know without being told: which workload sends the request.
 * Backends set it on their dependency calls and the traffic generator on its requests; the proxy reads it,
 * strips it, and treats requests without it as coming from outside the mesh.
 */
export const SOURCE_HEADER = "x-sandbox-source-workload";

/**
 * The time an answer took in the simulation's own terms, in milliseconds: a backend's planned service time
 * plus its dependency's, and on the proxy's answers the fault delay too. The proxy records it rather than
 * its own clock, because every part of a sandbox shares one machine (in tests, one event loop): a stall of
 * the machine would otherwise read as the release's latency, the same for both versions.
 */
export const SERVICE_TIME_HEADER = "x-sandbox-service-ms";

/**
 * How long an answer took: the service time it reports, or by the clock since `sentAt` (performance.now())
 * when it reports none (a server outside the simulation).
 */
export function serviceTimeOf(headers: IncomingHttpHeaders, sentAt: number): number {
  const value = Number(headers[SERVICE_TIME_HEADER]);
  const reported = headers[SERVICE_TIME_HEADER] !== undefined && Number.isFinite(value) && value >= 0;
  return reported ? value : performance.now() - sentAt;
}

/** Connection-level headers a proxy does not forward (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-length",
]);

/** One value per header (lower-case names), as the routing conditions read them. */
export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/** The headers to send upstream: end-to-end ones only, the source header dropped, `ops` applied in order. */
export function forwardHeaders(
  headers: IncomingHttpHeaders,
  ops: readonly HeaderOps[],
  authority: string,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === SOURCE_HEADER || name === "host") continue;
    out[name] = value;
  }
  for (const op of ops) {
    for (const [name, value] of op.set) out[name] = value;
    for (const [name, value] of op.add) {
      const current = out[name];
      out[name] =
        current === undefined ? value : [...(Array.isArray(current) ? current : [String(current)]), value];
    }
    for (const name of op.remove) delete out[name];
  }
  out.host = authority;
  return out;
}
