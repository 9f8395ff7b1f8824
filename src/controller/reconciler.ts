import { isDeepStrictEqual } from "node:util";
import { readCommand } from "../api/commands.ts";
import { parseRollout, type Rollout, type RolloutStatus } from "../api/rollout.ts";
import {
  CONDITION,
  type ConditionType,
  conditionOf,
  WEIGHT_NOT_EXPRESSIBLE,
  withHold,
} from "../engine/conditions.ts";
import { decide, isUnderWay, withRouteBlocked } from "../engine/decide.ts";
import { observedShare } from "../engine/observed-share.ts";
import { scheduleOpen } from "../engine/schedule.ts";
import type { Effect, Observations, ProfileVerdict } from "../engine/types.ts";
import { type KubeClient, KubeConflictError, KubeNotFoundError, type KubeObject } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import { NotLeaderError } from "../kube/leader-election.ts";
import { type TrafficRouter, WeightNotExpressibleError } from "../routers/index.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { ControllerMetrics } from "../telemetry/metrics.ts";
import { deploymentReady, primaryLabels, REVISION_ANNOTATION, revisionOf } from "../workloads/deployments.ts";
import {
  type AutoscalerReader,
  type DeploymentReader,
  ownerOf,
  type WorkloadState,
  Workloads,
} from "../workloads/workloads.ts";
import { finalizerPatch, hasCleanupFinalizer, isBeingDeleted, releaseRoute } from "./cleanup.ts";
import { type Refusal, refusalOf } from "./refusals.ts";
import { callWebhook, webhookPayload } from "./webhooks.ts";

/** Verdicts per profile over the counts in a time window (the current step). */
export interface AnalysisSource {
  evaluate(rollout: Rollout, window: { since: Date; now: Date }): Promise<ProfileVerdict[]>;
  /** Drops what it keeps about a rollout that is gone. */
  forget(namespace: string, name: string): void;
}

export interface ReconcilerDeps {
  client: KubeClient;
  /** The informers' views of Rollouts and Deployments. */
  rollouts: { get(namespace: string | undefined, name: string): KubeObject | undefined };
  deployments: DeploymentReader;
  /** The informer's view of HorizontalPodAutoscalers; without it no target has an autoscaler. */
  autoscalers?: AutoscalerReader;
  analysis: AnalysisSource;
  events: EventRecorder;
  metrics: ControllerMetrics;
  logger: Logger;
  routerFor(rollout: Rollout): TrafficRouter;
  /** Whether a Rollout is this controller's (its shard selector); every Rollout when absent. */
  inShard?: (rollout: KubeObject) => boolean;
  now?: () => Date;
}

const RETRY_MS = 2_000;
/** Decisions in one tick at most (see reconcile): enough for a step that sets a weight and the next. */
const MAX_PASSES = 5;
const IDLE_RESYNC_MS = 60_000;
/** After a status-write conflict: wait this long, doubling per conflict in a row, up to the maximum. */
const CONFLICT_BACKOFF_MS = { first: 500, max: 30_000 };
const ROLLOUT_TYPE = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout" } as const;

/**
 * One reconcile of one rollout: observe (workloads, route, metrics, commands), let the engine decide,
 * carry out its effects in order, then write the status once. If an effect fails, the status is not
 * written: the next tick decides again from the same stored state, and effects are idempotent.
 */
export class Reconciler {
  private readonly workloads: Workloads;
  /** Per rollout key: gating webhooks' answers by gate key (engine/webhook-gate.ts). */
  private readonly webhookAnswers = new Map<string, Record<string, "approved" | "rejected">>();
  /**
   * Per rollout key: the newest Rollout this process knows to be current, from its own status write or a
   * read from the API server. Effects are decided only from an object at least as new (see current()).
   */
  private readonly known = new Map<string, Known>();
  /** Per rollout key: status-write conflicts in a row, for the backoff. */
  private readonly conflicts = new Map<string, number>();
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.workloads = new Workloads(deps.client, deps.deployments, deps.autoscalers);
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Reconciles `namespace/name`; returns when to look again (ms), or undefined when the rollout is gone.
   * With `sweepFaults` (at start and on every resync) it first removes the rollout's faults that are past
   * their expiry, whatever the status says: a crash may have lost the status write that knew of them.
   */
  async reconcile(key: string, options: { sweepFaults?: boolean } = {}): Promise<number | undefined> {
    const [namespace, name] = key.split("/") as [string, string];
    let raw = await this.current(key, namespace, name);
    // Another shard's (relabelled since the cache saw it, say): never act on it, even to clean up.
    if (!raw || this.deps.inShard?.(raw) === false) {
      this.forget(key);
      return undefined;
    }
    const log = this.deps.logger.child({ namespace, rollout: name });
    if (isBeingDeleted(raw)) return this.cleanUp(key, raw, log);
    if (!hasCleanupFinalizer(raw)) {
      const marked = await this.setFinalizer(key, raw, true);
      if (!marked) return CONFLICT_BACKOFF_MS.first;
      raw = marked;
    }
    const parsed = parseRollout(raw);
    if (!parsed.ok) return this.holdInvalid(key, raw, parsed.errors);
    const rollout = parsed.value;
    const router = this.deps.routerFor(rollout);
    const now = this.now();
    // before anything can return early: a fault must go even while the target Deployment is missing
    if (options.sweepFaults) await this.sweepFaults(raw, router, now, log);
    const state = this.workloads.read(rollout);
    if (!state) {
      const message = `waiting for Deployment ${rollout.spec.targetRef.name}`;
      await this.writeStatus(key, raw, { ...rollout.status, message });
      return IDLE_RESYNC_MS;
    }
    let observations: Observations;
    try {
      observations = await this.observe(rollout, state, router, now);
    } catch (error) {
      const refusal = refusalOf(error);
      if (!refusal) throw error;
      return this.holdRefused(key, raw, refusal, rollout.spec.analysis.interval);
    }
    let decision = decide({ spec: rollout.spec, status: rollout.status, observations, now });
    const decided = process.hrtime.bigint();
    let notExpressible: Error | undefined;
    /** The tick stopped deciding before the rollout settled: the next one goes on at once. */
    let cutShort = false;
    try {
      // One tick may decide more than once: after the route took a new weight, or the rollout entered
      // another step, it decides again at once, as the next tick would, so that one status write records
      // the weight and all that follows from it (the next step, and that step's first look).
      let before = rollout.status ?? {};
      let { appliedWeight, verdicts } = observations;
      for (let pass = 1; ; pass++) {
        // Webhooks and events are told the status this tick leads to, not the one it started from.
        const next = { ...rollout, status: decision.status };
        let applied: number | undefined;
        let unseen = false;
        for (const effect of decision.effects) {
          try {
            const outcome = await this.carryOut(effect, next, state, router, log);
            if (outcome?.applied !== undefined) applied = outcome.applied;
            unseen ||= outcome?.unseen === true;
          } catch (error) {
            // A weight the route cannot express holds the rollout (RouteReady=False); the other effects
            // of the tick still happen and the status is written.
            if (effect.type !== "setWeight" || !(error instanceof WeightNotExpressibleError)) throw error;
            notExpressible = error;
          }
          const seconds = Number(process.hrtime.bigint() - decided) / 1e9;
          if (effect.type !== "event")
            this.deps.metrics.effectLatency.observe({ effect: effect.type }, seconds);
        }
        const after = decision.status;
        const moved =
          after.phase !== before.phase ||
          after.step !== before.step ||
          after.stepStartedAt !== before.stepStartedAt;
        if ((applied === undefined && !moved) || unseen || notExpressible) break;
        if (pass === MAX_PASSES) {
          cutShort = true;
          break;
        }
        if (applied !== undefined) appliedWeight = applied;
        // a step begun since has counts of its own (none yet; or the same window, begun the same moment)
        if (after.stepStartedAt !== before.stepStartedAt) verdicts = await this.verdicts(next, now);
        before = after;
        decision = decide({
          spec: rollout.spec,
          status: after,
          observations: { ...withoutObserved(observations), appliedWeight, ...analysed(verdicts) },
          now,
        });
      }
    } catch (error) {
      if (error instanceof NotLeaderError) throw error; // the fence: this replica stops writing
      const refusal = refusalOf(error);
      if (refusal) return this.holdRefused(key, raw, refusal, rollout.spec.analysis.interval);
      log.warn({ err: error }, "an effect failed; the status stays as it was and the tick is retried");
      await this.deps.events.record(raw, "EffectFailed", errorText(error), true).catch(() => {});
      return RETRY_MS;
    }
    let status: RolloutStatus = { ...decision.status, observedGeneration: raw.metadata.generation };
    if (notExpressible) status = await this.routeBlocked(raw, status, notExpressible.message, now);
    if (status.phase && status.phase !== rollout.status?.phase) {
      this.deps.metrics.transitions.inc({ namespace, rollout: name, phase: status.phase });
    }
    this.deps.metrics.recordRollout(namespace, name, {
      phase: status.phase ?? "Idle",
      desired: status.weights?.desired ?? 0,
      applied: status.weights?.applied,
      verdicts: status.analysis ?? [],
    });
    const conflictWait = await this.writeStatus(key, raw, status);
    if (conflictWait !== undefined) return conflictWait;
    if (notExpressible) return rollout.spec.analysis.interval;
    if (cutShort) return 0;
    return decision.requeueAfterMs ?? IDLE_RESYNC_MS;
  }

  /**
   * A deleted Rollout: traffic back to stable with no fault, match or mirror, the user's Deployment
   * scaled back up, then the finalizer goes and garbage collection takes the owned objects. A Rollout
   * deleted with an invalid spec cannot say which route is its own: it is let go with a Warning Event.
   */
  private async cleanUp(key: string, raw: KubeObject, log: Logger): Promise<number | undefined> {
    if (!hasCleanupFinalizer(raw)) return undefined;
    const parsed = parseRollout(raw);
    try {
      if (parsed.ok) {
        const rollout = parsed.value;
        await releaseRoute(this.deps.routerFor(rollout));
        const state = this.workloads.read(rollout);
        if (state) await this.workloads.scaleCanary(rollout, state, true);
        await this.workloads.release(rollout);
      }
    } catch (error) {
      if (error instanceof NotLeaderError) throw error;
      log.warn({ err: error }, "could not clean up the deleted rollout's traffic; retrying");
      await this.deps.events.record(raw, "CleanupFailed", errorText(error), true).catch(() => {});
      return RETRY_MS;
    }
    const [reason, message] = parsed.ok
      ? [
          "CleanedUp",
          "deleted: all traffic is back on the stable Service, faults and match routes are removed",
        ]
      : ["CleanupSkipped", "deleted with an invalid spec: its route was left as it is; check it by hand"];
    await this.deps.events.record(raw, reason, message, !parsed.ok).catch(() => {});
    return (await this.setFinalizer(key, raw, false)) ? undefined : CONFLICT_BACKOFF_MS.first;
  }

  /** Adds or removes the cleanup finalizer; undefined on a conflict (the object is read again). */
  private async setFinalizer(
    key: string,
    raw: KubeObject,
    present: boolean,
  ): Promise<KubeObject | undefined> {
    const ref = { ...ROLLOUT_TYPE, namespace: raw.metadata.namespace, name: raw.metadata.name };
    try {
      const object = await this.deps.client.mergePatch(ref, finalizerPatch(raw, present));
      this.known.set(key, { basedOn: raw.metadata.resourceVersion, object });
      return object;
    } catch (error) {
      if (!(error instanceof KubeConflictError || error instanceof KubeNotFoundError)) throw error;
      await this.read(key, ref.namespace!, ref.name);
      return undefined;
    }
  }

  /**
   * Whether an informer event shows the Rollout as this process's last write left it (its status or
   * finalizer write's echo). A tick decides until the rollout settles (or asks for the next one at once),
   * so that echo needs no tick of its own; the informer has caught up, and our copy is dropped.
   */
  isOwnWrite(key: string, object: KubeObject): boolean {
    const known = this.known.get(key);
    if (known?.basedOn === undefined) return false;
    if (known.object.metadata.resourceVersion !== object.metadata.resourceVersion) return false;
    this.known.delete(key);
    return true;
  }

  /** Whether the newest copy of the Rollout this process knows has a release under way. */
  releaseUnderWay(key: string): boolean {
    const [namespace, name] = key.split("/") as [string, string];
    const object = this.known.get(key)?.object ?? this.deps.rollouts.get(namespace, name);
    return isUnderWay((object?.status as RolloutStatus | undefined)?.phase);
  }

  /** Drops everything kept about a rollout: it is gone, or was re-created under the same name. */
  forget(key: string): void {
    const [namespace, name] = key.split("/") as [string, string];
    this.deps.metrics.forgetRollout(namespace, name);
    this.deps.analysis.forget(namespace, name);
    this.known.delete(key);
    this.conflicts.delete(key);
    this.webhookAnswers.delete(key);
  }

  /**
   * An invalid spec (new or edited) holds the rollout where it is: no effect, so traffic stays at the
   * last valid weight. SpecValid=False names the fields; the rollout goes on once the spec is fixed.
   */
  private async holdInvalid(
    key: string,
    raw: KubeObject,
    errors: readonly { path: string; message: string }[],
  ): Promise<number> {
    const message = `invalid spec: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`;
    return this.holdRefused(
      key,
      raw,
      { condition: CONDITION.SpecValid, reason: "InvalidSpec", message },
      IDLE_RESYNC_MS,
    );
  }

  /**
   * A refusal (refusals.ts) holds the rollout as it is stored: its condition and Ready turn False with
   * the remedy, once as a Warning Event too. The effects of this tick that were done are done again, or
   * not, by the next tick's decision, as after any failed effect.
   */
  private async holdRefused(
    key: string,
    raw: KubeObject,
    refusal: Refusal,
    retryMs: number,
  ): Promise<number> {
    const { condition, reason, message } = refusal;
    await this.warnOnce(raw, condition, reason, message);
    const held = withHold((raw.status ?? {}) as RolloutStatus, condition, reason, message, this.now());
    // the hold is about this generation: a client waiting on an edit can tell it from an older one
    const status = { ...held, observedGeneration: raw.metadata.generation };
    return (await this.writeStatus(key, raw, status)) ?? retryMs;
  }

  /** The route cannot take the desired weight: RouteReady=False says why, once as a Warning Event too. */
  private async routeBlocked(
    raw: KubeObject,
    status: RolloutStatus,
    message: string,
    now: Date,
  ): Promise<RolloutStatus> {
    await this.warnOnce(raw, CONDITION.RouteReady, WEIGHT_NOT_EXPRESSIBLE, message);
    return withRouteBlocked(status, message, now);
  }

  /** A Warning Event for a hold, unless the stored condition already says the same. */
  private async warnOnce(
    raw: KubeObject,
    type: ConditionType,
    reason: string,
    message: string,
  ): Promise<void> {
    if (conditionOf(raw.status as RolloutStatus, type)?.message === message) return;
    await this.deps.events.record(raw, reason, message, true).catch(() => {});
  }

  private async sweepFaults(raw: KubeObject, router: TrafficRouter, now: Date, log: Logger): Promise<void> {
    try {
      if (!(await router.clearExpiredFaults(now))) return;
      const message = "removed a fault that was past its expiry";
      log.info(message);
      await this.deps.events.record(raw, "FaultExpired", message, true).catch(() => {});
    } catch (error) {
      log.warn({ err: error }, "could not check for expired faults; the next resync tries again");
    }
  }

  /**
   * The Rollout to decide from: never older than what this process last wrote or read.
   * - The informer's object when it is the one we know (it has caught up with our write); what we kept is
   *   dropped then, so no copy of a Rollout outlives the informer's.
   * - Our own write when the informer still shows the version that write was based on.
   * - The informer's object when it carries the status we wrote: a later edit of its metadata or spec.
   * - Otherwise the informer shows something we cannot place (someone else wrote, or the cache is stale
   *   after an outage): read it from the API server.
   * A re-created Rollout (another uid) starts with nothing kept about the old one.
   */
  private async current(key: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    const cached = this.deps.rollouts.get(namespace, name);
    const known = this.known.get(key);
    if (!cached) return undefined;
    if (known && known.object.metadata.uid !== cached.metadata.uid) this.forget(key);
    else if (known) {
      const version = cached.metadata.resourceVersion;
      if (version === known.basedOn) return known.object;
      // The informer has caught up: our write, or someone else's edit of its metadata or spec after it (a
      // command, say), which carries the status we wrote (no older version does: we write only a changed
      // status). From here the informer's copy is the newest, and ours is dropped.
      const caughtUp =
        version === known.object.metadata.resourceVersion ||
        (known.basedOn !== undefined && isDeepStrictEqual(cached.status, known.object.status));
      if (!caughtUp) return this.read(key, namespace, name);
      this.known.delete(key);
      return cached;
    }
    return cached;
  }

  /** Reads the Rollout from the API server and remembers it as the newest known. */
  private async read(key: string, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      const object = await this.deps.client.get({ ...ROLLOUT_TYPE, namespace, name });
      this.known.set(key, { object });
      return object;
    } catch (error) {
      if (!(error instanceof KubeNotFoundError)) throw error;
      return undefined;
    }
  }

  private async observe(
    rollout: Rollout,
    state: WorkloadState,
    router: TrafficRouter,
    now: Date,
  ): Promise<Observations> {
    const owner = ownerOf(rollout);
    await this.workloads.ensureServices(rollout, state.target, owner);
    await this.workloads.ensureAutoscaler(rollout, state, owner);
    const traffic = await router.ensure({
      subsetLabels: {
        stable: primaryLabels(state.target),
        canary: { ...state.target.spec.selector.matchLabels },
      },
    });
    const targetRevision = revisionOf(state.target.spec.template);
    const verdicts = await this.verdicts(rollout, now);
    return {
      targetRevision,
      canaryReady: this.workloads.canaryReady(state),
      primary: {
        revision: state.primary?.metadata.annotations?.[REVISION_ANNOTATION],
        ready: state.primary ? deploymentReady(state.primary) : false,
      },
      appliedWeight: traffic.canaryWeight,
      weightUnit: traffic.weightUnit,
      ...analysed(verdicts),
      scheduleOpen: rollout.spec.schedule ? scheduleOpen(rollout.spec.schedule, now) : true,
      webhooks: this.answersFor(rollout),
      command: readCommand(rollout.metadata.annotations),
    };
  }

  /** The verdicts of the step the rollout's status is in, over its counts since the step began. */
  private async verdicts(rollout: Rollout, now: Date): Promise<ProfileVerdict[]> {
    const status = rollout.status ?? {};
    const analysing = (status.phase === "Progressing" || status.phase === "Paused") && status.stepStartedAt;
    if (!analysing) return [];
    return this.deps.analysis.evaluate(rollout, { since: new Date(status.stepStartedAt!), now });
  }

  private answersFor(rollout: Rollout): Observations["webhooks"] {
    return { ...this.webhookAnswers.get(keyOf(rollout)) };
  }

  /** Carries out one effect, and says what it changed that the tick's observations do not show. */
  private async carryOut(
    effect: Effect,
    rollout: Rollout,
    state: WorkloadState,
    router: TrafficRouter,
    log: Logger,
  ): Promise<EffectOutcome | undefined> {
    switch (effect.type) {
      case "scaleCanary":
        return { unseen: await this.workloads.scaleCanary(rollout, state, effect.up) };
      case "promotePrimary":
        return { unseen: await this.workloads.promote(rollout, state, effect.revision, ownerOf(rollout)) };
      case "setWeight": {
        const result = await router.setWeight(effect.weight);
        if (result.drift) log.warn({ drift: result.drift }, "route weights were changed by someone else");
        return { applied: result.applied };
      }
      case "setMatch":
        await router.setMatch(effect.match);
        return;
      case "setMirror":
        if (router.capabilities.mirror) await router.setMirror(effect.percent);
        return;
      case "applyFault": {
        const { chaos } = effect;
        const target =
          chaos.target === "route"
            ? ({ target: "route" } as const)
            : {
                target: "dependency" as const,
                host: chaos.host!,
                sourceLabels: [
                  primaryLabels(state.target),
                  { ...state.target.spec.template.metadata?.labels },
                ],
              };
        await router.applyFault(chaos.fault, target, effect.expiresAt);
        return;
      }
      case "clearFault":
        await router.clearFault();
        return;
      case "callWebhook":
        await this.webhook(effect, rollout, log);
        return { unseen: true }; // an answer, and time passed while waiting for it
      case "event":
        // Not awaited, as client-go's recorder never holds up its controller: an Event is a record for
        // people, written in the background (in order per object), and the traffic change after it in
        // this tick does not wait for it.
        void this.deps.events
          .record(
            { ...rollout, ...ROLLOUT_TYPE } as unknown as KubeObject,
            effect.reason,
            effect.message,
            effect.warning,
          )
          .catch((error) => log.warn({ err: error }, "could not record an event"));
        log.info({ reason: effect.reason }, effect.message);
        return;
    }
  }

  /**
   * Gating webhooks' answers feed the next tick, filed under the gate they answer (all hooks of the type
   * must approve); the others are notifications whose failure is logged.
   */
  private async webhook(
    effect: Extract<Effect, { type: "callWebhook" }>,
    rollout: Rollout,
    log: Logger,
  ): Promise<void> {
    const { webhook: type, gate } = effect;
    const payload = webhookPayload(type, rollout);
    let approvedAll = true;
    for (const hook of rollout.spec.webhooks?.filter((h) => h.type === type) ?? []) {
      const { approved, detail } = await callWebhook(hook, payload);
      approvedAll &&= approved;
      if (!approved) log.warn({ webhook: hook.name ?? hook.url, detail }, `${type} webhook did not approve`);
    }
    if (gate === undefined) return;
    const key = keyOf(rollout);
    // answers of older gates are never asked for again
    this.webhookAnswers.set(key, { [gate]: approvedAll ? "approved" : "rejected" });
  }

  /**
   * Writes the status if it changed, conditional on the version read. Undefined when written (or nothing
   * to write); on a conflict, re-reads the Rollout and returns how long to wait before the next tick.
   */
  private async writeStatus(
    key: string,
    raw: KubeObject,
    status: RolloutStatus,
    retried = false,
  ): Promise<number | undefined> {
    if (isDeepStrictEqual(stripUndefined(status), stripUndefined(raw.status ?? {}))) return undefined;
    try {
      const object = await this.deps.client.mergePatchStatus(
        { ...ROLLOUT_TYPE, namespace: raw.metadata.namespace, name: raw.metadata.name },
        {
          metadata: { resourceVersion: raw.metadata.resourceVersion },
          status: mergePatchFrom(
            (raw.status ?? {}) as Record<string, unknown>,
            status as Record<string, unknown>,
          ),
        },
      );
      this.known.set(key, { basedOn: raw.metadata.resourceVersion, object });
      this.conflicts.delete(key);
      return undefined;
    } catch (error) {
      if (!(error instanceof KubeConflictError || error instanceof KubeNotFoundError)) throw error;
      // The object changed since it was read (or the cache was stale): read it again. When only its
      // metadata or spec changed (a command annotation, say), the status this tick decided from is still
      // the stored one, and its effects are done: record them, or the next tick would undo them.
      const [namespace, name] = key.split("/") as [string, string];
      const fresh = await this.read(key, namespace, name);
      if (
        fresh &&
        fresh.metadata.uid === raw.metadata.uid &&
        isDeepStrictEqual(stripUndefined(fresh.status ?? {}), stripUndefined(raw.status ?? {})) &&
        !retried
      ) {
        return this.writeStatus(key, fresh, status, true);
      }
      // Someone else changed the status: wait a while, so that a write path never spins, then decide again.
      const conflicts = (this.conflicts.get(key) ?? 0) + 1;
      this.conflicts.set(key, conflicts);
      return Math.min(CONFLICT_BACKOFF_MS.max, CONFLICT_BACKOFF_MS.first * 2 ** (conflicts - 1));
    }
  }
}

/** Observations without what the verdicts say: for a decision whose step has verdicts of its own. */
function withoutObserved({ verdicts: _, observedWeight: __, ...rest }: Observations) {
  return rest;
}

/** What verdicts add to the observations: themselves, and the canary's share they counted. */
function analysed(verdicts: ProfileVerdict[]): Pick<Observations, "verdicts" | "observedWeight"> {
  const observed = observedShare(verdicts);
  return observed === undefined ? { verdicts } : { verdicts, observedWeight: observed };
}

interface EffectOutcome {
  /** A weight: the share the route carries now. */
  applied?: number;
  /**
   * It changed what only the next tick observes: a Deployment (seen through its informer), a webhook's
   * answer. The tick decides no more after it.
   */
  unseen?: boolean;
}

interface Known {
  object: KubeObject;
  /** For our own write: the resourceVersion of the object it was based on. */
  basedOn?: string;
}

function keyOf(rollout: Rollout): string {
  return `${rollout.metadata.namespace}/${rollout.metadata.name}`;
}
function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The RFC 7386 merge patch that turns `old` into `next` (removed fields become null, at any depth). */
export function mergePatchFrom(
  old: Record<string, unknown>,
  next: Record<string, unknown>,
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(old)) if (next[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined || isDeepStrictEqual(value, old[key])) continue;
    const before = old[key];
    patch[key] = isPlainObject(value) && isPlainObject(before) ? mergePatchFrom(before, value) : value;
  }
  return patch;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
