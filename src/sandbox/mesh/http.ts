/** Plain HTTP/1.1 helpers for the proxy, the backends and the traffic generator: servers, whole-body calls. */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";

export interface HttpRequest {
  method?: string;
  /** Path and query. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer;
  agent?: http.Agent;
  signal?: AbortSignal;
  /** Fails the call when no complete answer came within this time. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  trailers: Record<string, string | undefined>;
  body: Buffer;
}

/** Reads a stream to its end. */
export function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
  });
}

/** Sends one request to `base` (an http:// URL) and reads the whole answer. Rejects on transport failures. */
export function httpCall(base: string | URL, request: HttpRequest): Promise<HttpResponse> {
  const target = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        method: request.method ?? "GET",
        path: request.path,
        headers: request.headers,
        agent: request.agent,
        signal: request.signal,
      },
      (res) => {
        readAll(res).then(
          (body) => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body });
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error);
          },
        );
      },
    );
    const timer =
      request.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => req.destroy(new Error(`no answer within ${request.timeoutMs} ms`)),
            request.timeoutMs,
          );
    req.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(request.body);
  });
}

/** Starts `server` on `host`:`port` (0: any free port) and returns its base URL. */
export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/** Stops accepting, drops open connections (keep-alive ones included) and resolves once closed. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
