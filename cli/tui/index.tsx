import { render } from "ink";
import type { Phase } from "../../src/api/rollout.ts";
import { isTerminalPhase } from "./model.ts";
import { type RolloutActions, RolloutView } from "./rollout-view.tsx";
import type { RolloutStore, Snapshot } from "./store.ts";

export type { Layout, TerminalSize } from "./layout.ts";
export type { RolloutActions, RolloutViewProps } from "./rollout-view.tsx";
export { RolloutView } from "./rollout-view.tsx";
export type { Connection, RolloutEvent, RolloutStoreOptions, Snapshot } from "./store.ts";
export { RolloutStore } from "./store.ts";

export interface RenderRolloutViewOptions {
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  /** Let Ink end the view on Ctrl+C (resolves with reason "interrupted"). Default true. */
  exitOnCtrlC?: boolean;
  /** Route console.log and friends above the live area instead of through it. Default true. */
  patchConsole?: boolean;
  /** When the view is done (resolves with reason "finished"); default: a terminal phase. */
  done?: (snapshot: Snapshot) => boolean;
  /** Advance the store's clock this often (ms) so elapsed and fault times move; 0 to leave it to the caller. */
  tickMs?: number;
  /** Ends the view (reason "stopped"), e.g. when the watch behind it could not start. */
  signal?: AbortSignal;
}

/** Why the view ended: the user pressed q, the rollout finished, it was deleted, Ctrl+C, or the caller's signal. */
export interface ViewOutcome {
  reason: "quit" | "finished" | "gone" | "interrupted" | "stopped";
  /** The rollout's phase when the view ended; the caller turns it into an exit code. */
  phase?: Phase;
}

/**
 * Shows the rollout in the terminal until the user quits, the rollout reaches a terminal phase or the
 * rollout is deleted. The last frame stays on the screen. Exit codes are the caller's business.
 */
export function renderRolloutView(
  store: RolloutStore,
  actions: RolloutActions,
  options: RenderRolloutViewOptions = {},
): Promise<ViewOutcome> {
  const { done = (snapshot: Snapshot) => isTerminalPhase(snapshot.rollout?.status?.phase), tickMs = 1000 } =
    options;
  const phase = () => store.getSnapshot().rollout?.status?.phase;
  let outcome: ViewOutcome | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let unsubscribe: (() => void) | undefined;

  const instance = render(
    <RolloutView store={store} actions={actions} onQuit={() => finish({ reason: "quit" })} />,
    {
      ...(options.stdout ? { stdout: options.stdout } : {}),
      ...(options.stdin ? { stdin: options.stdin } : {}),
      ...(options.stderr ? { stderr: options.stderr } : {}),
      exitOnCtrlC: options.exitOnCtrlC ?? true,
      patchConsole: options.patchConsole ?? true,
    },
  );

  function stopFeeding(): void {
    if (timer) clearInterval(timer);
    unsubscribe?.();
    timer = undefined;
    unsubscribe = undefined;
  }

  function finish(result: Omit<ViewOutcome, "phase">): void {
    if (outcome) return;
    const current = phase();
    outcome = current === undefined ? result : { ...result, phase: current };
    stopFeeding();
    // Let React commit the snapshot that ended the view, so the last frame shows it.
    setTimeout(() => instance.unmount(), 0);
  }

  function check(): void {
    const snapshot = store.getSnapshot();
    if (snapshot.connection === "gone") finish({ reason: "gone" });
    else if (done(snapshot)) finish({ reason: "finished" });
  }

  unsubscribe = store.subscribe(check);
  if (options.signal?.aborted) finish({ reason: "stopped" });
  options.signal?.addEventListener("abort", () => finish({ reason: "stopped" }), { once: true });
  if (tickMs > 0) {
    timer = setInterval(() => store.tick(), tickMs);
    timer.unref?.();
  }
  check();

  return instance.waitUntilExit().then(
    () => {
      stopFeeding();
      if (outcome) return outcome;
      const current = phase();
      return current === undefined ? { reason: "interrupted" } : { reason: "interrupted", phase: current };
    },
    (error: unknown) => {
      stopFeeding();
      throw error;
    },
  );
}
