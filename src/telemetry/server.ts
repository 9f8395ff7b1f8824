import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface TelemetryServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `/metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (the controller has
 * synced its caches; with leader election, standby replicas are ready too, so they can take over).
 */
export async function startTelemetryServer(
  address: string,
  registry: Registry,
  ready: () => boolean,
): Promise<TelemetryServer> {
  const { host, port } = parseAddress(address);
  const server: Server = createServer(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      response.writeHead(200, { "content-type": registry.contentType });
      response.end(await registry.metrics());
    } else if (path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const isReady = ready();
      response
        .writeHead(isReady ? 200 : 503, { "content-type": "text/plain" })
        .end(isReady ? "ok\n" : "not ready\n");
    } else {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  return {
    url: await listenOn(server, port, host),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Starts `server` listening; resolves with its URL (the bound address and port) or rejects on error. */
export async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address() as AddressInfo;
  return `http://${bound.address.includes(":") ? `[${bound.address}]` : bound.address}:${bound.port}`;
}

/** `:9090`, `127.0.0.1:9090` or `0` (any free port on loopback). */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = colon > 0 ? address.slice(0, colon) : colon === 0 ? "0.0.0.0" : "127.0.0.1";
  const port = Number(colon >= 0 ? address.slice(colon + 1) : address);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`not a listen address: ${address}`);
  return { host, port };
}
