import { Box, Text } from "ink";
import { formatPercent } from "./model.ts";

export interface WeightBarProps {
  desired: number;
  applied?: number;
  observed?: number;
  /** Once the rollout has ended: the new version's final share and the outcome, shown instead. */
  final?: { newVersion: number; outcome: string };
  width: number;
}

/** Cells of the bar: solid where desired and applied agree, shaded where they differ, light elsewhere. */
export function barCells(desired: number, applied: number | undefined, cells: number) {
  const cell = (percent: number) => Math.round((Math.min(100, Math.max(0, percent)) / 100) * cells);
  const target = cell(desired);
  const onRoute = applied === undefined ? 0 : cell(applied);
  const solid = Math.min(target, onRoute);
  const pending = Math.max(target, onRoute) - solid;
  return { solid, pending, rest: cells - solid - pending };
}

/**
 * One line: the canary's share as a bar, then desired, applied (read back) and observed (from metrics).
 * After the end, the new version's final share and the outcome ("new version 100% · promoted").
 */
export function WeightBar({ desired, applied, observed, final, width }: WeightBarProps) {
  if (final) {
    const prefix = "final  ";
    const cells = Math.max(10, Math.min(50, width - prefix.length - 42));
    const { solid, rest } = barCells(final.newVersion, final.newVersion, cells);
    const color = final.outcome === "promoted" ? "green" : "red";
    return (
      <Box width={width}>
        <Text wrap="truncate-end">
          <Text>{prefix}</Text>
          <Text color="cyan">{"█".repeat(solid)}</Text>
          <Text dimColor>{"░".repeat(rest)}</Text>
          <Text>{` new version ${formatPercent(final.newVersion)} · `}</Text>
          <Text bold color={color}>
            {final.outcome}
          </Text>
        </Text>
      </Box>
    );
  }
  const label = [
    `desired ${formatPercent(desired)}`,
    `applied ${applied === undefined ? "?" : formatPercent(applied)}`,
    `observed ${observed === undefined ? "?" : formatPercent(observed)}`,
  ].join("  ");
  const prefix = "canary ";
  // Sized for the widest label ("desired 100%  applied 100%  observed 100%"), so the bar keeps its length.
  const cells = Math.max(10, Math.min(50, width - prefix.length - 42));
  const { solid, pending, rest } = barCells(desired, applied, cells);
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        <Text>{prefix}</Text>
        <Text color="cyan">{"█".repeat(solid)}</Text>
        <Text color="yellow">{"▒".repeat(pending)}</Text>
        <Text dimColor>{"░".repeat(rest)}</Text>
        <Text>{` ${label}`}</Text>
      </Text>
    </Box>
  );
}
