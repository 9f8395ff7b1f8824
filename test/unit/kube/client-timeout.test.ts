import { createServer, type Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, KubeUnreachableError } from "../../../src/kube/client.ts";

// A server that accepts connections and reads requests but never answers: a hung API server or proxy.
const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.resume();
});
let url = "";

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  url = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function clientFor(requestTimeoutMs: number): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "hung", server: url, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "c", cluster: "hung", user: "u" }],
    currentContext: "c",
  });
  return new KubeClient(kc, { requestTimeoutMs });
}

describe("KubeClient request timeout", () => {
  it("fails a request that gets no answer as unreachable, naming the request and the time", async () => {
    const client = clientFor(300);
    const error = await client
      .get({ apiVersion: "v1", kind: "Namespace", name: "default" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeUnreachableError);
    expect(String((error as Error).message)).toMatch(/GET \/api\/v1\S*: no complete answer within 300 ms/);
  });
});
