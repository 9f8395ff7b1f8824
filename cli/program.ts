/**
 * The `rollout` command tree, loaded lazily: each command family's module (and what it imports: the
 * Kubernetes client, Ink, the controller) is imported only when that command runs, so `--help`,
 * `--version` and `lint` start about as fast as Node itself.
 */
import { Command } from "commander";
import { leanModules } from "../src/kube/lean-modules.ts";
import { packageVersion } from "../src/package-root.ts";
import { usageErrorsExitInvalid } from "./exit-codes.ts";

interface CommandEntry {
  /** The usage shown next to the name in `rollout --help`, as the loaded command would print it. */
  usage: string;
  /** The one line `rollout --help` shows; the command's own description is in its module. */
  summary: string;
  /** The module that defines the command; it may define its siblings too (start, status, watch). */
  load: () => Promise<Command[]>;
}

/**
 * A command family that talks to a cluster: the Kubernetes client's lean loading is set up before its
 * module (and so the client) is imported (src/kube/lean-modules.ts). Not for start/status/watch,
 * whose module loads the client only after the TUI's first frame and sets it up itself: the hook makes
 * every later module resolution a round trip to its thread, which would slow Ink's loading.
 */
const withCluster =
  (load: () => Promise<Command[]>): (() => Promise<Command[]>) =>
  () => {
    leanModules();
    return load();
  };

const follow = () => import("./commands/follow.ts").then((m) => m.followCommands());
const manage = withCluster(() => import("./commands/manage.ts").then((m) => m.manageCommands()));

/** Every command, in the order `rollout --help` lists them. */
export const COMMANDS: Record<string, CommandEntry> = {
  start: {
    usage: "[options] <rollout>",
    summary:
      "start a release: set new images on the target (or retry the current revision) and optionally wait",
    load: follow,
  },
  status: {
    usage: "[options] <rollout>",
    summary: "show a rollout's status; with --watch, follow it to the end (exit codes as start --wait)",
    load: follow,
  },
  watch: {
    usage: "[options] <rollout>",
    summary: "show a rollout live in the terminal (p promote, a abort, space pause/resume, q quit)",
    load: follow,
  },
  list: {
    usage: "[options]",
    summary:
      "list rollouts with their phase, step, canary weight and the reason the controller refuses to go on, if it does",
    load: withCluster(() => import("./commands/list.ts").then((m) => [m.listCommand()])),
  },
  promote: {
    usage: "[options] <rollout>",
    summary: "advance to the next step, or with --full promote now",
    load: manage,
  },
  abort: { usage: "[options] <rollout>", summary: "roll back to the stable version now", load: manage },
  pause: { usage: "[options] <rollout>", summary: "hold the rollout at its current weight", load: manage },
  resume: {
    usage: "[options] <rollout>",
    summary: "continue a paused rollout (past a manual gate, too)",
    load: manage,
  },
  retry: {
    usage: "[options] <rollout>",
    summary: "run a rolled-back or failed revision again",
    load: manage,
  },
  "set-weight": {
    usage: "[options] <rollout> <percent>",
    summary: "pause at a chosen canary weight",
    load: manage,
  },
  lint: {
    usage: "<files...>",
    summary: "validate Rollout and SLOProfile YAML files without a cluster",
    load: () => import("./commands/lint.ts").then((m) => [m.lintCommand()]),
  },
  analyze: {
    usage: "[options]",
    summary: "judge SLO profiles once for a canary against a baseline over a time window of Prometheus data",
    load: () => import("./commands/analyze.ts").then((m) => [m.analyzeCommand()]),
  },
  controller: {
    usage: "[options]",
    summary: "run the controller: watch Rollouts and move them through their steps",
    load: withCluster(() => import("./commands/controller.ts").then((m) => [m.controllerCommand()])),
  },
  "fault-server": {
    usage: "[options]",
    summary:
      "answer every request with an injected fault: the error backend of abort faults on HTTPRoute, TrafficSplit and ServiceSplitter",
    load: () => import("./commands/fault-server.ts").then((m) => [m.faultServerCommand()]),
  },
  sandbox: {
    usage: "[options] [command]",
    summary:
      "run the whole product on this machine: API emulator, mesh, Prometheus, controller and a demo rollout",
    load: withCluster(() => import("./commands/sandbox.ts").then((m) => [m.sandboxCommand()])),
  },
  completion: {
    usage: "<shell>",
    summary: "print a shell completion script (bash, zsh or fish)",
    load: () => import("./commands/completion.ts").then((m) => [m.completionCommand()]),
  },
};

/** The command `argv` (without node and the script) asks for: `rollout NAME ...` or `rollout help NAME`. */
function requested(args: string[]): string | undefined {
  const words = args.filter((arg) => !arg.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined;
}

/**
 * The program with the requested command loaded and every other one as a stub that only lists itself;
 * `all` loads every command (shell completion needs their flags).
 */
export async function buildProgram(
  name: string,
  args: string[],
  options: { all?: boolean } = {},
): Promise<Command> {
  const program = new Command(name)
    .description("Stepwise: progressive delivery for Kubernetes service meshes")
    .version(packageVersion(), "-V, --version", "print the version")
    .configureHelp({ subcommandTerm: (command) => `${command.name()} ${command.usage()}`.trimEnd() })
    .showHelpAfterError();
  const wanted = options.all ? Object.keys(COMMANDS) : [requested(args)];
  const loaded = new Map<string, Command>();
  for (const entry of new Set(wanted.filter((w) => w !== undefined).map((w) => COMMANDS[w]!)))
    for (const command of await entry.load()) loaded.set(command.name(), command);
  for (const [commandName, entry] of Object.entries(COMMANDS))
    program.addCommand(
      loaded.get(commandName) ?? new Command(commandName).usage(entry.usage).summary(entry.summary),
    );
  usageErrorsExitInvalid(program);
  return program;
}

/** Runs the CLI under `name` (`rollout`, or `kubectl stepwise` as a kubectl plugin). */
export async function runProgram(name: string, argv: string[]): Promise<void> {
  // NO_COLOR (no-color.org): chalk, which Ink colours the TUI with, reads FORCE_COLOR only. Ink loads
  // after this line (lazily), so it sees no colour; an explicit FORCE_COLOR still wins.
  if (process.env.NO_COLOR && process.env.FORCE_COLOR === undefined) process.env.FORCE_COLOR = "0";
  const program = await buildProgram(name, argv.slice(2));
  await program.parseAsync(argv);
}
