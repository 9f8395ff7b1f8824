// Time to detect a bad canary, and what the gate promises over a whole rollout: Stepwise's sequential gate
// against Flagger's fixed-threshold gate.
// Run: npx tsx bench/time-to-detect.ts [--runs N] [--seed S] [--json]
//
// A run is one rollout, simulated look by look (src/analysis/simulate.ts):
//   - the canary serves `rps` requests a second (Poisson) at every step, the baseline nine times as many;
//     the baseline's requests fail with probability 0.1%, the canary's with its rate;
//   - the plan is [setWeight 10, pause 2m, setWeight 50, pause 2m] and then the final gate, which waits up
//     to 10 minutes for a Pass: five judged windows, so each gets a fifth of the false-failure budget;
//   - every 15 s a look reads the counts since its step began, from Prometheus scrapes every 15 s (a random
//     phase per run, so the counts lag the look by 0 to 10 s); in 20% of the windows the canary's counters
//     restart once, losing what they counted since the last look;
//   - the run ends at a Fail (rolled back), a Pass of the final gate (promoted), or the final gate's 10
//     minutes without one (undecided: the rollout pauses for a person).
//
// Gates:
//   flagger   Flagger's analysis as it runs: every minute (interval 1m) it first rolls back when 5 checks
//             have failed (threshold 5), then checks the last minute's success rate against 99% (a minute
//             without requests fails too) and counts a failure, which is acted on at the next tick; it
//             promotes after 10 checks with fewer than 5 failures.
//   stepwise  the built-in http-availability profile as shipped (compare both, tolerance 1%, alpha 0.05,
//             Fail above 2x the baseline, Pass within 2x and under 1%, warm-up 30 s or 500 requests).
//
// The PRNG is seeded: the output is the same on every run. With --json the last line is one JSON object
// with the headline figures.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { binomial, poisson, type Random, seededRandom } from "../src/analysis/random.ts";
import { type RolloutOutcome, simulateRollout, type Window } from "../src/analysis/simulate.ts";
import { parseSLOProfile, type SLOProfile } from "../src/api/slo-profile.ts";

const BASELINE_RATE = 0.001;
const BASELINE_MULTIPLE = 9;
const CANARY_RATES = [0.05, 0.01, 0.005, 0.002, 0.001];
const RPS = [10, 100];
const PLAN_STEPS = 4;
const WINDOWS: Window[] = [
  { durationMs: 120_000, pass: false },
  { durationMs: 120_000, pass: false },
  { durationMs: 600_000, pass: true },
];
const HANDS_OFF_MS = 600_000;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  return value;
}
const RUNS = option("--runs", 3000);
const SEED = option("--seed", 20250301);
const JSON_OUTPUT = process.argv.includes("--json");

/** Flagger's canary analysis: interval 1m, threshold 5, success rate >= 99%, 10 iterations. */
function flagger(random: Random, rps: number, canaryRate: number): RolloutOutcome {
  let failedChecks = 0;
  let failedServed = 0;
  for (let tick = 1; tick <= 10; tick++) {
    // A failure recorded at one tick rolls back at the next, before any other check.
    if (failedChecks >= 5) return { decision: "rollback", elapsedMs: tick * 60_000, failedServed };
    const total = poisson(random, rps * 60);
    const bad = binomial(random, total, canaryRate);
    failedServed += bad;
    if (total === 0 || (total - bad) / total < 0.99) failedChecks++;
  }
  if (failedChecks >= 5) return { decision: "rollback", elapsedMs: 11 * 60_000, failedServed };
  return { decision: "promote", elapsedMs: 10 * 60_000, failedServed };
}

function loadProfile(): SLOProfile {
  const path = join(import.meta.dirname, "..", "slo-profiles", "http-availability.yaml");
  const parsed = parseSLOProfile(parse(readFileSync(path, "utf8")));
  if (!parsed.ok) throw new Error(`${path}: ${JSON.stringify(parsed.errors)}`);
  return parsed.value;
}
const profile = loadProfile();

type Gate = (random: Random, rps: number, canaryRate: number) => RolloutOutcome;
const GATES: [string, Gate][] = [
  ["flagger", flagger],
  [
    "stepwise",
    (random, rps, canaryRate) =>
      simulateRollout(random, {
        profile,
        canaryRps: rps,
        baselineMultiple: BASELINE_MULTIPLE,
        canaryRate,
        baselineRate: BASELINE_RATE,
        windows: WINDOWS,
        planSteps: PLAN_STEPS,
        lookMs: 15_000,
        scrapeMs: 15_000,
        restartChance: 0.2,
      }),
  ],
];

interface Tally {
  rollbacks: number[];
  promotions: number[];
  failedBeforeRollback: number[];
  undecided: number;
}

/** The median over all runs, a run without the event counting as later than any (undefined if half lack it). */
function median(values: readonly number[], runs: number): number | undefined {
  if (values.length * 2 <= runs) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(runs / 2) - 1];
}

function clock(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const seconds = Math.round(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return minutes === 0 ? `${rest}s` : `${minutes}m${String(rest).padStart(2, "0")}s`;
}

const percent = (count: number) => (100 * count) / RUNS;
const pct = (count: number) => `${percent(count).toFixed(1)}%`;

const began = performance.now();
const rows: string[][] = [];
const results = new Map<string, Tally>();
let cell = 0;
for (const rps of RPS) {
  for (const rate of CANARY_RATES) {
    for (const [name, gate] of GATES) {
      cell++;
      const random = seededRandom(SEED * 100 + cell);
      const tally: Tally = { rollbacks: [], promotions: [], failedBeforeRollback: [], undecided: 0 };
      for (let run = 0; run < RUNS; run++) {
        const outcome = gate(random, rps, rate);
        if (outcome.decision === "rollback") {
          tally.rollbacks.push(outcome.elapsedMs);
          tally.failedBeforeRollback.push(outcome.failedServed);
        } else if (outcome.decision === "promote") tally.promotions.push(outcome.elapsedMs);
        else tally.undecided++;
      }
      results.set(`${rps}/${rate}/${name}`, tally);
      const failed = median(tally.failedBeforeRollback, RUNS);
      rows.push([
        `${(rate * 100).toFixed(1)}%${rate === BASELINE_RATE ? " (healthy)" : rate === 2 * BASELINE_RATE ? " (2x)" : ""}`,
        String(rps),
        name,
        pct(tally.rollbacks.length),
        clock(median(tally.rollbacks, RUNS)),
        failed === undefined ? "-" : String(failed),
        pct(tally.promotions.length),
        pct(tally.promotions.filter((ms) => ms <= HANDS_OFF_MS).length),
        clock(median(tally.promotions, RUNS)),
        pct(tally.undecided),
      ]);
    }
  }
}

const header = [
  "canary errors",
  "rps",
  "gate",
  "rolled back",
  "median to roll back",
  "failed served (median)",
  "promoted",
  "promoted <= 10m",
  "median to promote",
  "undecided",
];
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column]!.length)),
);
const line = (cells: string[]) =>
  `| ${cells.map((text, column) => text.padEnd(widths[column]!)).join(" | ")} |`;
console.log(
  `Time to detect: ${RUNS} runs per cell, seed ${SEED}; baseline 0.1% errors with 9x the canary's traffic;`,
);
console.log(
  "plan [setWeight 10, pause 2m, setWeight 50, pause 2m] + final gate (up to 10m); looks every 15 s on",
);
console.log("15 s scrapes, 20% of windows with a canary counter restart. rps = canary requests/s.");
console.log(
  "Medians are over all runs ('-' when fewer than half made that decision); times from readiness.\n",
);
console.log(line(header));
console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));

// The headline figures and the targets of issue 16, computed from the table's tallies.
const tally = (rps: number, rate: number, gate = "stepwise") => results.get(`${rps}/${rate}/${gate}`)!;
const worst = (values: number[]) => Math.max(...values);
const medianMs = (rps: number, gate: string) => median(tally(rps, 0.05, gate).rollbacks, RUNS) ?? Infinity;
const figures = {
  detect5MedianS: worst(RPS.map((rps) => medianMs(rps, "stepwise"))) / 1000,
  fixedMedianS: worst(RPS.map((rps) => medianMs(rps, "flagger"))) / 1000,
  ratio: 0,
  healthyFalseRollbackPct: worst(RPS.map((rps) => percent(tally(rps, BASELINE_RATE).rollbacks.length))),
  regression2xPromotedPct: worst(RPS.map((rps) => percent(tally(rps, 2 * BASELINE_RATE).promotions.length))),
  failedBeforeRollback100rps: median(tally(100, 0.05).failedBeforeRollback, RUNS) ?? Infinity,
  healthyPromotedPct100rps: percent(
    tally(100, BASELINE_RATE).promotions.filter((ms) => ms <= HANDS_OFF_MS).length,
  ),
};
figures.ratio = Number((figures.fixedMedianS / figures.detect5MedianS).toFixed(2));

const targets: [string, boolean][] = [
  [
    `healthy canaries rolled back in at most 1% of runs over the whole rollout (worst: ${figures.healthyFalseRollbackPct.toFixed(2)}%)`,
    figures.healthyFalseRollbackPct <= 1,
  ],
  [
    `a 2x regression (0.2%) promoted in at most 5% of runs (worst: ${figures.regression2xPromotedPct.toFixed(2)}%)`,
    figures.regression2xPromotedPct <= 5,
  ],
  [
    `a 5% canary stopped in a median of at most 30 s (worst: ${figures.detect5MedianS} s; flagger ${figures.fixedMedianS} s, ${figures.ratio}x slower)`,
    figures.detect5MedianS <= 30,
  ],
  [
    `at most 100 failed requests served before rollback, 5% canary at 100 rps, median (${figures.failedBeforeRollback100rps})`,
    figures.failedBeforeRollback100rps <= 100,
  ],
  [
    `healthy canaries promoted hands-off within 10 minutes in at least 90% of runs at 100 rps (${figures.healthyPromotedPct100rps.toFixed(1)}%)`,
    figures.healthyPromotedPct100rps >= 90,
  ],
];
console.log("\nTargets for stepwise, at 10 and 100 rps:");
for (const [text, met] of targets) console.log(`  ${met ? "met    " : "MISSED "} ${text}`);
console.log(`\n(${((performance.now() - began) / 1000).toFixed(1)} s)`);
if (JSON_OUTPUT) console.log(JSON.stringify(figures));
