import { Box, Text } from "ink";
import { clockTime } from "./model.ts";
import type { RolloutEvent } from "./store.ts";

export interface EventLogProps {
  events: readonly Pick<RolloutEvent, "seq" | "time" | "text" | "warning">[];
  /** Lines below the title; the log always takes exactly this many, so the screen never grows. */
  lines: number;
  width: number;
}

/** The newest events, oldest at the top, in a region of fixed height; older lines scroll off the top. */
export function EventLog({ events, lines, width }: EventLogProps) {
  const shown = lines > 0 ? events.slice(-lines) : [];
  const blanks = Math.max(0, lines - Math.max(shown.length, 1));
  return (
    <Box flexDirection="column" width={width} height={lines + 1}>
      <Text bold wrap="truncate-end">
        Events <Text dimColor>(UTC)</Text>
      </Text>
      {lines > 0 && shown.length === 0 ? <Text dimColor>no events yet</Text> : null}
      {shown.map((event) => (
        <Text key={event.seq} wrap="truncate-end" color={event.warning ? "yellow" : undefined}>
          <Text dimColor>{`${clockTime(event.time)} `}</Text>
          {event.warning ? "! " : ""}
          {event.text}
        </Text>
      ))}
      {Array.from({ length: blanks }, (_, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: blank filler lines have no identity
        <Text key={`blank-${index}`}> </Text>
      ))}
    </Box>
  );
}
