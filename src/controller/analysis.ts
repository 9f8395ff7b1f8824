import {
  indicatorQueries,
  loadBuiltInProfiles,
  ProfileError,
  type SharedQuery,
  sharedQueries,
  type Target,
} from "../analysis/profiles.ts";
import { shortAnalysisSteps, timeToPass, tooShortMessage } from "../analysis/step-time.ts";
import { alphaShares, errorVerdict, evaluate, judgedWindows, type Verdict } from "../analysis/verdict.ts";
import { API_VERSION } from "../api/common.ts";
import { metricsDialect, parseRollout, type Rollout, serviceNames } from "../api/rollout.ts";
import { parseSLOProfile, type SLOProfile } from "../api/slo-profile.ts";
import { planSteps, weightAt } from "../engine/plan.ts";
import type { ProfileVerdict } from "../engine/types.ts";
import { type KubeClient, KubeNotFoundError, type KubeObject } from "../kube/client.ts";
import {
  advancePopulation,
  type CounterSource,
  type PopulationState,
  populationCounts,
  startPopulation,
} from "../metrics/collect.ts";
import { SharedLooks } from "../metrics/shared-looks.ts";
import { type MetricsProvider, ProviderError } from "../metrics/types.ts";
import { PRIMARY_SUFFIX } from "../workloads/deployments.ts";
import type { AnalysisSource } from "./reconciler.ts";

/**
 * Finds a profile by name for a rollout's namespace: the cluster's SLOProfile objects, then the built-ins.
 * Throws a ProfileError for an SLOProfile object that is invalid (see clusterProfileLookup).
 */
export type ProfileLookup = (namespace: string, name: string) => SLOProfile | undefined;

/** Called once per version of an invalid SLOProfile object, to report it (a Warning Event on it). */
export type InvalidProfileReport = (object: KubeObject, message: string) => void;

/**
 * A ProfileLookup over the cluster's SLOProfile objects (`get`) and the built-in profiles. An object that
 * does not parse is never replaced by the built-in profile of the same name: the lookup throws a
 * ProfileError naming the fields, so the Rollouts that use it get an Error verdict (which holds them), and
 * `report` hears of it once per resourceVersion.
 */
export function clusterProfileLookup(
  builtIn: ReadonlyMap<string, SLOProfile>,
  get: (namespace: string, name: string) => KubeObject | undefined,
  report: InvalidProfileReport,
): ProfileLookup {
  const reported = new Set<string>();
  return (namespace, name) => {
    const object = get(namespace, name);
    if (!object) return builtIn.get(name);
    const parsed = parseSLOProfile(object);
    if (parsed.ok) return parsed.value;
    const problems = parsed.errors.map((error) => `${error.path}: ${error.message}`).join("; ");
    const message = `SLOProfile ${namespace}/${name} is invalid: ${problems}`;
    const version = `${namespace}/${name}@${object.metadata.resourceVersion ?? ""}`;
    if (!reported.has(version)) {
      reported.add(version);
      report(object, message);
    }
    throw new ProfileError(message);
  };
}

/**
 * For the status: when an analysis step with a duration cannot pass in it at the traffic seen so far (the
 * step's counts over its elapsed time), the warning lint and `rollout start` give, so a person knows why it
 * will pause. Judged from the second look on (15 s), when the rates mean something.
 */
function shortStepWarning(
  profile: SLOProfile,
  verdict: Verdict,
  at: { stepMs: number | undefined; elapsedMs: number; share: number; step: number; mirrored: boolean },
): string | undefined {
  if (at.stepMs === undefined || at.elapsedMs < 15_000 || !verdict.canary) return undefined;
  const seconds = at.elapsedMs / 1000;
  const canaryRps = verdict.canary.total / seconds;
  const baselineRps = (verdict.baseline?.total ?? 0) / seconds;
  const needsMs = timeToPass(profile, { canaryRps, baselineRps });
  if (needsMs !== undefined && needsMs <= at.stepMs) return undefined;
  // A mirrored canary sees a copy of the service's requests; otherwise the two split them.
  const rps = at.mirrored ? baselineRps : canaryRps + baselineRps;
  return tooShortMessage({
    rps,
    share: at.share,
    step: at.step,
    profile: profile.metadata.name,
    needsMs,
    hasMs: at.stepMs,
  });
}

/**
 * When the canary's pods became ready, for the warm-up: status.canaryReadyAt when the engine recorded it.
 * Otherwise the first step began when they became ready (the engine waits for that), so at step 0 it is the
 * step's start; at later steps the rollout's start, which is earlier than readiness (warm-up then ends early,
 * but a later step's canary has been ready for at least the whole of step 0).
 */
export function canaryReadyAt(rollout: Rollout, stepStartedAt: number): number {
  const status = rollout.status;
  const recorded = status?.canaryReadyAt ?? ((status?.step ?? 0) === 0 ? undefined : status?.startedAt);
  return recorded ? Date.parse(recorded) : stepStartedAt;
}

interface StepState {
  step: string;
  populations: Map<string, { canary: PopulationState; baseline: PopulationState }>;
  /** The step's last look: when, for which generation of the spec, and what it found. */
  look?: { at: number; generation: number | undefined; verdicts: ProfileVerdict[] };
}

export interface ProfileAnalysisOptions {
  /**
   * Read counters through one query per counter for all rollouts (SharedLooks) instead of per rollout.
   * Default: true when the provider has history (MetricsProvider.hasHistory); false queries each
   * rollout's own selector.
   */
  shareQueries?: boolean;
}

/**
 * Judges a rollout's profiles over its current step: the canary is the target Deployment's workload, the
 * baseline the primary's, measured at the same time. Counter state is kept per step and advanced at every
 * look, so counter resets and pods that come and go are counted right; after a restart it starts again
 * from the step's start time, which the metrics provider can still answer for.
 *
 * Looks share queries: a counter whose template is a bare selector is read from one answer for all
 * rollouts with the same profile, mesh and args, per slot of half the rollout's look interval (so the
 * rollout's next look always reads a newer one). A look's counts are therefore up to half an interval
 * old; a step's counts start at or after the step (up to that much after it), never before.
 */
export class ProfileAnalysis implements AnalysisSource {
  private readonly steps = new Map<string, StepState>();
  private readonly looks: SharedLooks | undefined;

  constructor(
    private readonly provider: MetricsProvider,
    private readonly profiles: ProfileLookup,
    options: ProfileAnalysisOptions = {},
  ) {
    const share = options.shareQueries ?? provider.hasHistory !== false;
    this.looks = share ? new SharedLooks(provider) : undefined;
  }

  /**
   * Where one population's counters are read: its shared queries when it has them, else its own. A
   * step's start reads the shared answer of the first slot at or after it (SharedLooks.startSlot), once
   * that slot has begun (evaluate waits for it), so that its counts never hold requests from before it.
   */
  private source(
    own: { ratio: string; total: string },
    shared: { ratio: SharedQuery | undefined; total: SharedQuery | undefined } | undefined,
    slotMs: number,
    read: "start" | "look",
  ): CounterSource {
    const looks = this.looks;
    if (!looks || !shared) return this.provider;
    return {
      queryCounts: async (query, at) => {
        const split = query === own.ratio ? shared.ratio : query === own.total ? shared.total : undefined;
        if (!split) return this.provider.queryCounts(query, at);
        return read === "look" ? looks.read(split, at, slotMs) : looks.readStart(split, at, slotMs);
      },
    };
  }

  async evaluate(rollout: Rollout, window: { since: Date; now: Date }): Promise<ProfileVerdict[]> {
    const namespace = rollout.metadata.namespace ?? "default";
    const rolloutKey = `${namespace}/${rollout.metadata.name}`;
    const stepKey = `${rollout.status?.revision}/${window.since.toISOString()}`;
    let counters = this.steps.get(rolloutKey);
    if (counters?.step !== stepKey) {
      counters = { step: stepKey, populations: new Map() };
      this.steps.set(rolloutKey, counters);
    }
    // A tick soon after a look (woken by an event, not by the look interval) sees that look's verdicts:
    // looks keep their cadence, whatever else wakes the rollout.
    const { look } = counters;
    const generation = rollout.metadata.generation as number | undefined;
    const interval = rollout.spec.analysis.interval;
    if (look && look.generation === generation && window.now.getTime() - look.at < interval / 2)
      return look.verdicts;
    const verdicts = await this.look(rollout, window, counters);
    counters.look = { at: window.now.getTime(), generation, verdicts };
    return verdicts;
  }

  private async look(
    rollout: Rollout,
    window: { since: Date; now: Date },
    counters: StepState,
  ): Promise<ProfileVerdict[]> {
    const namespace = rollout.metadata.namespace ?? "default";
    const services = serviceNames(rollout);
    const dialect = metricsDialect(rollout.spec);
    const target = rollout.spec.targetRef.name;
    const refs = rollout.spec.analysis.profiles;
    // A profile, or why there is none: missing, or an invalid SLOProfile object (flagged in the status).
    const resolved = refs.map((ref): SLOProfile | ProfileVerdict => {
      try {
        return (
          this.profiles(namespace, ref.name) ?? {
            profile: ref.name,
            verdict: "Error",
            evidence: `no SLOProfile named ${ref.name}`,
          }
        );
      } catch (error) {
        if (!(error instanceof ProfileError)) throw error;
        return { profile: ref.name, verdict: "Error", evidence: error.message, invalidProfile: true };
      }
    });
    const known = resolved.filter((p): p is SLOProfile => "spec" in p);
    // The budget is spent once per rollout: divided across the plan's steps and the final gate.
    const plan = planSteps(rollout.spec);
    const shares = alphaShares(known, judgedWindows(plan.length));
    const step = plan[rollout.status?.step ?? -1];
    const stepIndex = rollout.status?.step ?? 0;
    const now = window.now.getTime();
    const since = window.since.getTime();
    return Promise.all(
      refs.map(async (ref, index): Promise<ProfileVerdict> => {
        const profile = resolved[index]!;
        if (!("spec" in profile)) return profile;
        const context = {
          now,
          stepStartedAt: since,
          readyAt: canaryReadyAt(rollout, since),
          alpha: shares[known.indexOf(profile)],
        };
        let verdict: Verdict;
        try {
          const targets: Record<"canary" | "baseline", Target> = {
            canary: { namespace, workload: target, service: services.canary },
            baseline: { namespace, workload: `${target}${PRIMARY_SUFFIX}`, service: services.stable },
          };
          const queries = indicatorQueries(profile, dialect, targets, ref.args);
          const previous = counters.populations.get(ref.name);
          const slotMs = rollout.spec.analysis.interval / 2;
          const shared = this.looks && {
            canary: sharedQueries(profile, dialect, targets.canary, ref.args),
            baseline: sharedQueries(profile, dialect, targets.baseline, ref.args),
          };
          // A step's first look before its start slot has begun: it has no counts yet (as in warm-up).
          if (!previous && shared && this.looks && !this.looks.startBegun(since, slotMs)) {
            const at = new Date(this.looks.startSlot(since, slotMs)).toISOString();
            return {
              profile: ref.name,
              verdict: "Inconclusive",
              evidence: `the step's counts start at its first shared look, at ${at}`,
              ...(profile.spec.gate.critical ? {} : { critical: false }),
            };
          }
          const [canary, baseline] = await Promise.all(
            (["canary", "baseline"] as const).map((population) => {
              const source = (read: "start" | "look") =>
                this.source(queries[population], shared?.[population], slotMs, read);
              return previous
                ? advancePopulation(source("look"), queries[population], previous[population], now)
                : startPopulation(source("start"), queries[population], since).then((start) =>
                    advancePopulation(source("look"), queries[population], start, now),
                  );
            }),
          );
          counters.populations.set(ref.name, { canary: canary!, baseline: baseline! });
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
        const tooShort =
          step?.kind === "analysis" && verdict.verdict === "Inconclusive"
            ? shortStepWarning(profile, verdict, {
                stepMs: step.untilMs,
                elapsedMs: now - since,
                share: step.mirror ? 100 : weightAt(plan, stepIndex),
                mirrored: step.mirror === true,
                step: stepIndex,
              })
            : undefined;
        return {
          profile: verdict.profile,
          verdict: verdict.verdict,
          ...(verdict.canary ? { canary: verdict.canary } : {}),
          ...(verdict.baseline ? { baseline: verdict.baseline } : {}),
          evidence: tooShort ? `${verdict.evidence}; ${tooShort}` : verdict.evidence,
          ...(profile.spec.gate.critical ? {} : { critical: false }),
        };
      }),
    );
  }

  forget(namespace: string, name: string): void {
    this.steps.delete(`${namespace}/${name}`);
  }
}

/**
 * The analysis steps of a Rollout in the cluster that are too short to pass at `rps` requests a second (see
 * shortAnalysisSteps), with its namespace's SLOProfiles and the built-in ones, after any invalid SLOProfile
 * it uses; `rollout start` prints them.
 * Nothing when the Rollout cannot be read or parsed: starting it reports that better.
 */
export async function shortStepsInCluster(
  client: KubeClient,
  ref: { namespace: string; name: string },
  rps: number,
): Promise<string[]> {
  const object = await client
    .get({ apiVersion: API_VERSION, kind: "Rollout", ...ref })
    .catch((error: unknown) => {
      if (error instanceof KubeNotFoundError) return undefined;
      throw error;
    });
  const rollout = object ? parseRollout(object) : undefined;
  if (!rollout?.ok) return [];
  const cluster = await client.list(API_VERSION, "SLOProfile", ref.namespace).catch(() => []);
  const lookup = clusterProfileLookup(
    await loadBuiltInProfiles(),
    (_namespace, name) => cluster.find((profile) => profile.metadata.name === name),
    () => {},
  );
  const invalid = new Set<string>();
  const profile = (name: string) => {
    try {
      return lookup(ref.namespace, name);
    } catch (error) {
      if (!(error instanceof ProfileError)) throw error;
      invalid.add(error.message); // the controller holds the rollout on it: say so now
      return undefined;
    }
  };
  const short = shortAnalysisSteps(rollout.value.spec, profile, rps).map((step) => step.message);
  return [...invalid, ...short];
}
