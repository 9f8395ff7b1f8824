/**
 * A real Prometheus (the Debian `prometheus` package) over blocks made by `promtool tsdb
 * create-blocks-from openmetrics`, listening on a free loopback port.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type RunningPrometheus, runPrometheus } from "../../../src/sandbox/prometheus.ts";

export { freePort, type RunningPrometheus, which } from "../../../src/sandbox/prometheus.ts";

const run = promisify(execFile);

/**
 * Writes the OpenMetrics text, turns it into TSDB blocks and serves them. The samples must lie in the recent
 * past: within the retention (set to 30 days here) and before now, and Prometheus must not scrape anything
 * (an empty scrape configuration), so no head data can overlap the blocks.
 */
export async function startPrometheus(openMetricsText: string): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-blocks-"));
  const data = join(dir, "data");
  await writeFile(join(dir, "metrics.om"), openMetricsText);
  await run("promtool", ["tsdb", "create-blocks-from", "openmetrics", join(dir, "metrics.om"), data], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const prometheus = await runPrometheus({
    config: "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
    dataDir: data,
    retention: "30d",
  }).catch(async (error) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    url: prometheus.url,
    async stop() {
      await prometheus.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
