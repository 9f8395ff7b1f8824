import { access, readFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import {
  type ArgValue,
  indicatorQueries,
  ProfileError,
  resolveProfiles,
} from "../../src/analysis/profiles.ts";
import {
  alphaShares,
  combine,
  errorVerdict,
  evaluate,
  type Verdict,
  type VerdictKind,
} from "../../src/analysis/verdict.ts";
import { parseDuration } from "../../src/api/duration.ts";
import { METRIC_PROVIDERS, type MetricProvider, type SLOProfile } from "../../src/api/slo-profile.ts";
import { countsOver, sampleTimes } from "../../src/metrics/collect.ts";
import { PrometheusProvider, tokenFromFile } from "../../src/metrics/prometheus.ts";
import { ProviderError } from "../../src/metrics/types.ts";
import { EXIT } from "../exit-codes.ts";

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function time(text: string): number {
  const ms = Date.parse(text);
  if (!RFC3339.test(text) || Number.isNaN(ms)) {
    throw new InvalidArgumentError("must be an RFC 3339 time such as 2025-03-01T12:00:00Z");
  }
  return ms;
}

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms === 0)
    throw new InvalidArgumentError("must be a duration such as 30s, 1m or 1h30m");
  return ms;
}

function count(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new InvalidArgumentError("must be a whole number");
  return value;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function argPair(text: string, previous: Record<string, ArgValue> = {}): Record<string, ArgValue> {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(text);
  if (!match) throw new InvalidArgumentError("must be name=value, e.g. thresholdMs=300");
  const [, name, raw] = match as unknown as [string, string, string];
  const value: ArgValue = /^-?\d+(\.\d+)?$/.test(raw)
    ? Number(raw)
    : raw === "true"
      ? true
      : raw === "false"
        ? false
        : raw;
  return { ...previous, [name]: value };
}

function header(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([A-Za-z0-9-]+)\s*[:=]\s*(.*)$/.exec(text);
  if (!match) throw new InvalidArgumentError("must be Name: value or Name=value");
  return { ...previous, [match[1]!]: match[2]! };
}

interface AnalyzeOptions {
  prometheus: string;
  provider: MetricProvider;
  namespace: string;
  canary: string;
  baseline: string;
  canaryService?: string;
  baselineService?: string;
  profile: string[];
  arg?: Record<string, ArgValue>;
  start: number;
  end: number;
  step: number;
  output: "text" | "json";
  bearerTokenFile?: string;
  username?: string;
  passwordFile?: string;
  header?: Record<string, string>;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  timeout: number;
  retries: number;
}

/** A problem with the command line or a profile: reported in one line, exit 2. */
class UsageError extends Error {}

const EXIT_FOR: Record<VerdictKind, number> = {
  Pass: EXIT.ok,
  Fail: EXIT.failed,
  Inconclusive: EXIT.timedOut,
  NoData: EXIT.timedOut,
  Error: EXIT.unreachable,
};

async function readable(path: string, what: string): Promise<void> {
  try {
    await access(path);
  } catch (error) {
    throw new UsageError(
      `${what} ${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}

async function provider(options: AnalyzeOptions): Promise<PrometheusProvider> {
  if (options.bearerTokenFile) await readable(options.bearerTokenFile, "--bearer-token-file");
  if (options.caFile) await readable(options.caFile, "--ca-file");
  if ((options.username === undefined) !== (options.passwordFile === undefined)) {
    throw new UsageError("--username and --password-file go together");
  }
  let basicAuth: { username: string; password: string } | undefined;
  if (options.username !== undefined && options.passwordFile !== undefined) {
    await readable(options.passwordFile, "--password-file");
    basicAuth = {
      username: options.username,
      password: (await readFile(options.passwordFile, "utf8")).trim(),
    };
  }
  try {
    return new PrometheusProvider({
      url: options.prometheus,
      bearerToken: options.bearerTokenFile ? tokenFromFile(options.bearerTokenFile) : undefined,
      basicAuth,
      headers: options.header,
      ca: options.caFile ? await readFile(options.caFile) : undefined,
      insecureSkipVerify: options.insecureSkipTlsVerify,
      timeoutMs: options.timeout,
      retries: options.retries,
    });
  } catch (error) {
    if (error instanceof ProviderError) throw new UsageError(`--prometheus: ${error.message}`);
    throw error;
  }
}

function argsFor(profile: SLOProfile, args: Record<string, ArgValue>): Record<string, ArgValue> {
  const declared = new Set(Object.keys(profile.spec.args ?? {}));
  return Object.fromEntries(Object.entries(args).filter(([name]) => declared.has(name)));
}

async function run(options: AnalyzeOptions): Promise<{ overall: VerdictKind; verdicts: Verdict[] }> {
  if (options.end <= options.start) throw new UsageError("--end must be after --start");
  let profiles: SLOProfile[];
  try {
    profiles = await resolveProfiles(options.profile);
  } catch (error) {
    if (error instanceof ProfileError) throw new UsageError(error.message);
    throw error;
  }
  const args = options.arg ?? {};
  for (const name of Object.keys(args)) {
    if (!profiles.some((profile) => profile.spec.args?.[name] !== undefined)) {
      throw new UsageError(`--arg ${name}: no selected profile takes an arg named ${name}`);
    }
  }
  const plans = profiles.map((profile) => {
    try {
      const given = argsFor(profile, args);
      const queries = indicatorQueries(
        profile,
        options.provider,
        {
          canary: {
            namespace: options.namespace,
            workload: options.canary,
            service: options.canaryService ?? options.canary,
          },
          baseline: {
            namespace: options.namespace,
            workload: options.baseline,
            service: options.baselineService ?? options.baseline,
          },
        },
        given,
      );
      return { profile, queries };
    } catch (error) {
      if (error instanceof ProfileError) throw new UsageError(error.message);
      throw error;
    }
  });
  const prometheus = await provider(options);
  const times = sampleTimes(options.start, options.end, options.step);
  const shares = alphaShares(profiles);
  const verdicts = await Promise.all(
    plans.map(async ({ profile, queries }, index) => {
      const context = { now: options.end, stepStartedAt: options.start, alpha: shares[index], queries };
      try {
        const [canary, baseline] = await Promise.all([
          countsOver(prometheus, queries.canary, times),
          countsOver(prometheus, queries.baseline, times),
        ]);
        return evaluate(profile, { canary, baseline }, context);
      } catch (error) {
        if (error instanceof ProviderError) return errorVerdict(profile, error.message, context);
        throw error;
      }
    }),
  );
  return { overall: combine(verdicts), verdicts };
}

function printText(options: AnalyzeOptions, overall: VerdictKind, verdicts: Verdict[]): void {
  const start = new Date(options.start).toISOString();
  const end = new Date(options.end).toISOString();
  console.log(
    `${options.namespace}/${options.canary} against ${options.namespace}/${options.baseline} (${options.provider}), ${start} to ${end}`,
  );
  for (const verdict of verdicts) {
    const advisory = verdict.critical ? "" : " (not critical)";
    console.log(`${verdict.profile}: ${verdict.verdict}${advisory}`);
    console.log(`  ${verdict.evidence}`);
  }
  console.log(`overall: ${overall}`);
}

/** `rollout analyze`: judges SLO profiles once over a time window of a Prometheus, for CI and for trying profiles. */
export function analyzeCommand(): Command {
  return new Command("analyze")
    .description(
      "judge SLO profiles once for a canary against a baseline over a time window of Prometheus data",
    )
    .addHelpText(
      "after",
      "\nExit codes: 0 every critical profile passes, 1 one fails, 3 inconclusive or no data,\n2 bad arguments or an invalid profile, 5 Prometheus unreachable or answering with an error.",
    )
    .requiredOption("--prometheus <url>", "Prometheus base URL, e.g. http://prometheus.monitoring:9090")
    .addOption(
      new Option("--provider <mesh>", "whose metrics to read")
        .choices(METRIC_PROVIDERS)
        .makeOptionMandatory(),
    )
    .requiredOption("--namespace <namespace>", "namespace of both workloads")
    .requiredOption("--canary <workload>", "the canary workload (Deployment name)")
    .requiredOption(
      "--baseline <workload>",
      "the baseline workload, serving the stable version at the same time",
    )
    .option("--canary-service <name>", "the canary's Service, for {{service}} (default: the canary workload)")
    .option(
      "--baseline-service <name>",
      "the baseline's Service, for {{service}} (default: the baseline workload)",
    )
    .requiredOption(
      "--profile <name|file>",
      "a built-in profile name or a YAML file of SLOProfiles (repeatable)",
      collect,
    )
    .option(
      "--arg <name=value>",
      "a profile arg, e.g. thresholdMs=300, for every profile that declares it (repeatable)",
      argPair,
    )
    .requiredOption("--start <time>", "RFC 3339 start of the window (the step's start)", time)
    .requiredOption("--end <time>", "RFC 3339 end of the window (the look)", time)
    .addOption(
      new Option(
        "--step <duration>",
        "how often counters are sampled between start and end, to catch counter resets",
      )
        .argParser(duration)
        .default(60_000, "1m"),
    )
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
    .option(
      "--bearer-token-file <path>",
      "file holding a bearer token for Prometheus (read on every request)",
    )
    .option("--username <name>", "basic-auth user name (with --password-file)")
    .option("--password-file <path>", "file holding the basic-auth password")
    .option("--header <name: value>", "extra request header (repeatable)", header)
    .option("--ca-file <path>", "PEM CA bundle to trust for an https Prometheus")
    .option("--insecure-skip-tls-verify", "do not verify Prometheus's TLS certificate")
    .addOption(
      new Option("--timeout <duration>", "per-request timeout").argParser(duration).default(10_000, "10s"),
    )
    .option("--retries <n>", "retries of a failed request, with backoff", count, 2)
    .action(async (options: AnalyzeOptions) => {
      try {
        const { overall, verdicts } = await run(options);
        if (options.output === "json") {
          const document = {
            verdict: overall,
            provider: options.provider,
            namespace: options.namespace,
            canary: options.canary,
            baseline: options.baseline,
            range: { start: new Date(options.start).toISOString(), end: new Date(options.end).toISOString() },
            profiles: verdicts,
          };
          console.log(JSON.stringify(document, null, 2));
        } else printText(options, overall, verdicts);
        if (overall === "Error") {
          for (const verdict of verdicts.filter((v) => v.verdict === "Error"))
            console.error(`error: ${verdict.reason}`);
        }
        process.exitCode = EXIT_FOR[overall];
      } catch (error) {
        if (error instanceof UsageError) {
          console.error(`error: ${error.message}`);
          process.exitCode = EXIT.invalidInput;
          return;
        }
        console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = EXIT.invalidInput;
      }
    });
}
