import type { Command } from "../api/commands.ts";
import { PHASES, type Phase } from "../api/rollout.ts";

/**
 * The rollout state machine as two tables: which manual command a phase accepts, and which phase each
 * event leads to from each phase. The engine reads both (an event a phase does not list is a bug in the
 * engine, not a user error); docs/architecture.md shows them, and a test keeps that copy true.
 */

/** Phases in which a manual command takes effect; in any other phase it is recorded and ignored. */
export const COMMAND_PHASES: Readonly<Record<Command["type"], readonly Phase[]>> = {
  pause: ["Progressing"],
  // at a manual gate resume moves on; in a timed pause or another paused step it only un-pauses
  resume: ["Paused"],
  promote: ["Progressing", "Paused"],
  abort: ["Initializing", "Progressing", "Paused"],
  // and only while the revision is not the stable one: there is nothing to retry then
  retry: ["Succeeded", "RolledBack", "Failed"],
  "set-weight": ["Progressing", "Paused"],
};

export function commandAllowed(type: Command["type"], phase: Phase): boolean {
  return COMMAND_PHASES[type].includes(phase);
}

/** "(new)" stands for a Rollout the controller has not written a phase to yet. */
export type FromPhase = Phase | "(new)";

const ANY_PHASE: readonly FromPhase[] = ["(new)", ...PHASES];
const ACTIVE: readonly FromPhase[] = ["Progressing", "Paused"];
const TERMINAL: readonly FromPhase[] = ["Succeeded", "RolledBack", "Failed"];

interface Transition {
  from: readonly FromPhase[];
  to: Phase;
  /** When it happens, for the docs. */
  when: string;
}

/** Every event of the engine (its name is also the Kubernetes Event's reason) and where it leads. */
export const TRANSITIONS = {
  Bootstrap: {
    from: ANY_PHASE,
    to: "Initializing",
    when: "the Rollout is first seen (it has no stable revision yet)",
  },
  Initialized: {
    from: ["Initializing"],
    to: "Idle",
    when: "the first revision serves as the stable primary",
  },
  NewRevision: {
    from: ANY_PHASE,
    to: "Initializing",
    when: "the target's pod template changed to a revision that is not the stable one",
  },
  Retry: { from: TERMINAL, to: "Initializing", when: "`retry` of a revision that is not the stable one" },
  StepStarted: {
    from: ["Initializing", ...ACTIVE],
    to: "Progressing",
    when: "the canary is ready, a step passed, or `promote` / `resume` moved past a gate",
  },
  Resumed: { from: ["Paused"], to: "Progressing", when: "`resume` of a pause that is not a manual gate" },
  Paused: {
    from: ACTIVE,
    to: "Paused",
    when: "a manual gate, `pause`, `set-weight`, or a step that ended without a pass",
  },
  Promoting: { from: ACTIVE, to: "Promoting", when: "every step passed, or `promote --full`" },
  Succeeded: {
    from: ["Promoting"],
    to: "Succeeded",
    when: "the primary runs the revision, is ready and has all traffic",
  },
  AnalysisFailed: { from: ACTIVE, to: "RollingBack", when: "a required profile failed" },
  WebhookRejected: { from: ["Initializing"], to: "RollingBack", when: "the pre-rollout webhook rejected" },
  Aborted: { from: ["Initializing", ...ACTIVE], to: "RollingBack", when: "`abort`" },
  RevertedToStable: {
    from: ["Initializing", ...ACTIVE, "Promoting"],
    to: "RollingBack",
    when: "the target was set back to the stable revision",
  },
  ProgressDeadlineExceeded: {
    from: ["Initializing", "Progressing"],
    to: "RollingBack",
    when: "pods or weights did not get ready within progressDeadlineSeconds",
  },
  PromotionStalled: {
    from: ["Promoting"],
    to: "Failed",
    when: "the new primary did not get ready within progressDeadlineSeconds (the canary still serves)",
  },
  RolledBack: {
    from: ["RollingBack"],
    to: "RolledBack",
    when: "the primary runs the stable revision, is ready and has all traffic",
  },
  RollbackStalled: {
    from: ["RollingBack"],
    to: "Failed",
    when: "the stable revision cannot be restored on the primary (the target no longer has it)",
  },
} as const satisfies Record<string, Transition>;

export type EngineEvent = keyof typeof TRANSITIONS;

/** The phase `event` leads to from `phase`; throws when the table has no such transition. */
export function nextPhase(phase: Phase | undefined, event: EngineEvent): Phase {
  const transition: Transition = TRANSITIONS[event];
  const from: FromPhase = phase ?? "(new)";
  if (!transition.from.includes(from)) throw new Error(`engine bug: no transition ${from} --${event}-->`);
  return transition.to;
}
