import type { Phase, RolloutSpec, RolloutStatus } from "../api/rollout.ts";
// the pure weight arithmetic itself, not the routers index, which loads the Kubernetes client
import { withinOneUnit } from "../routers/weights.ts";
import { CONDITION, isFalse, WEIGHT_NOT_EXPRESSIBLE, withCondition, withHold } from "./conditions.ts";
import { type PlanStep, planSteps } from "./plan.ts";
import { commandAllowed, type EngineEvent, nextPhase } from "./transitions.ts";
import type { Command, Decision, Effect, GatingWebhook, Observations, ProfileVerdict } from "./types.ts";
import { gateOutcome } from "./webhook-gate.ts";

export interface EngineInput {
  spec: RolloutSpec;
  status: RolloutStatus | undefined;
  observations: Observations;
  now: Date;
}

type AnalysisStep = Extract<PlanStep, { kind: "analysis" }>;
/** The implicit analysis at the final share, before promotion. */
const FINAL_GATE: AnalysisStep = { kind: "analysis" };

const TERMINAL: readonly Phase[] = ["Succeeded", "RolledBack", "Failed"];
const RELEASING: readonly Phase[] = ["Initializing", "Progressing", "Promoting", "RollingBack"];

/**
 * The status after the route refused the desired weight as not expressible: RouteReady (and Ready) False
 * with the router's reason. The engine then holds the rollout where it is instead of running into the
 * progress deadline, and lets RouteReady turn True again once a weight is applied.
 */
export function withRouteBlocked(status: RolloutStatus, message: string, now: Date): RolloutStatus {
  return withHold(status, CONDITION.RouteReady, WEIGHT_NOT_EXPRESSIBLE, message, now, `holding: ${message}`);
}

export function isTerminal(phase: Phase | undefined): boolean {
  return phase !== undefined && TERMINAL.includes(phase);
}

/** A release has begun and not ended: any phase but Idle and the terminal ones. */
export function isUnderWay(phase: Phase | undefined): boolean {
  return phase !== undefined && phase !== "Idle" && !isTerminal(phase);
}

/**
 * One tick of the rollout state machine: from the spec, the stored status, what the controller observed
 * and the time, the next status and the effects to carry out. Pure: no I/O, no clock of its own.
 *
 * Order matters: deadlines first (whatever else is wrong), then a new revision, then a manual command,
 * then the phase's own work.
 */
export function decide(input: EngineInput): Decision {
  return new Tick(input).run();
}

class Tick {
  private readonly spec: RolloutSpec;
  private readonly obs: Observations;
  private readonly now: Date;
  private readonly plan: PlanStep[];
  private status: RolloutStatus;
  private readonly effects: Effect[] = [];
  private requeue: number[] = [];
  /** The canary share on the route as far as this tick knows: unknown once it asked for a new one. */
  private appliedWeight: number | undefined;
  /** The weight this tick already asked the route for: one write per weight per tick. */
  private writing: number | undefined;

  constructor({ spec, status, observations, now }: EngineInput) {
    this.spec = spec;
    this.obs = observations;
    this.now = now;
    this.plan = planSteps(spec);
    this.status = structuredClone(status ?? {});
    this.appliedWeight = observations.appliedWeight;
  }

  run(): Decision {
    this.expireFault();
    if (!this.newRevision()) {
      this.deadline();
      this.command();
      this.advance();
    }
    this.status.weights = { ...this.status.weights, desired: this.status.weights?.desired ?? 0 };
    if (this.obs.appliedWeight !== undefined) this.status.weights.applied = this.obs.appliedWeight;
    if (this.obs.observedWeight !== undefined) this.status.weights.observed = this.obs.observedWeight;
    else delete this.status.weights.observed;
    this.setConditions();
    const requeueAfterMs = this.requeue.length ? Math.max(1, Math.min(...this.requeue)) : undefined;
    return { status: this.status, effects: this.effects, requeueAfterMs };
  }

  /** The engine runs only on a valid spec; RouteReady turns True again once the weight is applied. */
  private setConditions(): void {
    const set = (
      type: Parameters<typeof withCondition>[1],
      value: boolean,
      reason: string,
      message: string,
    ) => {
      this.status.conditions = withCondition(this.status.conditions, type, value, reason, message, this.now);
    };
    set(CONDITION.SpecValid, true, "Valid", "the spec is valid");
    // the engine runs only once the workloads were read and made as the rollout needs them
    set(CONDITION.WorkloadsReady, true, "Ready", "the Services and autoscaler are as the rollout needs them");
    if (this.weightApplied())
      set(CONDITION.RouteReady, true, "WeightApplied", "the route carries the desired weights");
    else if (!this.routeBlocked())
      set(CONDITION.RouteReady, true, "WeightPending", "the route is being set to the desired weights");
    const invalid = this.obs.verdicts.find((v) => v.invalidProfile);
    if (invalid)
      set(CONDITION.ProfilesValid, false, "InvalidSLOProfile", invalid.evidence ?? invalid.profile);
    else if (this.obs.verdicts.length > 0)
      set(CONDITION.ProfilesValid, true, "Valid", "every SLOProfile the analysis uses is valid");
    const verdicts = this.obs.verdicts;
    if (verdicts.length > 0)
      set(
        CONDITION.Analysing,
        true,
        mostSevere(verdicts),
        verdicts
          .map((v) => `${v.profile}: ${v.verdict}${v.critical === false ? " (not critical)" : ""}`)
          .join("; "),
      );
    else set(CONDITION.Analysing, false, "NoAnalysis", "no analysis runs in the current step");
    const releasing = RELEASING.includes(this.phase);
    set(CONDITION.Progressing, releasing, this.phase, this.status.message ?? this.phase);
    const ready = this.phase !== "Failed" && !this.routeBlocked();
    set(
      CONDITION.Ready,
      ready,
      ready ? "Ready" : this.phase === "Failed" ? "Failed" : WEIGHT_NOT_EXPRESSIBLE,
      ready ? "nothing keeps the rollout from going on" : (this.status.message ?? this.phase),
    );
  }

  /** The route said it cannot express the desired weight (the reconciler set RouteReady=False). */
  private routeBlocked(): boolean {
    return (
      isFalse(this.status, CONDITION.RouteReady) &&
      this.status.conditions?.find((c) => c.type === CONDITION.RouteReady)?.reason === WEIGHT_NOT_EXPRESSIBLE
    );
  }

  // --- helpers --------------------------------------------------------------------------------------

  private get phase(): Phase {
    return this.status.phase ?? "Idle";
  }

  private get nowIso(): string {
    return this.now.toISOString();
  }

  private elapsedInStep(): number {
    return this.status.stepStartedAt ? this.now.getTime() - Date.parse(this.status.stepStartedAt) : 0;
  }

  private event(reason: string, message: string, warning = false): void {
    this.effects.push({ type: "event", reason, message, ...(warning ? { warning } : {}) });
  }

  /** Moves to the phase the transition table gives for `event`; the event's name is the Event reason. */
  private go(event: EngineEvent, message: string, warning = false): void {
    const phase = nextPhase(this.status.phase, event);
    this.status.phase = phase;
    this.status.message = message;
    if (phase !== "Paused") delete this.status.pauseReason;
    this.event(event, message, warning);
    this.notify("event");
  }

  /** Notification webhooks: called, never waited for. */
  private notify(type: "event" | "post-rollout" | "rollback"): void {
    if (this.spec.webhooks?.some((hook) => hook.type === type))
      this.effects.push({ type: "callWebhook", webhook: type });
  }

  /** A gating webhook for the gate this tick is at: asks it when it has not approved yet. */
  private gate(type: GatingWebhook): "open" | "rejected" | "waiting" {
    const outcome = gateOutcome(this.spec, this.status, this.obs.webhooks, type);
    if (typeof outcome === "string") return outcome;
    this.effects.push({ type: "callWebhook", webhook: type, gate: outcome.ask });
    return "waiting";
  }

  private setDesiredWeight(weight: number): void {
    this.status.weights = { ...this.status.weights, desired: weight };
    if (!this.isApplied(weight) && this.writing !== weight) this.writeWeight(weight);
  }

  private writeWeight(weight: number): void {
    this.effects.push({ type: "setWeight", weight });
    this.appliedWeight = undefined;
    this.writing = weight;
  }

  /** The route shows the desired share, to within its rounding unit. */
  private weightApplied(): boolean {
    return this.isApplied(this.status.weights?.desired ?? 0);
  }

  /**
   * The routers' contract (src/routers/traffic-router.ts): a share within one rounding unit of the one asked for is
   * applied. Every route can express 0% exactly, and "all traffic on stable" must mean exactly that.
   */
  private isApplied(weight: number): boolean {
    if (this.appliedWeight === undefined) return false;
    const unit = this.obs.weightUnit ?? 0;
    if (weight === 0 || unit === 0) return Math.abs(this.appliedWeight - weight) < 1e-6;
    return withinOneUnit(this.appliedWeight, weight, unit);
  }

  private wakeIn(ms: number): void {
    this.requeue.push(ms);
  }

  // --- deadlines --------------------------------------------------------------------------------------

  /** A fault never outlives its expiry, whatever state the rollout is in. */
  private expireFault(): void {
    const fault = this.status.fault;
    if (!fault) return;
    const left = Date.parse(fault.expiresAt) - this.now.getTime();
    if (left > 0) return this.wakeIn(left);
    this.effects.push({ type: "clearFault" });
    delete this.status.fault;
    this.event("FaultCleared", `fault on ${fault.host ?? "the route"} expired and was removed`);
  }

  /** Steps that wait on the cluster (pods, weights, primary) get progressDeadlineSeconds to finish. */
  private deadline(): void {
    const limit = this.spec.progressDeadlineSeconds * 1000;
    if (!["Initializing", "Progressing", "Promoting"].includes(this.phase)) return;
    if (this.phase === "Progressing" && !this.waitingOnCluster()) return;
    // A route that cannot take the weight holds the rollout for a person (RouteReady says why): the
    // canary is not at fault, so this is no reason to roll it back.
    if (this.routeBlocked()) return;
    const left = limit - this.elapsedInStep();
    if (left > 0) return this.wakeIn(left);
    const message = `no progress within ${this.spec.progressDeadlineSeconds}s: ${this.status.message ?? this.phase}`;
    if (this.phase === "Promoting") {
      // The old primary is already being replaced; the canary still serves, so traffic stays where it is.
      this.go("PromotionStalled", message, true);
    } else this.rollBack(message, "ProgressDeadlineExceeded");
  }

  private waitingOnCluster(): boolean {
    const step = this.plan[this.status.step ?? 0];
    return step?.kind === "setWeight" && !this.weightApplied();
  }

  // --- revisions ----------------------------------------------------------------------------------------

  /** Starts, restarts or bootstraps when the target's revision changed; true when it took the tick. */
  private newRevision(): boolean {
    const target = this.obs.targetRevision;
    if (this.status.stableRevision === undefined) return this.bootstrap();
    if (target === this.status.revision) return false;
    if (target === this.status.stableRevision) {
      this.status.revision = target;
      if (this.phase === "Idle" || this.phase === "RollingBack" || isTerminal(this.phase)) return false;
      this.rollBack(`the target was set back to the stable revision ${target}`, "RevertedToStable");
      return true;
    }
    if (this.phase === "Promoting" && this.obs.primary.revision === this.status.revision) {
      // The primary's pod template already is the promoted revision: that revision is the stable one now,
      // and what a rollback of the next one must restore.
      this.status.stableRevision = this.status.revision;
    }
    // Nothing the old revision set may reach the new one's pods before its own checks ran.
    this.clearRouting();
    this.status.revision = target;
    this.status.startedAt = this.nowIso;
    this.status.analysis = [];
    this.startPhaseStep("NewRevision", `new revision ${target}: starting the canary`);
    this.initialize();
    return true;
  }

  /** The first time a Rollout is seen: the target's revision becomes the stable primary, without analysis. */
  private bootstrap(): boolean {
    const target = this.obs.targetRevision;
    if (this.status.phase !== "Initializing") {
      this.status.revision = target;
      this.startPhaseStep("Bootstrap", `making ${target} the stable primary`);
    }
    this.effects.push({ type: "promotePrimary", revision: this.status.revision ?? target });
    this.effects.push({ type: "scaleCanary", up: false });
    this.setDesiredWeight(0);
    if (
      this.obs.primary.revision === this.status.revision &&
      this.obs.primary.ready &&
      this.weightApplied()
    ) {
      this.status.stableRevision = this.status.revision;
      this.go("Initialized", `stable revision ${this.status.revision} is serving all traffic`);
    }
    return true;
  }

  private startPhaseStep(event: "Bootstrap" | "NewRevision" | "Retry", message: string): void {
    this.status.step = 0;
    delete this.status.canaryReadyAt;
    this.status.stepStartedAt = this.nowIso;
    this.go(event, message);
  }

  // --- commands ----------------------------------------------------------------------------------------

  private command(): void {
    const command = this.obs.command;
    if (!command || command.id === this.status.lastCommand?.id) return;
    this.status.lastCommand = { id: command.id, type: command.type, appliedAt: this.nowIso };
    const applied = this.applyCommand(command);
    if (!applied) this.event("CommandIgnored", `${command.type} does nothing while ${this.phase}`);
  }

  /** Carries out a command the phase accepts (transitions.ts: COMMAND_PHASES); false when it does not. */
  private applyCommand(command: Command): boolean {
    if (!commandAllowed(command.type, this.phase)) return false;
    switch (command.type) {
      case "pause":
        this.pause("paused by user");
        return true;
      case "resume": {
        // Only a manual gate waits for a person; a timed pause runs its full time (promote skips it).
        const step = this.plan[this.status.step ?? 0];
        if (step?.kind === "pause" && step.durationMs === undefined)
          this.nextStep("resumed past the gate by user");
        else this.go("Resumed", "resumed by user");
        return true;
      }
      case "promote":
        if (command.full || (this.status.step ?? 0) >= this.plan.length) this.promote("promoted by user");
        else this.nextStep("promoted to the next step by user");
        return true;
      case "abort":
        this.rollBack("aborted by user", "Aborted");
        return true;
      case "retry":
        if (this.status.revision === this.status.stableRevision) return false;
        this.status.analysis = [];
        this.startPhaseStep("Retry", `retrying revision ${this.status.revision}`);
        return true;
      case "set-weight":
        this.setDesiredWeight(command.weight);
        this.pause(`weight set to ${command.weight}% by user`);
        return true;
    }
  }

  private pause(reason: string): void {
    this.status.pauseReason = reason;
    this.go("Paused", reason);
  }

  // --- phases -----------------------------------------------------------------------------------------

  private advance(): void {
    switch (this.phase) {
      case "Initializing":
        return this.initialize();
      case "Progressing":
      case "Paused":
        return this.progress();
      case "Promoting":
        return this.promoting();
      case "RollingBack":
        return this.rollingBack();
      default:
        return;
    }
  }

  private initialize(): void {
    this.effects.push({ type: "scaleCanary", up: true });
    this.setDesiredWeight(0);
    const gate = this.gate("pre-rollout");
    if (gate === "rejected") return this.rollBack("the pre-rollout webhook rejected it", "WebhookRejected");
    if (gate === "waiting") {
      this.status.message = "waiting for the pre-rollout webhook";
      return this.wakeIn(this.spec.analysis.interval);
    }
    if (!this.obs.canaryReady) {
      this.status.message = `waiting for the canary pods of ${this.status.revision} to be ready`;
      return this.wakeIn(this.spec.analysis.interval);
    }
    this.status.step = -1;
    // the analysis' warm-up runs from here
    this.status.canaryReadyAt = this.nowIso;
    this.nextStep("canary is ready");
  }

  private failedVerdicts(profiles?: string[]): ProfileVerdict[] {
    return this.requiredVerdicts(profiles).filter((v) => v.verdict === "Fail");
  }

  /**
   * Verdicts of the required profiles (optionally only those named by the step). A profile whose gate is
   * not critical is reported and never decides.
   */
  private requiredVerdicts(profiles?: string[]): ProfileVerdict[] {
    const required = new Set(
      this.spec.analysis.profiles
        .filter((p) => p.required && (profiles === undefined || profiles.includes(p.name)))
        .map((p) => p.name),
    );
    if (profiles) for (const name of profiles) required.add(name);
    return this.obs.verdicts.filter((v) => required.has(v.profile) && v.critical !== false);
  }

  private progress(): void {
    this.status.analysis = this.obs.verdicts;
    const index = this.status.step ?? 0;
    const step = this.plan[index];
    // A failing canary is rolled back at any step, paused or not, inside the schedule window or not.
    const failed = this.failedVerdicts(step?.kind === "chaos" ? step.chaos.profiles : undefined);
    if (failed.length > 0) {
      const names = failed.map((v) => `${v.profile} (${v.evidence ?? "failed"})`).join("; ");
      return this.rollBack(`analysis failed: ${names}`, "AnalysisFailed");
    }
    this.correctDrift();
    if (this.phase === "Paused") return;
    if (!this.obs.scheduleOpen) {
      this.status.message = `outside the schedule window (${this.spec.schedule?.window}): holding at ${this.status.weights?.desired ?? 0}%`;
      return this.wakeIn(60_000);
    }
    if (!step) return this.awaitPromotion();
    this.runStep(step);
  }

  /** Someone else changed the weights: say so and put ours back. */
  private correctDrift(): void {
    const desired = this.status.weights?.desired ?? 0;
    const step = this.plan[this.status.step ?? 0];
    const settingWeight =
      step?.kind === "setWeight" && step.weight === desired && this.phase === "Progressing";
    if (this.appliedWeight === undefined || this.isApplied(desired) || settingWeight) return;
    this.event(
      "TrafficDrift",
      `route shows ${this.appliedWeight}% on the canary, expected ${desired}%; re-applying`,
      true,
    );
    this.writeWeight(desired);
  }

  private runStep(step: PlanStep): void {
    const elapsed = this.elapsedInStep();
    switch (step.kind) {
      case "setWeight":
        this.setDesiredWeight(step.weight);
        if (this.weightApplied()) return this.nextStep(`canary weight is ${step.weight}%`);
        this.status.message = `setting the canary weight to ${step.weight}%`;
        return this.wakeIn(1_000);
      case "pause":
        if (step.durationMs === undefined) return this.pause(step.reason);
        if (elapsed >= step.durationMs) return this.nextStep("pause ended");
        this.status.message = `${step.reason}: ${Math.ceil((step.durationMs - elapsed) / 1000)}s left`;
        return this.wakeIn(step.durationMs - elapsed);
      case "match":
        return this.nextStep("matching requests go to the canary");
      case "chaos":
        return this.runChaos(step, elapsed);
      case "analysis":
        if (this.runAnalysis(step, elapsed)) this.nextStep("analysis passed");
        return;
    }
  }

  /**
   * A chaos step keeps its fault for the whole duration (a Fail of its profiles ends it early, in
   * progress()), then removes it: all its profiles passing moves on; otherwise a person decides.
   */
  private runChaos(step: Extract<PlanStep, { kind: "chaos" }>, elapsed: number): void {
    if (elapsed < step.chaos.duration) {
      this.status.message = `chaos gate: ${Math.ceil((step.chaos.duration - elapsed) / 1000)}s left`;
      return this.wakeIn(Math.min(step.chaos.duration - elapsed, this.spec.analysis.interval));
    }
    this.removeFault();
    const open = this.notPassing(step.chaos.profiles);
    if (open.length === 0) return this.nextStep("chaos gate passed");
    this.pause(`chaos gate ended without a pass (${open.join(", ")}); promote to go on, or abort`);
  }

  /** What keeps the required profiles (or the step's) from passing: "name: verdict", or "no verdicts". */
  private notPassing(profiles?: string[]): string[] {
    const names = profiles ?? this.spec.analysis.profiles.filter((p) => p.required).map((p) => p.name);
    const deciding = names.filter(
      (name) => this.obs.verdicts.find((v) => v.profile === name)?.critical !== false,
    );
    const verdicts = this.requiredVerdicts(profiles);
    const open = verdicts.filter((v) => v.verdict !== "Pass").map((v) => `${v.profile}: ${v.verdict}`);
    if (verdicts.length < deciding.length && open.length === 0) open.push("no verdicts");
    return open;
  }

  private removeFault(): void {
    if (this.status.fault) this.effects.push({ type: "clearFault" });
    delete this.status.fault;
  }

  /** Runs an analysis step; true when it passed (the caller moves on), false while it holds. */
  private runAnalysis(step: AnalysisStep, elapsed: number): boolean {
    const open = this.notPassing(step.profiles);
    const minimum = step.atLeastMs ?? 0;
    if (open.length === 0 && elapsed >= minimum) return true;
    const deadline = step.untilMs ?? minimum + this.spec.progressDeadlineSeconds * 1000;
    if (elapsed >= deadline) {
      // Lack of evidence is never a reason to roll back: a person decides.
      this.pause(`analysis did not pass by the step deadline (${open.join(", ")})`);
      return false;
    }
    const verdicts = this.requiredVerdicts(step.profiles);
    this.status.message = `analysing: ${verdicts.map((v) => `${v.profile} ${v.verdict}`).join(", ") || "waiting for data"}`;
    this.wakeIn(Math.min(this.spec.analysis.interval, deadline - elapsed));
    return false;
  }

  private nextStep(message: string): void {
    const leaving = this.plan[this.status.step ?? -1];
    if (leaving?.kind === "analysis" && leaving.mirror)
      this.effects.push({ type: "setMirror", percent: null });
    if (leaving?.kind === "chaos") this.removeFault();
    const index = (this.status.step ?? -1) + 1;
    this.status.step = index;
    this.status.stepStartedAt = this.nowIso;
    this.status.analysis = [];
    const step = this.plan[index];
    if (step?.kind === "analysis" && step.mirror) this.effects.push({ type: "setMirror", percent: 100 });
    if (step?.kind === "match") this.effects.push({ type: "setMatch", match: step.match });
    if (step?.kind === "chaos") {
      const expiresAt = new Date(this.now.getTime() + step.chaos.duration).toISOString();
      this.effects.push({ type: "applyFault", chaos: step.chaos, expiresAt });
      this.status.fault = {
        target: step.chaos.target,
        ...(step.chaos.host ? { host: step.chaos.host } : {}),
        expiresAt,
      };
    }
    const what = step ? `step ${index + 1}/${this.plan.length}: ${describeStep(step)}` : "all steps done";
    this.go("StepStarted", `${message}; ${what}`);
    if (step) this.runStep(step);
    else this.awaitPromotion();
  }

  /**
   * After the last step, the canary is judged once more at its final share: promotion needs a Pass from
   * every required profile (then the confirm-promotion webhook, if any).
   */
  private awaitPromotion(): void {
    if (!this.runAnalysis(FINAL_GATE, this.elapsedInStep())) return;
    if (this.gate("confirm-promotion") !== "open") {
      this.status.message = "waiting for the confirm-promotion webhook to approve";
      return this.wakeIn(this.spec.analysis.interval);
    }
    this.promote("all steps passed");
  }

  private promote(message: string): void {
    this.status.stepStartedAt = this.nowIso;
    this.go("Promoting", `${message}: promoting ${this.status.revision} to primary`);
    this.promoting();
  }

  private promoting(): void {
    const revision = this.status.revision!;
    if (this.obs.primary.revision !== revision) {
      this.effects.push({ type: "promotePrimary", revision });
      this.status.message = `updating the primary to ${revision}`;
      return this.wakeIn(1_000);
    }
    if (!this.obs.primary.ready) {
      this.status.message = `waiting for the primary pods of ${revision} to be ready`;
      return this.wakeIn(1_000);
    }
    this.setDesiredWeight(0);
    if (!this.weightApplied()) {
      this.status.message = "moving all traffic to the primary";
      return this.wakeIn(1_000);
    }
    this.finish("Succeeded", `${revision} promoted: the primary serves all traffic`, "post-rollout");
  }

  private rollBack(
    message: string,
    event: "AnalysisFailed" | "WebhookRejected" | "Aborted" | "RevertedToStable" | "ProgressDeadlineExceeded",
  ): void {
    this.status.stepStartedAt = this.nowIso;
    this.go(event, message, true);
    this.rollingBack();
  }

  /**
   * RolledBack means the stable version serves: the primary runs exactly stableRevision, is ready and
   * takes all traffic. A primary already switched to the new revision (a revert during Promoting) is
   * restored first, from the target, which then holds the stable template again; until it runs the
   * stable revision, traffic stays where it is.
   */
  private rollingBack(): void {
    this.clearRouting();
    const stable = this.status.stableRevision!;
    if (this.obs.primary.revision !== stable) {
      if (this.obs.targetRevision !== stable) {
        return this.go(
          "RollbackStalled",
          `cannot restore the primary: it runs ${this.obs.primary.revision ?? "nothing"} and the target no longer has the stable revision ${stable}; set the target's pod template back to it, or start a new revision`,
          true,
        );
      }
      this.effects.push({ type: "promotePrimary", revision: stable });
      return this.wakeIn(1_000);
    }
    this.setDesiredWeight(0);
    if (!this.obs.primary.ready || !this.weightApplied()) return this.wakeIn(1_000);
    this.finish("RolledBack", `rolled back: ${this.status.message ?? ""}`.trim(), "rollback");
  }

  /**
   * Removes the match and mirror routes and the fault the plan may have set (idempotent, so safe to
   * repeat): even one the status does not know of, applied just before a crash lost the status write.
   */
  private clearRouting(): void {
    delete this.status.fault;
    if (this.plan.some((step) => step.kind === "chaos")) this.effects.push({ type: "clearFault" });
    if (this.plan.some((step) => step.kind === "match")) this.effects.push({ type: "setMatch", match: null });
    if (this.plan.some((step) => step.kind === "analysis" && step.mirror)) {
      this.effects.push({ type: "setMirror", percent: null });
    }
  }

  private finish(
    phase: "Succeeded" | "RolledBack",
    message: string,
    hook: "post-rollout" | "rollback",
  ): void {
    if (phase === "Succeeded") this.clearRouting();
    this.effects.push({ type: "scaleCanary", up: false });
    if (phase === "Succeeded") this.status.stableRevision = this.status.revision;
    this.go(phase, message, phase === "RolledBack");
    this.notify(hook);
  }
}

function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case "setWeight":
      return `set weight ${step.weight}%`;
    case "pause":
      return step.durationMs === undefined ? step.reason : `pause ${step.durationMs / 1000}s`;
    case "analysis":
      return "analysis";
    case "chaos":
      return `chaos on ${step.chaos.host ?? "the route"}`;
    case "match":
      return "route matching requests to the canary";
  }
}

/** Most severe first: the Analysing condition's reason is the worst verdict among the deciding profiles. */
const SEVERITY = ["Fail", "Error", "NoData", "Inconclusive", "Pass"] as const;

function mostSevere(verdicts: readonly ProfileVerdict[]): string {
  const deciding = verdicts.filter((v) => v.critical !== false);
  const kinds = new Set((deciding.length > 0 ? deciding : verdicts).map((v) => v.verdict));
  return SEVERITY.find((kind) => kinds.has(kind)) ?? "Pending";
}
