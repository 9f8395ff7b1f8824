/**
 * How a version's backend answers, per scenario: a pure plan per request from the behaviour, a random
 * source, the time since the behaviour was set and the request's headers. The server (server.ts) carries
 * the plan out.
 */
import type { Random } from "../../analysis/random.ts";
import { DEFAULT_FAULT_STATUS, faultAnswer } from "../../faults/answer.ts";

/** Log-normal response time: `medianMs` is the p50; `sigma` the spread of its logarithm. */
export interface Latency {
  medianMs: number;
  sigma?: number;
}

export type Behaviour =
  /** Fast 200s. */
  | { scenario: "healthy"; latency?: Latency }
  /** A share of requests (default 5%) answered with `status` (default 500). */
  | { scenario: "errors"; errorRate?: number; status?: number; latency?: Latency }
  /** Slow 200s: by default p50 350 ms, p90 about 550 ms. */
  | { scenario: "latency"; latency?: Latency }
  /** Errors (default 50%, status 503) during a warm-up (default 30 s) after the behaviour is set, then healthy. */
  | { scenario: "slow-start"; warmupMs?: number; errorRate?: number; status?: number; latency?: Latency }
  /**
   * Every request calls the dependency (through the mesh). When that call fails (5xx, transport error or
   * timeout), a version without fallback answers 500; one with fallback answers a degraded 200.
   */
  | { scenario: "flaky-dependency"; fallback: boolean; latency?: Latency }
  /**
   * The error backend of fault injection without a fault filter (`<svc>-fault`): answers the status the
   * route asks for in the x-stepwise-fault-status header (or a gRPC status in x-stepwise-fault-grpc-status),
   * else `status` (default 503).
   */
  | { scenario: "fault"; status?: number };

export type Plan =
  | { kind: "respond"; status: number; grpcStatus?: number; delayMs: number }
  | { kind: "call-dependency"; fallback: boolean; delayMs: number };

const FAST: Latency = { medianMs: 2, sigma: 0.3 };
const SLOW: Latency = { medianMs: 350, sigma: 0.35 };

/** A log-normal sample (Box-Muller). */
export function sampleLatency(latency: Latency, random: Random): number {
  const u1 = 1 - random.next();
  const u2 = random.next();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return latency.medianMs * Math.exp((latency.sigma ?? 0.3) * z);
}

function failing(rate: number, random: Random): boolean {
  return rate > 0 && random.next() < rate;
}

/** What to do with one request. `headers` are the request's, lower-case names. */
export function plan(
  behaviour: Behaviour,
  random: Random,
  elapsedMs: number,
  headers: Readonly<Record<string, string | undefined>>,
): Plan {
  switch (behaviour.scenario) {
    case "healthy":
      return { kind: "respond", status: 200, delayMs: sampleLatency(behaviour.latency ?? FAST, random) };
    case "errors": {
      const status = failing(behaviour.errorRate ?? 0.05, random) ? (behaviour.status ?? 500) : 200;
      return { kind: "respond", status, delayMs: sampleLatency(behaviour.latency ?? FAST, random) };
    }
    case "latency":
      return { kind: "respond", status: 200, delayMs: sampleLatency(behaviour.latency ?? SLOW, random) };
    case "slow-start": {
      const warming = elapsedMs < (behaviour.warmupMs ?? 30_000);
      const status = warming && failing(behaviour.errorRate ?? 0.5, random) ? (behaviour.status ?? 503) : 200;
      return { kind: "respond", status, delayMs: sampleLatency(behaviour.latency ?? FAST, random) };
    }
    case "flaky-dependency":
      return {
        kind: "call-dependency",
        fallback: behaviour.fallback,
        delayMs: sampleLatency(behaviour.latency ?? FAST, random),
      };
    case "fault":
      // the production fault server's answer (src/faults), at once
      return {
        kind: "respond",
        ...faultAnswer(headers, behaviour.status ?? DEFAULT_FAULT_STATUS),
        delayMs: 0,
      };
  }
}
