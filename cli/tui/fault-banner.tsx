import { Box, Text } from "ink";
import { type FaultInfo, formatElapsed } from "./model.ts";
import { VERDICT_COLORS } from "./profiles.tsx";

export interface FaultBannerProps {
  fault?: FaultInfo;
  width: number;
}

/** The active fault of a chaos step: what, where, how long it has left, and what the gate says so far. */
export function FaultBanner({ fault, width }: FaultBannerProps) {
  if (!fault) return null;
  const what = fault.what ? `${fault.what} on ${fault.where}` : `on ${fault.where}`;
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        <Text color="magenta" bold>{`FAULT ${what}`}</Text>
        <Text>{` · ${formatElapsed(fault.leftMs)} left · gate `}</Text>
        {fault.gate ? (
          <Text bold color={VERDICT_COLORS[fault.gate]}>
            {fault.gate}
          </Text>
        ) : (
          <Text dimColor>waiting for data</Text>
        )}
      </Text>
    </Box>
  );
}
