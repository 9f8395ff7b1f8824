import type { Rollout } from "../../src/api/rollout.ts";
import {
  formatRefusal,
  invalidSpecRefusal,
  type Refusal,
  refusalsOfParsed,
} from "../../src/client/refusals.ts";
import { describeStep, planOf, stepPosition, type Verdict } from "./model.ts";

export type Connection = "connecting" | "live" | "reconnecting" | "gone";

/** One line of the event log, with the rollout as it was when it happened (for plain and JSON lines). */
export interface RolloutEvent {
  /** Increases by one per event over the store's life, so followers can tell which they have seen. */
  readonly seq: number;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly text: string;
  readonly warning?: boolean;
  readonly rollout?: Rollout;
  readonly connection: Connection;
}

/** What the screen shows at one moment. Never changed once made: each change makes a new one. */
export interface Snapshot {
  readonly rollout?: Rollout;
  readonly connection: Connection;
  /** The newest events, oldest first, at most `maxEvents`. */
  readonly events: readonly RolloutEvent[];
  /** Per profile, the canary's bad rate (percent) each time its counts changed, at most `maxHistory`. */
  readonly history: Readonly<Record<string, readonly number[]>>;
  /** When the watch started (ms). */
  readonly startedAt: number;
  /** The store's clock at the last change or tick (ms). */
  readonly now: number;
  /** When the watch last delivered the Rollout (ms); what a reconnecting screen is showing. */
  readonly updatedAt?: number;
  /** "Prometheus", "built-in provider", ...: where the verdicts' counts come from. */
  readonly metricsSource?: string;
  /**
   * What the controller refuses to do until someone edits something (src/client/refusals.ts): from the
   * Rollout's conditions, or the invalid spec when the newest version does not parse.
   */
  readonly refusals: readonly Refusal[];
}

export interface RolloutStoreOptions {
  /** Milliseconds since the epoch; Date.now unless a test drives time. */
  clock?: () => number;
  maxEvents?: number;
  maxHistory?: number;
  metricsSource?: string;
}

type Listener = () => void;

const WARNING_PHASES = new Set(["RollingBack", "RolledBack", "Failed"]);
const WARNING_VERDICTS: ReadonlySet<Verdict> = new Set(["Fail", "Error"]);

/**
 * The external store between a watch and its views (the Ink TUI via useSyncExternalStore, or plain lines).
 * The watch calls update/event/connection/tick; the store turns status transitions into events, so every
 * view tells the same story. Snapshots are frozen and replaced, never mutated.
 */
export class RolloutStore {
  private snapshot: Snapshot;
  private readonly listeners = new Set<Listener>();
  private readonly clock: () => number;
  private readonly maxEvents: number;
  private readonly maxHistory: number;
  private seq = 0;
  /** The last canary counts seen per profile, to add to the history only when they change. */
  private lastCounts = new Map<string, string>();

  constructor(options: RolloutStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.maxEvents = Math.max(1, options.maxEvents ?? 200);
    this.maxHistory = Math.max(1, options.maxHistory ?? 60);
    const now = this.clock();
    this.snapshot = freeze({
      connection: "connecting",
      events: freeze([]),
      refusals: freeze([]),
      history: freeze({}),
      startedAt: now,
      now,
      ...(options.metricsSource !== undefined ? { metricsSource: options.metricsSource } : {}),
    });
  }

  // --- the external-store contract (React's useSyncExternalStore) ---------------------------------------

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  getSnapshot = (): Snapshot => this.snapshot;

  // --- what a watch feeds in ---------------------------------------------------------------------------

  /** A new version of the Rollout from the watch. */
  update(rollout: Rollout): void {
    const next = deepFreeze(structuredClone(rollout));
    const previous = this.snapshot.rollout;
    const now = this.clock();
    const history = this.nextHistory(previous, next);
    const events = transitions(previous, next);
    let snapshot: Snapshot = { ...this.snapshot, rollout: next, history, now, updatedAt: now };
    for (const { text, warning } of events) snapshot = this.withEvent(snapshot, text, warning, now);
    this.publish(this.withRefusals(snapshot, refusalsOfParsed(next), now));
  }

  /** The newest version of the Rollout does not parse: the last one that did stays on screen. */
  invalid(problem: string): void {
    const now = this.clock();
    this.publish(this.withRefusals({ ...this.snapshot, now }, [invalidSpecRefusal(problem)], now));
  }

  /** Something worth a line in the log that the status does not show (a Kubernetes Event, a command sent). */
  event(text: string, warning = false): void {
    const now = this.clock();
    this.publish(this.withEvent({ ...this.snapshot, now }, text, warning, now));
  }

  /** The watch's state; "gone" means the Rollout was deleted. */
  connection(state: Connection): void {
    const previous = this.snapshot.connection;
    if (state === previous) return;
    const now = this.clock();
    let snapshot: Snapshot = { ...this.snapshot, connection: state, now };
    const text = connectionText(previous, state);
    if (text) snapshot = this.withEvent(snapshot, text.text, text.warning, now);
    this.publish(snapshot);
  }

  /** Time passes (elapsed time, a fault's time left) without anything else changing. */
  tick(now: number = this.clock()): void {
    if (now === this.snapshot.now) return;
    this.publish({ ...this.snapshot, now });
  }

  setMetricsSource(label: string | undefined): void {
    if (label === this.snapshot.metricsSource) return;
    const { metricsSource: _dropped, ...rest } = this.snapshot;
    this.publish(label === undefined ? rest : { ...rest, metricsSource: label });
  }

  // --- internals ---------------------------------------------------------------------------------------

  /** The refusals now; each one not shown before is also a warning in the log. */
  private withRefusals(snapshot: Snapshot, refusals: Refusal[], time: number): Snapshot {
    const before = new Set(snapshot.refusals.map(formatRefusal));
    let next: Snapshot = { ...snapshot, refusals: freeze(refusals.map(freeze)) };
    for (const refusal of refusals)
      if (!before.has(formatRefusal(refusal)))
        next = this.withEvent(next, `refused: ${formatRefusal(refusal)}`, true, time);
    return next;
  }

  private withEvent(snapshot: Snapshot, text: string, warning: boolean, time: number): Snapshot {
    this.seq += 1;
    const event: RolloutEvent = freeze({
      seq: this.seq,
      time,
      text,
      ...(warning ? { warning: true } : {}),
      ...(snapshot.rollout ? { rollout: snapshot.rollout } : {}),
      connection: snapshot.connection,
    });
    const events = [...snapshot.events, event].slice(-this.maxEvents);
    return { ...snapshot, events: freeze(events) };
  }

  private nextHistory(previous: Rollout | undefined, next: Rollout): Snapshot["history"] {
    const newRevision = previous !== undefined && previous.status?.revision !== next.status?.revision;
    if (newRevision) this.lastCounts = new Map();
    const history: Record<string, readonly number[]> = newRevision ? {} : { ...this.snapshot.history };
    let changed = newRevision;
    for (const result of next.status?.analysis ?? []) {
      const counts = result.canary;
      if (!counts || counts.total <= 0) continue;
      const key = `${counts.bad}/${counts.total}`;
      if (this.lastCounts.get(result.profile) === key) continue;
      this.lastCounts.set(result.profile, key);
      const series = [...(history[result.profile] ?? []), (counts.bad / counts.total) * 100];
      history[result.profile] = freeze(series.slice(-this.maxHistory));
      changed = true;
    }
    return changed ? freeze(history) : this.snapshot.history;
  }

  private publish(snapshot: Snapshot): void {
    this.snapshot = freeze(snapshot);
    for (const listener of [...this.listeners]) listener();
  }
}

interface Derived {
  text: string;
  warning: boolean;
}

/** Messages that differ only in numbers (countdowns such as "chaos gate: 45s left") are one message. */
function sameWords(a: string | undefined, b: string | undefined): boolean {
  const mask = (text: string | undefined) => text?.replace(/\d+(\.\d+)?/g, "#");
  return mask(a) === mask(b);
}

/** The events between two versions of a Rollout: phase, step, message, verdict and fault changes. */
export function transitions(previous: Rollout | undefined, next: Rollout): Derived[] {
  const before = previous?.status;
  const after = next.status;
  const events: Derived[] = [];
  const phase = after?.phase;
  const message = after?.message;

  const verdictEvents: Derived[] = [];
  const earlier = new Map((before?.analysis ?? []).map((result) => [result.profile, result.verdict]));
  for (const result of after?.analysis ?? []) {
    const was = earlier.get(result.profile);
    if (was === result.verdict) continue;
    verdictEvents.push({
      text: `${result.profile}: ${was ? `${was} -> ` : ""}${result.verdict}`,
      warning: WARNING_VERDICTS.has(result.verdict),
    });
  }

  if (phase !== undefined && phase !== before?.phase) {
    events.push({ text: message ? `${phase}: ${message}` : phase, warning: WARNING_PHASES.has(phase) });
  } else if (after?.step !== before?.step && after?.step !== undefined) {
    const position = stepPosition(next);
    const planned = planOf(next)[after.step];
    const fallback = `${position ?? `step ${after.step + 1}`}: ${planned ? describeStep(planned) : "promotion gate"}`;
    events.push({ text: message && message !== before?.message ? message : fallback, warning: false });
  } else if (message && !sameWords(message, before?.message) && verdictEvents.length === 0) {
    events.push({ text: message, warning: false });
  }

  // A verdict that appears with a new phase or step is the start of fresh analysis: only failures matter.
  const fresh = events.length > 0;
  events.push(...verdictEvents.filter((event) => !fresh || event.warning));

  const faultBefore = before?.fault;
  const faultAfter = after?.fault;
  if (faultAfter && faultAfter.expiresAt !== faultBefore?.expiresAt) {
    const where = faultAfter.host ?? "the route";
    events.push({ text: `fault active on ${where} until ${faultAfter.expiresAt}`, warning: false });
  } else if (faultBefore && !faultAfter) {
    events.push({ text: `fault on ${faultBefore.host ?? "the route"} removed`, warning: false });
  }
  return events;
}

function connectionText(previous: Connection, state: Connection): Derived | undefined {
  switch (state) {
    case "reconnecting":
      return { text: "watch connection lost: reconnecting", warning: true };
    case "live":
      return previous === "reconnecting" ? { text: "watch reconnected", warning: false } : undefined;
    case "gone":
      return { text: "the rollout no longer exists", warning: true };
    case "connecting":
      return undefined;
  }
}

function freeze<T>(value: T): T {
  return Object.freeze(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
