import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/cluster.ts";

// The real `rollout fault-server`, as the image runs it (node cli/bin/rollout.js), on a free port
// (--port 0; the start line names the URL), answered over HTTP.

interface Running {
  child: ChildProcess;
  url: string;
  /** Everything it wrote on stderr so far (pino's JSON lines). */
  log(): string;
}

function spawnCli(args: string[]): { child: ChildProcess; log(): string } {
  const child = spawn(process.execPath, [join(ROOT, "cli/bin/rollout.js"), "fault-server", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { child, log: () => stderr };
}

/** Starts the server on a free loopback port and waits for its start line. */
async function startServer(args: string[] = []): Promise<Running> {
  const { child, log } = spawnCli(["--port", "0", "--address", "127.0.0.1", ...args]);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const line = log()
      .split("\n")
      .find((l) => l.includes('"fault server started"'));
    if (line) return { child, url: (JSON.parse(line) as { url: string }).url, log };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`rollout fault-server did not start (exit ${child.exitCode}):\n${log()}`);
}

/** Runs a command that is expected to exit by itself. */
async function exitOf(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const { child, log } = spawnCli(args);
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stderr: log() };
}

const request = (url: string, headers: Record<string, string> = {}, agent?: http.Agent) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    http
      .get(url, { headers, ...(agent ? { agent } : {}) }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject);
  });

describe("rollout fault-server", () => {
  let server: Running;
  beforeAll(async () => {
    server = await startServer();
  }, 90_000);
  afterAll(() => {
    server?.child.kill("SIGKILL");
  });

  it("logs a start line and answers 503 by default, with a JSON body", async () => {
    const start = JSON.parse(server.log().split("\n")[0]!) as Record<string, unknown>;
    expect(start).toMatchObject({ level: 30, msg: "fault server started", status: 503 });
    const answer = await request(`${server.url}/checkout?cart=1`);
    expect(answer.status).toBe(503);
    expect(answer.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(answer.body)).toEqual({ error: "fault injected by Stepwise", status: 503 });
  });

  it("answers the status x-stepwise-fault-status asks for", async () => {
    const answer = await request(server.url, { "x-stepwise-fault-status": "500" });
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 500 });
  });

  it("answers the gRPC status x-stepwise-fault-grpc-status asks for", async () => {
    const answer = await request(server.url, { "x-stepwise-fault-grpc-status": "14" });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("application/grpc");
    expect(answer.headers["grpc-status"]).toBe("14");
  });

  it("answers its health paths with 200", async () => {
    for (const path of ["/-/healthz", "/-/readyz"])
      expect((await request(`${server.url}${path}`)).status).toBe(200);
    // the application's own /healthz is app traffic: a fault
    expect((await request(`${server.url}/healthz`)).status).toBe(503);
  });
});

describe("rollout fault-server flags and signals", () => {
  it("answers the --status it is given by default", { timeout: 90_000 }, async () => {
    const server = await startServer(["--status", "418"]);
    try {
      expect((await request(server.url)).status).toBe(418);
      expect((await request(server.url, { "x-stepwise-fault-status": "502" })).status).toBe(502);
    } finally {
      server.child.kill("SIGKILL");
    }
  });

  it.each([["700"], ["abc"]])(
    "exits 2 with one line naming the flag for --status %s",
    { timeout: 90_000 },
    async (status) => {
      const run = await exitOf(["--status", status]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split("\n")).toEqual([
        `rollout: --status ${status}: expected an HTTP status from 200 to 599`,
      ]);
    },
  );

  it("exits 2 for a bad --port", { timeout: 90_000 }, async () => {
    const run = await exitOf(["--port", "70000"]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("rollout: --port 70000: expected a port from 0 to 65535");
  });

  it("stops on SIGTERM, with a keep-alive connection open, and exits 0", { timeout: 90_000 }, async () => {
    const server = await startServer();
    const agent = new http.Agent({ keepAlive: true });
    try {
      expect((await request(server.url, {}, agent)).status).toBe(503);
      const closed = once(server.child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
      const sent = Date.now();
      server.child.kill("SIGTERM");
      const [code, signal] = await closed;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      // the idle keep-alive connection did not hold the close until it timed out
      expect(Date.now() - sent).toBeLessThan(4_000);
      expect(server.log()).toContain('"msg":"stopping"');
    } finally {
      agent.destroy();
      server.child.kill("SIGKILL");
    }
  });
});
