import { Command, Option } from "commander";
import { stringify } from "yaml";
import { parseDuration } from "../../src/api/duration.ts";
import type { Rollout } from "../../src/api/rollout.ts";
import { formatRefusal, holdsEveryRevision } from "../../src/client/refusals.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { leanModules } from "../../src/kube/lean-modules.ts";
import { parseImages, type RolloutRef, sendCommand } from "../actions.ts";
import { EXIT } from "../exit-codes.ts";
import { CliError, type KubeOptions, numberFlag, runCli, withKubeOptions } from "../options.ts";
import { outcomeOf } from "../outcome.ts";
import { closingLine, followPlain, formatJsonLine, formatProgressLine } from "../progress.ts";
import type { renderRolloutView as RenderRolloutView } from "../tui/index.tsx";
import { RolloutStore, type Snapshot } from "../tui/store.ts";

// This module loads without the Kubernetes client: `rollout watch` draws the TUI's first frame
// ("connecting…") before the client (the heaviest import of the CLI) is loaded and the kubeconfig read.
// Every path to the client goes through here, so its lean loading is set up first (lean-modules.ts).
const kubeOptions = () => {
  leanModules();
  return import("../kube-options.ts");
};

/** Shows the TUI; Ink and React load only then. Resolves once the view is rendered, with its end. */
async function showView(...args: Parameters<typeof RenderRolloutView>) {
  const { renderRolloutView } = await import("../tui/index.tsx");
  return { ended: renderRolloutView(...args) };
}

interface OutputOptions {
  output?: string;
  tui?: boolean;
}

interface WaitOptions {
  /** Only this revision's outcome counts. */
  revision?: string;
  /** Only count an outcome once the controller has acknowledged this command. */
  commandId?: string;
  exitOnPause?: boolean;
  timeoutMs?: number;
  /** Keep showing after the outcome (rollout watch); ends on q or Ctrl-C only. */
  forever?: boolean;
  /** Where the SLIs come from, shown by the TUI (the sandbox says which provider it runs). */
  metricsSource?: string;
  /** Ctrl-C ends the wait with 130 and its closing line (the sandbox handles Ctrl-C itself). */
  ownsCtrlC?: boolean;
}

function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms === 0)
    throw new CliError(`--timeout ${text}: expected a duration such as 30m or 90s`, EXIT.invalidInput);
  return ms;
}

/** CI systems set CI; as Ink reads it, "0" and "false" mean not in CI. */
export function inCI(): boolean {
  const value = process.env.CI ?? process.env.CONTINUOUS_INTEGRATION;
  return value !== undefined && value !== "0" && value.toLowerCase() !== "false";
}

function outputMode(options: OutputOptions): "tui" | "plain" | "json" {
  if (options.output !== undefined && options.output !== "json") {
    throw new CliError(`-o ${options.output}: the only output format is json`, EXIT.invalidInput);
  }
  if (options.output === "json") return "json";
  const interactive = process.stdout.isTTY && process.stdin.isTTY && !inCI();
  return options.tui === false || !interactive ? "plain" : "tui";
}

/** The cluster a wait talks to and the rollout it follows. */
export interface Followed {
  client: KubeClient;
  ref: RolloutRef;
}

/** The TUI's keys send the same commands as `rollout promote|abort|pause|resume` (once connected). */
function actionsFor(followed: Promise<Followed>) {
  const send = (type: "promote" | "abort" | "pause" | "resume") => async () => {
    const { client, ref } = await followed;
    await sendCommand(client, ref, { type });
  };
  return { promote: send("promote"), abort: send("abort"), pause: send("pause"), resume: send("resume") };
}

/**
 * Whether a refusal ends the wait (exit 2): one that holds every revision (the controller starts none
 * until it is fixed), or one the controller holds the awaited revision with.
 */
function isRefused(snapshot: Snapshot, wait: WaitOptions): boolean {
  return snapshot.refusals.some(
    (refusal) => holdsEveryRevision(refusal) || isAwaited(snapshot.rollout, wait),
  );
}

/** Whether this version of the rollout is the revision (or has taken the command) being waited for. */
function isAwaited(rollout: Rollout | undefined, wait: WaitOptions): boolean {
  const status = rollout?.status;
  if (wait.revision && status?.revision !== wait.revision) return false;
  return !wait.commandId || status?.lastCommand?.id === wait.commandId;
}

/**
 * Follows a rollout until its outcome (or the timeout), showing it as the TUI, plain lines or JSON
 * lines, and returns the documented exit code. A non-zero exit ends with one line on stderr saying why
 * and what to run next. `connect` may be a function: it then runs after the TUI's first frame is drawn,
 * so loading the client and reading the kubeconfig do not delay it.
 */
export async function followUntilOutcome(
  connect: Followed | (() => Promise<Followed>),
  mode: "tui" | "plain" | "json",
  wait: WaitOptions,
): Promise<number> {
  const store = new RolloutStore(wait.metricsSource ? { metricsSource: wait.metricsSource } : {});
  const outcome = (snapshot: Snapshot) => {
    if (snapshot.connection === "gone") return EXIT.failed;
    if (isRefused(snapshot, wait)) return EXIT.invalidInput;
    if (!isAwaited(snapshot.rollout, wait)) return undefined;
    return outcomeOf(snapshot.rollout?.status, wait);
  };
  // The TUI draws its first frame ("connecting…") at once, before the watch has listed anything.
  // the TUI's keys wait for the connection; it is made once the first frame is on the screen
  let settleFollowed: (connecting: Promise<Followed>) => void = () => {};
  const followed = new Promise<Followed>((resolve) => {
    settleFollowed = resolve;
  });
  followed.catch(() => {}); // a failure to connect is reported below, not by the TUI's keys
  const stopView = new AbortController();
  const view =
    mode === "tui"
      ? await showView(store, actionsFor(followed), {
          done: (snapshot) => !wait.forever && outcome(snapshot) !== undefined,
          signal: stopView.signal,
        })
      : undefined;
  const endView = async () => {
    stopView.abort();
    await view?.ended.catch(() => {});
  };
  let client: KubeClient;
  let ref: RolloutRef;
  let stopWatch: () => void;
  try {
    // let Ink write the first frame before the client's modules load (their loading blocks the loop)
    if (view) await new Promise((resolve) => setImmediate(resolve));
    const pending = typeof connect === "function" ? connect() : Promise.resolve(connect);
    settleFollowed(pending);
    ({ client, ref } = await pending);
  } catch (error) {
    await endView();
    throw error;
  }
  const { explain } = await kubeOptions();
  try {
    const { DELETED, followRollout } = await import("../../src/client/follow.ts");
    stopWatch = await followRollout(
      client,
      ref,
      (rollout, problem) => {
        if (rollout) store.update(rollout);
        else if (problem === DELETED) store.connection("gone");
        else if (problem) store.invalid(problem);
      },
      (connection) => store.connection(connection),
    );
  } catch (error) {
    await endView();
    throw explain(error, `rollout ${ref.namespace}/${ref.name}`);
  }
  // a Rollout that exists but does not parse is held (SpecValid=False): the wait ends at once with exit 2
  if (!store.getSnapshot().rollout && store.getSnapshot().refusals.length === 0) {
    stopWatch();
    await endView();
    throw new CliError(`rollout ${ref.namespace}/${ref.name} not found`, EXIT.invalidInput);
  }
  let left = false;
  let onCtrlC: (() => void) | undefined;
  try {
    const code = await new Promise<number>((resolve) => {
      const timer = wait.timeoutMs ? setTimeout(() => resolve(EXIT.timedOut), wait.timeoutMs) : undefined;
      const finish = (code: number) => {
        clearTimeout(timer);
        resolve(code);
      };
      // before the first line is written: whoever reads it may press Ctrl-C at once
      if (wait.ownsCtrlC) {
        onCtrlC = () => finish(EXIT.interrupted);
        process.once("SIGINT", onCtrlC);
      }
      if (view) {
        view.ended.then(
          (ended) => {
            if (ended.reason === "stopped") return; // stopped here, after the timeout decided
            const code = outcome(store.getSnapshot());
            if (ended.reason === "finished" && code !== undefined) finish(code);
            else if (ended.reason === "interrupted" && code === undefined && !wait.forever)
              finish(EXIT.interrupted);
            else {
              left = code === undefined;
              finish(wait.forever ? EXIT.ok : (code ?? EXIT.timedOut));
            }
          },
          () => finish(EXIT.failed),
        );
        return;
      }
      followPlain(store, process.stdout, {
        json: mode === "json",
        shows: (rollout) => isAwaited(rollout, wait),
      });
      const check = () => {
        const code = outcome(store.getSnapshot());
        if (code !== undefined && !wait.forever) finish(code);
      };
      store.subscribe(check);
      check();
    });
    if (onCtrlC) process.off("SIGINT", onCtrlC);
    // a timeout ends the screen too; the closing line goes below its last frame
    await endView();
    const snapshot = store.getSnapshot();
    const why = closingLine(code, snapshot, isAwaited(snapshot.rollout, wait), {
      ...ref,
      ...(wait.revision ? { revision: wait.revision } : {}),
      ...(wait.timeoutMs ? { timeoutMs: wait.timeoutMs } : {}),
      left,
    });
    if (why) console.error(`rollout: ${why}`);
    return code;
  } finally {
    stopWatch();
  }
}

/** One status: a progress line, its JSON object, or that object as YAML (the same fields). */
const printOnce = (store: RolloutStore, format: "plain" | "json" | "yaml") => {
  const snapshot = store.getSnapshot();
  if (format === "plain") {
    console.log(formatProgressLine(snapshot));
    for (const refusal of snapshot.refusals) console.log(`refused: ${formatRefusal(refusal)}`);
  } else if (format === "json") console.log(formatJsonLine(snapshot));
  else process.stdout.write(stringify(JSON.parse(formatJsonLine(snapshot))));
};

/** `rollout status`, `rollout watch` and `rollout start`. */
export function followCommands(): Command[] {
  const status = withKubeOptions(
    new Command("status")
      .description("show a rollout's status; with --watch, follow it to the end (exit codes as start --wait)")
      .argument("<rollout>", "the Rollout's name")
      .option("-w, --watch", "follow the rollout until it ends")
      .option("--timeout <duration>", "with --watch: give up after this long (exit 3)")
      .option("--exit-on-pause", "with --watch: exit 4 when the rollout waits at a manual gate")
      .option("--no-tui", "plain lines even in a terminal")
      .addOption(
        new Option(
          "-o, --output <format>",
          "json: one JSON object per line; yaml: that object as YAML (without --watch)",
        ).choices(["json", "yaml"]),
      ),
  ).action(
    (
      rollout: string,
      options: KubeOptions & OutputOptions & { watch?: boolean; timeout?: string; exitOnPause?: boolean },
    ) =>
      runCli(async () => {
        const yaml = options.output === "yaml";
        if (yaml && options.watch)
          throw new CliError("-o yaml shows the status once; with --watch use -o json", EXIT.invalidInput);
        const mode = outputMode(yaml ? { ...options, output: "json" } : options);
        const timeoutMs = options.timeout ? parseTimeout(options.timeout) : undefined;
        const { clientFrom, explain } = await kubeOptions();
        const { client, namespace, rollouts } = clientFrom(options);
        const ref = { namespace, name: rollout };
        if (options.watch)
          return followUntilOutcome({ client, ref }, mode, {
            exitOnPause: options.exitOnPause,
            timeoutMs,
            ownsCtrlC: true,
          });
        const store = new RolloutStore();
        try {
          store.update(await rollouts.status(rollout));
        } catch (error) {
          throw explain(error, `rollout ${namespace}/${rollout}`);
        }
        printOnce(store, yaml ? "yaml" : mode === "json" ? "json" : "plain");
        return EXIT.ok;
      }),
  );

  const watch = withKubeOptions(
    new Command("watch")
      .description("show a rollout live in the terminal (p promote, a abort, space pause/resume, q quit)")
      .argument("<rollout>", "the Rollout's name")
      .option("--no-tui", "plain lines even in a terminal")
      .addOption(new Option("-o, --output <format>", "json: one JSON object per line").choices(["json"])),
  ).action((rollout: string, options: KubeOptions & OutputOptions) =>
    runCli(async () => {
      const mode = outputMode(options);
      const connect = async () => {
        const { client, namespace } = (await kubeOptions()).clientFrom(options);
        return { client, ref: { namespace, name: rollout } };
      };
      return followUntilOutcome(connect, mode, { forever: mode === "tui" });
    }),
  );

  const start = withKubeOptions(
    new Command("start")
      .description(
        "start a release: set new images on the target (or retry the current revision) and optionally wait",
      )
      .argument("<rollout>", "the Rollout's name")
      .option(
        "--image <[container=]image>",
        "new image; repeat for several containers",
        (v: string, all: string[]) => [...all, v],
        [],
      )
      .option("--wait", "follow the rollout to its end; the exit code says how it ended")
      .option("--timeout <duration>", "with --wait: give up after this long (exit 3)", "30m")
      .option("--exit-on-pause", "with --wait: exit 4 when the rollout waits at a manual gate")
      .option("--no-tui", "plain lines even in a terminal")
      .option("--rps <n>", "the service's requests per second: warn about analysis steps too short to pass")
      .addOption(new Option("-o, --output <format>", "json: one JSON object per line").choices(["json"])),
  ).action(
    (
      rollout: string,
      options: KubeOptions &
        OutputOptions & {
          image: string[];
          wait?: boolean;
          timeout: string;
          exitOnPause?: boolean;
          rps?: string;
        },
    ) =>
      runCli(async () => {
        const mode = outputMode(options);
        const timeoutMs = parseTimeout(options.timeout);
        const images = parseImages(options.image);
        const { clientFrom, explain } = await kubeOptions();
        const { client, namespace, rollouts } = clientFrom(options);
        const ref = { namespace, name: rollout };
        if (options.rps !== undefined) {
          const rps = numberFlag("--rps", options.rps, (n) => n > 0, "a positive number");
          const { shortStepsInCluster } = await import("../../src/controller/analysis.ts");
          for (const warning of await shortStepsInCluster(client, ref, rps))
            console.error(`warning: ${warning}`);
        }
        let revision: string | undefined;
        let commandId: string | undefined;
        try {
          const started = await rollouts.start(rollout, { images });
          if ("revision" in started) revision = started.revision;
          else commandId = started.commandId;
        } catch (error) {
          throw explain(error, `rollout ${namespace}/${rollout}`);
        }
        if (mode !== "json") {
          console.log(
            revision
              ? `started revision ${revision} of ${namespace}/${rollout}`
              : `asked ${namespace}/${rollout} to retry its current revision`,
          );
        }
        if (!options.wait) return EXIT.ok;
        return followUntilOutcome({ client, ref }, mode, {
          revision,
          commandId,
          exitOnPause: options.exitOnPause,
          timeoutMs,
          ownsCtrlC: true,
        });
      }),
  );
  return [start, status, watch];
}
