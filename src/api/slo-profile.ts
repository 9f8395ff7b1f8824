import { z } from "zod";
import { API_VERSION, DnsSubdomain, exactlyOneOf, objectMetadata, oneOfRequired } from "./common.ts";
import { GATE_DEFAULTS as G } from "./defaults.ts";
import { Duration } from "./duration.ts";
import { type ParseResult, parseWith } from "./errors.ts";

/** The metric dialects a profile can carry a query for: each mesh's own metric families. */
export const METRIC_PROVIDERS = ["istio", "linkerd", "gateway", "consul"] as const;
export type MetricProvider = (typeof METRIC_PROVIDERS)[number];

/** Variables every query template may use; a profile's declared args add to them. */
export const TEMPLATE_VARIABLES = ["namespace", "workload", "service"] as const;
const PLACEHOLDER_RE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER_RE)].map((match) => match[1]!);
}

/** Defaults of the gate's baseline block (compare baseline|both). */
export const BASELINE_DEFAULTS = { maxRatio: 2, minBadRateShareOfTolerance: 0.1 } as const;

const MetricSource = z.strictObject({
  metricSource: z.strictObject({
    type: z.literal("prometheus"),
    spec: z.strictObject({
      queries: z
        .strictObject(Object.fromEntries(METRIC_PROVIDERS.map((p) => [p, z.string().min(1).optional()])))
        .refine((queries) => Object.values(queries).some((query) => query !== undefined), {
          error: `needs a query for at least one of ${METRIC_PROVIDERS.join(", ")}`,
        })
        .describe(
          "PromQL templates per mesh, returning a counter; {{namespace}}, {{workload}}, {{service}} and args are filled in.",
        ),
    }),
  }),
});

const RatioMetric = z
  .strictObject({
    counter: z.literal(true, {
      error: "must be true: Stepwise reads raw counters and computes increments itself",
    }),
    good: MetricSource.optional(),
    bad: MetricSource.optional(),
    total: MetricSource,
  })
  .superRefine(exactlyOneOf(["good", "bad"], "a ratio metric"))
  .meta(oneOfRequired(["good", "bad"]));

const Gate = z
  .strictObject({
    compare: z.enum(["baseline", "absolute", "both"]).prefault(G.compare),
    tolerance: z.number().gt(0).lt(1).prefault(G.tolerance),
    alpha: z.number().gt(0).max(0.5).prefault(G.alpha),
    minRequests: z.number().int().min(1).prefault(G.minRequests),
    warmup: Duration.prefault(G.warmup),
    warmupRequests: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "Warm-up also ends once the canary has served this many requests in the step, if that comes before warmup.",
      ),
    noData: z
      .strictObject({
        policy: z.enum(["hold", "fail"]).prefault(G.noData.policy),
        deadline: Duration.prefault(G.noData.deadline),
      })
      .prefault({}),
    critical: z.boolean().prefault(G.critical),
    baseline: z
      .strictObject({
        maxRatio: z
          .number()
          .min(1)
          .prefault(BASELINE_DEFAULTS.maxRatio)
          .describe(
            "The canary fails the baseline comparison when its bad rate is shown to exceed maxRatio times the baseline's.",
          ),
        minBadRate: z
          .number()
          .gt(0)
          .lt(1)
          .optional()
          .describe(
            "...and to exceed this bad rate, so a spotless baseline cannot fail a nearly spotless canary; default tolerance / 10.",
          ),
        passRatio: z
          .number()
          .min(1)
          .optional()
          .describe(
            "When set, Pass also needs the canary shown to be within passRatio times the baseline's bad rate (or below minBadRate); set it to maxRatio for no zone where a worse canary can pass. Unset, Pass needs only that the comparison does not lean towards a regression.",
          ),
      })
      .superRefine((baseline, ctx) => {
        if (baseline.passRatio !== undefined && baseline.passRatio < baseline.maxRatio) {
          ctx.addIssue({
            code: "custom",
            path: ["passRatio"],
            message: `must be at least maxRatio (${baseline.maxRatio})`,
          });
        }
      })
      .describe(
        "How compare baseline|both judges the canary against the baseline (the stable version at the same time).",
      )
      .prefault({}),
    hardFloor: z
      .strictObject({ maxBadRate: z.number().gt(0).max(1), minRequests: z.number().int().min(1) })
      .describe(
        "Fails at once, warm-up or not, when the canary's bad rate exceeds maxBadRate over at least minRequests.",
      )
      .optional(),
  })
  .superRefine((gate, ctx) => {
    const floor = gate.baseline.minBadRate;
    if (floor !== undefined && floor >= gate.tolerance) {
      ctx.addIssue({
        code: "custom",
        path: ["baseline", "minBadRate"],
        message: `must be below tolerance (${gate.tolerance}): above it the tolerance alone decides`,
      });
    }
  });

const Arg = z.strictObject({
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  description: z.string().optional(),
  histogramBounds: z
    .strictObject(Object.fromEntries(METRIC_PROVIDERS.map((p) => [p, z.array(z.number()).min(1).optional()])))
    .describe(
      "When set, the arg is a histogram bucket bound (le) and must be one of these values for the mesh in use.",
    )
    .optional(),
});

const SLOProfileSpecFields = z.strictObject({
  description: z.string().optional(),
  args: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), Arg).optional(),
  indicator: z.strictObject({ ratioMetric: RatioMetric }),
  gate: Gate.prefault({}),
});

/** Every query template may use only the built-in variables and the declared args. */
function checkPlaceholders(spec: z.output<typeof SLOProfileSpecFields>, ctx: z.RefinementCtx): void {
  const known = new Set<string>([...TEMPLATE_VARIABLES, ...Object.keys(spec.args ?? {})]);
  const ratio = spec.indicator.ratioMetric;
  for (const part of ["good", "bad", "total"] as const) {
    const queries = ratio[part]?.metricSource.spec.queries ?? {};
    for (const [provider, query] of Object.entries(queries)) {
      for (const name of templatePlaceholders(query ?? "").filter((n) => !known.has(n))) {
        ctx.addIssue({
          code: "custom",
          path: ["indicator", "ratioMetric", part, "metricSource", "spec", "queries", provider],
          message: `uses {{${name}}}, which is neither a built-in variable (${TEMPLATE_VARIABLES.join(", ")}) nor a declared arg`,
        });
      }
    }
  }
}

export const SLOProfile = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("SLOProfile"),
  metadata: objectMetadata(DnsSubdomain),
  spec: SLOProfileSpecFields.superRefine(checkPlaceholders),
});

export type SLOProfile = z.output<typeof SLOProfile>;
export type Gate = z.output<typeof Gate>;

export function parseSLOProfile(document: unknown): ParseResult<SLOProfile> {
  return parseWith(SLOProfile, document);
}
