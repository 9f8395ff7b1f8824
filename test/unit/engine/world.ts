import { parseRollout, type RolloutSpec, type RolloutStatus } from "../../../src/api/rollout.ts";
import { decide, withRouteBlocked } from "../../../src/engine/decide.ts";
import type {
  Command,
  Effect,
  GatingWebhook,
  Observations,
  ProfileVerdict,
} from "../../../src/engine/types.ts";

/** A spec from a partial manifest spec, parsed (and so defaulted) the way the controller gets it. */
export function specOf(spec: Record<string, unknown>): RolloutSpec {
  const result = parseRollout({
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "checkout" },
    spec: {
      targetRef: { kind: "Deployment", name: "checkout" },
      service: { port: 80 },
      traffic: { provider: "istio" },
      ...spec,
    },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value.spec;
}

export const verdict = (profile: string, v: ProfileVerdict["verdict"]): ProfileVerdict => ({
  profile,
  verdict: v,
});

/** How one tick's effects went, as the reconciler would see it. */
export interface Outcome {
  /** An effect failed: the reconciler writes no status and decides again from the stored one. */
  failed: boolean;
  /** The route refused a weight as not expressible (the reconciler holds with RouteReady=False). */
  notExpressible?: string;
}

/**
 * A tiny simulated cluster for engine tests: it carries out effects the way the controller would
 * (a route that rounds weights like a real one, Deployments that become ready, webhooks that answer)
 * and reports observations.
 */
export class World {
  targetRevision = "rev-1";
  canaryUp = false;
  primaryRevision: string | undefined;
  /** Set false to simulate a router that cannot write (weights stay where they are). */
  routerWorks = true;
  canaryBecomesReady = true;
  primaryBecomesReady = true;
  weight = 0;
  /** The route's rounding unit for the canary share, in percent (Istio without foreign routes: 1). */
  weightUnit = 0;
  /** Share of the managed route's traffic that the user's own (foreign) destinations keep, in percent. */
  foreignShare = 0;
  fault: Extract<Effect, { type: "applyFault" }> | undefined;
  match: unknown = null;
  mirror: number | null = null;
  scheduleOpen = true;
  /** What each gating webhook answers when called; unset types have not answered yet. */
  webhookServer: Partial<Record<GatingWebhook, "approved" | "rejected">> = {};
  /** The reconciler's memory of answers, by gate key. */
  webhooks: Record<string, "approved" | "rejected"> = {};
  calledWebhooks: string[] = [];
  events: string[] = [];
  /** Verdicts the analysis reports at each tick. */
  verdicts: (world: World) => ProfileVerdict[] = () => [verdict("http-availability", "Pass")];
  command: Command | undefined;

  /** What a router sets for a desired canary share: the nearest share it can express, or a refusal. */
  private route(desired: number): number | "not expressible" {
    if (desired > 100 - this.foreignShare + 1e-9) return "not expressible";
    const applied = this.weightUnit > 0 ? Math.round(desired / this.weightUnit) * this.weightUnit : desired;
    if (desired > 0 && applied <= 0) return "not expressible";
    return Math.min(applied, 100 - this.foreignShare);
  }

  apply(effects: Effect[]): Outcome {
    const outcome: Outcome = { failed: false };
    for (const effect of effects) {
      switch (effect.type) {
        case "scaleCanary":
          this.canaryUp = effect.up;
          break;
        case "setWeight": {
          if (!this.routerWorks) break;
          const applied = this.route(effect.weight);
          if (applied === "not expressible")
            outcome.notExpressible = `the route cannot give the canary ${effect.weight}%`;
          else this.weight = applied;
          break;
        }
        case "setMatch":
          this.match = effect.match;
          break;
        case "setMirror":
          this.mirror = effect.percent;
          break;
        case "applyFault":
          this.fault = effect;
          break;
        case "clearFault":
          this.fault = undefined;
          break;
        case "promotePrimary":
          // like Workloads.promote: the primary is made from the target's template, so only its revision
          if (effect.revision !== this.targetRevision) {
            outcome.failed = true;
            return outcome;
          }
          this.primaryRevision = effect.revision;
          break;
        case "callWebhook": {
          this.calledWebhooks.push(effect.webhook);
          const answer = this.webhookServer[effect.webhook as GatingWebhook];
          if (effect.gate && answer) this.webhooks = { [effect.gate]: answer };
          break;
        }
        case "event":
          this.events.push(effect.reason);
          break;
      }
    }
    return outcome;
  }

  observe(): Observations {
    return {
      targetRevision: this.targetRevision,
      canaryReady: this.canaryUp && this.canaryBecomesReady,
      primary: { revision: this.primaryRevision, ready: this.primaryBecomesReady },
      appliedWeight: this.weight,
      weightUnit: this.weightUnit,
      verdicts: this.verdicts(this),
      scheduleOpen: this.scheduleOpen,
      webhooks: this.webhooks,
      ...(this.command ? { command: this.command } : {}),
    };
  }
}

export interface Trace {
  status: RolloutStatus;
  /** Status after each tick. */
  history: RolloutStatus[];
  effects: Effect[][];
  now: number;
}

/** Runs ticks `stepMs` apart until `until` says stop or `maxTicks` pass; `each` may change the world. */
export function run(
  spec: RolloutSpec,
  world: World,
  options: {
    status?: RolloutStatus;
    start?: number;
    stepMs?: number;
    maxTicks?: number;
    until?: (status: RolloutStatus) => boolean;
    each?: (tick: number, status: RolloutStatus) => void;
  } = {},
): Trace {
  let status = options.status ?? {};
  let now = options.start ?? Date.parse("2026-11-22T10:00:00Z");
  const history: RolloutStatus[] = [];
  const effects: Effect[][] = [];
  for (let tick = 0; tick < (options.maxTicks ?? 500); tick++) {
    options.each?.(tick, status);
    const decision = decide({ spec, status, observations: world.observe(), now: new Date(now) });
    status = settle(status, decision, world.apply(decision.effects), new Date(now));
    history.push(status);
    effects.push(decision.effects);
    if (options.until?.(status)) break;
    now += options.stepMs ?? 5_000;
  }
  return { status, history, effects, now };
}

/** The status the reconciler writes after a tick whose effects went as `outcome` says. */
export function settle(
  before: RolloutStatus,
  decision: { status: RolloutStatus },
  outcome: Outcome,
  now: Date,
): RolloutStatus {
  if (outcome.failed) return before;
  if (outcome.notExpressible) return withRouteBlocked(decision.status, outcome.notExpressible, now);
  return decision.status;
}

/** A world whose primary already runs rev-1 and a status that says so: ready for a new revision. */
export function settled(spec: RolloutSpec): { world: World; status: RolloutStatus } {
  const world = new World();
  const { status } = run(spec, world, { until: (s) => s.phase === "Idle" });
  world.targetRevision = "rev-2";
  return { world, status };
}
