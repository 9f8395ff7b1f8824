// Time to detect a bad canary: Stepwise's sequential gate against the fixed-threshold gate in common use.
// Run: npx tsx bench/time-to-detect.ts [--runs N] [--seed S]
//
// A run is one canary step, simulated look by look:
//   - the canary serves `rps` requests a second (Poisson), the baseline nine times as many (the canary has
//     10% of the traffic); the baseline's requests fail with probability 0.1%, the canary's with its rate;
//   - every 15 s a look reads the cumulative counts of both since the step began;
//   - the step ends at the gate's first decision (roll back or promote) or after 10 minutes without one
//     ("undecided": the canary is neither promoted nor rolled back by the gate).
// Both gates judge the same simulated requests in every run (common random numbers), so the comparison is
// paired. The PRNG is seeded: the output is the same on every run.
//
// Gates:
//   fixed      every minute, the success rate of that minute's canary requests must be >= 99%; a minute
//              below it, or without requests ("no data"), is a failed check; 5 failed checks roll back; the
//              canary is promoted after 10 checks (10 minutes) with fewer than 5 failures.
//   stepwise   the built-in http-availability profile as shipped (compare both, tolerance 1%, alpha 0.05,
//              2x the baseline fails, pass within 1% and 4x the baseline, 30 s warm-up, 50 requests minimum),
//              evaluated at every look: Fail rolls back, Pass promotes.
//   stepwise/lenient  the same without passRatio: Pass needs only the bound under 1% and no lean towards
//              a regression; shows what requiring "within 4x of the baseline" costs and buys.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { binomial, poisson, type Random, seededRandom } from "../src/analysis/random.ts";
import { evaluate } from "../src/analysis/verdict.ts";
import { parseSLOProfile, type SLOProfile } from "../src/api/slo-profile.ts";

const LOOK_SECONDS = 15;
const MAX_SECONDS = 600;
const LOOKS = MAX_SECONDS / LOOK_SECONDS;
const BASELINE_RATE = 0.001;
const BASELINE_MULTIPLE = 9;
const CANARY_RATES = [0.05, 0.01, 0.005, 0.001];
const RPS = [1, 10, 100];

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  return value;
}
const RUNS = option("--runs", 3000);
const SEED = option("--seed", 20250301);

/** Per look: the requests and bad requests of the canary and the baseline in that look. */
interface Look {
  canaryTotal: number;
  canaryBad: number;
  baselineTotal: number;
  baselineBad: number;
}

function stream(random: Random, rps: number, canaryRate: number): Look[] {
  const looks: Look[] = [];
  for (let i = 0; i < LOOKS; i++) {
    const canaryTotal = poisson(random, rps * LOOK_SECONDS);
    const baselineTotal = poisson(random, rps * BASELINE_MULTIPLE * LOOK_SECONDS);
    looks.push({
      canaryTotal,
      canaryBad: binomial(random, canaryTotal, canaryRate),
      baselineTotal,
      baselineBad: binomial(random, baselineTotal, BASELINE_RATE),
    });
  }
  return looks;
}

type Outcome = { decision: "rollback" | "promote" | "undecided"; seconds: number };
type Gate = (looks: readonly Look[]) => Outcome;

const fixedThreshold: Gate = (looks) => {
  let failed = 0;
  const perMinute = 60 / LOOK_SECONDS;
  for (let minute = 1; minute <= MAX_SECONDS / 60; minute++) {
    const window = looks.slice((minute - 1) * perMinute, minute * perMinute);
    const total = window.reduce((sum, look) => sum + look.canaryTotal, 0);
    const bad = window.reduce((sum, look) => sum + look.canaryBad, 0);
    if (total === 0 || (total - bad) / total < 0.99) failed++;
    if (failed >= 5) return { decision: "rollback", seconds: minute * 60 };
  }
  return { decision: "promote", seconds: MAX_SECONDS };
};

function sequentialGate(profile: SLOProfile): Gate {
  return (looks) => {
    const canary = { bad: 0, total: 0 };
    const baseline = { bad: 0, total: 0 };
    for (let i = 0; i < looks.length; i++) {
      const look = looks[i]!;
      canary.bad += look.canaryBad;
      canary.total += look.canaryTotal;
      baseline.bad += look.baselineBad;
      baseline.total += look.baselineTotal;
      const seconds = (i + 1) * LOOK_SECONDS;
      const verdict = evaluate(profile, { canary, baseline }, { now: seconds * 1000, stepStartedAt: 0 });
      if (verdict.verdict === "Fail") return { decision: "rollback", seconds };
      if (verdict.verdict === "Pass") return { decision: "promote", seconds };
    }
    return { decision: "undecided", seconds: MAX_SECONDS };
  };
}

function loadProfile(
  edit: (document: { spec: { gate: Record<string, unknown> } }) => void = () => {},
): SLOProfile {
  const path = join(import.meta.dirname, "..", "slo-profiles", "http-availability.yaml");
  const document = parse(readFileSync(path, "utf8"));
  edit(document);
  const parsed = parseSLOProfile(document);
  if (!parsed.ok) throw new Error(`${path}: ${JSON.stringify(parsed.errors)}`);
  return parsed.value;
}

const GATES: [string, Gate][] = [
  ["fixed", fixedThreshold],
  ["stepwise", sequentialGate(loadProfile())],
  ["stepwise/lenient", sequentialGate(loadProfile((d) => (d.spec.gate.baseline = { maxRatio: 2 })))],
];

interface Tally {
  rollbacks: number[];
  promotions: number[];
  undecided: number;
}

/** The median over all runs, a run without the event counting as later than any (so > 10 min if half lack it). */
function median(times: number[], runs: number): number | undefined {
  if (times.length * 2 <= runs) return undefined;
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.ceil(runs / 2) - 1];
}

function clock(seconds: number | undefined): string {
  if (seconds === undefined) return ">10m";
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return minutes === 0 ? `${rest}s` : `${minutes}m${String(rest).padStart(2, "0")}s`;
}

const pct = (count: number) => `${((100 * count) / RUNS).toFixed(1)}%`;

const began = performance.now();
const rows: string[][] = [];
const results = new Map<string, Tally>();
let cell = 0;
for (const rps of RPS) {
  for (const rate of CANARY_RATES) {
    cell++;
    const random = seededRandom(SEED * 100 + cell);
    const tallies = GATES.map((): Tally => ({ rollbacks: [], promotions: [], undecided: 0 }));
    for (let run = 0; run < RUNS; run++) {
      const looks = stream(random, rps, rate);
      GATES.forEach(([, gate], index) => {
        const outcome = gate(looks);
        const tally = tallies[index]!;
        if (outcome.decision === "rollback") tally.rollbacks.push(outcome.seconds);
        else if (outcome.decision === "promote") tally.promotions.push(outcome.seconds);
        else tally.undecided++;
      });
    }
    GATES.forEach(([name], index) => {
      const tally = tallies[index]!;
      results.set(`${rps}/${rate}/${name}`, tally);
      rows.push([
        `${(rate * 100).toFixed(1)}%${rate === BASELINE_RATE ? " (healthy)" : ""}`,
        String(rps),
        name,
        pct(tally.rollbacks.length),
        clock(median(tally.rollbacks, RUNS)),
        pct(tally.promotions.length),
        clock(median(tally.promotions, RUNS)),
        pct(tally.undecided),
      ]);
    });
  }
}

const header = [
  "canary errors",
  "rps",
  "gate",
  "rolled back",
  "median to roll back",
  "promoted",
  "median to promote",
  "undecided",
];
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column]!.length)),
);
const line = (cells: string[]) =>
  `| ${cells.map((text, column) => text.padEnd(widths[column]!)).join(" | ")} |`;
console.log(
  `Time to detect: ${RUNS} runs per cell, seed ${SEED}, baseline 0.1% errors with 9x the canary's traffic,`,
);
console.log(
  "looks every 15 s, a run ends at the first decision or after 10 minutes. rps = canary requests/s.",
);
console.log("Medians are over all runs (a run without that decision counts as later than 10 minutes).\n");
console.log(line(header));
console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));

// The targets for Stepwise's gate at 10 rps.
const at10 = (rate: number) => results.get(`10/${rate}/stepwise`)!;
const checks: [string, boolean][] = [
  [
    "5% canary rolled back in a median of 30 s or less",
    (median(at10(0.05).rollbacks, RUNS) ?? Infinity) <= 30,
  ],
  [
    "1% canary rolled back in a median of 2 min or less, in at least 95% of runs",
    (median(at10(0.01).rollbacks, RUNS) ?? Infinity) <= 120 && at10(0.01).rollbacks.length >= 0.95 * RUNS,
  ],
  ["healthy canary rolled back in at most 1% of runs", at10(0.001).rollbacks.length <= 0.01 * RUNS],
];
console.log("\nTargets for stepwise at 10 rps:");
for (const [text, met] of checks) console.log(`  ${met ? "met    " : "MISSED "} ${text}`);
console.log(`\n(${((performance.now() - began) / 1000).toFixed(1)} s)`);
