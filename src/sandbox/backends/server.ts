/**
 * A version's backend: a real HTTP server on loopback that answers as its behaviour plans, names its
 * version in the `x-sandbox-version` response header and its service time (the planned delay plus its
 * dependency call's) in SERVICE_TIME_HEADER and, for the flaky-dependency scenario, calls its dependency
 * through the mesh as its own workload.
 */
import { setMaxListeners } from "node:events";
import http, { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { type Random, seededRandom } from "../../analysis/random.ts";
import { SERVICE_TIME_HEADER, SOURCE_HEADER, serviceTimeOf } from "../mesh/headers.ts";
import { closeServer, httpCall, listen, readAll } from "../mesh/http.ts";
import { type Behaviour, plan } from "./behaviour.ts";

/** The response header that names the version that answered. */
export const VERSION_HEADER = "x-sandbox-version";
/** Set on a flaky-dependency answer served by the fallback. */
export const DEGRADED_HEADER = "x-sandbox-degraded";

export interface DependencyOptions {
  /** The mesh proxy's URL. */
  url: string;
  /** The dependency's Service host, sent as Host (e.g. `payments`). */
  host: string;
  /** Path to call (default "/"). */
  path?: string;
  /** The calling workload's name, for the mesh (its pod labels come from the mesh's topology). */
  source: string;
  /** A call that takes longer fails (default 1000 ms). */
  timeoutMs?: number;
}

export interface BackendOptions {
  /** Named in the x-sandbox-version header and the body, e.g. "1.4.1" or "canary". */
  version: string;
  /** Default: healthy. */
  behaviour?: Behaviour;
  /** Seed of the random source of latencies and errors (default: random). */
  seed?: number;
  /** The dependency the flaky-dependency scenario calls; or set it later with setDependency(). */
  dependency?: DependencyOptions;
  /** Loopback address (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Milliseconds clock for the slow-start warm-up (default performance.now). */
  now?: () => number;
}

export interface Backend {
  url: string;
  version: string;
  behaviour(): Behaviour;
  /** Switches the behaviour; the slow-start warm-up starts again from now. */
  setBehaviour(behaviour: Behaviour): void;
  /** Sets the dependency to call (the mesh starts after its backends, so its URL may come later). */
  setDependency(dependency: DependencyOptions): void;
  /** Requests answered so far. */
  requests(): number;
  close(): Promise<void>;
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    out[name] = Array.isArray(value) ? value[0] : value;
  return out;
}

export async function startBackend(options: BackendOptions): Promise<Backend> {
  const now = options.now ?? (() => performance.now());
  const random: Random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  const stopping = new AbortController();
  // every request in flight listens for the stop
  setMaxListeners(0, stopping.signal);
  const agent = new http.Agent({ keepAlive: true });
  let behaviour: Behaviour = options.behaviour ?? { scenario: "healthy" };
  let since = now();
  let answered = 0;
  let dependency = options.dependency;

  /** Whether the dependency answered without a server error, and the time the call took. */
  const callDependency = async (): Promise<{ ok: boolean; serviceMs: number }> => {
    if (!dependency)
      throw new Error(`backend ${options.version}: the flaky-dependency scenario needs a dependency`);
    const timeoutMs = dependency.timeoutMs ?? 1000;
    const sent = performance.now();
    try {
      const answer = await httpCall(dependency.url, {
        path: dependency.path ?? "/",
        headers: { host: dependency.host, [SOURCE_HEADER]: dependency.source },
        agent,
        signal: stopping.signal,
        timeoutMs,
      });
      return { ok: answer.status < 500, serviceMs: serviceTimeOf(answer.headers, sent) };
    } catch (error) {
      if (stopping.signal.aborted) throw error;
      return { ok: false, serviceMs: Math.min(performance.now() - sent, timeoutMs) };
    }
  };

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    await readAll(req);
    const step = plan(behaviour, random, now() - since, lowerCaseHeaders(req));
    if (step.delayMs > 0) await sleep(step.delayMs, undefined, { signal: stopping.signal });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      [VERSION_HEADER]: options.version,
    };
    let status: number;
    let degraded = false;
    let serviceMs = step.delayMs;
    if (step.kind === "call-dependency") {
      const { ok, serviceMs: dependencyMs } = await callDependency();
      serviceMs += dependencyMs;
      degraded = !ok && step.fallback;
      status = ok || step.fallback ? 200 : 500;
      if (degraded) headers[DEGRADED_HEADER] = "true";
    } else {
      status = step.status;
      if (step.grpcStatus !== undefined) {
        headers["content-type"] = "application/grpc";
        headers["grpc-status"] = String(step.grpcStatus);
      }
    }
    answered++;
    headers[SERVICE_TIME_HEADER] = String(serviceMs);
    res.writeHead(status, headers);
    res.end(`${JSON.stringify({ version: options.version, status, degraded })}\n`);
  };

  const server = createServer({ keepAlive: true }, (req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  const url = await listen(server, options.port ?? 0, options.host ?? "127.0.0.1");
  return {
    url,
    version: options.version,
    behaviour: () => behaviour,
    setBehaviour(next) {
      behaviour = next;
      since = now();
    },
    setDependency(next) {
      dependency = next;
    },
    requests: () => answered,
    async close() {
      stopping.abort();
      agent.destroy();
      await closeServer(server);
    },
  };
}
