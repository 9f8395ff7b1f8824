import type { Command } from "commander";

/** Exit codes shared by every command; the README documents them. */
export const EXIT = {
  ok: 0,
  failed: 1,
  invalidInput: 2,
  timedOut: 3,
  paused: 4,
  unreachable: 5,
  /** Stopped by Ctrl-C (128 + SIGINT), as shells report it. */
  interrupted: 130,
} as const;

/** Makes flag and argument errors of a command tree exit 2 (commander's own default is 1); help exits 0. */
export function usageErrorsExitInvalid(command: Command): void {
  command.exitOverride((error) => {
    const help = ["commander.helpDisplayed", "commander.help", "commander.version"].includes(error.code);
    process.exit(help ? EXIT.ok : EXIT.invalidInput);
  });
  for (const sub of command.commands) usageErrorsExitInvalid(sub);
}
