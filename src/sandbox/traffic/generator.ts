/**
 * A traffic generator: requests at a steady rate to a Service through the mesh proxy, as a meshed client
 * workload, optionally with a fixed share carrying an A/B test header or cookie; bounded by a count or a
 * duration (or running until stopped). Counts answers by status and by the version that answered.
 */
import http from "node:http";
import { VERSION_HEADER } from "../backends/server.ts";
import { SOURCE_HEADER } from "../mesh/headers.ts";
import { httpCall } from "../mesh/http.ts";

export interface TrafficOptions {
  /** The mesh proxy's URL. */
  url: string;
  /** The Service to call, sent as Host (`podinfo`). */
  host: string;
  /** Path and query (default "/"). */
  path?: string;
  /** Requests per second (default 20). */
  rps?: number;
  /** Stop after this many requests. */
  count?: number;
  /** Stop sending after this long (ms). */
  durationMs?: number;
  /** A share (0..1) of requests carrying A/B test headers and/or a cookie, spread evenly. */
  tagged?: { share: number; headers?: Record<string, string>; cookie?: string };
  /** The client's workload name, as the mesh sees it (default "loadgenerator"). */
  source?: string;
  /** A request without an answer by then counts as failed (default 10000 ms). */
  timeoutMs?: number;
}

export interface TrafficCounts {
  /** Requests sent. */
  sent: number;
  /** Answers received, any status. */
  answered: number;
  /** Requests without an answer (connection error, timeout, stopped). */
  failed: number;
  /** Answers by status code. */
  byStatus: Record<string, number>;
  /** Answers by the x-sandbox-version header ("none" when absent, e.g. a mesh-generated error). */
  byVersion: Record<string, number>;
  /** The tagged (A/B) requests: how many were sent and which versions answered them. */
  tagged: { sent: number; byVersion: Record<string, number> };
}

export interface Traffic {
  counts(): TrafficCounts;
  /** Resolves when the bound is reached (or stop() is called) and every answer is in. */
  done: Promise<TrafficCounts>;
  /** Stops sending, waits for the requests in flight, and returns the final counts. */
  stop(): Promise<TrafficCounts>;
}

/** Whether request `index` (0-based) is one of the tagged share: evenly spread, exactly share * n of n. */
export function isTagged(index: number, share: number): boolean {
  return Math.floor((index + 1) * share) > Math.floor(index * share);
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export function startTraffic(options: TrafficOptions): Traffic {
  const rps = options.rps ?? 20;
  if (!(rps > 0)) throw new RangeError("rps must be positive");
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  const agent = new http.Agent({ keepAlive: true });
  const counts: TrafficCounts = {
    sent: 0,
    answered: 0,
    failed: 0,
    byStatus: {},
    byVersion: {},
    tagged: { sent: 0, byVersion: {} },
  };
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let finish: (counts: TrafficCounts) => void = () => {};
  const done = new Promise<TrafficCounts>((resolve) => {
    finish = resolve;
  });

  const snapshot = (): TrafficCounts => structuredClone(counts);

  const send = (index: number) => {
    const tagged = options.tagged !== undefined && isTagged(index, options.tagged.share);
    const headers: Record<string, string> = {
      host: options.host,
      [SOURCE_HEADER]: options.source ?? "loadgenerator",
    };
    if (tagged) {
      Object.assign(headers, options.tagged?.headers);
      if (options.tagged?.cookie !== undefined) headers.cookie = options.tagged.cookie;
      counts.tagged.sent++;
    }
    counts.sent++;
    const request = httpCall(options.url, {
      path: options.path ?? "/",
      headers,
      agent,
      timeoutMs: options.timeoutMs ?? 10_000,
    }).then(
      (answer) => {
        counts.answered++;
        bump(counts.byStatus, String(answer.status));
        const version = answer.headers[VERSION_HEADER];
        const name = typeof version === "string" ? version : "none";
        bump(counts.byVersion, name);
        if (tagged) bump(counts.tagged.byVersion, name);
      },
      () => {
        counts.failed++;
      },
    );
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };

  const drain = async (): Promise<TrafficCounts> => {
    while (inFlight.size > 0) await Promise.all(inFlight);
    agent.destroy();
    const final = snapshot();
    finish(final);
    return final;
  };

  const halt = () => {
    stopped = true;
    clearTimeout(timer);
  };

  /** Sends every request due by now, then sleeps until the next one is due. */
  const tick = () => {
    const elapsed = performance.now() - started;
    const timeUp = options.durationMs !== undefined && elapsed >= options.durationMs;
    const due = Math.min(limit, Math.floor((elapsed * rps) / 1000) + 1);
    while (!timeUp && counts.sent < due) send(counts.sent);
    if (timeUp || counts.sent >= limit) {
      halt();
      void drain();
      return;
    }
    const nextAt = (counts.sent * 1000) / rps;
    timer = setTimeout(tick, Math.max(0, nextAt - (performance.now() - started)));
  };

  tick();
  return {
    counts: snapshot,
    done,
    async stop() {
      if (!stopped) {
        halt();
        return drain();
      }
      return done;
    },
  };
}
