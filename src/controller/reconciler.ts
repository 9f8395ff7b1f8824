import { isDeepStrictEqual } from "node:util";
import { readCommand } from "../api/commands.ts";
import { parseRollout, type Rollout, type RolloutStatus } from "../api/rollout.ts";
import { decide } from "../engine/decide.ts";
import { observedShare } from "../engine/observed-share.ts";
import { scheduleOpen } from "../engine/schedule.ts";
import type { Effect, GatingWebhook, Observations, ProfileVerdict, WebhookType } from "../engine/types.ts";
import { type KubeClient, KubeConflictError, KubeNotFoundError, type KubeObject } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { TrafficRouter } from "../routers/types.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { ControllerMetrics } from "../telemetry/metrics.ts";
import { deploymentReady, primaryLabels, REVISION_ANNOTATION, revisionOf } from "../workloads/deployments.ts";
import { type DeploymentReader, ownerOf, type WorkloadState, Workloads } from "../workloads/workloads.ts";
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
  analysis: AnalysisSource;
  events: EventRecorder;
  metrics: ControllerMetrics;
  logger: Logger;
  routerFor(rollout: Rollout): TrafficRouter;
  now?: () => Date;
}

const RETRY_MS = 2_000;
const IDLE_RESYNC_MS = 60_000;
const ROLLOUT_TYPE = { apiVersion: "stepwise.dev/v1alpha1", kind: "Rollout" } as const;

/**
 * One reconcile of one rollout: observe (workloads, route, metrics, commands), let the engine decide,
 * carry out its effects in order, then write the status once. If an effect fails, the status is not
 * written: the next tick decides again from the same stored state, and effects are idempotent.
 */
export class Reconciler {
  private readonly workloads: Workloads;
  private readonly webhookAnswers = new Map<string, "approved" | "rejected">();
  /** Our last status write per rollout, until the informer has caught up with it. */
  private readonly written = new Map<string, { basedOn: string | undefined; object: KubeObject }>();
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.workloads = new Workloads(deps.client, deps.deployments);
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Reconciles `namespace/name`; returns when to look again (ms), or undefined when the rollout is gone.
   * With `sweepFaults` (at start and on every resync) it first removes the rollout's faults that are past
   * their expiry, whatever the status says: a crash may have lost the status write that knew of them.
   */
  async reconcile(key: string, options: { sweepFaults?: boolean } = {}): Promise<number | undefined> {
    const [namespace, name] = key.split("/") as [string, string];
    const raw = this.current(key, namespace, name);
    if (!raw) {
      this.forget(key);
      return undefined;
    }
    const parsed = parseRollout(raw);
    const log = this.deps.logger.child({ namespace, rollout: name });
    if (!parsed.ok) {
      const message = `invalid spec: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`;
      await this.writeStatus(key, raw, { ...(raw.status as RolloutStatus), phase: "Failed", message });
      return undefined;
    }
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
    const observations = await this.observe(rollout, state, router, now);
    const decision = decide({ spec: rollout.spec, status: rollout.status, observations, now });
    const decided = process.hrtime.bigint();
    try {
      for (const effect of decision.effects) {
        await this.carryOut(effect, rollout, state, router, log);
        const seconds = Number(process.hrtime.bigint() - decided) / 1e9;
        if (effect.type !== "event")
          this.deps.metrics.effectLatency.observe({ effect: effect.type }, seconds);
      }
    } catch (error) {
      log.warn({ err: error }, "an effect failed; the status stays as it was and the tick is retried");
      await this.deps.events.record(raw, "EffectFailed", errorText(error), true).catch(() => {});
      return RETRY_MS;
    }
    const status = { ...decision.status, observedGeneration: raw.metadata.generation };
    if (status.phase && status.phase !== rollout.status?.phase) {
      this.deps.metrics.transitions.inc({ namespace, rollout: name, phase: status.phase });
    }
    this.deps.metrics.recordRollout(namespace, name, {
      phase: status.phase ?? "Idle",
      desired: status.weights?.desired ?? 0,
      applied: status.weights?.applied,
      verdicts: status.analysis ?? [],
    });
    if (!(await this.writeStatus(key, raw, status))) return 0;
    return decision.requeueAfterMs ?? IDLE_RESYNC_MS;
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

  /** Drops what reconcile() keeps for `namespace/name`: the rollout is gone, or re-created with a new uid. */
  forget(key: string): void {
    const [namespace, name] = key.split("/") as [string, string];
    this.written.delete(key);
    for (const answer of [...this.webhookAnswers.keys()])
      if (answer.startsWith(`${key}/`)) this.webhookAnswers.delete(answer);
    this.deps.analysis.forget(namespace, name);
    this.deps.metrics.forgetRollout(namespace, name);
  }

  /** The informer's object, or our own newer write when the informer has not seen it yet. */
  private current(key: string, namespace: string, name: string): KubeObject | undefined {
    const cached = this.deps.rollouts.get(namespace, name);
    const written = this.written.get(key);
    if (cached && written && cached.metadata.resourceVersion === written.basedOn) return written.object;
    this.written.delete(key);
    return cached;
  }

  private async observe(
    rollout: Rollout,
    state: WorkloadState,
    router: TrafficRouter,
    now: Date,
  ): Promise<Observations> {
    const status = rollout.status ?? {};
    const owner = ownerOf(rollout);
    await this.workloads.ensureServices(rollout, state.target, owner);
    const traffic = await router.ensure({
      subsetLabels: {
        stable: primaryLabels(state.target),
        canary: { ...state.target.spec.selector.matchLabels },
      },
    });
    const targetRevision = revisionOf(state.target.spec.template);
    const canaryReplicas = state.primary?.spec.replicas ?? 1;
    const analysing = (status.phase === "Progressing" || status.phase === "Paused") && status.stepStartedAt;
    const verdicts = analysing
      ? await this.deps.analysis.evaluate(rollout, { since: new Date(status.stepStartedAt!), now })
      : [];
    const observed = observedShare(verdicts);
    return {
      targetRevision,
      canaryReady:
        state.target.spec.replicas === canaryReplicas && deploymentReady(state.target, canaryReplicas),
      primary: {
        revision: state.primary?.metadata.annotations?.[REVISION_ANNOTATION],
        ready: state.primary ? deploymentReady(state.primary) : false,
      },
      appliedWeight: traffic.canaryWeight,
      verdicts,
      ...(observed === undefined ? {} : { observedWeight: observed }),
      scheduleOpen: rollout.spec.schedule ? scheduleOpen(rollout.spec.schedule, now) : true,
      webhooks: this.answersFor(rollout),
      command: readCommand(rollout.metadata.annotations),
    };
  }

  private answerKey(rollout: Rollout, type: string): string {
    return `${rollout.metadata.namespace}/${rollout.metadata.name}/${rollout.status?.revision ?? ""}/${type}`;
  }

  private answersFor(rollout: Rollout): Observations["webhooks"] {
    const answers: Observations["webhooks"] = {};
    for (const type of ["pre-rollout", "confirm-promotion"] as GatingWebhook[]) {
      const answer = this.webhookAnswers.get(this.answerKey(rollout, type));
      if (answer) answers[type] = answer;
    }
    return answers;
  }

  private async carryOut(
    effect: Effect,
    rollout: Rollout,
    state: WorkloadState,
    router: TrafficRouter,
    log: Logger,
  ): Promise<void> {
    switch (effect.type) {
      case "scaleCanary":
        return this.workloads.scaleCanary(rollout, state, effect.up);
      case "promotePrimary":
        return this.workloads.promote(rollout, state, effect.revision, ownerOf(rollout));
      case "setWeight": {
        const result = await router.setWeight(effect.weight);
        if (result.drift) log.warn({ drift: result.drift }, "route weights were changed by someone else");
        return;
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
        return this.webhook(effect.webhook, rollout, log);
      case "event":
        await this.deps.events
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

  /** Gating webhooks' answers feed the next tick; the others are notifications whose failure is logged. */
  private async webhook(type: WebhookType, rollout: Rollout, log: Logger): Promise<void> {
    const payload = webhookPayload(type, rollout);
    for (const hook of rollout.spec.webhooks?.filter((h) => h.type === type) ?? []) {
      const { approved, detail } = await callWebhook(hook, payload);
      if (type === "pre-rollout" || type === "confirm-promotion") {
        this.webhookAnswers.set(this.answerKey(rollout, type), approved ? "approved" : "rejected");
      }
      if (!approved) log.warn({ webhook: hook.name ?? hook.url, detail }, `${type} webhook did not approve`);
    }
  }

  /** Writes the status if it changed, conditional on the version read; false on a conflict (look again). */
  private async writeStatus(key: string, raw: KubeObject, status: RolloutStatus): Promise<boolean> {
    if (isDeepStrictEqual(stripUndefined(status), stripUndefined(raw.status ?? {}))) return true;
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
      this.written.set(key, { basedOn: raw.metadata.resourceVersion, object });
      return true;
    } catch (error) {
      if (error instanceof KubeConflictError || error instanceof KubeNotFoundError) return false;
      throw error;
    }
  }
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
