import { formatDuration } from "../src/api/duration.ts";
import type { Rollout } from "../src/api/rollout.ts";
import { formatRefusal, type Refusal, refusalsOfParsed } from "../src/client/refusals.ts";
import { EXIT } from "./exit-codes.ts";
import {
  faultInfo,
  formatCount,
  formatElapsed,
  formatPercent,
  isoSeconds,
  planOf,
  stepPosition,
  strategyName,
} from "./tui/model.ts";
import type { Connection, RolloutEvent, RolloutStore, Snapshot } from "./tui/store.ts";

/**
 * Progress as plain lines, for when stdout is not a terminal (CI logs) or with --no-tui, and as JSON
 * lines with -o json. One line per store event; both read the same store as the TUI.
 */

type Item = Snapshot | RolloutEvent;

interface Moment {
  time: number;
  rollout?: Rollout;
  connection: Connection;
  text?: string;
  warning?: boolean;
  refusals: readonly Refusal[];
}

function moment(item: Item): Moment {
  if ("seq" in item) {
    return {
      time: item.time,
      connection: item.connection,
      text: item.text,
      ...(item.rollout ? { rollout: item.rollout } : {}),
      ...(item.warning ? { warning: true } : {}),
      refusals: item.rollout ? refusalsOfParsed(item.rollout) : [],
    };
  }
  return {
    time: item.now,
    connection: item.connection,
    ...(item.rollout ? { rollout: item.rollout } : {}),
    refusals: item.refusals,
  };
}

function counts(value: { bad: number; total: number }): string {
  return `${formatCount(value.bad)}/${formatCount(value.total)}`;
}

/**
 * "2026-11-22T10:00:05Z Progressing step 2/6 weight 25% (applied 25%) http-availability=Pass 3/2100 vs
 * 2/18000 | <event>": time, phase, step, weights, verdicts (canary vs baseline bad/total), the active
 * fault, then the event's text. A snapshot gives the same line without the event.
 */
export function formatProgressLine(item: Item): string {
  const { time, rollout, connection, text, warning } = moment(item);
  const parts = [isoSeconds(time)];
  if (!rollout) parts.push(connection);
  else {
    const status = rollout.status;
    parts.push(status?.phase ?? "no-status");
    const position = stepPosition(rollout);
    if (position) parts.push(position);
    const weights = status?.weights;
    if (weights) {
      const readBack = [
        weights.applied === undefined ? undefined : `applied ${formatPercent(weights.applied)}`,
        weights.observed === undefined ? undefined : `observed ${formatPercent(weights.observed)}`,
      ].filter((part) => part !== undefined);
      parts.push(
        `weight ${formatPercent(weights.desired)}${readBack.length ? ` (${readBack.join(", ")})` : ""}`,
      );
    }
    for (const result of status?.analysis ?? []) {
      let verdict = `${result.profile}=${result.verdict}`;
      if (result.canary) verdict += ` ${counts(result.canary)}`;
      if (result.baseline) verdict += ` vs ${counts(result.baseline)}`;
      parts.push(verdict);
    }
    const fault = faultInfo(rollout, time);
    if (fault) {
      parts.push(
        `fault ${fault.what ? `${fault.what} ` : ""}on ${fault.where} ${formatElapsed(fault.leftMs)} left gate=${fault.gate ?? "waiting"}`,
      );
    }
  }
  if (text !== undefined) parts.push(`| ${warning ? "warning: " : ""}${text}`);
  return parts.join(" ");
}

/** The same moment as one JSON object (no newline): stable field names for scripts. */
export function formatJsonLine(item: Item): string {
  const { time, rollout, connection, text, warning, refusals } = moment(item);
  const status = rollout?.status;
  const fault = faultInfo(rollout, time);
  return JSON.stringify({
    time: new Date(time).toISOString(),
    rollout: rollout?.metadata.name,
    namespace: rollout?.metadata.namespace,
    strategy: rollout ? strategyName(rollout) : undefined,
    connection,
    phase: status?.phase,
    step: status?.step,
    steps: rollout ? planOf(rollout).length : undefined,
    weights: status?.weights,
    analysis: status?.analysis?.map(({ profile, verdict, canary, baseline, evidence }) => ({
      profile,
      verdict,
      canary,
      baseline,
      evidence,
    })),
    fault:
      status?.fault && fault
        ? { ...status.fault, leftMs: fault.leftMs, ...(fault.gate ? { gate: fault.gate } : {}) }
        : undefined,
    message: status?.message,
    refusals: refusals.length ? refusals : undefined,
    event: text,
    warning: warning || undefined,
  });
}

export interface FollowOptions {
  /** One JSON object per line instead of text. */
  json?: boolean;
  /**
   * Whether a version of the rollout belongs to what is being followed; events of other versions (the
   * previous revision's outcome, still in the status when `start` sets a new one) are not written.
   */
  shows?: (rollout: Rollout) => boolean;
}

/**
 * Writes one line per store event to `out`, starting with the events the store already holds. Returns a
 * function that stops following.
 */
export function followPlain(
  store: RolloutStore,
  out: { write(text: string): unknown },
  options: FollowOptions = {},
): () => void {
  const format = options.json ? formatJsonLine : formatProgressLine;
  const shows = options.shows ?? (() => true);
  let seen = 0;
  const flush = () => {
    for (const event of store.getSnapshot().events) {
      if (event.seq <= seen) continue;
      seen = event.seq;
      if (event.rollout && !shows(event.rollout)) continue;
      out.write(`${format(event)}\n`);
    }
  };
  flush();
  return store.subscribe(flush);
}

/** What a wait was for, to say in its closing line what ended it and what to run next. */
export interface Wait {
  namespace: string;
  name: string;
  /** The revision `start` set, when it set one. */
  revision?: string;
  timeoutMs?: number;
  /** The person left the screen with q before the outcome: exit 3 without a timeout. */
  left?: boolean;
}

/** Pause reasons the engine gives to a gate that waits for a person (see src/engine/plan.ts). */
const GATES = new Set(["manual gate", "waiting for promotion"]);

/**
 * The one line a non-zero exit of a wait ends with: why it ended and what to run next. `current` says
 * whether the snapshot's rollout is already the revision waited for (a timeout may come before the controller took
 * it up). Undefined for exit 0.
 */
export function closingLine(
  code: number,
  snapshot: Pick<Snapshot, "rollout" | "connection" | "refusals">,
  current: boolean,
  wait: Wait,
): string | undefined {
  const rollout = snapshot.rollout;
  const command = (verb: string, extra = "") => `rollout ${verb} ${wait.name} -n ${wait.namespace}${extra}`;
  const status = current ? rollout?.status : undefined;
  const held = () => {
    const reason = status?.pauseReason ?? "paused";
    if (GATES.has(reason))
      return `paused at a manual gate: ${command("promote")} to continue, ${command("abort")} to roll back`;
    if (reason === "paused by user")
      return `paused by a person: ${command("resume")} to continue, ${command("abort")} to roll back`;
    return `paused (${reason}): ${command("promote")} to continue, ${command("abort")} to roll back`;
  };
  switch (code) {
    case EXIT.ok:
      return undefined;
    case EXIT.timedOut:
    case EXIT.interrupted: {
      const after =
        code === EXIT.interrupted
          ? "stopped with Ctrl-C"
          : wait.left
            ? "left before the rollout ended"
            : `timed out after ${formatDuration(wait.timeoutMs ?? 0)}`;
      if (!rollout || !status)
        return `${after} before the controller took up ${wait.revision ? `revision ${wait.revision}` : "the command"}; is it running? Follow it with ${command("status", " --watch")}`;
      const position = stepPosition(rollout);
      const weight = status.weights ? `weight ${formatPercent(status.weights.desired)}` : undefined;
      const where = position
        ? ` at ${position}${weight ? ` (${weight})` : ""}`
        : ` while ${status.phase ?? "starting"}`;
      if (status.phase === "Paused") return `${after}${where}; ${held()}`;
      return `${after}${where}; the rollout goes on: ${command("status", " --watch")}`;
    }
    case EXIT.paused:
      return held();
    case EXIT.failed: {
      if (!rollout || snapshot.connection === "gone")
        return `the rollout ${wait.namespace}/${wait.name} was deleted while waiting`;
      const what = status?.phase === "Failed" ? "failed" : "rolled back";
      const message = status?.message ?? what;
      const because = message.startsWith(what) ? message : `${what}: ${message}`;
      return `${because}; details: ${command("status")}; to run this revision again: ${command("retry")}`;
    }
    case EXIT.invalidInput:
      // a refusal: the controller holds the rollout until someone edits what the message names
      if (snapshot.refusals.length)
        return `refused: ${snapshot.refusals.map(formatRefusal).join("; ")}; the rollout waits until this is fixed, then goes on by itself: ${command("status", " --watch")}`;
      return `ended with exit code ${code}`;
    default:
      return `ended with exit code ${code}`;
  }
}
