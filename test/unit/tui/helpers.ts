import { RolloutStore } from "../../../cli/tui/store.ts";
import type { TuiFixture } from "../../fixtures/tui/rollouts.ts";

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\u001B\[[0-9;?]*[ -/]*[@-~]/g;

/** The frame as a person reads it: no colours, one entry per line. */
export function screenLines(frame: string | undefined): string[] {
  return (frame ?? "").replace(ANSI, "").split("\n");
}

export function screen(frame: string | undefined): string {
  return screenLines(frame).join("\n");
}

/** Display width of a line: every character the TUI draws is one cell wide. */
export function cells(line: string): number {
  return [...line].length;
}

/** A store that has seen the fixture's rollout, with a clock the test controls. */
export function storeFor(fixture: TuiFixture, metricsSource?: string) {
  const clock = { now: fixture.now };
  const store = new RolloutStore({
    clock: () => clock.now,
    ...(metricsSource !== undefined ? { metricsSource } : {}),
  });
  store.connection("live");
  store.update(fixture.rollout);
  if (fixture.connection !== "live") store.connection(fixture.connection);
  return { store, clock };
}

export const nextTick = () => new Promise((resolve) => setTimeout(resolve, 0));
