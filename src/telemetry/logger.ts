import { type Logger, pino } from "pino";

export type { Logger };

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines on stderr (stdout stays free for command output); `destination` is for tests. */
export function createLogger(
  level: LogLevel = "info",
  destination: NodeJS.WritableStream = process.stderr,
): Logger {
  return pino({ level, base: { component: "stepwise" } }, destination);
}

/** The logger for one rollout: every line it writes names the namespace and the rollout. */
export function rolloutLogger(logger: Logger, namespace: string, rollout: string): Logger {
  return logger.child({ namespace, rollout });
}
