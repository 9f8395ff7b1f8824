/**
 * The Prometheus metrics provider, on prometheus-query (HTTP API v1). Every answer is checked with zod before
 * it is used, and every failure becomes a ProviderError with a kind a caller can act on.
 */
import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AxiosError, AxiosResponse, InternalAxiosRequestConfig } from "axios";
import { PrometheusDriver } from "prometheus-query";
import { z } from "zod";
import { type CounterSample, type MetricsProvider, ProviderError } from "./types.ts";

/** Supplies a bearer token for each request (read again every time, so rotated tokens are picked up). */
export type TokenSource = () => Promise<string>;

/** A token kept in a file, such as a projected service-account token. */
export function tokenFromFile(path: string): TokenSource {
  return async () => {
    try {
      const token = (await readFile(path, "utf8")).trim();
      if (token === "") throw new ProviderError("auth", `the bearer token file ${path} is empty`);
      return token;
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ProviderError("auth", `cannot read the bearer token file ${path}: ${code}`, { cause: error });
    }
  };
}

export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

/**
 * Reads a Secret's `data` (base64 values, as the Kubernetes API returns them); undefined when it does not
 * exist. The controller passes one built on its Kubernetes client.
 */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, string> | undefined>;

/** A token kept in a Kubernetes Secret's key. */
export function tokenFromSecret(read: SecretReader, ref: SecretKeyRef): TokenSource {
  return async () => {
    const where = `Secret ${ref.namespace}/${ref.name}`;
    let data: Record<string, string> | undefined;
    try {
      data = await read(ref.namespace, ref.name);
    } catch (error) {
      throw new ProviderError("auth", `cannot read the bearer token from ${where}: ${String(error)}`, {
        cause: error,
      });
    }
    if (!data) throw new ProviderError("auth", `the bearer token ${where} does not exist`);
    const encoded = data[ref.key];
    if (encoded === undefined) throw new ProviderError("auth", `${where} has no key ${ref.key}`);
    const token = Buffer.from(encoded, "base64").toString("utf8").trim();
    if (token === "") throw new ProviderError("auth", `${where} key ${ref.key} is empty`);
    return token;
  };
}

export interface PrometheusOptions {
  /** The server's base URL, e.g. http://prometheus.monitoring:9090 or https://host/prometheus. */
  url: string;
  bearerToken?: TokenSource;
  basicAuth?: { username: string; password: string };
  /** Extra request headers, e.g. X-Scope-OrgID for a multi-tenant Prometheus-compatible server. */
  headers?: Readonly<Record<string, string>>;
  /** PEM CA bundle to trust for https URLs. */
  ca?: string | Buffer;
  /** Skip TLS certificate verification (testing only). */
  insecureSkipVerify?: boolean;
  /** Per attempt; default 10 s. */
  timeoutMs?: number;
  /** Extra attempts after a retryable failure (unreachable, timeout, 5xx, 429); default 2. */
  retries?: number;
  /** The first wait between attempts; it doubles each time. Default 250 ms. */
  backoffMs?: number;
  /** Waits between attempts; tests pass one that records instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
}

const Sample = z.tuple([z.number(), z.string()]);
const QueryData = z.discriminatedUnion("resultType", [
  z.object({
    resultType: z.literal("vector"),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: Sample })),
  }),
  z.object({ resultType: z.literal("scalar"), result: Sample }),
  z.object({ resultType: z.literal("matrix"), result: z.array(z.unknown()) }),
  z.object({ resultType: z.literal("string"), result: z.unknown() }),
]);
const QueryResponse = z.object({ status: z.literal("success"), data: QueryData });
const BuildInfoResponse = z.object({ status: z.literal("success"), data: z.object({ version: z.string() }) });
const ErrorResponse = z.object({
  status: z.literal("error"),
  errorType: z.string().optional(),
  error: z.string(),
});

type QueryData = z.output<typeof QueryData>;

const RESPONSE_SCHEMAS: Record<string, z.ZodType> = {
  query: QueryResponse,
  "status/buildinfo": BuildInfoResponse,
};

const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "EPROTO",
]);
const TIMEOUT_CODES = new Set(["ECONNABORTED", "ETIMEDOUT", "ESOCKETTIMEDOUT"]);

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "unexpected shape";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A MetricsProvider reading raw counters from Prometheus with instant queries. */
export class PrometheusProvider implements MetricsProvider {
  readonly description: string;
  private readonly driver: PrometheusDriver;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: PrometheusOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ProviderError(
        "unreachable",
        `"${options.url}" is not a URL (expected e.g. http://prometheus:9090)`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ProviderError("unreachable", `"${options.url}" is not an http or https URL`);
    }
    this.description = `Prometheus at ${url.origin}${url.pathname.replace(/\/$/, "")}`;
    this.retries = options.retries ?? 2;
    this.backoffMs = options.backoffMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.sleep = options.sleep ?? sleepFor;
    const httpsAgent = new https.Agent({
      keepAlive: true,
      ca: options.ca,
      rejectUnauthorized: !options.insecureSkipVerify,
    });
    const httpAgent = new http.Agent({ keepAlive: true });
    const token = options.bearerToken;
    this.driver = new PrometheusDriver({
      endpoint: options.url,
      baseURL: "/api/v1/",
      headers: { ...options.headers },
      auth: options.basicAuth,
      timeout: this.timeoutMs,
      withCredentials: false,
      preferPost: false,
      requestInterceptor: {
        onFulfilled: async (config: InternalAxiosRequestConfig) => {
          config.httpsAgent = httpsAgent;
          config.httpAgent = httpAgent;
          config.proxy = false;
          if (token) config.headers.set("Authorization", `Bearer ${await token()}`);
          return config;
        },
      },
      responseInterceptor: {
        onFulfilled: (response: AxiosResponse) => this.checkResponse(response),
        onRejected: (error: unknown) => {
          throw this.toProviderError(error);
        },
      },
    });
  }

  /** Validates a 2xx answer against the API's documented shape. */
  private checkResponse(response: AxiosResponse): AxiosResponse {
    const schema = RESPONSE_SCHEMAS[String(response.config.url)];
    if (!schema) return response;
    const parsed = schema.safeParse(response.data);
    if (!parsed.success) {
      const what = typeof response.data === "string" ? "text that is not JSON" : firstIssue(parsed.error);
      throw new ProviderError(
        "invalid-response",
        `${this.description} answered with something that is not a Prometheus API response (${what})`,
        { status: response.status },
      );
    }
    response.data = parsed.data;
    return response;
  }

  /** Turns an axios failure into a ProviderError. */
  private toProviderError(error: unknown): ProviderError {
    if (error instanceof ProviderError) return error;
    const axiosError = error as Partial<AxiosError> & { code?: string; message?: string };
    const response = axiosError.response;
    if (response) {
      const status = response.status;
      const body = ErrorResponse.safeParse(response.data);
      const detail = body.success ? body.data.error : `HTTP ${status} ${response.statusText ?? ""}`.trim();
      if (status === 401 || status === 403) {
        return new ProviderError("auth", `${this.description} refused the credentials (HTTP ${status})`, {
          status,
        });
      }
      if (body.success && (status === 400 || status === 422)) {
        return new ProviderError("query", `${this.description} rejected the query: ${detail}`, { status });
      }
      return new ProviderError("http", `${this.description} answered with an error: ${detail}`, { status });
    }
    const code = axiosError.code ?? (axiosError.cause as NodeJS.ErrnoException | undefined)?.code ?? "";
    const message = axiosError.message ?? String(error);
    if (TIMEOUT_CODES.has(code) || /timeout/i.test(message)) {
      return new ProviderError("timeout", `${this.description} did not answer within ${this.timeoutMs} ms`, {
        cause: error,
      });
    }
    if (TLS_CODES.has(code) || code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS")) {
      return new ProviderError("tls", `cannot verify the TLS connection to ${this.description}: ${message}`, {
        cause: error,
      });
    }
    return new ProviderError("unreachable", `cannot reach ${this.description}: ${message}`, { cause: error });
  }

  /** Unwraps what prometheus-query throws (its own error objects around ours). */
  private unwrap(error: unknown): ProviderError {
    if (error instanceof ProviderError) return error;
    const wrapped = error as { original?: unknown; httpStatus?: number; error?: string } | undefined;
    if (wrapped?.original instanceof ProviderError) return wrapped.original;
    if (wrapped?.original !== undefined) return this.toProviderError(wrapped.original);
    if (typeof wrapped?.httpStatus === "number") {
      return new ProviderError(
        "http",
        `${this.description} answered with an error: ${wrapped.error ?? "unknown"}`,
        {
          status: wrapped.httpStatus,
        },
      );
    }
    const message = error instanceof Error ? error.message : (wrapped?.error ?? String(error));
    return new ProviderError("invalid-response", `${this.description}: ${message}`, { cause: error });
  }

  private async withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (caught) {
        const error = this.unwrap(caught);
        if (!error.retryable || tries >= this.retries) throw error;
        await this.sleep(this.backoffMs * 2 ** tries);
      }
    }
  }

  async queryCounts(query: string, at: number): Promise<CounterSample[]> {
    const result = await this.withRetry(() => this.driver.instantQuery(query, at));
    const data = { resultType: result.resultType, result: result.result } as unknown as
      | QueryData
      | { resultType: "vector"; result: unknown[] };
    switch (data.resultType) {
      case "vector":
        return (
          data.result as {
            metric: { name?: string; labels?: Record<string, string> };
            value: { value: number };
          }[]
        ).map((vector) => ({
          labels: {
            ...(vector.metric?.labels ?? {}),
            ...(vector.metric?.name ? { __name__: vector.metric.name } : {}),
          },
          value: vector.value.value,
        }));
      case "scalar":
        return [{ labels: {}, value: Number.parseFloat((data.result as [number, string])[1]) }];
      default:
        throw new ProviderError(
          "query",
          `the query must return an instant vector of counters, not a ${data.resultType}: ${query}`,
        );
    }
  }

  async health(): Promise<void> {
    await this.withRetry(() => this.driver.statusBuildinfo());
  }
}
