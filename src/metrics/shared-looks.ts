/**
 * One query per counter per look for all rollouts: a rollout's look reads its series from the answer to the
 * shared query (see SharedQuery in analysis/profiles.ts) for the time slot it falls in, which the first
 * look in that slot fetched. With slots of half the look interval Prometheus sees at most two queries per
 * shared query per interval, however many rollouts look and whenever their steps start.
 */
import type { SharedQuery } from "../analysis/profiles.ts";
import { type LabelMatcher, matches } from "./selector.ts";
import type { CounterSample, MetricsProvider } from "./types.ts";

interface Answer {
  samples: Promise<CounterSample[]>;
  /** The samples by the values of a set of labels, built on first use for each set. */
  index: Map<string, Map<string, CounterSample[]>>;
  /** When a look last read it (wall clock, ms). */
  usedAt: number;
}

/** An answer no look has read for this many times the longest slot is dropped. */
const KEEP_SLOTS = 4;

export class SharedLooks {
  /** By shared query text, then by the slot's start time. */
  private readonly answers = new Map<string, Map<number, Answer>>();
  private longestSlotMs = 0;
  private prunedAt = 0;

  constructor(
    private readonly provider: MetricsProvider,
    private readonly wallMs: () => number = Date.now,
  ) {}

  /**
   * The samples of the query's own series at `at`, read from the answer to its shared query at the start
   * of the slot `at` falls in (time cut into slots of `slotMs` from the epoch): never later than `at`, less
   * than slotMs before it. Every look in one slot reads the same answer, and a look one slot or more later
   * reads a newer one. A step's start reads through readStart.
   */
  async read(query: SharedQuery, at: number, slotMs: number): Promise<CounterSample[]> {
    this.longestSlotMs = Math.max(this.longestSlotMs, slotMs);
    const answer = this.answerFor(query.shared, Math.floor(at / slotMs) * slotMs);
    const samples = await answer.samples;
    return pick(answer, samples, query.own);
  }

  /**
   * When a step that began at `since` can first be read: the start of the first slot at or after it. A
   * step's counts start there, so that they never include requests from before it (routed at another
   * weight, or before a chaos step's fault), at the cost of up to one slot of the step's own.
   */
  startSlot(since: number, slotMs: number): number {
    return Math.ceil(since / slotMs) * slotMs;
  }

  /** Whether the slot a step that began at `since` starts its counts at has begun (see startSlot). */
  startBegun(since: number, slotMs: number): boolean {
    return this.startSlot(since, slotMs) <= this.wallMs();
  }

  /** The samples at the start of a step that began at `since`: the answer of its start slot, once begun. */
  async readStart(query: SharedQuery, since: number, slotMs: number): Promise<CounterSample[]> {
    if (!this.startBegun(since, slotMs)) throw new RangeError("the step's start slot has not begun");
    this.longestSlotMs = Math.max(this.longestSlotMs, slotMs);
    const answer = this.answerFor(query.shared, this.startSlot(since, slotMs));
    return pick(answer, await answer.samples, query.own);
  }

  private answerFor(shared: string, slotAt: number): Answer {
    const now = this.wallMs();
    this.prune(now);
    let slots = this.answers.get(shared);
    if (!slots) {
      slots = new Map();
      this.answers.set(shared, slots);
    }
    const known = slots.get(slotAt);
    if (known) {
      known.usedAt = now;
      return known;
    }
    const answer: Answer = {
      samples: this.provider.queryCounts(shared, slotAt),
      index: new Map(),
      usedAt: now,
    };
    // A failed query is not kept: the next look asks again.
    answer.samples.catch(() => {
      if (slots.get(slotAt) === answer) slots.delete(slotAt);
    });
    slots.set(slotAt, answer);
    return answer;
  }

  /** Drops the answers no look has read lately (a lagging controller's step starts still find theirs). */
  private prune(now: number): void {
    if (now - this.prunedAt < this.longestSlotMs) return;
    this.prunedAt = now;
    for (const [shared, slots] of this.answers) {
      for (const [slotAt, answer] of slots)
        if (now - answer.usedAt > KEEP_SLOTS * this.longestSlotMs) slots.delete(slotAt);
      if (slots.size === 0) this.answers.delete(shared);
    }
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
