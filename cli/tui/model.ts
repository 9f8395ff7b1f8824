import { formatDuration } from "../../src/api/duration.ts";
import type { Phase, Rollout, RolloutStatus } from "../../src/api/rollout.ts";
import { isTerminal } from "../../src/engine/decide.ts";
import { type PlanStep, planSteps } from "../../src/engine/plan.ts";

/**
 * What the screen and the plain lines show, worked out from a Rollout: pure functions, no React, no I/O.
 * Components and formatters both read from here, so the TUI and CI logs say the same thing.
 */

export type Verdict = NonNullable<RolloutStatus["analysis"]>[number]["verdict"];
export type ProfileResult = NonNullable<RolloutStatus["analysis"]>[number];

export function isTerminalPhase(phase: Phase | undefined): boolean {
  return isTerminal(phase);
}

export function phaseOf(rollout: Rollout | undefined): Phase | undefined {
  return rollout?.status?.phase;
}

export function strategyName(rollout: Rollout): string {
  const { canary, blueGreen } = rollout.spec.strategy;
  if (canary) return "canary";
  if (blueGreen) return "blue-green";
  return "A/B test";
}

export function planOf(rollout: Rollout): PlanStep[] {
  return planSteps(rollout.spec);
}

/** "step 3/6", "final gate" once past the last step, or undefined before the first one has started. */
export function stepPosition(rollout: Rollout): string | undefined {
  const step = rollout.status?.step;
  const phase = rollout.status?.phase;
  if (step === undefined || phase === undefined || phase === "Idle" || phase === "Initializing") {
    return undefined;
  }
  const total = planOf(rollout).length;
  if (step >= total) return "final gate";
  return `step ${step + 1}/${total}`;
}

export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case "setWeight":
      return `weight ${formatPercent(step.weight)}`;
    case "pause": {
      if (step.durationMs === undefined) {
        return step.reason === "manual gate" ? "manual gate" : `gate: ${step.reason}`;
      }
      const base = `pause ${formatDuration(step.durationMs)}`;
      return step.reason === "timed pause" ? base : `${base} (${step.reason})`;
    }
    case "analysis": {
      const name = step.mirror ? "preview analysis (mirrored)" : "analysis";
      if (step.atLeastMs !== undefined) return `${name} for ${formatDuration(step.atLeastMs)}`;
      if (step.untilMs !== undefined) return `${name} up to ${formatDuration(step.untilMs)}`;
      return name;
    }
    case "chaos": {
      const { fault, host, duration } = step.chaos;
      return `chaos ${host ?? "route"}: ${describeFault(fault, true)} ${formatDuration(duration)}`;
    }
    case "match": {
      const first = step.match[0];
      const headers = Object.keys(first?.headers ?? {});
      const what = headers.length > 0 ? `header ${headers.join("+")}` : "cookie";
      return `match ${what}`;
    }
  }
}

type Fault = Extract<PlanStep, { kind: "chaos" }>["chaos"]["fault"];

/** "abort 503 5%", "delay 200ms 10%"; short: "503 5%", "+200ms 10%". */
export function describeFault(fault: Fault, short = false): string {
  if (fault.abort) {
    const status = fault.abort.httpStatus ?? `grpc ${fault.abort.grpcStatus}`;
    return `${short ? "" : "abort "}${status} ${formatPercent(fault.abort.percent)}`;
  }
  if (fault.delay) {
    const delay = formatDuration(fault.delay.fixed);
    return `${short ? `+${delay}` : `delay ${delay}`} ${formatPercent(fault.delay.percent)}`;
  }
  return "fault";
}

export const FINAL_GATE_LABEL = "final check, promote";

export type StepState = "done" | "current" | "pending" | "failed";

export interface StepRow {
  /** Index into the plan; plan.length is the final promotion gate. */
  index: number;
  label: string;
  state: StepState;
}

/** The step ladder: every planned step plus the final promotion gate, each done, current, pending or failed. */
export function stepRows(rollout: Rollout): StepRow[] {
  const plan = planOf(rollout);
  const labels = [...plan.map(describeStep), FINAL_GATE_LABEL];
  const phase = rollout.status?.phase;
  const step = rollout.status?.step;
  const started = step !== undefined && phase !== undefined && phase !== "Idle" && phase !== "Initializing";
  return labels.map((label, index): StepRow => {
    let state: StepState = "pending";
    if (phase === "Succeeded") state = "done";
    else if (phase === "Promoting") state = index < plan.length ? "done" : "current";
    else if (started) {
      const current = Math.min(step, plan.length);
      const failed = phase === "RollingBack" || phase === "RolledBack" || phase === "Failed";
      if (index < current) state = "done";
      else if (index === current) state = failed ? "failed" : "current";
    }
    return { index, label, state };
  });
}

/**
 * The split of traffic once a rollout has ended, and the outcome in words: after a promotion the new
 * version takes all traffic (as the primary, so the canary's weights read 0%), after a rollback none.
 * Undefined while the rollout runs.
 */
export function finalSplit(rollout: Rollout): { newVersion: number; outcome: string } | undefined {
  switch (rollout.status?.phase) {
    case "Succeeded":
      return { newVersion: 100, outcome: "promoted" };
    case "RolledBack":
      return { newVersion: 0, outcome: "rolled back" };
    case "Failed":
      return { newVersion: rollout.status.weights?.applied ?? 0, outcome: "failed" };
    default:
      return undefined;
  }
}

/** The verdicts that are not Pass ("http-latency Inconclusive"): a promotion past them asks first. */
export function verdictsNotPassing(rollout: Rollout | undefined): string[] {
  return (rollout?.status?.analysis ?? [])
    .filter((result) => result.verdict !== "Pass")
    .map((result) => `${result.profile} ${result.verdict}`);
}

/**
 * `text` in lines of at most `width` characters, broken at spaces (a word longer than a line is cut
 * across lines), at most `maxLines` lines; the last line ends with "…" only when even those do not hold
 * the whole text.
 */
export function wrapText(text: string, width: number, maxLines: number): string[] {
  const size = Math.max(1, width);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    let rest = word;
    if (line !== "" && line.length + 1 + rest.length <= size) {
      line += ` ${rest}`;
      continue;
    }
    if (line !== "") lines.push(line);
    while (rest.length > size) {
      lines.push(rest.slice(0, size));
      rest = rest.slice(size);
    }
    line = rest;
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, Math.max(1, maxLines));
  const last = kept.length - 1;
  kept[last] = `${kept[last]!.slice(0, size - 1)}…`;
  return kept;
}

// --- numbers -------------------------------------------------------------------------------------------

/** 25 -> "25%", 24.63 -> "24.6%", 0.25 -> "0.25%". */
export function formatPercent(value: number): string {
  const digits = Number.isInteger(value) ? 0 : Math.abs(value) < 1 ? 2 : 1;
  return `${Number(value.toFixed(digits))}%`;
}

/** A request count: exact, or compact from 100k on ("250k", "3.1M") where space is short. */
export function formatCount(value: number, compact = false): string {
  const exact = Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (!compact || value < 100_000) return exact;
  if (value < 1_000_000) return `${Math.round(value / 1000)}k`;
  return `${Number((value / 1_000_000).toFixed(1))}M`;
}

export function formatCounts(counts: { bad: number; total: number } | undefined, compact = false): string {
  if (!counts) return "-";
  return `${formatCount(counts.bad, compact)}/${formatCount(counts.total, compact)}`;
}

/** Bad share of a population as a percentage, or undefined without requests. */
export function badRate(counts: { bad: number; total: number } | undefined): number | undefined {
  if (!counts || counts.total <= 0) return undefined;
  return (counts.bad / counts.total) * 100;
}

/** Milliseconds as "4m12s", whole seconds, never negative. */
export function formatElapsed(ms: number): string {
  return formatDuration(Math.max(0, Math.floor(ms / 1000)) * 1000);
}

/** "10:00:05" in UTC, the clock the controller's timestamps use. */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** "2026-11-22T10:00:05Z": ISO 8601 in UTC without milliseconds. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

const SPARKS = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] as const;

/** The last `width` values as block characters, scaled to the largest of them; zero is the floor. */
export function sparkline(values: readonly number[], width: number): string {
  const shown = width > 0 ? values.slice(-width) : [];
  const max = Math.max(0, ...shown);
  return shown
    .map((value) => {
      if (max <= 0 || value <= 0) return SPARKS[0];
      // Any bad request at all lifts the line off the floor.
      const level = Math.max(1, Math.round((value / max) * (SPARKS.length - 1)));
      return SPARKS[level];
    })
    .join("");
}

// --- verdicts and faults -----------------------------------------------------------------------------

const VERDICT_SEVERITY: Record<Verdict, number> = { Pass: 0, NoData: 1, Inconclusive: 2, Error: 3, Fail: 4 };

/** The most severe of a set of verdicts; undefined when there is none. */
export function worstVerdict(verdicts: readonly Verdict[]): Verdict | undefined {
  let worst: Verdict | undefined;
  for (const verdict of verdicts) {
    if (worst === undefined || VERDICT_SEVERITY[verdict] > VERDICT_SEVERITY[worst]) worst = verdict;
  }
  return worst;
}

export interface FaultInfo {
  /** "payments" or "the route". */
  where: string;
  /** "abort 503 5%", when the current step is the chaos step that set it. */
  what?: string;
  leftMs: number;
  /** The chaos gate's verdict over its profiles; undefined while none has reported. */
  gate?: Verdict;
}

/** The active fault of a rollout, its time left at `now` and the gate's verdict. */
export function faultInfo(rollout: Rollout | undefined, now: number): FaultInfo | undefined {
  const fault = rollout?.status?.fault;
  if (!rollout || !fault) return undefined;
  const step = planOf(rollout)[rollout.status?.step ?? -1];
  const chaos = step?.kind === "chaos" ? step.chaos : undefined;
  const profiles = chaos?.profiles;
  const verdicts = (rollout.status?.analysis ?? [])
    .filter((result) => profiles === undefined || profiles.includes(result.profile))
    .map((result) => result.verdict);
  const info: FaultInfo = {
    where: fault.host ?? (fault.target === "route" ? "the route" : "a dependency"),
    leftMs: Math.max(0, Date.parse(fault.expiresAt) - now),
  };
  if (chaos) info.what = describeFault(chaos.fault);
  const gate = worstVerdict(verdicts);
  if (gate) info.gate = gate;
  return info;
}

/** What the `p`, `a` and space keys may do in a phase; terminal phases allow nothing. */
export function allowedActions(phase: Phase | undefined): {
  promote: boolean;
  abort: boolean;
  pause: boolean;
  resume: boolean;
} {
  const active = phase === "Progressing" || phase === "Paused";
  return {
    promote: active,
    abort: active || phase === "Initializing",
    pause: phase === "Progressing",
    resume: phase === "Paused",
  };
}

export interface ProfileLine {
  name: string;
  /** Undefined until the profile has reported in this step. */
  verdict?: Verdict;
  canary?: { bad: number; total: number };
  baseline?: { bad: number; total: number };
}

/** The spec's profiles in order, with their current results, then any result for a profile not in the spec. */
export function profileLines(rollout: Rollout): ProfileLine[] {
  const results = rollout.status?.analysis ?? [];
  const byName = new Map(results.map((result) => [result.profile, result]));
  const names = [...rollout.spec.analysis.profiles.map((profile) => profile.name)];
  for (const result of results) if (!names.includes(result.profile)) names.push(result.profile);
  return names.map((name) => {
    const result = byName.get(name);
    const line: ProfileLine = { name };
    if (result) {
      line.verdict = result.verdict;
      if (result.canary) line.canary = result.canary;
      if (result.baseline) line.baseline = result.baseline;
    }
    return line;
  });
}
