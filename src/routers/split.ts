/**
 * The weighted-destination list every traffic API has in some form (Istio `route`, Gateway API
 * `backendRefs`, SMI `backends`, Consul `splits`), and how the controller reads and writes it: only the
 * stable, canary and fault entries and their weights; other entries are the user's and keep their place,
 * content and weight.
 */

import { WeightNotExpressibleError } from "./errors.ts";
import { describeObject } from "./model.ts";
import { asArray, asRecord, deepEqual, type PatchBuilder, pointer } from "./patch.ts";
import type { RawWeight, TrafficRecord } from "./record.ts";
import type { Role } from "./roles.ts";
import type { TrafficState } from "./traffic-router.ts";
import {
  type Allocation,
  allocate,
  isRefusal,
  type Refusal,
  type Shares,
  sharesOf,
  tidy,
  type WeightScheme,
} from "./weights.ts";

export interface SplitSite {
  /** JSON pointer of the array of weighted entries. */
  path: string;
  scheme: WeightScheme;
  /** Which destination an entry is. */
  role(entry: unknown): Role;
  /** The destination an entry names, for messages ("checkout-legacy", "reviews subset v2"). */
  label(entry: unknown): string;
  /** Units of an entry with no weight field, in an array of `count` entries. */
  omittedUnits(count: number): number;
  /** A canary entry (weight excluded), modelled on the stable entry (same port, same kind). */
  canaryEntry(stable: Record<string, unknown>): Record<string, unknown>;
  /** The error-backend entry (weight excluded) for an abort fault; undefined for APIs with a fault filter. */
  faultEntry?(stable: Record<string, unknown>): Record<string, unknown>;
}

export interface SplitReading {
  stable: number;
  canary: number;
  fault: number;
  /** Units of the user's other entries, in the order of `index.foreign`. */
  foreign: number[];
  /** Index of the first stable, canary and fault entry, and of every foreign one. */
  index: { stable?: number; canary?: number; fault?: number; foreign: number[] };
  /** The shares of the rule's traffic (see weights.ts). */
  shares: Shares;
}

const WEIGHT = "weight";

function unitsOf(site: SplitSite, entry: unknown, count: number): number {
  const raw = asRecord(entry)[WEIGHT];
  if (raw === undefined) return site.omittedUnits(count);
  return site.scheme.parse(raw) ?? 0;
}

export function readSplit(site: SplitSite, entries: readonly unknown[]): SplitReading {
  const reading: Omit<SplitReading, "shares"> = {
    stable: 0,
    canary: 0,
    fault: 0,
    foreign: [],
    index: { foreign: [] },
  };
  entries.forEach((entry, i) => {
    let role = site.role(entry);
    // A second entry for the same destination is the user's: it keeps its weight untouched.
    if (role !== "foreign" && reading.index[role] !== undefined) role = "foreign";
    const units = unitsOf(site, entry, entries.length);
    if (role === "foreign") {
      reading.foreign.push(units);
      reading.index.foreign.push(i);
    } else {
      reading.index[role] = i;
      reading[role] += units;
    }
  });
  return { ...reading, shares: sharesOf(reading) };
}

/** The weight fields of the TrafficState a reading gives. */
export function weightState(
  reading: SplitReading,
  scheme: WeightScheme,
): Pick<TrafficState, "canaryWeight" | "stableWeight" | "foreignWeight" | "faultWeight" | "weightUnit"> {
  const { shares } = reading;
  return {
    canaryWeight: shares.canary,
    stableWeight: shares.stable,
    foreignWeight: shares.foreign,
    faultWeight: shares.fault,
    weightUnit: writeUnit(reading, scheme),
  };
}

/**
 * The unit the engine judges a share "applied" by: the step the controller writes the split in. For
 * relative weights that is finer than the user's own numbers (a lone backendRef of weight 1, 100/0): the
 * controller gives the rollout scheme.total units, or rescales the rule (allocate), so a step is never
 * taken as applied while the object still has the user's coarse weights (0% is not "within one unit" of
 * 20% on a rule of weight 1). Once the controller has written, it is the unit of the object as it is.
 */
function writeUnit(reading: SplitReading, scheme: WeightScheme): number {
  const { unit } = reading.shares;
  if (scheme.mode === "percent") return unit;
  if (reading.foreign.length === 0) return Math.min(unit, tidy(100 / scheme.total));
  const total = reading.stable + reading.canary + reading.fault + sum(reading.foreign);
  return total > 0 && total < scheme.total ? tidy(unit / Math.ceil(scheme.total / total)) : unit;
}

function rawWeight(entry: unknown): RawWeight {
  if (entry === undefined) return { absent: true };
  const raw = asRecord(entry)[WEIGHT];
  return raw === undefined ? { omitted: true } : { value: raw };
}

export interface SplitDesire {
  /** The canary's share of the rule's traffic, in percent. */
  canaryPercent: number;
  /** Percentage of the rollout's requests for the error backend (APIs without a fault filter), or 0. */
  faultPercent: number;
  /** Back to how the user wrote it: canary entry removed if the controller added it, weights restored. */
  finalize?: boolean;
}

type Original = NonNullable<TrafficRecord["original"]>;

/**
 * Writes the split into `builder`. Returns the record's `original`: the weights as the user wrote them,
 * captured at the first change while the split is stable-only. Throws WeightNotExpressibleError (and
 * writes nothing) when the canary cannot get the share asked for.
 */
export function planSplit(
  builder: PatchBuilder,
  site: SplitSite,
  desire: SplitDesire,
  record: TrafficRecord | undefined,
): Pick<TrafficRecord, "original"> {
  const entries = asArray(builder.get(site.path));
  const before = readSplit(site, entries);
  const stableIndex = before.index.stable;
  if (stableIndex === undefined) throw new Error(`no stable entry at ${site.path}`);
  const stableEntry = asRecord(entries[stableIndex]);

  let original = record?.original;
  const stableOnly = before.canary === 0 && before.index.fault === undefined;
  if (!original && stableOnly && !desire.finalize) {
    const canaryAt = before.index.canary;
    original = {
      stable: rawWeight(stableEntry),
      canary: rawWeight(canaryAt === undefined ? undefined : entries[canaryAt]),
    };
    // Relative weights may be rescaled (every weight times one factor); finalize gives the user's back.
    if (site.scheme.mode === "relative" && before.foreign.length > 0)
      original.foreign = before.index.foreign.map((i) => rawWeight(entries[i]));
  }

  if (desire.finalize && original && restorable(site, before, original)) {
    restore(builder, site, original);
    return { original: undefined };
  }

  const target = desire.finalize ? { canaryPercent: 0, faultPercent: 0 } : desire;
  const alloc = allocate(
    site.scheme,
    before.foreign,
    before.stable + before.canary + before.fault,
    target.canaryPercent,
    site.faultEntry ? target.faultPercent : 0,
  );
  if (isRefusal(alloc)) throw notExpressible(builder, site, before, target.canaryPercent, alloc);
  const wantFault = site.faultEntry !== undefined && target.faultPercent > 0;
  writeEntries(builder, site, before, alloc, wantFault, stableEntry);
  return { original: desire.finalize ? undefined : original };
}

function notExpressible(
  builder: PatchBuilder,
  site: SplitSite,
  before: SplitReading,
  desired: number,
  refusal: Refusal,
): WeightNotExpressibleError {
  const where = `${describeObject(builder.document)} (${site.path})`;
  const entries = asArray(builder.get(site.path));
  const others = before.index.foreign
    .map((i, n) => `${site.label(entries[i])} (weight ${before.foreign[n]})`)
    .join(", ");
  const detail =
    refusal.refused === "foreign-share"
      ? `its other destinations, ${others || "none"}, take ${Math.round((100 - refusal.ownShare) * 100) / 100}% of it, which leaves the canary at most ${refusal.ownShare}%; make the step at most ${refusal.ownShare}%, or lower those destinations' weights (or move them to a route of their own)`
      : `one unit of the canary's weight there is ${refusal.unit}% of the route's traffic, so ${desired}% rounds to no weight at all; make the step at least ${refusal.unit}%`;
  return new WeightNotExpressibleError(where, desired, refusal.ownShare, refusal.unit, detail);
}

function writeEntries(
  builder: PatchBuilder,
  site: SplitSite,
  before: SplitReading,
  alloc: Allocation,
  wantFault: boolean,
  stableEntry: Record<string, unknown>,
): void {
  // The fault entry first; the indexes of the others are read again after it has been added or removed.
  const faultAt = before.index.fault;
  if (wantFault) {
    const desired = { ...site.faultEntry!(stableEntry) };
    if (faultAt === undefined)
      builder.insert(site.path, "-", { ...desired, [WEIGHT]: site.scheme.format(alloc.fault) });
    else {
      const current = asRecord(builder.get(pointer(...splitPointer(site.path), faultAt)));
      const { [WEIGHT]: _weight, ...rest } = current;
      if (!deepEqual(rest, desired))
        builder.set(pointer(...splitPointer(site.path), faultAt), {
          ...desired,
          [WEIGHT]: site.scheme.format(alloc.fault),
        });
    }
  } else if (faultAt !== undefined) {
    builder.remove(pointer(...splitPointer(site.path), faultAt));
  }

  const entries = asArray(builder.get(site.path));
  const now = readSplit(site, entries);
  const canaryAt = now.index.canary;
  const wanted = sharesOf({ ...alloc, foreign: now.foreign.map((units) => units * alloc.scale) });
  const sumOk =
    site.scheme.mode === "relative" ||
    now.stable + now.canary + now.fault === site.scheme.total - sum(now.foreign);
  const sharesOk =
    now.shares.canary === wanted.canary &&
    now.shares.fault === wanted.fault &&
    (alloc.canary === 0 || canaryAt !== undefined);
  // Already split as asked (possibly with other raw numbers, or omitted weights): write nothing. Next to
  // the user's relative weights the rollout's units must stay as they are, or the user's shares move.
  if (
    alloc.scale === 1 &&
    sumOk &&
    sharesOk &&
    (site.scheme.mode === "percent" ||
      now.foreign.length === 0 ||
      now.stable + now.canary + now.fault === alloc.stable + alloc.canary + alloc.fault)
  ) {
    return;
  }

  const base = splitPointer(site.path);
  if (alloc.scale !== 1) {
    now.index.foreign.forEach((i, n) => {
      builder.set(pointer(...base, i, WEIGHT), site.scheme.format(now.foreign[n]! * alloc.scale));
    });
  }
  builder.set(pointer(...base, now.index.stable!, WEIGHT), site.scheme.format(alloc.stable));
  if (canaryAt !== undefined)
    builder.set(pointer(...base, canaryAt, WEIGHT), site.scheme.format(alloc.canary));
  else if (alloc.canary > 0) {
    const entry = { ...site.canaryEntry(stableEntry), [WEIGHT]: site.scheme.format(alloc.canary) };
    // Right after the stable entry, where a reader expects it.
    builder.insert(site.path, now.index.stable! + 1, entry);
  }
  const faultNow = readSplit(site, asArray(builder.get(site.path))).index.fault;
  if (faultNow !== undefined)
    builder.set(pointer(...base, faultNow, WEIGHT), site.scheme.format(alloc.fault));
}

/**
 * True when putting the original weights back gives the split the user wrote: for percent APIs, the
 * weights still add up (the user's shares may have moved since); for relative ones, the user's other
 * destinations still have their weights times the factor the rollout's own units were multiplied by.
 */
function restorable(site: SplitSite, before: SplitReading, original: Original): boolean {
  const count =
    before.foreign.length + 1 + ("absent" in original.canary ? 0 : before.index.canary === undefined ? 0 : 1);
  const units = (raw: RawWeight): number =>
    "value" in raw ? (site.scheme.parse(raw.value) ?? 0) : "omitted" in raw ? site.omittedUnits(count) : 0;
  if (site.scheme.mode === "percent")
    return units(original.stable) + units(original.canary) + sum(before.foreign) === site.scheme.total;
  if (!original.foreign) return true;
  if (original.foreign.length !== before.foreign.length) return false;
  // A rescale multiplied the rollout's units and the user's by the same factor.
  const was = original.foreign.map(units);
  const ownWas = units(original.stable) + units(original.canary);
  const ownNow = before.stable + before.canary + before.fault;
  if (ownWas === 0) return was.every((w, i) => w === before.foreign[i]);
  return was.every((w, i) => w * ownNow === before.foreign[i]! * ownWas);
}

function restore(builder: PatchBuilder, site: SplitSite, original: Original): void {
  const base = splitPointer(site.path);
  let entries = asArray(builder.get(site.path));
  let reading = readSplit(site, entries);
  if (reading.index.fault !== undefined) builder.remove(pointer(...base, reading.index.fault));
  entries = asArray(builder.get(site.path));
  reading = readSplit(site, entries);
  if (reading.index.canary !== undefined) {
    const at = pointer(...base, reading.index.canary);
    if ("absent" in original.canary) builder.remove(at);
    else setRaw(builder, at, original.canary);
  }
  reading = readSplit(site, asArray(builder.get(site.path)));
  setRaw(builder, pointer(...base, reading.index.stable!), original.stable);
  original.foreign?.forEach((raw, n) => {
    const at = pointer(...base, reading.index.foreign[n]!);
    if (!deepEqual(rawWeight(builder.get(at)), raw)) setRaw(builder, at, raw);
  });
}

function setRaw(builder: PatchBuilder, entryPath: string, raw: RawWeight): void {
  if ("value" in raw) builder.set(`${entryPath}/${WEIGHT}`, raw.value);
  else builder.remove(`${entryPath}/${WEIGHT}`);
}

/** The segments of a JSON pointer (unescaped), so indexes can be appended with `pointer`. */
export function splitPointer(path: string): string[] {
  return path
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
