import { Box, Text } from "ink";
import type { Phase } from "../../src/api/rollout.ts";

export interface HeaderProps {
  name: string;
  namespace?: string;
  strategy: string;
  provider: string;
  phase?: Phase;
  elapsed: string;
  revision?: string;
  stableRevision?: string;
  position?: string;
  metricsSource?: string;
  /** What the controller says, one line per entry (a failure reason wraps over several). */
  message?: readonly string[];
  width: number;
}

export const PHASE_COLORS: Record<Phase, string> = {
  Idle: "gray",
  Initializing: "cyan",
  Progressing: "cyan",
  Paused: "yellow",
  Promoting: "green",
  Succeeded: "green",
  RollingBack: "red",
  RolledBack: "red",
  Failed: "red",
};

function short(revision: string | undefined): string | undefined {
  return revision === undefined ? undefined : revision.slice(0, 10);
}

/** Who and where, which versions and step, then what the controller says it is doing (1 line or more). */
export function Header(props: HeaderProps) {
  const where = props.namespace ? `${props.name} · ${props.namespace}` : props.name;
  const details = [
    props.revision ? `revision ${short(props.revision)}` : "no revision yet",
    props.stableRevision && props.stableRevision !== props.revision
      ? `stable ${short(props.stableRevision)}`
      : undefined,
    props.position,
    props.metricsSource ? `metrics: ${props.metricsSource}` : undefined,
  ].filter((part) => part !== undefined);
  return (
    <Box flexDirection="column" width={props.width}>
      <Text wrap="truncate-end">
        <Text bold>{where}</Text>
        <Text>{` · ${props.strategy} via ${props.provider} · `}</Text>
        <Text bold color={props.phase ? PHASE_COLORS[props.phase] : "gray"}>
          {props.phase ?? "no status"}
        </Text>
        <Text>{` · ${props.elapsed}`}</Text>
      </Text>
      <Text dimColor wrap="truncate-end">
        {details.join(" · ")}
      </Text>
      {(props.message?.length ? props.message : [""]).map((line, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the lines of one message have no other identity
        <Text key={index} wrap="truncate-end">{`${index === 0 ? "»" : " "} ${line}`}</Text>
      ))}
    </Box>
  );
}

export interface ConnectionBannerProps {
  connection: "connecting" | "live" | "reconnecting" | "gone";
  /** "10:00:05": when the state on screen was last seen. */
  lastSeen?: string;
  width: number;
}

/** Says plainly when the screen is not live; renders nothing while the watch is live. */
export function ConnectionBanner({ connection, lastSeen, width }: ConnectionBannerProps) {
  if (connection === "live") return null;
  const text =
    connection === "connecting"
      ? "◌ connecting to the cluster…"
      : connection === "reconnecting"
        ? `↻ RECONNECTING: watch lost, showing the state last seen${lastSeen ? ` at ${lastSeen}` : ""}`
        : "✗ GONE: the rollout no longer exists";
  const color = connection === "connecting" ? "cyan" : connection === "reconnecting" ? "yellow" : "red";
  return (
    <Box width={width}>
      <Text color={color} bold wrap="truncate-end">
        {text}
      </Text>
    </Box>
  );
}
