import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";
import { promisify } from "node:util";

// A terminal for end-to-end tests: a private tmux server (its own socket) with one pane of a fixed size,
// a shell in it, keys sent as a user types them and the screen read back with capture-pane.

const run = promisify(execFile);

/** True when the tmux binary can be run; tests that need it skip (with a message) when it cannot. */
export const HAS_TMUX = spawnSync("tmux", ["-V"], { stdio: "ignore" }).status === 0;

/** Says why a tmux test is skipped, once per file, so a skip is never silent. */
export function warnIfNoTmux(what: string): void {
  if (!HAS_TMUX) console.warn(`tmux is not installed (apt-get install tmux): ${what} is skipped`);
}

/**
 * The environment of an interactive terminal: CI markers removed (the CLI picks plain lines when `CI` is
 * set at all, and Ink prints only the last frame under CI), vitest's own variables removed, a real TERM.
 */
export function interactiveEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key === "CI" || key === "CONTINUOUS_INTEGRATION" || key.startsWith("CI_")) continue;
    if (key.startsWith("VITEST") || key === "NODE_ENV") continue;
    env[key] = value;
  }
  return { ...env, TERM: "xterm-256color", PS1: "$ ", ...extra };
}

export interface TmuxOptions {
  /** Working directory of the pane's shell. */
  cwd: string;
  /** The whole environment of the tmux server and so of the pane; default interactiveEnv(). */
  env?: Record<string, string>;
  width?: number;
  height?: number;
}

export interface CaptureOptions {
  /** Include the scrollback, not only the visible screen. */
  history?: boolean;
  /** Join lines the terminal wrapped, so a line wider than the pane shows as one long line. */
  join?: boolean;
}

export interface WaitOptions extends CaptureOptions {
  timeoutMs?: number;
  /** What is being waited for, for the failure message. */
  what?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One tmux server on a private socket with one session, one window and one pane running a shell. */
export class TmuxSession {
  private constructor(
    readonly socket: string,
    private readonly env: Record<string, string>,
  ) {}

  static readonly target = "e2e";

  /** Starts the server and a `width`x`height` pane (80x24 by default) with bash in `cwd`. */
  static async start(options: TmuxOptions): Promise<TmuxSession> {
    const socket = `stepwise-e2e-${process.pid}-${randomBytes(4).toString("hex")}`;
    const session = new TmuxSession(socket, options.env ?? interactiveEnv());
    const width = String(options.width ?? 80);
    const height = String(options.height ?? 24);
    await session.tmux(
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-s",
      TmuxSession.target,
      "-x",
      width,
      "-y",
      height,
      "-c",
      options.cwd,
      "bash --norc --noprofile",
    );
    await session.tmux("set-option", "-g", "status", "off");
    const size = (
      await session.tmux("display-message", "-p", "-t", TmuxSession.target, "#{pane_width}x#{pane_height}")
    ).trim();
    if (size !== `${width}x${height}`) {
      await session.kill();
      throw new Error(`the tmux pane is ${size}, not ${width}x${height}`);
    }
    return session;
  }

  /** Runs a tmux command against this session's server and returns its stdout. */
  async tmux(...args: string[]): Promise<string> {
    const { stdout } = await run("tmux", ["-L", this.socket, ...args], { env: this.env, timeout: 20_000 });
    return stdout;
  }

  /** Types `text` literally and presses Enter, as a user running a command. */
  async type(text: string): Promise<void> {
    await this.tmux("send-keys", "-t", TmuxSession.target, "-l", text);
    await this.tmux("send-keys", "-t", TmuxSession.target, "Enter");
  }

  /** Presses keys by tmux name: "p", "y", "Space", "Enter", "C-c". */
  async press(...keys: string[]): Promise<void> {
    await this.tmux("send-keys", "-t", TmuxSession.target, ...keys);
  }

  /** The screen as text, without colours; trailing blanks of each line trimmed. */
  async capture(options: CaptureOptions = {}): Promise<string> {
    const args = ["capture-pane", "-p", "-t", TmuxSession.target];
    if (options.history) args.push("-S", "-");
    if (options.join) args.push("-J");
    const text = await this.tmux(...args);
    // one line per screen row: capture-pane ends the last row with a newline too
    return text
      .replace(/\n$/, "")
      .split("\n")
      .map((line) => line.trimEnd())
      .join("\n");
  }

  /**
   * Polls the screen until `until` matches it (a RegExp, or a predicate over the screen's text) and returns
   * the screen; fails after `timeoutMs` showing the last screen.
   */
  async waitFor(until: RegExp | ((screen: string) => boolean), options: WaitOptions = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const matches = typeof until === "function" ? until : (screen: string) => until.test(screen);
    let screen = "";
    for (;;) {
      screen = await this.capture(options);
      if (matches(screen)) return screen;
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    const what = options.what ?? String(until);
    throw new Error(`the terminal did not show ${what} within ${timeoutMs} ms; it shows:\n${screen}`);
  }

  /** Waits for the `EXIT=<code>` line of a command typed as `...; echo EXIT=$?` and returns the code. */
  async exitCode(timeoutMs = 60_000): Promise<number> {
    const screen = await this.waitFor(/^EXIT=\d+$/m, { history: true, timeoutMs, what: "EXIT=<code>" });
    const codes = [...screen.matchAll(/^EXIT=(\d+)$/gm)];
    return Number(codes.at(-1)![1]);
  }

  /** The process id of the pane's shell. */
  async panePid(): Promise<number> {
    return Number((await this.tmux("display-message", "-p", "-t", TmuxSession.target, "#{pane_pid}")).trim());
  }

  /** Stops the server (the pane's processes get SIGHUP). Safe to call twice. */
  async kill(): Promise<void> {
    try {
      await this.tmux("kill-server");
    } catch {
      // already gone
    }
  }
}

/** Lines of a screen wider than `columns` (after capture with join, a wrapped line counts as one). */
export function overlongLines(screen: string, columns = 80): string[] {
  return screen.split("\n").filter((line) => [...line].length > columns);
}

// Processes and ports (Linux /proc), to check that a command leaves nothing running behind.

export interface ProcessInfo {
  pid: number;
  ppid: number;
  command: string;
}

export const HAS_PROC = existsSync("/proc/self/fd") && existsSync("/proc/net/tcp");

/** Every process on the machine, from /proc. */
export async function processes(): Promise<ProcessInfo[]> {
  const all: ProcessInfo[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const command = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").join(" ").trim();
      all.push({ pid: Number(entry), ppid, command });
    } catch {
      // exited while being read
    }
  }
  return all;
}

/** The processes below `pid` (children, their children, ...), not `pid` itself. */
export async function descendants(pid: number): Promise<ProcessInfo[]> {
  const all = await processes();
  const found: ProcessInfo[] = [];
  const parents = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const candidate of all) {
      if (parents.has(candidate.ppid) && !parents.has(candidate.pid)) {
        parents.add(candidate.pid);
        found.push(candidate);
        grew = true;
      }
    }
  }
  return found;
}

/** Whether a process with this pid and command line still runs (a reused pid with another command does not count). */
export async function stillRunning(info: ProcessInfo): Promise<boolean> {
  try {
    const command = (await readFile(`/proc/${info.pid}/cmdline`, "utf8")).split("\0").join(" ").trim();
    return command === info.command;
  } catch {
    return false;
  }
}

/** Listening TCP sockets: socket inode to port. */
async function listeningSockets(): Promise<Map<string, number>> {
  const sockets = new Map<string, number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== "0A") continue; // 0A: LISTEN
      const port = Number.parseInt(fields[1]!.split(":")[1]!, 16);
      sockets.set(fields[9]!, port);
    }
  }
  return sockets;
}

/** The TCP ports each of `pids` listens on. */
export async function listeningPorts(pids: number[]): Promise<Map<number, number[]>> {
  const sockets = await listeningSockets();
  const result = new Map<number, number[]>();
  for (const pid of pids) {
    const ports: number[] = [];
    let fds: string[] = [];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`));
        const port = match ? sockets.get(match[1]!) : undefined;
        if (port !== undefined && !ports.includes(port)) ports.push(port);
      } catch {
        // closed meanwhile
      }
    }
    result.set(pid, ports);
  }
  return result;
}

/** For each of `ports` that something listens on now, the pids that hold the listening socket. */
export async function listenersOn(ports: number[]): Promise<Map<number, number[]>> {
  const sockets = await listeningSockets();
  const inodes = new Map<string, number>();
  for (const [inode, port] of sockets) if (ports.includes(port)) inodes.set(inode, port);
  const owners = new Map<number, number[]>();
  for (const port of new Set(inodes.values())) owners.set(port, []);
  if (inodes.size === 0) return owners;
  for (const { pid } of await processes()) {
    let fds: string[] = [];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`));
        const port = match ? inodes.get(match[1]!) : undefined;
        if (port !== undefined && !owners.get(port)!.includes(pid)) owners.get(port)!.push(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return owners;
}
