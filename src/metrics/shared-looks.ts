/**
 * One query per counter per look for all rollouts: a rollout's look reads its series from an answer to the
 * shared query (see SharedQuery in analysis/profiles.ts) that another rollout's look fetched a moment ago,
 * or fetches one that the next looks reuse. So Prometheus sees at most two queries per shared query per
 * look interval, however many rollouts look.
 */
import type { SharedQuery } from "../analysis/profiles.ts";
import { type LabelMatcher, matches } from "./selector.ts";
import type { CounterSample, MetricsProvider } from "./types.ts";

interface Answer {
  /** The time the query was evaluated at (ms since the epoch). */
  at: number;
  samples: Promise<CounterSample[]>;
  /** The samples by the values of a set of labels, built on first use for each set. */
  index: Map<string, Map<string, CounterSample[]>>;
}

/** An answer older than the newest one by more than this many times the longest age asked for is dropped. */
const KEEP_AGES = 2;

export class SharedLooks {
  /** By shared query text, oldest first. */
  private readonly answers = new Map<string, Answer[]>();
  private longestAgeMs = 0;

  constructor(private readonly provider: MetricsProvider) {}

  /**
   * The samples of the query's own series at `at`, read from an answer to its shared query evaluated in
   * (at - maxAgeMs, at]: never later than `at` (a look never sees the future, and a rollout's looks read
   * answers in time order), at most maxAgeMs old. Without one, queries at `at`.
   */
  async read(query: SharedQuery, at: number, maxAgeMs: number): Promise<CounterSample[]> {
    this.longestAgeMs = Math.max(this.longestAgeMs, maxAgeMs);
    const answer = this.answerFor(query.shared, at, maxAgeMs);
    const samples = await answer.samples;
    return pick(answer, samples, query.own);
  }

  private answerFor(shared: string, at: number, maxAgeMs: number): Answer {
    const list = this.answers.get(shared) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const answer = list[i]!;
      if (answer.at <= at && answer.at > at - maxAgeMs) return answer;
    }
    const answer: Answer = { at, samples: this.provider.queryCounts(shared, at), index: new Map() };
    // A failed query is not kept: the next look asks again.
    answer.samples.catch(() => {
      const current = this.answers.get(shared);
      const position = current?.indexOf(answer) ?? -1;
      if (position >= 0) current!.splice(position, 1);
    });
    const position = list.findIndex((other) => other.at > at);
    list.splice(position < 0 ? list.length : position, 0, answer);
    const newest = list.at(-1)!.at;
    const kept = list.filter((other) => other.at >= newest - KEEP_AGES * this.longestAgeMs);
    this.answers.set(shared, kept);
    return answer;
  }
}

/** The samples that satisfy every matcher, through an index on the labels the equality matchers name. */
function pick(answer: Answer, samples: CounterSample[], own: readonly LabelMatcher[]): CounterSample[] {
  const equal = own.filter((matcher) => matcher.op === "=");
  const rest = own.filter((matcher) => matcher.op !== "=");
  let candidates = samples;
  if (equal.length > 0) {
    const labels = equal.map((matcher) => matcher.label);
    const indexKey = JSON.stringify(labels);
    let index = answer.index.get(indexKey);
    if (!index) {
      index = new Map();
      for (const sample of samples) {
        const key = JSON.stringify(labels.map((label) => sample.labels[label] ?? ""));
        const bucket = index.get(key);
        if (bucket) bucket.push(sample);
        else index.set(key, [sample]);
      }
      answer.index.set(indexKey, index);
    }
    candidates = index.get(JSON.stringify(equal.map((matcher) => matcher.value))) ?? [];
  }
  return candidates.filter((sample) => rest.every((matcher) => matches(sample.labels, matcher)));
}
