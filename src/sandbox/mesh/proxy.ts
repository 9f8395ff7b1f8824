/**
 * The data plane's request path: one HTTP handler standing in for every sidecar. It reads the addressed
 * Service from the Host header and the caller from the source header, asks the chooser where the request
 * goes under the current route objects, carries the decision out (fault delay and abort, forwarding,
 * fire-and-forget mirrors) and hands each request's record to the metrics recorders.
 *
 * Bodies are read whole before forwarding and answers are read whole before replying, which keeps status
 * handling simple; trailers are not passed on. Latencies are recorded in simulated time: the fault delay
 * plus the service time the upstream reports (SERVICE_TIME_HEADER), the clock only for answers that report
 * none; the caller gets the same time in that header.
 */

import { setMaxListeners } from "node:events";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Random } from "../../analysis/random.ts";
import type { TrafficProvider } from "../../api/rollout.ts";
import { type Decision, decide } from "./choose.ts";
import {
  flattenHeaders,
  forwardHeaders,
  SERVICE_TIME_HEADER,
  SOURCE_HEADER,
  serviceTimeOf,
} from "./headers.ts";
import { parseServiceHost, type ServiceName } from "./hosts.ts";
import { type HttpResponse, httpCall, readAll } from "./http.ts";
import type { Recorder, RequestRecord } from "./metrics/index.ts";
import type { Endpoint, Topology } from "./topology.ts";
import type { BackendRef, HeaderOps, RequestFacts, RoutingTable, Workload } from "./types.ts";
import { type ObjectsOf, type Protocol, routingTable } from "./views/index.ts";

export interface ProxyOptions {
  provider: TrafficProvider;
  /** The current route objects (in the topology's namespace), and a number that grows when they change. */
  routes: { objects: ObjectsOf; generation(): number };
  topology: Topology;
  recorders: readonly Recorder[];
  random: Random;
}

interface Reply {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer | string;
}

/** The request being served, as the decision is carried out. */
interface Inbound {
  req: IncomingMessage;
  body: Buffer;
  authority: string;
  source: Workload | undefined;
  protocol: Protocol;
  /** Aborted when the mesh stops or the caller hangs up. */
  signal: AbortSignal;
}

/** What a request's record needs beyond what every request has. */
type Outcome = Pick<RequestRecord, "service" | "destination" | "grpcStatus" | "flags" | "upstreamMs"> & {
  reply: Reply;
  /**
   * The time the caller's sidecar sees in simulated terms (fault delay plus the upstream's service time);
   * undefined when only the clock can tell (the caller hung up, the upstream failed).
   */
  serviceMs: number | undefined;
};

const RESPONSE_HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "trailer",
]);

function localReply(status: number, text: string, headers: OutgoingHttpHeaders = {}): Reply {
  return { status, headers: { "content-type": "text/plain", ...headers }, body: text };
}

function serviceOf(backend: BackendRef): RequestRecord["service"] {
  return { name: backend.service, namespace: backend.namespace };
}

/** Envoy's `-shadow` suffix on the host of a mirrored request (before any port). */
function shadowAuthority(authority: string): string {
  const match = /^(.*?)(:\d+)?$/.exec(authority);
  return `${match?.[1] ?? authority}-shadow${match?.[2] ?? ""}`;
}

export class MeshProxy {
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly stopping = new AbortController();
  private readonly tables = new Map<string, RoutingTable>();
  private tablesGeneration = -1;

  constructor(private readonly options: ProxyOptions) {
    // every request in flight listens for the stop
    setMaxListeners(0, this.stopping.signal);
  }

  /** The routing table the proxy applies to requests for `service` now. */
  table(service: ServiceName, protocol: Protocol = "http"): RoutingTable {
    const generation = this.options.routes.generation();
    if (generation !== this.tablesGeneration) {
      this.tables.clear();
      this.tablesGeneration = generation;
    }
    const key = `${service.namespace}/${service.name}/${protocol}`;
    let table = this.tables.get(key);
    if (!table) {
      table = routingTable(this.options.provider, this.options.routes.objects, service, protocol);
      this.tables.set(key, table);
    }
    return table;
  }

  /** Serves one request; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hangUp = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) hangUp.abort();
    });
    try {
      const body = await readAll(req);
      const started = performance.now();
      const authority = req.headers.host ?? "";
      const { topology } = this.options;
      const service = parseServiceHost(authority, topology.namespace);
      if (!service || service.namespace !== topology.namespace) {
        const text = `no Service in namespace ${topology.namespace} is named by Host "${authority}"\n`;
        send(res, localReply(404, text));
        return;
      }
      const url = new URL(req.url ?? "/", "http://mesh");
      const sourceHeader = req.headers[SOURCE_HEADER];
      const facts: RequestFacts = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: flattenHeaders(req.headers),
        authority,
        source: topology.source(Array.isArray(sourceHeader) ? sourceHeader[0] : sourceHeader),
      };
      const protocol: Protocol = String(req.headers["content-type"] ?? "").startsWith("application/grpc")
        ? "grpc"
        : "http";
      const table = this.table(service, protocol);
      const decision = decide(table, facts, this.options.random);
      const inbound: Inbound = {
        req,
        body,
        authority,
        source: facts.source,
        protocol,
        signal: AbortSignal.any([this.stopping.signal, hangUp.signal]),
      };
      const outcome = await this.carryOut(decision, table, inbound).catch((error: unknown) => {
        if (this.stopping.signal.aborted || !hangUp.signal.aborted) throw error;
        return hungUp(decision);
      });
      const { reply, serviceMs, ...rest } = outcome;
      const durationMs = serviceMs ?? performance.now() - started;
      if (!hangUp.signal.aborted)
        send(res, { ...reply, headers: { ...reply.headers, [SERVICE_TIME_HEADER]: String(durationMs) } });
      this.record({
        ...rest,
        source: facts.source,
        protocol,
        authority,
        status: reply.status,
        durationMs,
        mirror: false,
      });
    } catch (error) {
      if (this.stopping.signal.aborted || res.headersSent) res.destroy();
      else send(res, localReply(500, `mesh proxy error: ${String(error)}\n`));
    }
  }

  private async carryOut(decision: Decision, table: RoutingTable, request: Inbound): Promise<Outcome> {
    const none = { destination: undefined, grpcStatus: undefined, upstreamMs: 0, serviceMs: 0 };
    switch (decision.kind) {
      case "no-route":
        return { ...none, service: undefined, flags: "NR", reply: localReply(404, "route not found\n") };
      case "no-backend":
        return {
          ...none,
          service: undefined,
          flags: "UH",
          reply: localReply(decision.status, "no healthy upstream\n"),
        };
      case "abort": {
        await delay(decision.delayMs, request.signal);
        const grpcStatus = decision.grpcStatus === undefined ? undefined : String(decision.grpcStatus);
        const reply = grpcStatus
          ? localReply(200, "", { "content-type": "application/grpc", "grpc-status": grpcStatus })
          : localReply(decision.status, "fault filter abort\n");
        const flags = withFlag(decision.delayMs, "FI");
        const serviceMs = decision.delayMs;
        return { ...none, grpcStatus, service: serviceOf(decision.backend), flags, reply, serviceMs };
      }
      case "forward": {
        await delay(decision.delayMs, request.signal);
        const target = serviceOf(decision.backend);
        const endpoint = this.options.topology.resolve(decision.backend);
        if (!endpoint) {
          const reply = localReply(table.noBackendStatus, "no healthy upstream\n");
          const flags = withFlag(decision.delayMs, "UH");
          return { ...none, service: target, flags, reply, serviceMs: decision.delayMs };
        }
        for (const mirror of decision.mirrors) this.mirror(mirror, [decision.rule.headers], request);
        const sent = performance.now();
        try {
          const answer = await this.forward(
            endpoint,
            request,
            decision.headers,
            request.authority,
            request.signal,
          );
          const headers: OutgoingHttpHeaders = {};
          for (const [name, value] of Object.entries(answer.headers))
            if (value !== undefined && !RESPONSE_HOP_BY_HOP.has(name)) headers[name] = value;
          const upstreamMs = serviceTimeOf(answer.headers, sent);
          return {
            service: target,
            destination: endpoint,
            grpcStatus: grpcStatusOf(answer, request.protocol),
            upstreamMs,
            serviceMs: decision.delayMs + upstreamMs,
            flags: withFlag(decision.delayMs, "-"),
            reply: { status: answer.status, headers, body: answer.body },
          };
        } catch (error) {
          if (request.signal.aborted) throw error;
          const reply = localReply(503, `upstream connect error: ${String(error)}\n`);
          const flags = withFlag(decision.delayMs, "UF");
          return { ...none, service: target, flags, reply, serviceMs: undefined };
        }
      }
    }
  }

  private forward(
    endpoint: Endpoint,
    request: Inbound,
    ops: readonly HeaderOps[],
    authority: string,
    signal: AbortSignal,
  ) {
    return httpCall(endpoint.url, {
      method: request.req.method,
      path: request.req.url ?? "/",
      headers: forwardHeaders(request.req.headers, ops, authority),
      body: request.body,
      agent: this.agent,
      signal,
    });
  }

  /**
   * Sends a copy (Host `<host>-shadow`) to the mirror backend, whether or not the caller waits for its own
   * answer; the copy's answer is only counted, never returned.
   */
  private mirror(backend: BackendRef, ops: readonly HeaderOps[], request: Inbound): void {
    const endpoint = this.options.topology.resolve(backend);
    if (!endpoint) return;
    const authority = shadowAuthority(request.authority);
    const started = performance.now();
    this.forward(endpoint, request, ops, authority, this.stopping.signal).then(
      (answer) => {
        const upstreamMs = serviceTimeOf(answer.headers, started);
        this.record({
          source: request.source,
          service: serviceOf(backend),
          destination: endpoint,
          protocol: request.protocol,
          authority,
          status: answer.status,
          grpcStatus: grpcStatusOf(answer, request.protocol),
          flags: "-",
          durationMs: upstreamMs,
          upstreamMs,
          mirror: true,
        });
      },
      () => {},
    );
  }

  private record(request: RequestRecord): void {
    for (const recorder of this.options.recorders) recorder.record(request);
  }

  /** Aborts delayed, forwarded and mirrored requests in flight and closes upstream connections. */
  close(): void {
    this.stopping.abort();
    this.agent.destroy();
  }
}

async function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { signal });
}

/**
 * The caller hung up before its answer (its own timeout, say): Envoy resets the request, sends nothing
 * upstream if it was still held by a fault delay, and reports response code 0 with the flag DC.
 */
function hungUp(decision: Decision): Outcome {
  const chosen = decision.kind === "forward" || decision.kind === "abort" ? decision : undefined;
  return {
    service: chosen && serviceOf(chosen.backend),
    destination: undefined,
    grpcStatus: undefined,
    upstreamMs: 0,
    serviceMs: undefined,
    flags: withFlag(chosen?.delayMs ?? 0, "DC"),
    reply: localReply(0, ""),
  };
}

/** The grpc-status of a gRPC answer (trailer, or header for a trailers-only answer). */
function grpcStatusOf(answer: HttpResponse, protocol: Protocol): string | undefined {
  if (protocol !== "grpc") return undefined;
  const header = answer.headers["grpc-status"];
  return answer.trailers["grpc-status"] ?? (Array.isArray(header) ? header[0] : header);
}

/** Envoy's response flags: a fault delay (DI) joins the other flag. */
function withFlag(delayMs: number, flag: string): string {
  if (delayMs <= 0) return flag;
  return flag === "-" ? "DI" : `DI,${flag}`;
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}
