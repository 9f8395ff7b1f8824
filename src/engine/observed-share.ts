import type { ProfileVerdict } from "./types.ts";

/**
 * The canary's share of the requests the analysis counted this step, in percent (one decimal): from the
 * profile that counted the most, canary / (canary + baseline). Undefined when nothing was counted. It
 * shows whether traffic really follows the weights (a stale mesh config, sticky sessions, a client that
 * bypasses the route).
 */
export function observedShare(verdicts: readonly ProfileVerdict[]): number | undefined {
  let best: { canary: number; all: number } | undefined;
  for (const verdict of verdicts) {
    const canary = verdict.canary?.total ?? 0;
    const all = canary + (verdict.baseline?.total ?? 0);
    if (all > 0 && (!best || all > best.all)) best = { canary, all };
  }
  return best && Math.round((best.canary / best.all) * 1000) / 10;
}
