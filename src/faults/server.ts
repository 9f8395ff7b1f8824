/**
 * The fault server: the error backend behind `<rollout>-fault` in production (`rollout fault-server`).
 * Every request is answered at once with the fault's status (answer.ts). The server's own paths start
 * with `/-/`, which application routes do not use, and are not counted as faults:
 *   GET /-/healthz, GET /-/readyz   200 (the pod's probes)
 *   GET /-/metrics                 stepwise_fault_responses_total, Prometheus text format
 * It speaks HTTP/1.1 only: a gRPC status is answered as the sandbox's backend does, HTTP 200 with
 * content-type application/grpc and a grpc-status header.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Counter, Registry } from "prom-client";
import type { Logger } from "../telemetry/logger.ts";
import { listenOn } from "../telemetry/server.ts";
import { faultAnswer } from "./answer.ts";

export const FAULT_SERVER_PATHS = {
  healthz: "/-/healthz",
  readyz: "/-/readyz",
  metrics: "/-/metrics",
} as const;

export interface FaultServerOptions {
  port: number;
  host: string;
  /** The status of a request whose headers ask for none. */
  defaultStatus: number;
  /** Gets a debug line per fault answered. */
  logger?: Logger;
}

export interface FaultServer {
  url: string;
  /** Stops accepting connections, lets the requests in flight finish, and resolves once all are closed. */
  close(): Promise<void>;
}

export async function startFaultServer(options: FaultServerOptions): Promise<FaultServer> {
  const registry = new Registry();
  const faults = new Counter({
    name: "stepwise_fault_responses_total",
    help: "Requests answered with an injected fault, by HTTP status and, for gRPC, gRPC status",
    labelNames: ["status", "grpc_status"],
    registers: [registry],
  });
  let closing = false;

  const answerFault = (req: IncomingMessage, res: ServerResponse, path: string) => {
    const { status, grpcStatus } = faultAnswer(req.headers, options.defaultStatus);
    faults.inc(grpcStatus === undefined ? { status } : { status, grpc_status: grpcStatus });
    options.logger?.debug({ method: req.method, path, status, grpcStatus }, "fault answered");
    if (grpcStatus === undefined) {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(`${JSON.stringify({ error: "fault injected by Stepwise", status })}\n`);
      return;
    }
    // A gRPC client reads the error from grpc-status; a body would be a malformed message to it.
    res.writeHead(200, {
      "content-type": "application/grpc",
      "grpc-status": String(grpcStatus),
      "grpc-message": "fault injected by Stepwise",
    });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // The answer does not depend on the body: discard it.
    req.resume();
    if (closing) res.setHeader("connection", "close");
    const path = (req.url ?? "/").split("?")[0]!;
    const own = req.method === "GET" || req.method === "HEAD";
    if (own && (path === FAULT_SERVER_PATHS.healthz || path === FAULT_SERVER_PATHS.readyz)) {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (own && path === FAULT_SERVER_PATHS.metrics) {
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType }).end(text);
    } else {
      answerFault(req, res, path);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  return {
    url: await listenOn(server, options.port, options.host),
    close: () =>
      new Promise<void>((resolve) => {
        // close() drops idle keep-alive connections; busy ones end after their answer (connection: close)
        closing = true;
        server.close(() => resolve());
      }),
  };
}
