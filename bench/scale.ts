// How the controller copes with many rollouts at once: `npx tsx bench/scale.ts [--sizes 100,500,1000]`.
// For each size, N Deployments and Rollouts on the API emulator go through a release at the same time,
// with the controller as a separate process (as in a cluster). Prints, per size: the time for all to be
// promoted, p50/p99 from a decision to its route write (the controller's own histogram), API requests
// per rollout step (the emulator's request log), and the controller's peak RSS.
import { readFileSync } from "node:fs";
import { parseExposition } from "../src/metrics/exposition.ts";
import { freePort } from "../src/sandbox/prometheus.ts";
import {
  canaryRollout,
  deployment,
  exited,
  fastProfile,
  setImage,
  spawnController,
  started,
  startTestCluster,
  statusOf,
} from "../test/support/cluster.ts";
import { SyntheticIstioMetrics, serveMetrics } from "../test/support/synthetic-metrics.ts";

const NS = "bench";
const STEPS = [{ setWeight: 25 }, { setWeight: 50 }];
const sizesArg = process.argv.indexOf("--sizes");
const sizes = (sizesArg > 0 ? process.argv[sizesArg + 1]! : "100,500,1000").split(",").map(Number);

/** A quantile from a Prometheus histogram's cumulative buckets, interpolated within the bucket. */
function quantile(buckets: { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  const rank = q * total;
  let previous = { le: 0, count: 0 };
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return previous.le;
      const share =
        bucket.count === previous.count ? 0 : (rank - previous.count) / (bucket.count - previous.count);
      return previous.le + share * (bucket.le - previous.le);
    }
    previous = bucket;
  }
  return previous.le;
}

async function waitAll(
  names: string[],
  done: (name: string) => Promise<boolean>,
  what: string,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(names);
  while (pending.size > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.size} rollouts did not reach ${what}`);
    for (const name of [...pending]) if (await done(name)) pending.delete(name);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function run(size: number) {
  const cluster = await startTestCluster(
    { requestLogSize: 2_000_000, controllers: { deployments: { delayMs: 200 }, garbageCollector: true } },
    NS,
  );
  const metrics = new SyntheticIstioMetrics();
  const metricsServer = await serveMetrics(metrics);
  await cluster.client.create(fastProfile("fast-availability", NS));
  const names = Array.from({ length: size }, (_, i) => `app-${i}`);
  for (const name of names) {
    metrics.set(NS, name, 2_000, 0.001);
    metrics.set(NS, `${name}-primary`, 8_000, 0.001);
    await cluster.client.create(deployment(name, NS, "app:1", 1));
    await cluster.client.create(
      canaryRollout(name, NS, STEPS, {
        analysis: { interval: "5s", profiles: [{ name: "fast-availability" }] },
        progressDeadlineSeconds: 1800,
      }),
    );
  }
  const metricsPort = await freePort();
  const child = spawnController([
    "--kubeconfig",
    cluster.kubeconfig,
    "-n",
    NS,
    "--scrape",
    metricsServer.url,
    "--metrics-addr",
    `127.0.0.1:${metricsPort}`,
    "--workers",
    "16",
    "--qps",
    "500",
    "--burst",
    "1000",
  ]);
  await started(child);
  child.stderr?.resume();
  const phase = (name: string) => statusOf(cluster.client, NS, name).then((s) => s.phase);
  await waitAll(names, async (n) => (await phase(n)) === "Idle", "Idle", 1_800_000);
  cluster.api.requestLog.clear();
  const begun = Date.now();
  for (const name of names) await setImage(cluster.client, NS, name, "app:2");
  await waitAll(names, async (n) => (await phase(n)) === "Succeeded", "Succeeded", 1_800_000);
  const seconds = (Date.now() - begun) / 1000;

  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const buckets = parseExposition(text)
    .filter((s) => s.name === "stepwise_effect_latency_seconds_bucket" && s.labels.effect === "setWeight")
    .map((s) => ({
      le: s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le),
      count: s.value,
    }))
    .sort((a, b) => a.le - b.le);
  const requests = cluster.api.requestLog
    .all()
    .filter((e) => e.userAgent.startsWith("stepwise-controller/")).length;
  // steps per rollout: its setWeight steps, the final gate, the promotion
  const stepsPerRollout = STEPS.length + 2;
  const peakRss =
    Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  child.kill("SIGTERM");
  await exited(child);
  await metricsServer.close();
  await cluster.close();
  return {
    size,
    seconds,
    p50: quantile(buckets, 0.5) * 1000,
    p99: quantile(buckets, 0.99) * 1000,
    requestsPerStep: requests / (size * stepsPerRollout),
    peakRss,
  };
}

console.log(
  "| rollouts | all promoted in | decision -> route write p50 | p99 | API requests per rollout step | controller peak RSS |",
);
console.log("|---:|---:|---:|---:|---:|---:|");
for (const size of sizes) {
  const r = await run(size);
  console.log(
    `| ${r.size} | ${r.seconds.toFixed(0)} s | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.requestsPerStep.toFixed(1)} | ${r.peakRss.toFixed(0)} MiB |`,
  );
}
