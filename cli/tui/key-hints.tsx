import { Box, Text } from "ink";
import type { Phase } from "../../src/api/rollout.ts";
import { allowedActions, isTerminalPhase } from "./model.ts";

export interface KeyHintsProps {
  phase?: Phase;
  /** False when stdin is not a terminal: the screen is watch-only. */
  keysEnabled: boolean;
  width: number;
}

/** The keys that do something in this phase; terminal phases leave only quit. */
export function KeyHints({ phase, keysEnabled, width }: KeyHintsProps) {
  if (!keysEnabled) {
    return (
      <Box width={width}>
        <Text dimColor wrap="truncate-end">
          watch only: keys need a terminal on stdin (Ctrl+C to stop)
        </Text>
      </Box>
    );
  }
  const allowed = allowedActions(phase);
  const hints: [string, string][] = [];
  if (allowed.promote) hints.push(["p", "promote"]);
  if (allowed.abort) hints.push(["a", "abort"]);
  if (allowed.pause) hints.push(["space", "pause"]);
  if (allowed.resume) hints.push(["space", "resume"]);
  hints.push(["q", "quit"]);
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {hints.map(([key, label], index) => (
          <Text key={key + label}>
            {index > 0 ? "  " : ""}
            <Text bold inverse>{` ${key} `}</Text>
            {` ${label}`}
          </Text>
        ))}
        {isTerminalPhase(phase) ? <Text dimColor>{`  rollout ${phase}: nothing left to do`}</Text> : null}
      </Text>
    </Box>
  );
}

export interface ConfirmProps {
  question: string;
  width: number;
}

/** A yes/no question in place of the key hints: y confirms, any other key cancels. */
export function Confirm({ question, width }: ConfirmProps) {
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        <Text bold color="red">
          {question}
        </Text>
        <Text>{" y/n"}</Text>
      </Text>
    </Box>
  );
}

export type StatusKind = "info" | "ok" | "error";

export interface StatusLineProps {
  status?: { kind: StatusKind; text: string };
  width: number;
}

const STATUS_STYLE: Record<StatusKind, { color?: string; prefix: string }> = {
  info: { prefix: "… " },
  ok: { color: "green", prefix: "✓ " },
  error: { color: "red", prefix: "✗ " },
};

/** The outcome of the last key: sent, refused, or failed with the error. Always one line, maybe empty. */
export function StatusLine({ status, width }: StatusLineProps) {
  const style = status ? STATUS_STYLE[status.kind] : undefined;
  return (
    <Box width={width}>
      <Text wrap="truncate-end" color={style?.color}>
        {status && style ? `${style.prefix}${status.text}` : " "}
      </Text>
    </Box>
  );
}
