import { Box, Text } from "ink";
import { badRate, formatCounts, formatPercent, type ProfileLine, sparkline, type Verdict } from "./model.ts";

export interface ProfilesProps {
  profiles: readonly ProfileLine[];
  /** Per profile, the canary's bad rate over time (percent). */
  history: Readonly<Record<string, readonly number[]>>;
  /** Lines available, title included. */
  height: number;
  width: number;
  /** The rollout has ended: a profile without a verdict is no longer "waiting". */
  finished?: boolean;
}

export const VERDICT_COLORS: Record<Verdict, string> = {
  Pass: "green",
  Fail: "red",
  Inconclusive: "yellow",
  NoData: "gray",
  Error: "magenta",
};

/** "3/2100 vs 2/18000 0.14%": canary counts, baseline counts and the canary's bad rate. */
export function countsText(profile: ProfileLine): string {
  if (!profile.canary) return "no requests counted";
  const baseline = profile.baseline ? ` vs ${formatCounts(profile.baseline, true)}` : "";
  const rate = badRate(profile.canary);
  return `${formatCounts(profile.canary, true)}${baseline}${rate === undefined ? "" : ` ${formatPercent(rate)}`}`;
}

/**
 * Per profile its verdict, then canary vs baseline counts (bad/total) with a sparkline of the canary's bad
 * rate. Two lines a profile when there is room, one otherwise.
 */
export function Profiles({ profiles, history, height, width, finished = false }: ProfilesProps) {
  if (height <= 0) return null;
  const room = height - 1;
  const twoLines = room >= profiles.length * 2;
  const fits = twoLines ? profiles.length : Math.min(profiles.length, room);
  const shown = fits < profiles.length ? profiles.slice(0, Math.max(0, room - 1)) : profiles;
  const hidden = profiles.length - shown.length;
  const nameWidth = Math.min(
    Math.max(8, ...shown.map((profile) => profile.name.length)),
    Math.max(8, width - 14),
  );
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        Analysis <Text dimColor>canary vs baseline bad/total</Text>
      </Text>
      {shown.map((profile) => {
        const verdict = (
          <Text bold color={profile.verdict ? VERDICT_COLORS[profile.verdict] : "gray"}>
            {profile.verdict ?? (finished ? "-" : "waiting")}
          </Text>
        );
        const counts = countsText(profile);
        const series = history[profile.name] ?? [];
        if (!twoLines) {
          return (
            <Text key={profile.name} wrap="truncate-end">
              {`${profile.name.padEnd(nameWidth)} `}
              {verdict}
              {` ${counts}`}
            </Text>
          );
        }
        const sparkWidth = Math.max(0, width - counts.length - 5);
        return (
          <Box key={profile.name} flexDirection="column">
            <Text wrap="truncate-end">
              {`${profile.name.padEnd(nameWidth)} `}
              {verdict}
            </Text>
            <Text wrap="truncate-end">
              {`  ${counts}  `}
              <Text color="cyan">{sparkline(series, sparkWidth)}</Text>
            </Text>
          </Box>
        );
      })}
      {hidden > 0 ? <Text dimColor>{`+${hidden} more`}</Text> : null}
    </Box>
  );
}
