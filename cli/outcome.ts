import type { RolloutStatus } from "../src/api/rollout.ts";
import { EXIT } from "./exit-codes.ts";

/**
 * The exit code a finished wait ends with, or undefined while it must go on waiting. `revision` is the
 * revision being waited for: an earlier revision's outcome does not count.
 */
export function outcomeOf(
  status: RolloutStatus | undefined,
  options: { revision?: string; exitOnPause?: boolean },
): number | undefined {
  if (!status?.phase) return undefined;
  if (options.revision && status.revision !== options.revision) return undefined;
  switch (status.phase) {
    case "Succeeded":
      return EXIT.ok;
    case "Idle":
      // nothing to roll out: the revision waited for is the stable one
      return options.revision && status.stableRevision === options.revision ? EXIT.ok : undefined;
    case "RolledBack":
    case "Failed":
      return EXIT.failed;
    case "Paused":
      return options.exitOnPause ? EXIT.paused : undefined;
    default:
      return undefined;
  }
}
