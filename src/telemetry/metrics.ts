import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { PHASES, type Phase, VERDICTS } from "../api/rollout.ts";

/** The controller's own metrics, in a registry of their own (tests get a fresh one each time). */
export class ControllerMetrics {
  readonly registry = new Registry();
  /** Profiles with verdict series per rollout, so they can be removed with it. */
  private readonly profiles = new Map<string, Set<string>>();

  private readonly phase = new Gauge({
    name: "stepwise_rollout_phase",
    help: "1 for the phase each rollout is in, 0 for the others",
    labelNames: ["namespace", "rollout", "phase"],
    registers: [this.registry],
  });

  private readonly weight = new Gauge({
    name: "stepwise_rollout_canary_weight_percent",
    help: "Canary traffic share: desired by the controller, applied on the route object",
    labelNames: ["namespace", "rollout", "kind"],
    registers: [this.registry],
  });

  private readonly verdict = new Gauge({
    name: "stepwise_analysis_verdict",
    help: "1 for each profile's current verdict, 0 for the others",
    labelNames: ["namespace", "rollout", "profile", "verdict"],
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: "stepwise_reconcile_duration_seconds",
    help: "Time to reconcile one rollout once",
    labelNames: ["result"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly effectLatency = new Histogram({
    name: "stepwise_effect_latency_seconds",
    help: "Time from the engine's decision to the end of carrying out each effect (route writes: setWeight)",
    labelNames: ["effect"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly apiRequests = new Counter({
    name: "stepwise_kube_api_requests_total",
    help: "Kubernetes API requests by verb and status code (0: no answer)",
    labelNames: ["verb", "code"],
    registers: [this.registry],
  });

  readonly transitions = new Counter({
    name: "stepwise_rollout_transitions_total",
    help: "Phase transitions, by the phase entered",
    labelNames: ["namespace", "rollout", "phase"],
    registers: [this.registry],
  });

  recordRollout(
    namespace: string,
    rollout: string,
    state: {
      phase: Phase;
      desired: number;
      applied?: number;
      verdicts: { profile: string; verdict: string }[];
    },
  ): void {
    for (const phase of PHASES) this.phase.set({ namespace, rollout, phase }, phase === state.phase ? 1 : 0);
    this.weight.set({ namespace, rollout, kind: "desired" }, state.desired);
    if (state.applied !== undefined) this.weight.set({ namespace, rollout, kind: "applied" }, state.applied);
    const seen = this.profiles.get(`${namespace}/${rollout}`) ?? new Set<string>();
    this.profiles.set(`${namespace}/${rollout}`, seen);
    for (const { profile, verdict } of state.verdicts) {
      seen.add(profile);
      for (const v of VERDICTS)
        this.verdict.set({ namespace, rollout, profile, verdict: v }, v === verdict ? 1 : 0);
    }
  }

  /** Drops every rollout's series: a replica that lost the leadership no longer knows their state. */
  forgetAllRollouts(): void {
    this.phase.reset();
    this.weight.reset();
    this.verdict.reset();
    this.profiles.clear();
  }

  /** Drops a deleted rollout's series so dashboards do not show it forever. */
  forgetRollout(namespace: string, rollout: string): void {
    const key = `${namespace}/${rollout}`;
    for (const phase of PHASES) this.phase.remove({ namespace, rollout, phase });
    for (const kind of ["desired", "applied"]) this.weight.remove({ namespace, rollout, kind });
    for (const profile of this.profiles.get(key) ?? []) {
      for (const verdict of VERDICTS) this.verdict.remove({ namespace, rollout, profile, verdict });
    }
    this.profiles.delete(key);
  }
}
