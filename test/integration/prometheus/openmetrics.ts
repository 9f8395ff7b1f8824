/**
 * Generates Istio and Linkerd request metrics as OpenMetrics text, with timestamps, for
 * `promtool tsdb create-blocks-from openmetrics`. Each pod serves `rps` requests a second, scraped every
 * 15 s; a fixed share of them is bad or slow, or, for a workload with a `seed`, its bad requests are drawn
 * (binomial, seeded: the same text every time), as a real error rate scatters.
 */
import { binomial, type Random, seededRandom } from "../../../src/analysis/random.ts";

export const SCRAPE_SECONDS = 15;

export interface Pod {
  name: string;
  /** Seconds from the window start when the pod starts serving (negative: before the window). */
  from: number;
  rps: number;
  /**
   * Seconds from the window start of the last scrape before the process restarts; its counters start again
   * from zero right after that scrape.
   */
  resetAt?: number;
}

export interface Workload {
  mesh: "istio" | "linkerd";
  namespace: string;
  name: string;
  pods: Pod[];
  /** Share of requests answered with a 5xx (HTTP) or UNAVAILABLE (gRPC). */
  errorRate: number;
  /** Share of requests taking 800 ms; the rest take 40 ms. */
  slowShare: number;
  protocol?: "http" | "grpc";
  /** Draw each scrape interval's bad requests at errorRate with this seed, instead of a fixed share. */
  seed?: number;
}

const ISTIO_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];
const LINKERD_BUCKETS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000,
];
const FAST_MS = 40;
const SLOW_MS = 800;

interface Series {
  name: string;
  labels: Record<string, string>;
  /** The value at `t` seconds from the window start; undefined when the series has no sample then. */
  value: (t: number) => number | undefined;
}

/** Requests a pod served by `t` since its counters last started from zero. */
function served(pod: Pod, t: number): number | undefined {
  if (t < pod.from) return undefined;
  const since = pod.resetAt !== undefined && t > pod.resetAt ? pod.resetAt : pod.from;
  return Math.floor(pod.rps * (t - since));
}

/** Cumulative drawn bad requests of one pod by its cumulative total, drawn in increasing order of totals. */
const drawn = new Map<string, { random: Random; totals: number[]; bads: number[] }>();

function drawnBad(workload: Workload, pod: Pod, total: number): number {
  if (pod.resetAt !== undefined) throw new Error("a seeded workload cannot have counter resets");
  const key = `${workload.namespace}/${workload.name}/${pod.name}/${workload.seed}`;
  let state = drawn.get(key);
  if (!state) {
    state = { random: seededRandom(workload.seed!), totals: [0], bads: [0] };
    drawn.set(key, state);
  }
  const known = state.totals.indexOf(total);
  if (known >= 0) return state.bads[known]!;
  const last = state.totals.length - 1;
  if (total < state.totals[last]!) throw new Error("seeded counts must be asked for in time order");
  const bad = state.bads[last]! + binomial(state.random, total - state.totals[last]!, workload.errorRate);
  state.totals.push(total);
  state.bads.push(bad);
  return bad;
}

function split(workload: Workload, pod: Pod, t: number) {
  const total = served(pod, t);
  if (total === undefined) return undefined;
  const bad =
    workload.seed === undefined ? Math.floor(total * workload.errorRate) : drawnBad(workload, pod, total);
  const slow = Math.floor(total * workload.slowShare);
  return { total, bad, good: total - bad, slow, fast: total - slow };
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${value}"`)
    .join(",");
}

function formatLe(bound: number, mesh: Workload["mesh"]): string {
  // Istio's exposition through OpenMetrics prints floats ("500.0"); Linkerd's prints integers ("500").
  return mesh === "istio" ? (Number.isInteger(bound) ? `${bound}.0` : String(bound)) : String(bound);
}

function requestSeries(workload: Workload): Series[] {
  const series: Series[] = [];
  for (const pod of workload.pods) {
    const at = (t: number) => split(workload, pod, t);
    // A series for bad answers exists only once the first one happened, as in a real proxy.
    const badValue = (t: number) => {
      const counts = at(t);
      return counts && counts.bad > 0 ? counts.bad : undefined;
    };
    if (workload.mesh === "istio") {
      const base = {
        reporter: "destination",
        destination_workload: workload.name,
        destination_workload_namespace: workload.namespace,
        pod: pod.name,
        request_protocol: workload.protocol ?? "http",
      };
      if (workload.protocol === "grpc") {
        series.push({
          name: "istio_requests_total",
          labels: { ...base, response_code: "200", grpc_response_status: "0" },
          value: (t) => at(t)?.good,
        });
        series.push({
          name: "istio_requests_total",
          labels: { ...base, response_code: "200", grpc_response_status: "14" },
          value: badValue,
        });
      } else {
        series.push({
          name: "istio_requests_total",
          labels: { ...base, response_code: "200" },
          value: (t) => at(t)?.good,
        });
        series.push({
          name: "istio_requests_total",
          labels: { ...base, response_code: "503" },
          value: badValue,
        });
      }
    } else {
      const base = {
        direction: "inbound",
        namespace: workload.namespace,
        deployment: workload.name,
        pod: pod.name,
      };
      series.push({
        name: "response_total",
        labels: { ...base, status_code: "200", classification: "success" },
        value: (t) => at(t)?.good,
      });
      series.push({
        name: "response_total",
        labels: { ...base, status_code: "503", classification: "failure" },
        value: badValue,
      });
    }
  }
  return series;
}

function latencySeries(workload: Workload): Series[] {
  const series: Series[] = [];
  const istio = workload.mesh === "istio";
  const name = istio ? "istio_request_duration_milliseconds" : "response_latency_ms";
  const buckets = istio ? ISTIO_BUCKETS : LINKERD_BUCKETS;
  for (const pod of workload.pods) {
    const base: Record<string, string> = istio
      ? {
          reporter: "destination",
          destination_workload: workload.name,
          destination_workload_namespace: workload.namespace,
          pod: pod.name,
        }
      : { direction: "inbound", namespace: workload.namespace, deployment: workload.name, pod: pod.name };
    const at = (t: number) => split(workload, pod, t);
    for (const bound of [...buckets, Number.POSITIVE_INFINITY]) {
      const le = bound === Number.POSITIVE_INFINITY ? "+Inf" : formatLe(bound, workload.mesh);
      series.push({
        name: `${name}_bucket`,
        labels: { ...base, le },
        value: (t) => {
          const counts = at(t);
          if (!counts) return undefined;
          return (bound >= FAST_MS ? counts.fast : 0) + (bound >= SLOW_MS ? counts.slow : 0);
        },
      });
    }
    series.push({ name: `${name}_count`, labels: base, value: (t) => at(t)?.total });
    series.push({
      name: `${name}_sum`,
      labels: base,
      value: (t) => {
        const counts = at(t);
        return counts ? counts.fast * FAST_MS + counts.slow * SLOW_MS : undefined;
      },
    });
  }
  return series;
}

/**
 * The OpenMetrics text for the workloads, scraped every 15 s from `from` to `to` seconds around the window
 * start `start` (ms since the epoch). Families are grouped and each series' samples are in time order.
 */
export function openMetrics(workloads: readonly Workload[], start: number, from: number, to: number): string {
  const families: [string, string, Series[]][] = [
    ["istio_requests", "counter", workloads.filter((w) => w.mesh === "istio").flatMap(requestSeries)],
    [
      "istio_request_duration_milliseconds",
      "histogram",
      workloads.filter((w) => w.mesh === "istio" && w.protocol !== "grpc").flatMap(latencySeries),
    ],
    ["response", "counter", workloads.filter((w) => w.mesh === "linkerd").flatMap(requestSeries)],
    [
      "response_latency_ms",
      "histogram",
      workloads.filter((w) => w.mesh === "linkerd").flatMap(latencySeries),
    ],
  ];
  const lines: string[] = [];
  for (const [family, type, series] of families) {
    if (series.length === 0) continue;
    lines.push(`# TYPE ${family} ${type}`);
    // a histogram's samples go label set by label set: buckets, count and sum together
    for (const entry of series) {
      for (let t = from; t <= to; t += SCRAPE_SECONDS) {
        const value = entry.value(t);
        if (value === undefined) continue;
        lines.push(`${entry.name}{${labelText(entry.labels)}} ${value} ${(start / 1000 + t).toFixed(3)}`);
      }
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}
