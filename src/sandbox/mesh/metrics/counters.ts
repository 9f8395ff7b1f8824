/**
 * The raw counts behind the metrics, per destination workload, for callers that read them in process (a
 * metrics provider when no Prometheus runs). Counted where the destination's sidecar counts: every request
 * that reached the workload, mirrored copies included. All values are cumulative since the mesh started.
 */
import type { Recorder, RequestRecord } from "./record.ts";

export interface WorkloadCounters {
  workload: string;
  namespace: string;
  /** Requests the workload answered. */
  requests: number;
  /** Of those, answers with a 5xx status. */
  errors: number;
  /** Answers by status code ("200", "503"). */
  byStatus: Record<string, number>;
  /** The latency histogram, with the chosen dialect's bucket bounds in milliseconds. */
  latency: {
    /** Upper bounds, ascending; the last bucket (+Inf) is `requests`. */
    bounds: readonly number[];
    /** counts[i] = requests that took at most bounds[i] ms (cumulative, as Prometheus' `le` buckets). */
    counts: number[];
  };
}

export class CountersRecorder implements Recorder {
  private readonly byWorkload = new Map<string, WorkloadCounters>();

  constructor(private readonly bounds: readonly number[]) {}

  record(request: RequestRecord): void {
    const destination = request.destination;
    if (!destination) return;
    const { name, namespace } = destination.workload;
    const key = `${namespace}/${name}`;
    let counters = this.byWorkload.get(key);
    if (!counters) {
      counters = {
        workload: name,
        namespace,
        requests: 0,
        errors: 0,
        byStatus: {},
        latency: { bounds: this.bounds, counts: this.bounds.map(() => 0) },
      };
      this.byWorkload.set(key, counters);
    }
    counters.requests++;
    if (request.status >= 500) counters.errors++;
    const code = String(request.status);
    counters.byStatus[code] = (counters.byStatus[code] ?? 0) + 1;
    this.bounds.forEach((bound, i) => {
      if (request.upstreamMs <= bound) counters.latency.counts[i] = (counters.latency.counts[i] ?? 0) + 1;
    });
  }

  /** A copy of the counters, keyed by workload name. */
  snapshot(): Record<string, WorkloadCounters> {
    const out: Record<string, WorkloadCounters> = {};
    for (const c of this.byWorkload.values()) {
      out[c.workload] = {
        ...c,
        byStatus: { ...c.byStatus },
        latency: { bounds: c.latency.bounds, counts: [...c.latency.counts] },
      };
    }
    return out;
  }
}
