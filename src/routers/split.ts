/**
 * The weighted-destination list every traffic API has in some form (Istio `route`, Gateway API
 * `backendRefs`, SMI `backends`, Consul `splits`), and how the controller reads and writes it: only the
 * stable, canary and fault entries and their weights; other entries are the user's and keep their place,
 * content and weight.
 */

import { asArray, asRecord, deepEqual, type PatchBuilder, pointer } from "./patch.ts";
import type { RawWeight, TrafficRecord } from "./record.ts";
import { type Allocation, allocate, canaryShare, faultShare, type WeightScheme } from "./weights.ts";

export type Role = "stable" | "canary" | "fault" | "foreign";

export interface SplitSite {
  /** JSON pointer of the array of weighted entries. */
  path: string;
  scheme: WeightScheme;
  /** Which destination an entry is. */
  role(entry: unknown): Role;
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
  foreign: number[];
  /** Index of the first stable, canary and fault entry. */
  index: { stable?: number; canary?: number; fault?: number };
  canaryPercent: number;
  faultPercent: number;
}

const WEIGHT = "weight";

function unitsOf(site: SplitSite, entry: unknown, count: number): number {
  const raw = asRecord(entry)[WEIGHT];
  if (raw === undefined) return site.omittedUnits(count);
  return site.scheme.parse(raw) ?? 0;
}

export function readSplit(site: SplitSite, entries: readonly unknown[]): SplitReading {
  const reading: SplitReading = {
    stable: 0,
    canary: 0,
    fault: 0,
    foreign: [],
    index: {},
    canaryPercent: 0,
    faultPercent: 0,
  };
  entries.forEach((entry, i) => {
    let role = site.role(entry);
    // A second entry for the same destination is the user's: it keeps its weight untouched.
    if (role !== "foreign" && reading.index[role] !== undefined) role = "foreign";
    const units = unitsOf(site, entry, entries.length);
    if (role === "foreign") reading.foreign.push(units);
    else {
      reading.index[role] = i;
      reading[role] += units;
    }
  });
  reading.canaryPercent = canaryShare(reading.stable, reading.canary);
  reading.faultPercent = faultShare(reading.stable, reading.canary, reading.fault);
  return reading;
}

function rawWeight(entry: unknown): RawWeight {
  if (entry === undefined) return { absent: true };
  const raw = asRecord(entry)[WEIGHT];
  return raw === undefined ? { omitted: true } : { value: raw };
}

export interface SplitDesire {
  canaryPercent: number;
  /** Percentage of the rollout's requests for the error backend (APIs without a fault filter), or 0. */
  faultPercent: number;
  /** Back to how the user wrote it: canary entry removed if the controller added it, weights restored. */
  finalize?: boolean;
}

/**
 * Writes the split into `builder`. Returns the record fields it changes: `original` (captured at the first
 * change while the split is stable-only) and `canary` (what the object now says).
 */
export function planSplit(
  builder: PatchBuilder,
  site: SplitSite,
  desire: SplitDesire,
  record: TrafficRecord | undefined,
): Pick<TrafficRecord, "canary" | "original"> {
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
  }

  if (desire.finalize && original && restorable(site, before, original)) {
    restore(builder, site, original);
    const after = readSplit(site, asArray(builder.get(site.path)));
    return { canary: after.canaryPercent, original: undefined };
  }

  const target = desire.finalize ? { canaryPercent: 0, faultPercent: 0 } : desire;
  const alloc = allocate(
    site.scheme,
    before.foreign,
    before.stable + before.canary + before.fault,
    target.canaryPercent,
    site.faultEntry ? target.faultPercent : 0,
  );
  const wantFault = site.faultEntry !== undefined && target.faultPercent > 0;
  writeEntries(builder, site, before, alloc, wantFault, stableEntry);
  const after = readSplit(site, asArray(builder.get(site.path)));
  return { canary: after.canaryPercent, original: desire.finalize ? undefined : original };
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
  const sumOk =
    site.scheme.mode === "relative" ||
    now.stable + now.canary + now.fault === site.scheme.total - sum(now.foreign);
  const sharesOk =
    canaryShare(now.stable, now.canary) === canaryShare(alloc.stable, alloc.canary) &&
    faultShare(now.stable, now.canary, now.fault) === faultShare(alloc.stable, alloc.canary, alloc.fault) &&
    (alloc.canary === 0 || canaryAt !== undefined);
  // Already split as asked (possibly with other raw numbers, or omitted weights): write nothing.
  if (
    sumOk &&
    sharesOk &&
    (site.scheme.mode === "percent" ||
      now.foreign.length === 0 ||
      now.stable + now.canary + now.fault === alloc.stable + alloc.canary + alloc.fault)
  ) {
    return;
  }

  const base = splitPointer(site.path);
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

/** True when putting the original weights back gives a valid split (the user's shares may have moved since). */
function restorable(
  site: SplitSite,
  before: SplitReading,
  original: { stable: RawWeight; canary: RawWeight },
): boolean {
  if (site.scheme.mode === "relative") return true;
  const count =
    before.foreign.length + 1 + ("absent" in original.canary ? 0 : before.index.canary === undefined ? 0 : 1);
  const units = (raw: RawWeight): number =>
    "value" in raw ? (site.scheme.parse(raw.value) ?? 0) : "omitted" in raw ? site.omittedUnits(count) : 0;
  return units(original.stable) + units(original.canary) + sum(before.foreign) === site.scheme.total;
}

function restore(
  builder: PatchBuilder,
  site: SplitSite,
  original: { stable: RawWeight; canary: RawWeight },
): void {
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
