// The Prometheus provider against a small HTTP(S) server that answers like the Prometheus API: what the
// provider sends (parameters, credentials, headers) and how it reads answers and failures.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PrometheusProvider, tokenFromFile, tokenFromSecret } from "../../../src/metrics/prometheus.ts";
import { ProviderError } from "../../../src/metrics/types.ts";
import { TEST_CERT, TEST_KEY } from "./tls-fixture.ts";

interface Seen {
  path: string;
  params: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

type Reply = { status?: number; body: unknown; raw?: boolean } | "hang";

class FakePrometheus {
  readonly seen: Seen[] = [];
  replies: Reply[] = [];
  fallback: Reply = { body: { status: "success", data: { resultType: "vector", result: [] } } };
  private server: http.Server | https.Server | undefined;
  private readonly hanging: http.ServerResponse[] = [];

  async start(tls = false): Promise<string> {
    const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
      const url = new URL(request.url ?? "/", "http://x");
      this.seen.push({ path: url.pathname, params: url.searchParams, headers: request.headers });
      const reply = this.replies.shift() ?? this.fallback;
      if (reply === "hang") {
        this.hanging.push(response);
        return;
      }
      response.writeHead(reply.status ?? 200, {
        "content-type": reply.raw ? "text/html" : "application/json",
      });
      response.end(reply.raw ? String(reply.body) : JSON.stringify(reply.body));
    };
    this.server = tls
      ? https.createServer({ cert: TEST_CERT, key: TEST_KEY }, handler)
      : http.createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const vector = (result: { metric: Record<string, string>; value: [number, string] }[]) => ({
  body: { status: "success", data: { resultType: "vector", result } },
});

let fake: FakePrometheus;
let url: string;
const waits: number[] = [];
const sleep = async (ms: number) => {
  waits.push(ms);
};

beforeAll(async () => {
  fake = new FakePrometheus();
  url = await fake.start();
});
afterAll(async () => fake.stop());
afterEach(() => {
  fake.seen.length = 0;
  fake.replies = [];
  waits.length = 0;
});

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error("expected a ProviderError");
}

describe("PrometheusProvider.queryCounts", () => {
  it("sends an instant query at the given time and returns every series with its labels", async () => {
    fake.replies = [
      vector([
        {
          metric: { __name__: "istio_requests_total", response_code: "200", pod: "a" },
          value: [1740830400, "1234"],
        },
        {
          metric: { __name__: "istio_requests_total", response_code: "503", pod: "a" },
          value: [1740830400, "7"],
        },
      ]),
    ];
    const provider = new PrometheusProvider({ url, sleep });
    const samples = await provider.queryCounts(
      'istio_requests_total{destination_workload="x"}',
      1740830400500,
    );
    expect(samples).toEqual([
      { labels: { __name__: "istio_requests_total", response_code: "200", pod: "a" }, value: 1234 },
      { labels: { __name__: "istio_requests_total", response_code: "503", pod: "a" }, value: 7 },
    ]);
    expect(fake.seen).toHaveLength(1);
    expect(fake.seen[0]!.path).toBe("/api/v1/query");
    expect(fake.seen[0]!.params.get("query")).toBe('istio_requests_total{destination_workload="x"}');
    expect(fake.seen[0]!.params.get("time")).toBe("1740830400.5");
  });

  it("reads a scalar as one unlabelled series, and refuses a range vector", async () => {
    fake.replies = [
      { body: { status: "success", data: { resultType: "scalar", result: [1740830400, "42"] } } },
    ];
    const provider = new PrometheusProvider({ url, sleep });
    expect(await provider.queryCounts("scalar(x)", 0)).toEqual([{ labels: {}, value: 42 }]);
    fake.replies = [{ body: { status: "success", data: { resultType: "matrix", result: [] } } }];
    const error = await failure(provider.queryCounts("x[5m]", 0));
    expect(error.kind).toBe("query");
    expect(error.message).toBe("the query must return an instant vector of counters, not a matrix: x[5m]");
  });

  it("keeps a prefix path of the URL", async () => {
    const provider = new PrometheusProvider({ url: `${url}/prometheus/`, sleep });
    await provider.queryCounts("up", 0);
    expect(fake.seen[0]!.path).toBe("/prometheus/api/v1/query");
    expect(provider.description).toBe(`Prometheus at ${url}/prometheus`);
  });
});

describe("credentials and headers", () => {
  it("sends a bearer token read from a file on every request, so a rotated token is used", async () => {
    const dir = await mkdtemp(join(tmpdir(), "stepwise-token-"));
    try {
      const file = join(dir, "token");
      await writeFile(file, "first-token\n");
      const provider = new PrometheusProvider({ url, bearerToken: tokenFromFile(file), sleep });
      await provider.queryCounts("up", 0);
      await writeFile(file, "second-token");
      await provider.queryCounts("up", 0);
      expect(fake.seen.map((s) => s.headers.authorization)).toEqual([
        "Bearer first-token",
        "Bearer second-token",
      ]);
      const missing = new PrometheusProvider({ url, bearerToken: tokenFromFile(join(dir, "nope")), sleep });
      const error = await failure(missing.queryCounts("up", 0));
      expect(error.kind).toBe("auth");
      expect(error.message).toBe(`cannot read the bearer token file ${join(dir, "nope")}: ENOENT`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("sends a bearer token from a Secret", async () => {
    const secrets: Record<string, Record<string, string>> = {
      "monitoring/prom": { token: Buffer.from("secret-token").toString("base64") },
    };
    const read = async (namespace: string, name: string) => secrets[`${namespace}/${name}`];
    const provider = new PrometheusProvider({
      url,
      bearerToken: tokenFromSecret(read, { namespace: "monitoring", name: "prom", key: "token" }),
      sleep,
    });
    await provider.queryCounts("up", 0);
    expect(fake.seen[0]!.headers.authorization).toBe("Bearer secret-token");
    const wrongKey = tokenFromSecret(read, { namespace: "monitoring", name: "prom", key: "other" });
    await expect(wrongKey()).rejects.toThrow("Secret monitoring/prom has no key other");
    const absent = tokenFromSecret(read, { namespace: "monitoring", name: "gone", key: "token" });
    await expect(absent()).rejects.toThrow("the bearer token Secret monitoring/gone does not exist");
  });

  it("sends basic auth and extra headers", async () => {
    const provider = new PrometheusProvider({
      url,
      basicAuth: { username: "ci", password: "p4ss" },
      headers: { "X-Scope-OrgID": "tenant-a" },
      sleep,
    });
    await provider.queryCounts("up", 0);
    expect(fake.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from("ci:p4ss").toString("base64")}`);
    expect(fake.seen[0]!.headers["x-scope-orgid"]).toBe("tenant-a");
  });
});

describe("failures become typed provider errors", () => {
  it("a rejected query: kind query, with Prometheus's message, not retried", async () => {
    fake.replies = [
      {
        status: 400,
        body: { status: "error", errorType: "bad_data", error: "1:5: parse error: unexpected end of input" },
      },
    ];
    const provider = new PrometheusProvider({ url, sleep });
    const error = await failure(provider.queryCounts("sum(", 0));
    expect(error.kind).toBe("query");
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      `Prometheus at ${url} rejected the query: 1:5: parse error: unexpected end of input`,
    );
    expect(fake.seen).toHaveLength(1);
  });

  it("an overloaded server: retried with doubling backoff, then answered", async () => {
    const unavailable = {
      status: 503,
      body: { status: "error", errorType: "unavailable", error: "too many queries" },
    };
    fake.replies = [unavailable, unavailable, vector([{ metric: {}, value: [0, "5"] }])];
    const provider = new PrometheusProvider({ url, retries: 2, backoffMs: 100, sleep });
    expect(await provider.queryCounts("up", 0)).toEqual([{ labels: {}, value: 5 }]);
    expect(fake.seen).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
  });

  it("gives up after the retries with the last error", async () => {
    const unavailable = { status: 503, body: "<html>Service Unavailable</html>", raw: true };
    fake.replies = [unavailable, unavailable];
    const provider = new PrometheusProvider({ url, retries: 1, backoffMs: 10, sleep });
    const error = await failure(provider.queryCounts("up", 0));
    expect(error.kind).toBe("http");
    expect(error.status).toBe(503);
    expect(error.message).toBe(`Prometheus at ${url} answered with an error: HTTP 503 Service Unavailable`);
    expect(fake.seen).toHaveLength(2);
  });

  it("refused credentials: kind auth, not retried", async () => {
    fake.replies = [{ status: 401, body: "Unauthorized", raw: true }];
    const provider = new PrometheusProvider({ url, sleep });
    const error = await failure(provider.queryCounts("up", 0));
    expect(error.kind).toBe("auth");
    expect(error.message).toBe(`Prometheus at ${url} refused the credentials (HTTP 401)`);
    expect(fake.seen).toHaveLength(1);
  });

  it("an answer that is not the Prometheus API: kind invalid-response", async () => {
    const provider = new PrometheusProvider({ url, sleep });
    fake.replies = [{ body: "<html>login</html>", raw: true }];
    expect((await failure(provider.queryCounts("up", 0))).kind).toBe("invalid-response");
    fake.replies = [
      { body: { status: "success", data: { resultType: "vector", result: [{ metric: {}, value: ["x"] }] } } },
    ];
    const error = await failure(provider.queryCounts("up", 0));
    expect(error.kind).toBe("invalid-response");
    expect(error.message).toContain("is not a Prometheus API response (data.result.0.value");
  });

  it("nothing listening: kind unreachable, after the retries", async () => {
    const closed = new FakePrometheus();
    const closedUrl = await closed.start();
    await closed.stop();
    const provider = new PrometheusProvider({ url: closedUrl, retries: 2, backoffMs: 5, sleep });
    const error = await failure(provider.queryCounts("up", 0));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toMatch(new RegExp(`^cannot reach Prometheus at ${closedUrl}: .*ECONNREFUSED`));
    expect(waits).toEqual([5, 10]);
  });

  it("no answer in time: kind timeout", async () => {
    fake.replies = ["hang"];
    const provider = new PrometheusProvider({ url, timeoutMs: 150, retries: 0, sleep });
    const error = await failure(provider.queryCounts("up", 0));
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe(`Prometheus at ${url} did not answer within 150 ms`);
  });

  it("a URL that is not one", () => {
    expect(() => new PrometheusProvider({ url: "prometheus:9090x y" })).toThrow(ProviderError);
    expect(() => new PrometheusProvider({ url: "ftp://prometheus" })).toThrow(
      '"ftp://prometheus" is not an http or https URL',
    );
  });
});

describe("TLS", () => {
  let secure: FakePrometheus;
  let secureUrl: string;
  beforeAll(async () => {
    secure = new FakePrometheus();
    secureUrl = await secure.start(true);
  });
  afterAll(async () => secure.stop());

  it("trusts a server signed by the given CA bundle", async () => {
    const provider = new PrometheusProvider({ url: secureUrl, ca: TEST_CERT, sleep });
    expect(await provider.queryCounts("up", 0)).toEqual([]);
  });

  it("refuses an unknown certificate unless verification is off", async () => {
    const strict = new PrometheusProvider({ url: secureUrl, retries: 0, sleep });
    const error = await failure(strict.queryCounts("up", 0));
    expect(error.kind).toBe("tls");
    expect(error.message).toContain(`cannot verify the TLS connection to Prometheus at ${secureUrl}`);
    const insecure = new PrometheusProvider({ url: secureUrl, insecureSkipVerify: true, sleep });
    expect(await insecure.queryCounts("up", 0)).toEqual([]);
  });
});

describe("PrometheusProvider.health", () => {
  it("asks for the build info and checks the answer", async () => {
    fake.replies = [{ body: { status: "success", data: { version: "2.42.0", revision: "x" } } }];
    const provider = new PrometheusProvider({ url, sleep });
    await provider.health();
    expect(fake.seen[0]!.path).toBe("/api/v1/status/buildinfo");
    fake.replies = [{ body: { status: "success", data: {} } }];
    expect((await failure(provider.health())).kind).toBe("invalid-response");
  });
});
