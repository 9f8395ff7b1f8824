import { parseRollout, type RolloutSpec, type RolloutStatus } from "../../../src/api/rollout.ts";
import { decide } from "../../../src/engine/decide.ts";
import type { Command, Effect, Observations, ProfileVerdict } from "../../../src/engine/types.ts";

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

/**
 * A tiny simulated cluster for engine tests: it carries out effects the way the controller would
 * (a route that applies weights, Deployments that become ready) and reports observations.
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
  fault: Extract<Effect, { type: "applyFault" }> | undefined;
  match: unknown = null;
  mirror: number | null = null;
  scheduleOpen = true;
  webhooks: Observations["webhooks"] = {};
  calledWebhooks: string[] = [];
  events: string[] = [];
  /** Verdicts the analysis reports at each tick. */
  verdicts: (world: World) => ProfileVerdict[] = () => [verdict("http-availability", "Pass")];
  command: Command | undefined;

  apply(effects: Effect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case "scaleCanary":
          this.canaryUp = effect.up;
          break;
        case "setWeight":
          if (this.routerWorks) this.weight = effect.weight;
          break;
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
          this.primaryRevision = effect.revision;
          break;
        case "callWebhook":
          this.calledWebhooks.push(effect.webhook);
          break;
        case "event":
          this.events.push(effect.reason);
          break;
      }
    }
  }

  observe(): Observations {
    return {
      targetRevision: this.targetRevision,
      canaryReady: this.canaryUp && this.canaryBecomesReady,
      primary: { revision: this.primaryRevision, ready: this.primaryBecomesReady },
      appliedWeight: this.weight,
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
    world.apply(decision.effects);
    status = decision.status;
    history.push(status);
    effects.push(decision.effects);
    if (options.until?.(status)) break;
    now += options.stepMs ?? 5_000;
  }
  return { status, history, effects, now };
}

/** A world whose primary already runs rev-1 and a status that says so: ready for a new revision. */
export function settled(spec: RolloutSpec): { world: World; status: RolloutStatus } {
  const world = new World();
  const { status } = run(spec, world, { until: (s) => s.phase === "Idle" });
  world.targetRevision = "rev-2";
  return { world, status };
}
