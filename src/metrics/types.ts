/**
 * The one interface every metrics provider implements: read raw counters, and say whether it answers. The
 * Prometheus provider is in prometheus.ts; increments are computed from the raw values in counters.ts.
 */

/** One series of a counter at an instant: its labels and its raw (cumulative) value. */
export interface CounterSample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricsProvider {
  /** Where the provider reads from, for messages (e.g. the Prometheus URL). */
  readonly description: string;
  /**
   * The raw value of every series the query selects at `at` (ms since the epoch); an empty list when none
   * matches. Rejects with a ProviderError.
   */
  queryCounts(query: string, at: number): Promise<CounterSample[]>;
  /** Resolves when the provider answers; rejects with a ProviderError otherwise. */
  health(): Promise<void>;
  /**
   * False when the provider cannot answer for the time before it started (the built-in scraper has only
   * what it scraped): a shared answer of a past slot would read as no counts at all, so looks through it
   * are not shared (ProfileAnalysis); Prometheus keeps history.
   */
  readonly hasHistory?: boolean;
}

export const PROVIDER_ERROR_KINDS = [
  /** Connection refused, DNS failure, reset: nothing answered. */
  "unreachable",
  /** No answer within the timeout. */
  "timeout",
  /** The TLS handshake failed (unknown CA, bad certificate). */
  "tls",
  /** 401 or 403: the credentials were refused. */
  "auth",
  /** The provider rejected the query (PromQL error, bad parameters). */
  "query",
  /** Any other error status, e.g. 500 or 503. */
  "http",
  /** An answer that is not what the API promises. */
  "invalid-response",
] as const;
export type ProviderErrorKind = (typeof PROVIDER_ERROR_KINDS)[number];

/** Why a provider could not answer. A provider error makes an Error verdict, never a Fail. */
export class ProviderError extends Error {
  override name = "ProviderError";
  readonly kind: ProviderErrorKind;
  /** The HTTP status, when there was one. */
  readonly status: number | undefined;

  constructor(kind: ProviderErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
  }

  /** Whether trying again may help: the provider was down, slow or overloaded, not wrong. */
  get retryable(): boolean {
    if (this.kind === "unreachable" || this.kind === "timeout") return true;
    return this.kind === "http" && (this.status === undefined || this.status >= 500 || this.status === 429);
  }
}
