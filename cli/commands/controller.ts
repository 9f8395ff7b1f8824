import { hostname } from "node:os";
import { Command, Option } from "commander";
import { loadBuiltInProfiles } from "../../src/analysis/profiles.ts";
import { formatDuration, parseDuration } from "../../src/api/duration.ts";
import { clusterProfileLookup, ProfileAnalysis } from "../../src/controller/analysis.ts";
import { leaseName, startController } from "../../src/controller/controller.ts";
import { type KubeClient, KubeNotFoundError, type KubeObject } from "../../src/kube/client.ts";
import { EventRecorder } from "../../src/kube/events.ts";
import { Informer } from "../../src/kube/informer.ts";
import { LabelSelectorError, labelMatcher } from "../../src/kube/label-selector.ts";
import { DEFAULT_TIMING, invalidTiming, type LeaderElectionTiming } from "../../src/kube/leader-election.ts";
import { TokenBucket } from "../../src/kube/rate-limit.ts";
import { apiSource } from "../../src/kube/watch-source.ts";
import { ScrapingProvider } from "../../src/metrics/scrape.ts";
import type { MetricsProvider } from "../../src/metrics/types.ts";
import { createRouter } from "../../src/routers/index.ts";
import { createLogger, LOG_LEVELS, type LogLevel } from "../../src/telemetry/logger.ts";
import { ControllerMetrics } from "../../src/telemetry/metrics.ts";
import { startTelemetryServer } from "../../src/telemetry/server.ts";
import { ownerOf } from "../../src/workloads/workloads.ts";
import { EXIT } from "../exit-codes.ts";
import { clientFrom } from "../kube-options.ts";
import { CliError, type KubeOptions, numberFlag, runCli, withKubeOptions } from "../options.ts";
import { installCrdsCommand, requireStepwiseApi } from "../stepwise-api.ts";

interface ControllerFlags extends KubeOptions {
  allNamespaces?: boolean;
  prometheus?: string;
  prometheusTokenFile?: string;
  scrape?: string;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  metricsAddr: string;
  logLevel: LogLevel;
  workers: string;
  qps: string;
  burst: string;
  shardSelector?: string;
  printLeaseName?: boolean;
}

/** SLOProfile objects in the cluster first, then the built-in profiles shipped in slo-profiles/. */
async function profileLookup(client: KubeClient, namespace: string | undefined) {
  const builtIn = await loadBuiltInProfiles();
  const cluster = new Informer<KubeObject>(
    apiSource(client, "stepwise.dev/v1alpha1", "SLOProfile", namespace),
  );
  try {
    await cluster.start();
  } catch {
    // SLOProfile CRD not installed: built-in profiles only
  }
  // An invalid SLOProfile is reported with a Warning Event on it, never replaced by a built-in profile.
  const events = new EventRecorder(client);
  return {
    lookup: clusterProfileLookup(
      builtIn,
      (ns, name) => cluster.get(ns, name),
      (object, message) => void events.record(object, "InvalidSLOProfile", message, true).catch(() => {}),
    ),
    stop: () => cluster.stop(),
  };
}

const TIMING_FLAGS: Record<keyof LeaderElectionTiming, string> = {
  leaseDurationMs: "--leader-elect-lease-duration",
  renewDeadlineMs: "--leader-elect-renew-deadline",
  retryPeriodMs: "--leader-elect-retry-period",
};

/** --shard-selector as the API server would read it; a selector it would refuse is exit 2 at start. */
function shardSelectorFlag(selector: string | undefined): string | undefined {
  if (selector === undefined) return undefined;
  try {
    labelMatcher(selector);
  } catch (error) {
    if (error instanceof LabelSelectorError)
      throw new CliError(`--shard-selector ${selector}: ${error.message}`, EXIT.invalidInput);
    throw error;
  }
  return selector.trim() === "" ? undefined : selector;
}

/** The three lease durations, each a duration such as 10s, in client-go's order (exit 2 otherwise). */
function leaderElectionTiming(flags: ControllerFlags): LeaderElectionTiming {
  const duration = (flag: string, text: string) => {
    const ms = parseDuration(text.trim());
    if (ms === undefined || ms <= 0)
      throw new CliError(`${flag} ${text}: expected a duration such as 10s or 1m`, EXIT.invalidInput);
    return ms;
  };
  const timing = {
    leaseDurationMs: duration(TIMING_FLAGS.leaseDurationMs, flags.leaderElectLeaseDuration),
    renewDeadlineMs: duration(TIMING_FLAGS.renewDeadlineMs, flags.leaderElectRenewDeadline),
    retryPeriodMs: duration(TIMING_FLAGS.retryPeriodMs, flags.leaderElectRetryPeriod),
  };
  const bad = invalidTiming(timing);
  if (bad === "renewDeadlineMs")
    throw new CliError(
      `${TIMING_FLAGS.renewDeadlineMs} ${flags.leaderElectRenewDeadline}: must be shorter than ${TIMING_FLAGS.leaseDurationMs} (${flags.leaderElectLeaseDuration})`,
      EXIT.invalidInput,
    );
  if (bad === "retryPeriodMs")
    throw new CliError(
      `${TIMING_FLAGS.retryPeriodMs} ${flags.leaderElectRetryPeriod}: must be shorter than ${TIMING_FLAGS.renewDeadlineMs} (${flags.leaderElectRenewDeadline})`,
      EXIT.invalidInput,
    );
  return timing;
}

async function metricsProvider(flags: ControllerFlags): Promise<MetricsProvider & { stop?(): void }> {
  if (flags.prometheus && flags.scrape)
    throw new CliError("give --prometheus or --scrape, not both", EXIT.invalidInput);
  if (flags.scrape) {
    const scraper = new ScrapingProvider(flags.scrape);
    await scraper.start();
    return scraper;
  }
  if (!flags.prometheus)
    throw new CliError("--prometheus URL (or --scrape URL) is required", EXIT.invalidInput);
  // the Prometheus client (prometheus-query, axios) loads only for a controller that reads Prometheus
  const { PrometheusProvider, tokenFromFile } = await import("../../src/metrics/prometheus.ts");
  return new PrometheusProvider({
    url: flags.prometheus,
    ...(flags.prometheusTokenFile ? { bearerToken: tokenFromFile(flags.prometheusTokenFile) } : {}),
  });
}

/** `rollout controller`: the long-running controller. */
export function controllerCommand(): Command {
  return withKubeOptions(
    new Command("controller")
      .description("run the controller: watch Rollouts and move them through their steps")
      .option("-A, --all-namespaces", "watch every namespace (default: only --namespace)")
      .option("--prometheus <url>", "Prometheus to read SLIs from")
      .option("--prometheus-token-file <file>", "bearer token for Prometheus, re-read as it changes")
      .option(
        "--scrape <url>",
        "read SLIs by scraping this /metrics endpoint instead of Prometheus (sandbox)",
      )
      .option("--leader-elect", "elect one active replica with a Lease (for several replicas)")
      .option("--leader-election-namespace <ns>", "namespace of the Lease (default: the watched namespace)")
      .option(
        `${TIMING_FLAGS.leaseDurationMs} <duration>`,
        "how long a standby waits after it last saw the Lease change before taking it",
        formatDuration(DEFAULT_TIMING.leaseDurationMs),
      )
      .option(
        `${TIMING_FLAGS.renewDeadlineMs} <duration>`,
        "how long the leader keeps writing without a successful renew (< lease duration)",
        formatDuration(DEFAULT_TIMING.renewDeadlineMs),
      )
      .option(
        `${TIMING_FLAGS.retryPeriodMs} <duration>`,
        "how often the leader renews and a standby tries to acquire (< renew deadline)",
        formatDuration(DEFAULT_TIMING.retryPeriodMs),
      )
      .option("--metrics-addr <addr>", "serve /metrics, /healthz and /readyz here", ":9090")
      .addOption(new Option("--log-level <level>", "log level").choices([...LOG_LEVELS]).default("info"))
      .option(
        "--shard-selector <selector>",
        "act only on Rollouts with matching labels (e.g. stepwise.dev/shard=b); each shard elects its own leader",
      )
      .option(
        "--print-lease-name",
        "print the name of the Lease of --shard-selector's shard (for the leader-election Role) and exit",
      )
      .option("--workers <n>", "rollouts reconciled at once", "4")
      .option("--qps <n>", "Kubernetes API requests per second, on average", "50")
      .option("--burst <n>", "Kubernetes API requests at once before --qps applies", "100"),
  ).action((flags: ControllerFlags) =>
    runCli(async () => {
      const shardSelector = shardSelectorFlag(flags.shardSelector);
      if (flags.printLeaseName) {
        console.log(leaseName(shardSelector));
        return EXIT.ok;
      }
      const wholeAtLeastOne = (n: number) => Number.isInteger(n) && n >= 1;
      const workers = numberFlag("--workers", flags.workers, wholeAtLeastOne, "a whole number >= 1");
      const qps = numberFlag("--qps", flags.qps, (n) => n > 0, "a positive number");
      const burst = numberFlag("--burst", flags.burst, wholeAtLeastOne, "a whole number >= 1");
      const timing = leaderElectionTiming(flags);
      // One identity for the Lease and the User-Agent, so the API server's logs tell replicas apart.
      const identity = `${hostname()}-${process.pid}`;
      const metrics = new ControllerMetrics();
      const { client, namespace } = clientFrom(flags, "stepwise-controller", {
        userAgent: `stepwise-controller/${identity}`,
        limiter: new TokenBucket(qps, burst),
        onResponse: (verb, code) => metrics.apiRequests.inc({ verb, code: String(code) }),
      });
      await requireStepwiseApi(client);
      const watched = flags.allNamespaces ? undefined : namespace;
      const logger = createLogger(flags.logLevel);
      const provider = await metricsProvider(flags);
      const profiles = await profileLookup(client, watched);
      const controller = await startController({
        client,
        namespace: watched,
        analysis: new ProfileAnalysis(provider, profiles.lookup),
        routerFor: (rollout, reads) => createRouter(rollout, client, { owner: ownerOf(rollout), reads }),
        logger,
        metrics,
        workers,
        ...(shardSelector ? { shardSelector } : {}),
        ...(flags.leaderElect
          ? {
              leaderElection: {
                namespace: flags.leaderElectionNamespace ?? namespace,
                identity,
                ...timing,
              },
            }
          : {}),
      }).catch((error: unknown) => {
        if (error instanceof KubeNotFoundError) {
          throw new CliError(
            `the cluster does not serve Stepwise's API (${error.serverMessage}); install the CRDs with ${installCrdsCommand()}`,
            EXIT.unreachable,
          );
        }
        throw error;
      });
      const telemetry = await startTelemetryServer(flags.metricsAddr, metrics.registry, controller.ready);
      logger.info(
        { namespace: watched ?? "(all)", metrics: telemetry.url, sli: provider.description },
        "controller started",
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      logger.info("stopping");
      await controller.stop();
      profiles.stop();
      provider.stop?.();
      await telemetry.close();
      return EXIT.ok;
    }),
  );
}
