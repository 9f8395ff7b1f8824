// Start-up of the compiled CLI against bare Node, and an idle controller's memory.
// Run with `npx tsx bench/startup.ts [--runs N] [--only startup|rss] [--json]` (builds dist/ first when it
// is missing). Each command runs as a whole process, N times after one warm-up, alternating with
// `node -e 0` so a drift of the machine's speed hits both alike; the median of the per-pair ratios is what
// the target is judged on. The idle controller is the compiled `rollout controller` (with leader election)
// against the API emulator with the CRDs and no rollouts: once it has become the leader, and IDLE_MS later,
// its RSS is read from /proc. The target (issue 18, on an idle machine): `--help`, `--version` and
// `lint FILE` within 5x of bare node; an idle controller at most 100 MiB RSS. On a shared machine, read
// the ratios, not the times. `--json` prints one object with every figure and whether each target is met.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestCluster } from "../test/support/cluster.ts";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist/cli/main.js");
const runsFlag = process.argv.indexOf("--runs");
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 10;
const onlyFlag = process.argv.indexOf("--only");
const ONLY = onlyFlag > 0 ? process.argv[onlyFlag + 1] : undefined;
if (ONLY !== undefined && ONLY !== "startup" && ONLY !== "rss") {
  console.error(`--only ${ONLY}: expected startup or rss`);
  process.exit(2);
}
const JSON_OUTPUT = process.argv.includes("--json");
/** Progress and figures as text, unless --json asked for one object at the end. */
const say = (line: string) => {
  if (!JSON_OUTPUT) console.log(line);
};
const RATIO_TARGET = 5;
const RSS_TARGET_MIB = 100;
/** How long the controller idles (its informers synced, nothing to do) before its RSS is read. */
const IDLE_MS = 10_000;

if (!existsSync(CLI)) {
  console.error("building dist/ (npm run build)");
  const build = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (build.status !== 0) process.exit(1);
}

/** Wall time of one run of `node ARGS`, in milliseconds; the command must exit 0. */
function wallMs(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0)
    throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return ms;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const BARE = ["-e", "0"];
const COMMANDS: [string, string[]][] = [
  ["rollout --help", [CLI, "--help"]],
  ["rollout --version", [CLI, "--version"]],
  ["rollout lint FILE", [CLI, "lint", "slo-profiles/http-latency.yaml"]],
];

/** Each command's median time and median ratio to bare node. */
function startup(): { name: string; ms: number; bareMs: number; ratio: number }[] {
  say(`start-up, ${RUNS} runs each after a warm-up, alternating with bare \`node -e 0\` (medians)`);
  const rows: { name: string; ms: number; bareMs: number; ratio: number }[] = [];
  for (const [name, args] of COMMANDS) {
    wallMs(BARE);
    wallMs(args);
    const times: number[] = [];
    const bare: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const b = wallMs(BARE);
      const t = wallMs(args);
      bare.push(b);
      times.push(t);
      ratios.push(t / b);
    }
    rows.push({ name, ms: median(times), bareMs: median(bare), ratio: median(ratios) });
  }
  for (const row of rows)
    say(
      `  ${row.name.padEnd(20)} ${row.ms.toFixed(0).padStart(5)} ms   bare node ${row.bareMs.toFixed(0).padStart(4)} ms   ratio ${row.ratio.toFixed(2)}x`,
    );
  return rows;
}

/** Resident set size of a process, from /proc (Linux), in MiB. */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kb / 1024;
}

/**
 * An idle controller's RSS in MiB: the compiled CLI against the API emulator with the CRDs, no rollouts.
 * `metrics` is where it reads SLIs: Prometheus as deployed (manifests/; never asked, with no rollouts, but
 * its client is loaded) or the built-in scraper as the sandbox runs it.
 */
async function idleControllerRss(metrics: "prometheus" | "scrape"): Promise<number> {
  const cluster = await startTestCluster();
  const dir = await mkdtemp(join(tmpdir(), "stepwise-startup-bench-"));
  const controller = spawn(
    process.execPath,
    [
      CLI,
      "controller",
      "--all-namespaces",
      "--kubeconfig",
      cluster.kubeconfig,
      ...(metrics === "scrape"
        ? ["--scrape", "http://127.0.0.1:9/metrics"]
        : ["--prometheus", "http://127.0.0.1:9"]),
      "--metrics-addr",
      "127.0.0.1:0",
      "--leader-elect",
      "--leader-election-namespace",
      cluster.namespace,
      "--log-level",
      "info",
    ],
    { cwd: dir, env: { ...process.env, NODE_ENV: "production" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      // the logger writes to stderr; leading means its informers are synced and it would act
      let log = "";
      controller.stderr.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('"msg":"became the leader"')) resolve();
      });
      controller.on("exit", (code) => reject(new Error(`the controller exited ${code}: ${log}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return rssMiB(controller.pid!);
  } finally {
    controller.kill("SIGTERM");
    await new Promise((resolve) => controller.once("exit", resolve));
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const rows = ONLY === "rss" ? [] : startup();
// the target is judged as deployed (reading Prometheus); the sandbox's scraping controller is shown too
const rss = ONLY === "startup" ? undefined : await idleControllerRss("prometheus");
const rssScraping = ONLY === "startup" ? undefined : await idleControllerRss("scrape");
if (rss !== undefined && rssScraping !== undefined) {
  say(`idle controller (leading, ${IDLE_MS / 1000} s after, no rollouts), RSS:`);
  say(`  reading Prometheus (as deployed)  ${rss.toFixed(0)} MiB`);
  say(`  scraping /metrics (the sandbox)   ${rssScraping.toFixed(0)} MiB`);
}

const ratiosMet = ONLY === "rss" ? undefined : rows.every((row) => row.ratio <= RATIO_TARGET);
const rssMet = rss === undefined ? undefined : rss <= RSS_TARGET_MIB;
const met = ratiosMet !== false && rssMet !== false;
if (JSON_OUTPUT) {
  console.log(
    JSON.stringify({
      runs: RUNS,
      startup: rows,
      ratioTarget: RATIO_TARGET,
      ratiosMet,
      idleControllerRssMiB: rss,
      idleScrapingControllerRssMiB: rssScraping,
      rssTargetMiB: RSS_TARGET_MIB,
      rssMet,
      met,
    }),
  );
} else {
  const parts = [
    ratiosMet === undefined
      ? undefined
      : `start-up within ${RATIO_TARGET}x of bare node: ${ratiosMet ? "yes" : "no"}`,
    rssMet === undefined
      ? undefined
      : `idle controller reading Prometheus <= ${RSS_TARGET_MIB} MiB: ${rssMet ? "yes" : "no"}`,
  ].filter((part) => part !== undefined);
  console.log(`targets met: ${met ? "yes" : "no"} (${parts.join("; ")})`);
}
