// How the controller copes with many rollouts at once:
//   npx tsx bench/scale.ts [--rollouts 100,500,1000] [--prometheus] [--shards 2] [--json]
// For each size, N Deployments and Rollouts on the API emulator go through a release at the same time, with
// the real controller as a separate process (as in a cluster), over HTTP, writing real routes and statuses.
// Each rollout's plan is [setWeight 25, analysis, pause, setWeight 50, analysis, pause], then the final gate
// and the promotion; the canaries' traffic is low enough that each analysis needs several looks to pass.
// The bench resumes each manual gate as soon as its Rollout reaches it.
//
// Latency: every route write is caused by a watch event the controller received: a Deployment becoming
// ready (the canary at the first step, the new primary at the promotion) or the bench's resume command on
// the Rollout. A sample is the time from the latest such event of that rollout before the write began
// (a Deployment's as the bench's own watch received it; a command's as the emulator answered its PATCH,
// which is before its watch event) to the route write's response (the emulator's request log), so the
// controller's queue wait, its reads and its decision are all inside. Percentiles are exact, over every
// sample.
//
// Per step (a weight change: 25, 50, and the promotion's 0): the controller's route writes and GETs (of
// an object or of API discovery) over the whole release, from the emulator's request log; and the status
// writes from a step's route write to the first status that records the weight as applied (the bench's
// watch of the Rollouts), beside every status write per rollout. The controller runs with the NODE_OPTIONS
// of manifests/controller/deployment.yaml (its heap limit), as in a cluster; its CPU over the release is
// utime + stime from /proc. With --prometheus the counters come from a real Prometheus scraping one
// exporter that serves every rollout's series, and the bench reports Prometheus's queries per look
// interval (of the epoch-aligned grid the controller's shared answers are cut from) and its CPU, measured
// the same way; without it the controller scrapes the exporter itself (--scrape) and there are no queries
// to count.
//
// With --shards N the rollouts are split between N controller processes, each with its --shard-selector and
// --leader-elect (so each leads its own Lease), as manifests/components/shards installs them: rollout i goes
// to shard i mod N, the first shard's unlabelled, the others' labelled stepwise.dev/shard=b, c, ... The
// request counts are over all shards, rssMiB is the largest shard's peak, and `exclusive` says whether every
// Rollout's status was written by its own shard's process alone (user agents in the request log).
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { sendCommand } from "../src/client/actions.ts";
import type { KubeObject } from "../src/kube/client.ts";
import { Informer } from "../src/kube/informer.ts";
import { apiSource } from "../src/kube/watch-source.ts";
import { parseExposition } from "../src/metrics/exposition.ts";
import type { RequestLogEntry } from "../src/sandbox/kube-api/index.ts";
import { freePort, runPrometheus, scrapeConfig, which } from "../src/sandbox/prometheus.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  ROLLOUT_TYPE,
  ROOT,
  setImage,
  spawnController,
  started,
  startTestCluster,
} from "../test/support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../test/support/synthetic-metrics.ts";

const NS = "bench";
const STEPS = [
  { setWeight: 25 },
  { analysis: {} },
  { pause: {} },
  { setWeight: 50 },
  { analysis: {} },
  { pause: {} },
];
/** The manual gates, which the bench resumes. */
const GATES = new Set([2, 5]);
/** Weight changes per rollout: the two setWeight steps and the promotion. */
const WEIGHT_STEPS = 3;
const LOOK_MS = 5_000;
/** The profile's indicators: one ratio, whose bad and total counters one shared query reads. */
const INDICATORS = 1;
/**
 * Requests a second, and the canary answers all of them: a step's analysis passes once the canary's bad
 * rate is shown below 0.1%, which takes a few thousand requests, several 5 s looks.
 */
const CANARY_RPS = 200;
const PRIMARY_RPS = 800;
const TIMEOUT_MS = 3_600_000;

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}
const sizes = (flag("--rollouts") ?? "100").split(",").map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error("--rollouts takes sizes like 100,500,1000");
const shardCount = Number(flag("--shards") ?? "1");
if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 25)
  throw new Error("--shards takes a whole number from 1 to 25");
const json = process.argv.includes("--json");
const withPrometheus = process.argv.includes("--prometheus");
if (withPrometheus && (await which("prometheus")) === undefined)
  throw new Error("--prometheus needs the prometheus binary on PATH");

interface Result {
  rollouts: number;
  shards: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: number;
  routeWritesPerStep: number;
  statusWritesPerStep: number;
  /** Every status write over the release (phases, each analysis look's verdicts), per rollout. */
  statusWritesPerRollout: number;
  getsPerStep: number;
  /** null without --prometheus: the controller then scrapes the exporter itself, on its own timer. */
  promQueriesPerLook: number | null;
  allPromoted: boolean;
  seconds: number;
  samples: number;
  /** The controller processes' CPU time over the release (all shards together), in percent of one core. */
  controllerCpuPercent: number;
  /** Prometheus's CPU time over the release, in percent of one core. */
  prometheusCpuPercent?: number;
  /** With --shards: each shard's peak RSS, and whether each Rollout's status was written by its shard alone. */
  rssMiBPerShard?: number[];
  exclusive?: boolean;
}

/** The environment the controller's Deployment gives it that changes how it runs (its heap limit). */
const DEPLOYED_ENV: NodeJS.ProcessEnv = (() => {
  const manifest = parse(readFileSync(join(ROOT, "manifests/controller/deployment.yaml"), "utf8"));
  const env: { name: string; value?: string }[] = manifest.spec.template.spec.containers[0].env ?? [];
  const nodeOptions = env.find((e) => e.name === "NODE_OPTIONS")?.value;
  if (!nodeOptions) throw new Error("manifests/controller/deployment.yaml sets no NODE_OPTIONS");
  return { NODE_OPTIONS: nodeOptions };
})();

const SHARD_LABEL = "stepwise.dev/shard";

/** A controller process acting on part of the rollouts; `label` undefined for the first (unlabelled) shard. */
interface Shard {
  label?: string;
  selector?: string;
}

/** The shards of --shards N: one without a selector for N = 1; else as manifests/components/shards has them. */
function shardsOf(count: number): Shard[] {
  if (count === 1) return [{}];
  const labels = Array.from({ length: count - 1 }, (_, i) => String.fromCharCode("b".charCodeAt(0) + i));
  const rest =
    labels.length === 1 ? `${SHARD_LABEL}!=${labels[0]}` : `${SHARD_LABEL} notin (${labels.join(",")})`;
  return [{ selector: rest }, ...labels.map((label) => ({ label, selector: `${SHARD_LABEL}=${label}` }))];
}

/** The shard process's user agent, as `rollout controller` sets it (hostname-pid). */
const agentOf = (child: ChildProcess) => `stepwise-controller/${hostname()}-${child.pid}`;

/** Who wrote each Rollout's status: the user agents of its successful status writes. */
function statusWriters(entries: readonly RequestLogEntry[], into: Map<string, Set<string>>): void {
  for (const entry of entries) {
    if (entry.resource !== "rollouts" || entry.subresource !== "status" || entry.verb === "get") continue;
    if (entry.status >= 300 || !entry.userAgent.startsWith("stepwise-controller/")) continue;
    const writers = into.get(entry.name ?? "") ?? new Set<string>();
    writers.add(entry.userAgent);
    into.set(entry.name ?? "", writers);
  }
}

/** The exact q-quantile of the samples (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks: USER_HZ is 100 on Linux
}

/** The pid of the prometheus listening on `url` (its command line names the address). */
function prometheusPid(url: string): number {
  const address = `--web.listen-address=${new URL(url).host}`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(address)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no process runs ${address}`);
}

async function prometheusQueries(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return parseExposition(text)
    .filter((s) => s.name === "prometheus_http_requests_total" && s.labels.handler === "/api/v1/query")
    .reduce((sum, s) => sum + s.value, 0);
}

async function run(size: number): Promise<Result> {
  const cluster = await startTestCluster(
    { requestLogSize: 5_000_000, controllers: { deployments: { delayMs: 200 }, garbageCollector: true } },
    NS,
  );
  const metrics = new SyntheticIstioMetrics();
  const exporter = await serveMetrics(metrics);
  const prometheus = withPrometheus
    ? await runPrometheus({ config: scrapeConfig([new URL(exporter.url).host], "2s") })
    : undefined;
  await cluster.client.create(fastProfile("fast-availability", NS));
  const names = Array.from({ length: size }, (_, i) => `app-${i}`);
  const shards = shardsOf(shardCount);
  const shardOf = (name: string) => shards[names.indexOf(name) % shards.length]!;
  for (const name of names) {
    metrics.set(NS, name, CANARY_RPS, 0);
    metrics.set(NS, `${name}-primary`, PRIMARY_RPS, 0.001);
    await cluster.client.create(deployment(name, NS, "app:1", 1));
    const rollout = canaryRollout(name, NS, STEPS, {
      analysis: { interval: `${LOOK_MS / 1000}s`, profiles: [{ name: "fast-availability" }] },
      progressDeadlineSeconds: 3600,
    });
    const { label } = shardOf(name);
    if (label) rollout.metadata.labels = { ...rollout.metadata.labels, [SHARD_LABEL]: label };
    await cluster.client.create(rollout);
  }

  // What the bench sees: the last trigger per rollout, its phase, the gates it resumed.
  const triggers = new Map<string, number[]>();
  /** Each status a rollout's watch showed during the release, and whether it records the applied weight. */
  const statusVersions = new Map<string, { at: number; recordsWeight: boolean }[]>();
  const trigger = (name: string, at: number) => triggers.set(name, [...(triggers.get(name) ?? []), at]);
  const phases = new Map<string, string>();
  const resumed = new Set<string>();
  const ready = new Map<string, boolean>();
  let releasing = false;
  const deployments = new Informer<KubeObject>(apiSource(cluster.client, "apps/v1", "Deployment", NS));
  deployments.on((_type, object) => {
    const d = object as unknown as {
      metadata: { name: string; generation?: number };
      spec: { replicas?: number };
      status?: { readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
    };
    const replicas = d.spec.replicas ?? 1;
    const isReady =
      (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
      (d.status?.readyReplicas ?? 0) >= replicas &&
      (d.status?.updatedReplicas ?? 0) >= replicas;
    const was = ready.get(d.metadata.name) ?? false;
    ready.set(d.metadata.name, isReady);
    if (releasing && isReady && !was) trigger(d.metadata.name.replace(/-primary$/, ""), Date.now());
  });
  const rollouts = new Informer<KubeObject>(
    apiSource(cluster.client, ROLLOUT_TYPE.apiVersion, ROLLOUT_TYPE.kind, NS),
  );
  const statusSeen = new Map<string, string>();
  rollouts.on((_type, object) => {
    const status = (object.status ?? {}) as {
      phase?: string;
      step?: number;
      revision?: string;
      weights?: { desired?: number; applied?: number };
    };
    const name = object.metadata.name;
    phases.set(name, status.phase ?? "");
    const text = JSON.stringify(status);
    if (releasing && statusSeen.get(name) !== text) {
      const versions = statusVersions.get(name) ?? [];
      versions.push({ at: Date.now(), recordsWeight: status.weights?.applied === status.weights?.desired });
      statusVersions.set(name, versions);
    }
    statusSeen.set(name, text);
    const gate = `${name}/${status.step}`;
    if (releasing && status.phase === "Paused" && GATES.has(status.step ?? -1) && !resumed.has(gate)) {
      resumed.add(gate);
      // its time is the emulator's response to it, from the request log (see below)
      void sendCommand(cluster.client, { namespace: NS, name }, { type: "resume" });
    }
  });
  await Promise.all([deployments.start(), rollouts.start()]);

  const children = new Map<Shard, ChildProcess>();
  for (const shard of shards) {
    const child = spawnController(
      [
        "--kubeconfig",
        cluster.kubeconfig,
        "-n",
        NS,
        ...(prometheus ? ["--prometheus", prometheus.url] : ["--scrape", exporter.url]),
        "--metrics-addr",
        `127.0.0.1:${await freePort()}`,
        "--workers",
        "16",
        "--qps",
        "500",
        "--burst",
        "1000",
        ...(shard.selector ? ["--shard-selector", shard.selector, "--leader-elect"] : []),
      ],
      DEPLOYED_ENV,
    );
    await started(child);
    child.stderr?.resume();
    children.set(shard, child);
  }
  const waitAll = async (phase: string) => {
    const deadline = Date.now() + TIMEOUT_MS;
    let said = Date.now();
    while (names.some((name) => phases.get(name) !== phase) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (Date.now() - said < 10_000) continue;
      said = Date.now();
      const counts: Record<string, number> = {};
      for (const name of names)
        counts[phases.get(name) || "none"] = (counts[phases.get(name) || "none"] ?? 0) + 1;
      const stuck = rollouts.list().find((r) => phases.get(r.metadata.name) !== phase);
      const where = stuck && { name: stuck.metadata.name, ...(stuck.status as object) };
      process.stderr.write(
        `${size} rollouts, waiting for ${phase}: ${JSON.stringify(counts)}; e.g. ${JSON.stringify(where ?? {}).slice(0, 400)}\n`,
      );
    }
    return names.every((name) => phases.get(name) === phase);
  };
  if (!(await waitAll("Idle"))) throw new Error("the rollouts did not all become Idle");

  const writers = new Map<string, Set<string>>();
  statusWriters(cluster.api.requestLog.all(), writers); // the bootstrap's, before the log is cleared
  cluster.api.requestLog.clear();
  const queriesBefore = prometheus ? await prometheusQueries(prometheus.url) : 0;
  const cpuBefore = prometheus ? cpuSeconds(prometheusPid(prometheus.url)) : 0;
  const controllerCpu = () => [...children.values()].reduce((sum, child) => sum + cpuSeconds(child.pid!), 0);
  const controllerCpuBefore = controllerCpu();
  releasing = true;
  const begun = Date.now();
  for (const name of names) await setImage(cluster.client, NS, name, "app:2");
  const allPromoted = await waitAll("Succeeded");
  const ended = Date.now();
  const seconds = (ended - begun) / 1000;
  // Shared answers are per slot of half a look interval, slots cut from the epoch: the look intervals of
  // that grid the release touched, a partial one at either end counting as one.
  const lookIntervals = Math.floor(ended / LOOK_MS) - Math.floor(begun / LOOK_MS) + 1;
  const promQueries = prometheus ? (await prometheusQueries(prometheus.url)) - queriesBefore : undefined;
  const controllerCpuPercent = (100 * (controllerCpu() - controllerCpuBefore)) / seconds;
  const prometheusCpuPercent = prometheus
    ? (100 * (cpuSeconds(prometheusPid(prometheus.url)) - cpuBefore)) / seconds
    : undefined;

  const controllerRequests = cluster.api.requestLog
    .all()
    .filter((entry) => entry.userAgent.startsWith("stepwise-controller/"));
  const routeWrites = controllerRequests.filter(
    (entry) => entry.resource === "virtualservices" && ["patch", "update"].includes(entry.verb),
  );
  const statusWrites = controllerRequests.filter(
    (entry) => entry.resource === "rollouts" && entry.subresource === "status" && entry.verb !== "get",
  );
  // reads of one object or of API discovery; lists and watches are the informers', and leader election's
  // Lease reads (--shards) are not a step's
  const gets = controllerRequests.filter(
    (entry) =>
      entry.method === "GET" &&
      entry.verb !== "list" &&
      entry.verb !== "watch" &&
      entry.resource !== "leases",
  );
  // A weight step's status writes: from its route write to the first status that records the weight as
  // applied (a controller that wrote the desired weight first and the applied one on its next tick made two).
  const stepStatusWrites = routeWrites.map((write, index) => {
    const end = Date.parse(write.time);
    const next = routeWrites.slice(index + 1).find((w) => w.name === write.name);
    const until = next ? Date.parse(next.time) - next.durationMs : Number.POSITIVE_INFINITY;
    const after = (statusVersions.get(write.name ?? "") ?? []).filter((v) => v.at >= end && v.at < until);
    const recorded = after.findIndex((v) => v.recordsWeight);
    return recorded === -1 ? after.length : recorded + 1;
  });
  statusWriters(controllerRequests, writers);
  const exclusive = names.every((name) => {
    const agents = [...(writers.get(name) ?? [])];
    return agents.length === 1 && agents[0] === agentOf(children.get(shardOf(name))!);
  });
  for (const command of cluster.api.requestLog.all({
    userAgent: "test",
    verb: "patch",
    resource: "rollouts",
  }))
    if (command.subresource === undefined) trigger(command.name ?? "", Date.parse(command.time));
  for (const list of triggers.values()) list.sort((a, b) => a - b);
  const latencies: number[] = [];
  for (const write of routeWrites) {
    const end = Date.parse(write.time);
    const start = end - write.durationMs;
    const cause = (triggers.get(write.name ?? "") ?? []).filter((at) => at <= start).at(-1);
    if (cause !== undefined) latencies.push(end - cause);
  }
  latencies.sort((a, b) => a - b);
  const peakRss = [...children.values()].map(
    (child) =>
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024,
  );
  for (const child of children.values()) child.kill("SIGTERM");
  await Promise.all([...children.values()].map(exited));
  deployments.stop();
  rollouts.stop();
  await prometheus?.stop();
  await exporter.close();
  await cluster.close();
  const steps = size * WEIGHT_STEPS;
  return {
    rollouts: size,
    shards: shards.length,
    p50Ms: Math.round(quantile(latencies, 0.5)),
    p99Ms: Math.round(quantile(latencies, 0.99)),
    rssMiB: Math.round(Math.max(...peakRss)),
    routeWritesPerStep: round2(routeWrites.length / steps),
    statusWritesPerStep: round2(stepStatusWrites.reduce((sum, n) => sum + n, 0) / routeWrites.length),
    statusWritesPerRollout: round2(statusWrites.length / size),
    getsPerStep: round2(gets.length / steps),
    promQueriesPerLook: promQueries === undefined ? null : round2(promQueries / lookIntervals),
    allPromoted,
    seconds: Math.round(seconds),
    controllerCpuPercent: round2(controllerCpuPercent),
    samples: latencies.length,
    ...(prometheusCpuPercent === undefined ? {} : { prometheusCpuPercent: round2(prometheusCpuPercent) }),
    ...(shards.length > 1 ? { rssMiBPerShard: peakRss.map(Math.round), exclusive } : {}),
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The issue's targets at 1,000 rollouts, checked against a result; each miss says by how much. */
function misses(r: Result): string[] {
  const checks: [boolean, string][] = [
    [r.p99Ms <= 250, `p99 ${r.p99Ms} ms > 250 ms`],
    [r.rssMiB <= 256, `RSS ${r.rssMiB} MiB > 256 MiB`],
    [r.routeWritesPerStep === 1, `route writes per step ${r.routeWritesPerStep} != 1`],
    [r.statusWritesPerStep <= 1, `status writes per step ${r.statusWritesPerStep} > 1`],
    [r.getsPerStep === 0, `GETs per step ${r.getsPerStep} != 0`],
    [
      r.promQueriesPerLook === null || r.promQueriesPerLook <= 2 * INDICATORS,
      `Prometheus queries per look ${r.promQueriesPerLook} > ${2 * INDICATORS}`,
    ],
    [r.allPromoted, "not every rollout promoted"],
    [r.exclusive !== false, "a Rollout's status was written by another shard than its own, or by two"],
  ];
  return checks.filter(([met]) => !met).map(([, why]) => why);
}

const results: Result[] = [];
if (!json) {
  console.log(
    "| rollouts | all promoted in | trigger -> route write p50 | p99 | samples | route writes / step | status writes / step | GETs / step | queries / look | controller peak RSS | controller CPU |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}
for (const size of [...sizes].sort((a, b) => a - b)) {
  const r = await run(size);
  results.push(r);
  if (!json) {
    console.log(
      `| ${r.rollouts} | ${r.allPromoted ? "" : "NOT ALL "}${r.seconds} s | ${r.p50Ms} ms | ${r.p99Ms} ms | ${r.samples} | ${r.routeWritesPerStep} | ${r.statusWritesPerStep} | ${r.getsPerStep} | ${r.promQueriesPerLook ?? "-"}${r.prometheusCpuPercent === undefined ? "" : ` (Prometheus CPU ${r.prometheusCpuPercent}%)`} | ${r.rssMiB} MiB${r.rssMiBPerShard ? ` (per shard ${r.rssMiBPerShard.join(", ")}; statuses by their own shard only: ${r.exclusive})` : ""} | ${r.controllerCpuPercent}% |`,
    );
  }
}
const largest = results.at(-1)!;
const missed = misses(largest);
const targets = `targets at ${largest.rollouts} rollouts (the issue's are for 1,000): ${missed.length === 0 ? "met" : `not met: ${missed.join("; ")}`}`;
if (json) {
  console.log(targets);
  for (const r of results) console.log(JSON.stringify(r));
} else console.log(`\n${targets}`);
