/**
 * A real Prometheus (the Debian `prometheus` package) over blocks made by `promtool tsdb
 * create-blocks-from openmetrics`, listening on a free loopback port in a temporary directory.
 */
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

/**
 * Writes the OpenMetrics text, turns it into TSDB blocks and serves them. The samples must lie in the recent
 * past: within the retention (set to 30 days here) and before now, and Prometheus must not scrape anything
 * (an empty scrape configuration), so no head data can overlap the blocks.
 */
export async function startPrometheus(openMetricsText: string): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-prometheus-"));
  const data = join(dir, "data");
  await writeFile(join(dir, "metrics.om"), openMetricsText);
  await run("promtool", ["tsdb", "create-blocks-from", "openmetrics", join(dir, "metrics.om"), data], {
    maxBuffer: 16 * 1024 * 1024,
  });
  await writeFile(join(dir, "prometheus.yml"), "global:\n  scrape_interval: 15s\nscrape_configs: []\n");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${data}`,
      "--storage.tsdb.retention.time=30d",
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const stop = async () => {
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
      const response = await fetch(`${url}/-/ready`);
      if (response.ok) break;
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
