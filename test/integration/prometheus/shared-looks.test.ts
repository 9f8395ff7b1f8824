// 50 rollouts' looks against a real Prometheus behind a counting proxy: the controller's analysis makes one
// query per counter per look for all of them (not four per rollout per profile), and each rollout's verdicts
// are exactly those of per-rollout queries on the same data, counter resets and pods joining mid-step
// included. Skipped, with a message, only when the prometheus and promtool binaries are missing.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuiltInProfiles } from "../../../src/analysis/profiles.ts";
import { parseRollout, type Rollout } from "../../../src/api/rollout.ts";
import { ProfileAnalysis } from "../../../src/controller/analysis.ts";
import type { ProfileVerdict } from "../../../src/engine/types.ts";
import { PrometheusProvider } from "../../../src/metrics/prometheus.ts";
import { canaryRollout } from "../../support/cluster.ts";
import { openMetrics, type Workload } from "./openmetrics.ts";
import { type RunningPrometheus, startPrometheus, which } from "./server.ts";

const missing = (await which("prometheus")) === undefined || (await which("promtool")) === undefined;
if (missing) {
  console.warn(
    "SKIPPED test/integration/prometheus/shared-looks: the prometheus and promtool binaries are not on PATH",
  );
}

const NS = "shop";
const ROLLOUTS = 50;
// The step starts two hours ago on a whole minute; traffic runs from 10 minutes before it to 5 after.
const START = Math.floor((Date.now() - 2 * 3600_000) / 60_000) * 60_000;
const LOOK_MS = 15_000;
const LOOKS = [1, 2, 4, 8, 12, 16, 20].map((n) => START + n * LOOK_MS);

const names = Array.from({ length: ROLLOUTS }, (_, i) => `app-${i}`);

/**
 * Healthy canaries without errors, every fifth failing 5% of requests, every fifth but one slow; every
 * seventh restarts (a counter reset), every third gets a second pod mid-step (a new series).
 */
function workloads(): Workload[] {
  return names.flatMap((name, i): Workload[] => [
    {
      mesh: "istio",
      namespace: NS,
      name: `${name}-primary`,
      pods: [{ name: `${name}-primary-5c8b-p1`, from: -600, rps: 90 }],
      errorRate: 0.001,
      slowShare: 0.01,
    },
    {
      mesh: "istio",
      namespace: NS,
      name,
      pods: [
        { name: `${name}-6f7a-c1`, from: 0, rps: 30, ...(i % 7 === 0 ? { resetAt: 120 } : {}) },
        ...(i % 3 === 0 ? [{ name: `${name}-6f7a-c2`, from: 90, rps: 10 }] : []),
      ],
      errorRate: i % 5 === 0 ? 0.05 : 0,
      slowShare: i % 5 === 1 ? 0.3 : 0,
    },
  ]);
}

/** Rollouts at step 0 since START, with the two profiles; every other one with its own latency bound. */
function rollouts(): Rollout[] {
  return names.map((name, i) => {
    const parsed = parseRollout(
      canaryRollout(name, NS, [{ setWeight: 10 }, { analysis: {} }], {
        analysis: {
          interval: "15s",
          profiles: [
            { name: "http-availability" },
            { name: "http-latency", ...(i % 2 === 0 ? { args: { thresholdMs: 250 } } : {}) },
          ],
        },
      }),
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    return {
      ...parsed.value,
      status: {
        phase: "Progressing",
        step: 0,
        revision: "r2",
        startedAt: new Date(START).toISOString(),
        stepStartedAt: new Date(START).toISOString(),
      },
    };
  });
}

/** A proxy in front of Prometheus that records each instant query it forwards. */
async function countingProxy(target: string) {
  const queries: { query: string; time: string }[] = [];
  const upstream = new URL(target);
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://proxy");
    if (url.pathname.endsWith("/api/v1/query"))
      queries.push({ query: url.searchParams.get("query") ?? "", time: url.searchParams.get("time") ?? "" });
    const forwarded = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on("error", () => response.destroy());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.skipIf(missing)(
  "analysis looks for many rollouts against a real Prometheus",
  { timeout: 120_000 },
  () => {
    let prometheus: RunningPrometheus;
    let proxy: Awaited<ReturnType<typeof countingProxy>>;

    beforeAll(async () => {
      prometheus = await startPrometheus(openMetrics(workloads(), START, -600, 300));
      proxy = await countingProxy(prometheus.url);
    }, 120_000);
    afterAll(async () => {
      await proxy?.close();
      await prometheus?.stop();
    });

    it("makes one query per indicator's counter per look for 50 rollouts, with the verdicts of per-rollout queries", async () => {
      const builtIn = await loadBuiltInProfiles();
      const lookup = (_namespace: string, name: string) => builtIn.get(name);
      const provider = new PrometheusProvider({ url: proxy.url });
      const shared = new ProfileAnalysis(provider, lookup);
      const own = new ProfileAnalysis(provider, lookup, { shareQueries: false });
      const subjects = rollouts();
      const since = new Date(START);
      const verdicts = { shared: [] as ProfileVerdict[][][], own: [] as ProfileVerdict[][][] };
      const perLook: number[] = [];
      for (const [index, look] of LOOKS.entries()) {
        const window = { since, now: new Date(look) };
        const before = proxy.queries.length;
        const results = await Promise.all(subjects.map((subject) => shared.evaluate(subject, window)));
        perLook.push(proxy.queries.length - before);
        // The counters: availability's total (its bad requests are picked from the same answer); latency's
        // good at 500 and at 250, and its total, each asked once; the first look also reads them at the
        // step's start.
        const asked = proxy.queries.slice(before);
        const texts = new Set(asked.map((entry) => entry.query));
        expect(texts.size).toBe(4);
        expect(new Set(asked.map((entry) => `${entry.query}@${entry.time}`)).size).toBe(asked.length);
        expect(perLook[index]).toBe(index === 0 ? 8 : 4);
        for (const query of texts) expect(query).not.toContain("app-");
        verdicts.shared.push(results);
        verdicts.own.push(await Promise.all(subjects.map((subject) => own.evaluate(subject, window))));
      }
      expect(verdicts.shared).toEqual(verdicts.own);
      // per rollout, the same looks take 4 queries per profile (canary and baseline, bad and total)
      expect(proxy.queries.length - perLook.reduce((sum, n) => sum + n, 0)).toBe(
        ROLLOUTS * 2 * 4 * (LOOKS.length + 1),
      );
      // The data make the comparison mean something: passes, availability and latency failures, and counts
      // that include a restarted pod's counter reset and a pod that joined mid-step.
      const last = verdicts.shared.at(-1)!;
      const kinds = new Set(last.flatMap((profiles) => profiles.map((p) => `${p.profile}:${p.verdict}`)));
      expect(kinds).toContain("http-availability:Pass");
      expect(kinds).toContain("http-availability:Fail");
      expect(kinds).toContain("http-latency:Pass");
      expect(kinds).toContain("http-latency:Fail");
      // app-21 (restarted at 120 s, a second pod from 90 s): 30 rps for 300 s, plus 10 rps for 210 s
      expect(last[21]![0]!.canary?.total).toBe(30 * 300 + 10 * 210);
    });
  },
);
