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
}

/**
 * Splits the units that belong to the rollout between stable, canary and the fault backend.
 *
 * - percent schemes: the rollout gets whatever the other (user's) destinations leave of the total;
 * - relative schemes: stable and canary get `scheme.total` units and the fault backend its share on top;
 *   or, when the user's own destinations share the object, the rollout keeps as many units as its
 *   destinations have now, so the user's shares do not move.
 *
 * `faultPercent` of the rollout's traffic goes to the fault backend; `canaryPercent` of the rest to the canary.
 */
export function allocate(
  scheme: WeightScheme,
  foreignUnits: readonly number[],
  currentOwnUnits: number,
  canaryPercent: number,
  faultPercent: number,
): Allocation {
  const foreign = foreignUnits.reduce((sum, units) => sum + units, 0);
  const faultShare = clampPercent(faultPercent);
  let fault: number;
  let rest: number;
  if (scheme.mode === "relative" && foreignUnits.length === 0) {
    // Nobody else's share to keep: stable and canary keep the full scale (and its precision), and the
    // fault backend gets its share on top (at most up to the API's largest weight sum).
    if (faultShare >= 100) return { stable: 0, canary: 0, fault: scheme.total };
    rest = scheme.total;
    fault = Math.min(Math.round((rest * faultShare) / (100 - faultShare)), MAX_RELATIVE_SUM - rest);
  } else {
    const total =
      scheme.mode === "percent"
        ? Math.max(0, scheme.total - foreign)
        : currentOwnUnits > 0
          ? currentOwnUnits
          : scheme.total;
    fault = Math.round((total * faultShare) / 100);
    rest = total - fault;
  }
  const canary = Math.round((rest * clampPercent(canaryPercent)) / 100);
  return { stable: rest - canary, canary, fault };
}

function clampPercent(percent: number): number {
  return Math.min(100, Math.max(0, percent));
}

/** Rounds away binary noise (0.1 + 0.2) so that percentages compare and print cleanly. */
export function tidy(percent: number): number {
  return Math.round(percent * 1e6) / 1e6;
}

/** The canary's share of stable plus canary, in percent. */
export function canaryShare(stableUnits: number, canaryUnits: number): number {
  const sum = stableUnits + canaryUnits;
  return sum > 0 ? tidy((canaryUnits * 100) / sum) : 0;
}

/** The fault backend's share of the rollout's units, in percent. */
export function faultShare(stableUnits: number, canaryUnits: number, faultUnits: number): number {
  const sum = stableUnits + canaryUnits + faultUnits;
  return sum > 0 ? tidy((faultUnits * 100) / sum) : 0;
}

/** True when two percentages are the same to within a millionth of a percent. */
export function samePercent(a: number, b: number): boolean {
  return Math.abs(a - b) < 1e-6;
}
