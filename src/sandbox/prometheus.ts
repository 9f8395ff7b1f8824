import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The path of an executable on PATH, or undefined. */
export async function which(command: string): Promise<string | undefined> {
  try {
    const { stdout } = await run("sh", ["-c", `command -v ${command}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningPrometheus {
  url: string;
  stop(): Promise<void>;
}

export interface PrometheusRun {
  /** prometheus.yml text. */
  config: string;
  /** TSDB directory; a fresh one in the working directory when omitted. */
  dataDir?: string;
  retention?: string;
}

/**
 * A real Prometheus (the `prometheus` binary on PATH) on a free loopback port, in a temporary working
 * directory that `stop()` removes; resolves once it answers /-/ready.
 */
export async function runPrometheus(options: PrometheusRun): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-prometheus-"));
  await writeFile(join(dir, "prometheus.yml"), options.config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${options.dataDir ?? join(dir, "data")}`,
      `--storage.tsdb.retention.time=${options.retention ?? "1d"}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  // If this process dies without stop(), Prometheus must not outlive it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready within 30 s: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, stop };
}

/** A configuration that scrapes `targets` (host:port, /metrics) every `interval`. */
export function scrapeConfig(targets: string[], interval = "2s"): string {
  return [
    "global:",
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    "scrape_configs:",
    "  - job_name: mesh",
    `    static_configs: [{targets: ${JSON.stringify(targets)}}]`,
    "",
  ].join("\n");
}
