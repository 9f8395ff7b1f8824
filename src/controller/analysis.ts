import { indicatorQueries, ProfileError } from "../analysis/profiles.ts";
import { alphaShares, errorVerdict, evaluate, type Verdict } from "../analysis/verdict.ts";
import { metricsDialect, type Rollout } from "../api/rollout.ts";
import type { SLOProfile } from "../api/slo-profile.ts";
import type { ProfileVerdict } from "../engine/types.ts";
import {
  advancePopulation,
  type PopulationState,
  populationCounts,
  startPopulation,
} from "../metrics/collect.ts";
import { type MetricsProvider, ProviderError } from "../metrics/types.ts";
import { CANARY_SUFFIX, PRIMARY_SUFFIX } from "../workloads/deployments.ts";
import type { AnalysisSource } from "./reconciler.ts";

/** Finds a profile by name for a rollout's namespace: the cluster's SLOProfile objects, then the built-ins. */
export type ProfileLookup = (namespace: string, name: string) => SLOProfile | undefined;

interface StepState {
  step: string;
  populations: Map<string, { canary: PopulationState; baseline: PopulationState }>;
}

/**
 * Judges a rollout's profiles over its current step: the canary is the target Deployment's workload, the
 * baseline the primary's, measured at the same time. Counter state is kept per step and advanced at every
 * look, so counter resets and pods that come and go are counted right; after a restart it starts again
 * from the step's start time, which the metrics provider can still answer for.
 */
export class ProfileAnalysis implements AnalysisSource {
  private readonly steps = new Map<string, StepState>();

  constructor(
    private readonly provider: MetricsProvider,
    private readonly profiles: ProfileLookup,
  ) {}

  async evaluate(rollout: Rollout, window: { since: Date; now: Date }): Promise<ProfileVerdict[]> {
    const namespace = rollout.metadata.namespace ?? "default";
    const name = rollout.metadata.name;
    const rolloutKey = `${namespace}/${name}`;
    const stepKey = `${rollout.status?.revision}/${window.since.toISOString()}`;
    let step = this.steps.get(rolloutKey);
    if (step?.step !== stepKey) {
      step = { step: stepKey, populations: new Map() };
      this.steps.set(rolloutKey, step);
    }
    const dialect = metricsDialect(rollout.spec);
    const target = rollout.spec.targetRef.name;
    const refs = rollout.spec.analysis.profiles;
    const resolved = refs.map((ref) => this.profiles(namespace, ref.name));
    const known = resolved.filter((p): p is SLOProfile => p !== undefined);
    const shares = alphaShares(known);
    const now = window.now.getTime();
    const since = window.since.getTime();
    return Promise.all(
      refs.map(async (ref, index): Promise<ProfileVerdict> => {
        const profile = resolved[index];
        if (!profile)
          return { profile: ref.name, verdict: "Error", evidence: `no SLOProfile named ${ref.name}` };
        const context = { now, stepStartedAt: since, alpha: shares[known.indexOf(profile)] };
        let verdict: Verdict;
        try {
          const queries = indicatorQueries(
            profile,
            dialect,
            {
              canary: { namespace, workload: target, service: `${name}${CANARY_SUFFIX}` },
              baseline: {
                namespace,
                workload: `${target}${PRIMARY_SUFFIX}`,
                service: `${name}${PRIMARY_SUFFIX}`,
              },
            },
            ref.args,
          );
          const previous = step.populations.get(ref.name);
          const [canary, baseline] = await Promise.all(
            (["canary", "baseline"] as const).map((population) =>
              previous
                ? advancePopulation(this.provider, queries[population], previous[population], now)
                : startPopulation(this.provider, queries[population], since).then((start) =>
                    advancePopulation(this.provider, queries[population], start, now),
                  ),
            ),
          );
          step.populations.set(ref.name, { canary: canary!, baseline: baseline! });
          verdict = evaluate(
            profile,
            {
              canary: populationCounts(queries.canary.part, canary!),
              baseline: populationCounts(queries.baseline.part, baseline!),
            },
            { ...context, queries },
          );
        } catch (error) {
          if (!(error instanceof ProviderError || error instanceof ProfileError)) throw error;
          verdict = errorVerdict(profile, error.message, context);
        }
        return {
          profile: verdict.profile,
          verdict: verdict.verdict,
          ...(verdict.canary ? { canary: verdict.canary } : {}),
          ...(verdict.baseline ? { baseline: verdict.baseline } : {}),
          evidence: verdict.evidence,
        };
      }),
    );
  }

  forget(namespace: string, name: string): void {
    this.steps.delete(`${namespace}/${name}`);
  }
}
