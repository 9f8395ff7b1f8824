import { Box, Text } from "ink";
import type { StepRow, StepState } from "./model.ts";

export interface StepLadderProps {
  steps: readonly StepRow[];
  /** Lines available, title included. */
  height: number;
  width: number;
}

export const STEP_MARKERS: Record<StepState, string> = { done: "✓", current: "▸", failed: "✗", pending: "·" };
const STEP_COLORS: Record<StepState, string | undefined> = {
  done: "green",
  current: "cyan",
  failed: "red",
  pending: undefined,
};

/** Which rows fit in `lines`, keeping the current (or failed) step in view; notes say what is cut off. */
export function visibleSteps(steps: readonly StepRow[], lines: number) {
  const count = steps.length;
  if (count <= lines) return { shown: steps, above: 0, below: 0, notes: false };
  const focus = Math.max(
    0,
    steps.findIndex((row) => row.state === "current" || row.state === "failed"),
  );
  if (lines < 3) {
    // No room for notes: just the focused rows.
    const start = Math.max(0, Math.min(focus, count - lines));
    const shown = steps.slice(start, start + lines);
    return { shown, above: start, below: count - start - shown.length, notes: false };
  }
  // Assume a note above and below; drop one when the window touches an end.
  const rows = lines - 2;
  const start = Math.max(0, Math.min(focus - Math.floor(rows / 2), count - rows));
  if (start === 0) {
    return { shown: steps.slice(0, lines - 1), above: 0, below: count - (lines - 1), notes: true };
  }
  if (start + rows >= count) {
    const from = count - (lines - 1);
    return { shown: steps.slice(from), above: from, below: 0, notes: true };
  }
  return { shown: steps.slice(start, start + rows), above: start, below: count - start - rows, notes: true };
}

/** The plan as a ladder: done steps ticked, the current one marked ▸, a failed one ✗. */
export function StepLadder({ steps, height, width }: StepLadderProps) {
  if (height <= 0) return null;
  const total = steps.length - 1;
  const { shown, above, below, notes } = visibleSteps(steps, Math.max(1, height - 1));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        Steps
      </Text>
      {notes && above > 0 ? <Text dimColor>{`  ↑ ${above} earlier`}</Text> : null}
      {shown.map((row) => {
        const number = row.index < total ? String(row.index + 1).padStart(2) : " =";
        const marked = row.state === "current" || row.state === "failed";
        return (
          <Text
            key={row.index}
            wrap="truncate-end"
            color={STEP_COLORS[row.state]}
            bold={marked}
            dimColor={row.state === "pending"}
          >
            {`${STEP_MARKERS[row.state]} ${number} ${row.label}`}
          </Text>
        );
      })}
      {notes && below > 0 ? <Text dimColor>{`  ↓ ${below} more`}</Text> : null}
    </Box>
  );
}
