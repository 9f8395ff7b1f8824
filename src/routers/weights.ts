/**
 * Weight arithmetic shared by the adapters. Weights are handled as integer "units" of each API so that
 * sums are exact: Istio percent (1 unit = 1%), Consul percent with two decimals (1 unit = 0.01%),
 * Gateway API relative integers, SMI relative integers or milli-quantities.
 */

export interface WeightScheme {
  /** "percent": all destinations of the object/route add up to `total` units; "relative": any sum. */
  readonly mode: "percent" | "relative";
  /** percent: units in 100%; relative: units the controller gives the rollout's destinations. */
  readonly total: number;
  /** The raw weight as units; undefined when it cannot be read. */
  parse(raw: unknown): number | undefined;
  /** Units as the raw value the API stores. */
  format(units: number): unknown;
  /** The smallest canary step in percent. */
  readonly minStep: number;
}

export const ISTIO_WEIGHTS: WeightScheme = {
  mode: "percent",
  total: 100,
  minStep: 1,
  parse: (raw) => (typeof raw === "number" && Number.isFinite(raw) ? Math.round(raw) : undefined),
  format: (units) => units,
};

/** Consul ServiceSplitter: float percentages, the smallest representable value is 0.01. */
export const CONSUL_WEIGHTS: WeightScheme = {
  mode: "percent",
  total: 10_000,
  minStep: 0.01,
  parse: (raw) => (typeof raw === "number" && Number.isFinite(raw) ? Math.round(raw * 100) : undefined),
  format: (units) => Math.round(units) / 100,
};

/** Gateway API backendRefs: relative int32 weights (0..1,000,000); 10000 units gives 0.01% steps. */
export const GATEWAY_WEIGHTS: WeightScheme = {
  mode: "relative",
  total: 10_000,
  minStep: 0.01,
  parse: (raw) => (typeof raw === "number" && Number.isInteger(raw) ? raw : undefined),
  format: (units) => units,
};

/** SMI TrafficSplit v1alpha2..v1alpha4: relative integer weights; 1000 units gives 0.1% steps. */
export const SMI_INT_WEIGHTS: WeightScheme = {
  mode: "relative",
  total: 1000,
  minStep: 0.1,
  parse: (raw) => (typeof raw === "number" && Number.isInteger(raw) ? raw : undefined),
  format: (units) => units,
};

/** SMI TrafficSplit v1alpha1: weights are resource quantities; written as milli-units ("950m" + "50m" = 1). */
export const SMI_QUANTITY_WEIGHTS: WeightScheme = {
  mode: "relative",
  total: 1000,
  minStep: 0.1,
  parse: (raw) => {
    const value = parseQuantity(raw);
    return value === undefined ? undefined : Math.round(value * 1000);
  },
  format: (units) => `${Math.round(units)}m`,
};

const QUANTITY_SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes resource quantity ("500m", "1", "0.5", 2, "1k") as a number; undefined when invalid. */
export function parseQuantity(raw: unknown): number | undefined {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== "string") return undefined;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(raw.trim());
  if (!match) return undefined;
  return Number(match[1]) * (QUANTITY_SUFFIX[match[2] ?? ""] ?? 1);
}

/** The largest sum of relative weights written (Gateway API weights are at most 1,000,000 each). */
export const MAX_RELATIVE_SUM = 1_000_000;

export interface Allocation {
  stable: number;
  canary: number;
  fault: number;
  /**
   * The factor every weight of the user's other destinations is multiplied by (relative schemes whose
   * units are too coarse for the step; shares do not change). 1 when they stay as they are.
   */
  scale: number;
}

/** Why a canary share cannot be written: nothing is written, the caller says so (WeightNotExpressibleError). */
export interface Refusal {
  refused: "foreign-share" | "rounds-to-zero";
  /** The most the canary can get, in percent of the rule's traffic (what the other destinations leave). */
  ownShare: number;
  /** What one unit of the canary's weight is worth, in percent of the rule's traffic. */
  unit: number;
}

/** The units of one weighted list, by role. */
export interface SplitUnits {
  stable: number;
  canary: number;
  fault: number;
  foreign: readonly number[];
}

/**
 * The shares a split gives, in percent of the managed rule's traffic. The fault backend (an abort fault on
 * APIs without a fault filter) takes its share out of stable and canary alike, so `canary` and `stable`
 * count its traffic as theirs, in their proportion: `canary + stable + foreign = 100` whenever stable or
 * canary has weight, and a fault does not move them.
 */
export interface Shares {
  canary: number;
  stable: number;
  /** The user's other destinations in the rule. */
  foreign: number;
  /** The fault backend's share of the rollout's traffic (stable, canary and fault), as a chaos step asks. */
  fault: number;
  /** What one unit of the canary's weight is worth, in percent of the rule's traffic, as the split is. */
  unit: number;
}

export function sharesOf(units: SplitUnits): Shares {
  const foreign = sum(units.foreign);
  const own = units.stable + units.canary + units.fault;
  const serving = units.stable + units.canary;
  const total = foreign + own;
  if (total <= 0) return { canary: 0, stable: 0, foreign: 0, fault: 0, unit: 100 };
  const ownShare = (own * 100) / total;
  return {
    canary: serving > 0 ? tidy((units.canary * ownShare) / serving) : 0,
    stable: serving > 0 ? tidy((units.stable * ownShare) / serving) : 0,
    foreign: tidy((foreign * 100) / total),
    fault: own > 0 ? tidy((units.fault * 100) / own) : 0,
    unit: tidy(serving > 0 ? ownShare / serving : 100 / total),
  };
}

/**
 * Splits the rule between stable, canary and the fault backend so that the canary gets the share of the
 * rule's traffic closest to `canaryPercent` (ties round up), the user's other destinations keep their
 * share, and stable gets the rest.
 *
 * - percent schemes: the rollout has what the other destinations leave of the total;
 * - relative schemes, alone in the list: stable and canary get `scheme.total` units and the fault
 *   backend its share on top;
 * - relative schemes next to the user's destinations: the rollout keeps the units it has; when the rule
 *   has fewer than `scheme.total` units in all (weights like 1/1), every weight is multiplied by a common
 *   factor first (`scale`), which leaves every share as it was and makes steps of 1/scheme.total possible.
 *
 * `faultPercent` of the rollout's traffic goes to the fault backend, out of stable and canary alike.
 * Returns a Refusal when the canary cannot get that share: the other destinations leave too little, or
 * the share rounds to no weight at all.
 */
export function allocate(
  scheme: WeightScheme,
  foreignUnits: readonly number[],
  currentOwnUnits: number,
  canaryPercent: number,
  faultPercent: number,
): Allocation | Refusal {
  let foreign = sum(foreignUnits);
  const fraction = clampPercent(faultPercent);
  const wanted = clampPercent(canaryPercent);
  let scale = 1;
  let own: number;
  let fault: number;
  if (scheme.mode === "relative" && foreignUnits.length === 0) {
    // Nobody else's share to keep: stable and canary keep the full scale (and its precision), and the
    // fault backend gets its share on top (at most up to the API's largest weight sum).
    if (fraction >= 100) return { stable: 0, canary: 0, fault: scheme.total, scale };
    fault = Math.min(
      Math.round((scheme.total * fraction) / (100 - fraction)),
      MAX_RELATIVE_SUM - scheme.total,
    );
    own = scheme.total + fault;
  } else {
    if (scheme.mode === "percent") own = Math.max(0, scheme.total - foreign);
    else {
      // Nothing weighted at all: the rollout takes the scale.
      own = currentOwnUnits > 0 || foreign > 0 ? currentOwnUnits : scheme.total;
      const total = own + foreign;
      if (total < scheme.total && (wanted > 0 || fraction > 0)) {
        scale = Math.ceil(scheme.total / total);
        own *= scale;
        foreign *= scale;
      }
    }
    fault = Math.round((own * fraction) / 100);
  }
  const rest = own - fault;
  const ownShare = own + foreign > 0 ? (own * 100) / (own + foreign) : 0;
  // Whether a step can be expressed is judged on the rollout's units without a fault, so that a fault
  // coming or going never turns a step that was written into a refusal.
  const free = own - (scheme.mode === "relative" && foreignUnits.length === 0 ? fault : 0);
  const unit = free > 0 ? ownShare / free : 100;
  if (wanted > 0 && (ownShare <= 0 || wanted > ownShare + unit / 2 + 1e-9)) {
    return { refused: "foreign-share", ownShare: tidy(ownShare), unit: tidy(unit) };
  }
  if (wanted > 0 && Math.round((free * wanted) / ownShare) === 0) {
    return { refused: "rounds-to-zero", ownShare: tidy(ownShare), unit: tidy(unit) };
  }
  // With a fault the canary's units are fewer; it keeps at least one, which is within one unit of `wanted`.
  const canary =
    rest > 0 && wanted > 0 ? Math.max(1, Math.min(rest, Math.round((rest * wanted) / ownShare))) : 0;
  return { stable: rest - canary, canary, fault, scale };
}

export function isRefusal(result: Allocation | Refusal): result is Refusal {
  return "refused" in result;
}

function clampPercent(percent: number): number {
  return Math.min(100, Math.max(0, percent));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Rounds away binary noise (0.1 + 0.2) so that percentages compare and print cleanly. */
export function tidy(percent: number): number {
  return Math.round(percent * 1e6) / 1e6;
}

/**
 * True when a share is within one rounding unit of another: what the contract lets the engine accept as
 * applied, and what the routers do not report as drift.
 */
export function withinOneUnit(found: number, asked: number, unit: number): boolean {
  return Math.abs(found - asked) < unit - 1e-6;
}
