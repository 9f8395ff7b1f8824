import { Box, Text, useInput, useStdin } from "ink";
import { useCallback, useRef, useState, useSyncExternalStore } from "react";
import { EventLog } from "./event-log.tsx";
import { FaultBanner } from "./fault-banner.tsx";
import { ConnectionBanner, Header } from "./header.tsx";
import { Confirm, KeyHints, type StatusKind, StatusLine } from "./key-hints.tsx";
import { COLUMN_GAP, layoutFor, type TerminalSize } from "./layout.ts";
import {
  allowedActions,
  clockTime,
  faultInfo,
  finalSplit,
  formatElapsed,
  isTerminalPhase,
  profileLines,
  stepPosition,
  stepRows,
  strategyName,
  verdictsNotPassing,
  wrapText,
} from "./model.ts";
import { Profiles } from "./profiles.tsx";
import { RefusalBanner, refusalLines } from "./refusal-banner.tsx";
import { StepLadder } from "./step-ladder.tsx";
import type { RolloutStore, Snapshot } from "./store.ts";
import { useTerminalSize } from "./use-terminal-size.ts";
import { WeightBar } from "./weight-bar.tsx";

/** What the keys do: the same functions the `rollout promote|abort|pause|resume` commands call. */
export interface RolloutActions {
  promote(): Promise<void> | void;
  abort(): Promise<void> | void;
  pause(): Promise<void> | void;
  resume(): Promise<void> | void;
}

export interface RolloutViewProps {
  store: RolloutStore;
  actions: RolloutActions;
  onQuit: () => void;
  /** A fixed size instead of the terminal's (tests, or a pane of known size). */
  size?: TerminalSize;
}

type ActionName = keyof RolloutActions;
/** The keys that ask y/n first: abort always, promote past a verdict that is not Pass. */
type Question = { action: "abort" | "promote"; text: string };

/** Phases whose message is a reason a person must read whole (a pause, a rollback): it wraps. */
const REASON_PHASES = new Set(["Paused", "RollingBack", "RolledBack", "Failed"]);
/** At most this many lines of a wrapped reason; the event log keeps its own minimum. */
const MAX_MESSAGE_LINES = 4;
type Status = { kind: StatusKind; text: string };

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The phase keys act on; none while the rollout is unknown or deleted. */
function actionablePhase(snapshot: Snapshot) {
  return snapshot.connection === "gone" ? undefined : snapshot.rollout?.status?.phase;
}

/**
 * The whole screen: header, weights, step ladder, profiles, fault, event log, status line and keys. Reads
 * snapshots from the store; keys call `actions`. Every region has a fixed height, so the live area stays
 * below the terminal's height and Ink redraws it in place.
 */
export function RolloutView({ store, actions, onQuit, size }: RolloutViewProps) {
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const terminal = useTerminalSize(size);
  // stdin.isTTY is undefined, not false, for a pipe or /dev/null: compare, or useInput would throw.
  const keysEnabled = useStdin().isRawModeSupported === true;
  const [confirming, setConfirmingState] = useState<Question | undefined>();
  const [status, setStatus] = useState<Status | undefined>();
  // Keys can arrive faster than React re-renders: the handler reads refs, not the rendered state.
  const confirmingRef = useRef<Question | undefined>(undefined);
  const busyRef = useRef<ActionName | undefined>(undefined);

  const setConfirming = useCallback((value: Question | undefined) => {
    confirmingRef.current = value;
    setConfirmingState(value);
  }, []);

  const run = (name: ActionName) => {
    if (busyRef.current) {
      setStatus({ kind: "info", text: `${busyRef.current} is still being sent` });
      return;
    }
    busyRef.current = name;
    setStatus({ kind: "info", text: `sending ${name}` });
    Promise.resolve()
      .then(() => actions[name]())
      .then(
        () => setStatus({ kind: "ok", text: `${name} requested` }),
        (error: unknown) => setStatus({ kind: "error", text: `${name} failed: ${errorText(error)}` }),
      )
      .finally(() => {
        busyRef.current = undefined;
      });
  };

  const refuse = (what: string, current: Snapshot) => {
    const phase = actionablePhase(current);
    const state = phase ?? (current.connection === "gone" ? "the rollout is gone" : "no rollout yet");
    setStatus({ kind: "info", text: `nothing to ${what} while ${state}` });
  };

  useInput(
    (input) => {
      const current = store.getSnapshot();
      const allowed = allowedActions(actionablePhase(current));
      const question = confirmingRef.current;
      if (question) {
        setConfirming(undefined);
        // the phase is checked again: the rollout may have moved on while the question was open
        if (input === "y" || input === "Y") {
          if (allowed[question.action]) run(question.action);
          else refuse(question.action, current);
        } else setStatus({ kind: "info", text: `${question.action} cancelled` });
        return;
      }
      const name = current.rollout?.metadata.name ?? "";
      if (input === "q") return onQuit();
      if (input === "p") {
        if (!allowed.promote) return refuse("promote", current);
        const open = verdictsNotPassing(current.rollout);
        if (open.length === 0) return run("promote");
        setStatus(undefined);
        return setConfirming({ action: "promote", text: `promote ${name} past ${open.join(", ")}?` });
      }
      if (input === "a") {
        if (!allowed.abort) return refuse("abort", current);
        setStatus(undefined);
        return setConfirming({ action: "abort", text: `abort rollout ${name}?` });
      }
      if (input === " ") {
        if (allowed.pause) return run("pause");
        if (allowed.resume) return run("resume");
        return refuse("pause or resume", current);
      }
    },
    { isActive: keysEnabled },
  );

  const rollout = snapshot.rollout;
  const phase = rollout?.status?.phase;
  const message =
    phase === "Paused"
      ? (rollout?.status?.pauseReason ?? rollout?.status?.message)
      : rollout?.status?.message;
  const messageLines =
    phase && REASON_PHASES.has(phase)
      ? wrapText(message ?? "", terminal.columns - 2, MAX_MESSAGE_LINES)
      : [message ?? ""];
  const refused = refusalLines(snapshot.refusals, terminal.columns);
  const fault = faultInfo(rollout, snapshot.now);
  const steps = rollout ? stepRows(rollout) : [];
  const profiles = rollout ? profileLines(rollout) : [];
  const twoLineProfiles = profiles.length * 2 + 1;
  const layout = layoutFor({
    size: terminal,
    banner: snapshot.connection !== "live",
    fault: fault !== undefined,
    bodyWanted: rollout ? Math.max(steps.length + 1, twoLineProfiles) : 1,
    messageLines: messageLines.length,
    refusalLines: refused.length,
  });
  const width = layout.columns;
  const lastSeen = snapshot.updatedAt === undefined ? undefined : clockTime(snapshot.updatedAt);

  const keys = confirming ? (
    <Confirm question={confirming.text} width={width} />
  ) : (
    <KeyHints phase={actionablePhase(snapshot)} keysEnabled={keysEnabled} width={width} />
  );

  if (!rollout) {
    return (
      <Box flexDirection="column" width={width} height={layout.height} overflow="hidden">
        <ConnectionBanner connection={snapshot.connection} width={width} />
        <RefusalBanner lines={refused} />
        <Text wrap="truncate-end">waiting for the rollout from the watch…</Text>
        <EventLog events={snapshot.events} lines={Math.max(0, layout.height - 5)} width={width} />
        <StatusLine status={status} width={width} />
        {keys}
      </Box>
    );
  }

  const started = rollout.status?.startedAt ? Date.parse(rollout.status.startedAt) : snapshot.startedAt;
  const until = isTerminalPhase(phase) ? (snapshot.updatedAt ?? snapshot.now) : snapshot.now;
  const weights = rollout.status?.weights;
  const final = finalSplit(rollout);
  const position = stepPosition(rollout);

  return (
    <Box flexDirection="column" width={width} height={layout.height} overflow="hidden">
      <Header
        name={rollout.metadata.name}
        namespace={rollout.metadata.namespace}
        strategy={strategyName(rollout)}
        provider={rollout.spec.traffic.provider}
        phase={phase}
        elapsed={`${isTerminalPhase(phase) ? "took" : "elapsed"} ${formatElapsed(until - started)}`}
        revision={rollout.status?.revision}
        stableRevision={rollout.status?.stableRevision}
        position={position}
        metricsSource={snapshot.metricsSource}
        message={messageLines}
        width={width}
      />
      <RefusalBanner lines={refused} />
      <ConnectionBanner connection={snapshot.connection} lastSeen={lastSeen} width={width} />
      <WeightBar
        desired={weights?.desired ?? 0}
        applied={weights?.applied}
        observed={weights?.observed}
        final={final}
        width={width}
      />
      {layout.bodyHeight > 0 ? (
        <Box flexDirection="row" height={layout.bodyHeight}>
          <StepLadder steps={steps} height={layout.bodyHeight} width={layout.ladderWidth} />
          <Box width={COLUMN_GAP} />
          {/* a rule down the analysis panel's left: its counts never read as part of a step's row */}
          <Box
            borderStyle="single"
            borderTop={false}
            borderBottom={false}
            borderRight={false}
            borderDimColor
            paddingLeft={1}
            height={layout.bodyHeight}
          >
            <Profiles
              profiles={profiles}
              history={snapshot.history}
              height={layout.bodyHeight}
              width={layout.profilesWidth}
              finished={isTerminalPhase(phase)}
            />
          </Box>
        </Box>
      ) : null}
      <FaultBanner fault={fault} width={width} />
      <EventLog events={snapshot.events} lines={layout.eventLines} width={width} />
      <StatusLine status={status} width={width} />
      {keys}
    </Box>
  );
}
