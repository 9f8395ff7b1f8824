import cron from "node-cron";
import { z } from "zod";
import {
  API_VERSION,
  DnsLabel,
  DnsSubdomain,
  exactlyOneOf,
  MAX_ROLLOUT_NAME,
  objectMetadata,
  oneOfRequired,
  Percent,
} from "./common.ts";
import { ROLLOUT_DEFAULTS as D } from "./defaults.ts";
import { Duration } from "./duration.ts";
import { type ParseResult, parseWith } from "./errors.ts";
import { METRIC_PROVIDERS, type MetricProvider } from "./slo-profile.ts";

export const TRAFFIC_PROVIDERS = ["istio", "smi", "gateway", "consul"] as const;
export type TrafficProvider = (typeof TRAFFIC_PROVIDERS)[number];

/** The route object kinds each traffic provider drives. */
export const ROUTE_KINDS: Record<TrafficProvider, readonly string[]> = {
  istio: ["VirtualService"],
  smi: ["TrafficSplit"],
  gateway: ["HTTPRoute", "GRPCRoute"],
  consul: ["ServiceSplitter"],
};

/** Providers whose route API can match requests by header or cookie, and inject delays. */
const MATCHING_PROVIDERS: readonly TrafficProvider[] = ["istio", "gateway"];
const MIRRORING_PROVIDERS: readonly TrafficProvider[] = ["istio", "gateway"];
const DELAY_FAULT_PROVIDERS: readonly TrafficProvider[] = ["istio"];
const DEPENDENCY_FAULT_PROVIDERS: readonly TrafficProvider[] = ["istio"];

const IntOrString = z.union([z.number().int(), z.string().min(1)]);

function validRegex(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}

const StringMatch = z
  .strictObject({
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().refine(validRegex, { error: "must be a valid regular expression" }).optional(),
  })
  .superRefine(exactlyOneOf(["exact", "prefix", "regex"], "a match"))
  .meta(oneOfRequired(["exact", "prefix", "regex"]));

const RequestMatch = z
  .strictObject({
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), StringMatch).optional(),
    cookie: z
      .string()
      .refine(validRegex, { error: "must be a valid regular expression" })
      .describe("A regular expression matched against the Cookie header.")
      .optional(),
  })
  .superRefine((match, ctx) => {
    if (match.headers === undefined && match.cookie === undefined) {
      ctx.addIssue({ code: "custom", message: "a match needs headers, a cookie, or both" });
    }
  });

const Fault = z
  .strictObject({
    delay: z.strictObject({ fixed: Duration, percent: Percent }).optional(),
    abort: z
      .strictObject({
        httpStatus: z.number().int().min(200).max(599).optional(),
        grpcStatus: z.number().int().min(0).max(16).optional(),
        percent: Percent,
      })
      .superRefine(exactlyOneOf(["httpStatus", "grpcStatus"], "an abort fault"))
      .meta(oneOfRequired(["httpStatus", "grpcStatus"]))
      .optional(),
  })
  .superRefine(exactlyOneOf(["delay", "abort"], "a fault"))
  .meta(oneOfRequired(["delay", "abort"]));

const ChaosStep = z
  .strictObject({
    fault: Fault,
    target: z.enum(["dependency", "route"]),
    host: z.string().min(1).optional(),
    duration: Duration,
    profiles: z.array(z.string().min(1)).min(1).optional(),
  })
  .superRefine((chaos, ctx) => {
    if (chaos.target === "dependency" && chaos.host === undefined) {
      ctx.addIssue({ code: "custom", path: ["host"], message: "is required when target is dependency" });
    }
    if (chaos.target === "route" && chaos.host !== undefined) {
      ctx.addIssue({ code: "custom", path: ["host"], message: "is only used when target is dependency" });
    }
  });

const STEP_KINDS = ["setWeight", "pause", "analysis", "chaos"] as const;

const Step = z
  .strictObject({
    setWeight: Percent.optional(),
    pause: z.strictObject({ duration: Duration.optional() }).optional(),
    analysis: z
      .strictObject({ duration: Duration.optional(), profiles: z.array(z.string().min(1)).min(1).optional() })
      .optional(),
    chaos: ChaosStep.optional(),
  })
  .superRefine(exactlyOneOf(STEP_KINDS, "a step"))
  .meta(oneOfRequired(STEP_KINDS));

const Canary = z.strictObject({ steps: z.array(Step).min(1) }).superRefine(({ steps }, ctx) => {
  let weight = 0;
  steps.forEach((step, index) => {
    if (step.setWeight !== undefined) {
      if (step.setWeight < weight) {
        ctx.addIssue({
          code: "custom",
          path: ["steps", index, "setWeight"],
          message: `must not be lower than the weight of an earlier step (${weight})`,
        });
      }
      weight = Math.max(weight, step.setWeight);
    } else if ((step.analysis !== undefined || step.chaos !== undefined) && weight === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["steps", index],
        message: "needs a setWeight step before it: the canary gets no traffic to judge at weight 0",
      });
    }
  });
});

const BlueGreen = z.strictObject({
  autoPromote: z.boolean().prefault(D.blueGreen.autoPromote),
  previewAnalysis: z.boolean().prefault(D.blueGreen.previewAnalysis),
  analysisDuration: Duration.optional(),
  scaleDownDelay: Duration.prefault(D.blueGreen.scaleDownDelay),
});

const AbTest = z
  .strictObject({
    match: z.array(RequestMatch).min(1),
    duration: Duration.optional(),
    iterations: z.number().int().min(1).optional(),
  })
  .superRefine(exactlyOneOf(["duration", "iterations"], "an A/B test"))
  .meta(oneOfRequired(["duration", "iterations"]));

const STRATEGIES = ["canary", "blueGreen", "abTest"] as const;

const Strategy = z
  .strictObject({ canary: Canary.optional(), blueGreen: BlueGreen.optional(), abTest: AbTest.optional() })
  .superRefine(exactlyOneOf(STRATEGIES, "a strategy"))
  .meta(oneOfRequired(STRATEGIES));

const ProfileRef = z.strictObject({
  name: z.string().min(1),
  args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  required: z.boolean().prefault(D.profileRequired),
});

const Schedule = z
  .strictObject({
    window: z.string().refine((text) => cron.validate(text), {
      error: "must be a cron expression such as '* 9-17 * * 1-5' (minute hour day month weekday)",
    }),
    timeZone: z
      .string()
      .refine(validTimeZone, { error: "must be an IANA time zone such as Europe/Berlin or UTC" })
      .prefault(D.scheduleTimeZone),
  })
  .describe("Steps advance only while the current time matches the cron window.");

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const WEBHOOK_TYPES = [
  "pre-rollout",
  "confirm-promotion",
  "post-rollout",
  "rollback",
  "event",
] as const;

const Webhook = z.strictObject({
  name: z.string().min(1).optional(),
  type: z.enum(WEBHOOK_TYPES),
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
  timeout: Duration.prefault(D.webhookTimeout),
  retries: z.number().int().min(0).max(10).prefault(D.webhookRetries),
});

const Traffic = z.strictObject({
  provider: z.enum(TRAFFIC_PROVIDERS, {
    error: (issue) =>
      issue.input === "linkerd"
        ? 'Linkerd splits traffic through "gateway" (HTTPRoute, current) or "smi" (TrafficSplit, legacy); use one of those'
        : undefined,
  }),
  routeRef: z
    .strictObject({ apiVersion: z.string().min(1).optional(), kind: z.string().min(1), name: DnsSubdomain })
    .optional(),
  routes: z
    .array(DnsSubdomain)
    .min(1)
    .max(1, { error: "names one route for now: Stepwise manages a single http route or rule per Rollout" })
    .describe(
      "The named http route (Istio) or rule (Gateway API) in the routeRef object to manage; by default the one whose destinations are the stable and canary Services. A route that also sends traffic to the user's own backends is managed only when named here.",
    )
    .optional(),
  stableService: DnsLabel.describe(
    "The Service that selects the stable pods; by default <rollout>-primary. An existing Service of that name is adopted: its selector points at the stable pods while the Rollout exists, and is restored when it goes.",
  ).optional(),
  canaryService: DnsLabel.describe(
    "The Service that selects the canary pods; by default <rollout>-canary. Adopted like stableService.",
  ).optional(),
  subsets: z
    .strictObject({ stable: DnsLabel, canary: DnsLabel })
    .describe(
      "Istio subset mode: the DestinationRule subset names of the stable and canary pods; by default primary and canary.",
    )
    .optional(),
  istio: z.strictObject({ mode: z.enum(["host", "subset"]).prefault(D.istioMode) }).optional(),
});

const RolloutSpecFields = z.strictObject({
  targetRef: z.strictObject({
    apiVersion: z.literal("apps/v1").prefault(D.targetApiVersion),
    kind: z.literal("Deployment"),
    name: DnsLabel,
  }),
  service: z.strictObject({
    port: z.number().int().min(1).max(65535),
    targetPort: IntOrString.optional(),
    portName: DnsLabel.optional(),
  }),
  traffic: Traffic,
  strategy: Strategy,
  analysis: z
    .strictObject({
      // A shorter interval would let one rollout spend the controller's whole API budget.
      interval: Duration.refine((ms) => ms >= 1_000, {
        error: "must be at least 1s: every look reads metrics and may write the route and the status",
      }).prefault(D.analysisInterval),
      metrics: z
        .enum(METRIC_PROVIDERS)
        .describe("Whose metric families the profiles' queries read; by default the traffic provider's mesh.")
        .optional(),
      profiles: z
        .array(ProfileRef)
        .min(1)
        .prefault([...D.profiles]),
    })
    .prefault({}),
  schedule: Schedule.optional(),
  progressDeadlineSeconds: z.number().int().min(1).prefault(D.progressDeadlineSeconds),
  webhooks: z.array(Webhook).optional(),
});

export const RolloutSpec = RolloutSpecFields.superRefine(checkProviderFits).superRefine(checkStepProfiles);

/**
 * A step's `profiles` pick from `analysis.profiles`, where each has its args; a name that is not there
 * would never be evaluated, and the step would wait for a verdict that never comes.
 */
function checkStepProfiles(spec: z.output<typeof RolloutSpecFields>, ctx: z.RefinementCtx): void {
  const listed = spec.analysis.profiles.map((p) => p.name);
  spec.strategy.canary?.steps.forEach((step, index) => {
    for (const kind of ["analysis", "chaos"] as const) {
      step[kind]?.profiles?.forEach((name, at) => {
        if (listed.includes(name)) return;
        ctx.addIssue({
          code: "custom",
          path: ["strategy", "canary", "steps", index, kind, "profiles", at],
          message: `${name} is not one of analysis.profiles (${listed.join(", ")}); list it there, with its args`,
        });
      });
    }
  });
}

/** Checks that the chosen traffic API can do what the strategy asks of it. */
function checkProviderFits(spec: z.output<typeof RolloutSpecFields>, ctx: z.RefinementCtx): void {
  const { provider, routeRef, istio } = spec.traffic;
  if (routeRef && !ROUTE_KINDS[provider].includes(routeRef.kind)) {
    ctx.addIssue({
      code: "custom",
      path: ["traffic", "routeRef", "kind"],
      message: `must be ${ROUTE_KINDS[provider].join(" or ")} for provider ${provider}, not ${routeRef.kind}`,
    });
  }
  if (istio && provider !== "istio") {
    ctx.addIssue({ code: "custom", path: ["traffic", "istio"], message: `is only used with provider istio` });
  }
  const { subsets } = spec.traffic;
  if (subsets && (provider !== "istio" || istio?.mode !== "subset")) {
    ctx.addIssue({
      code: "custom",
      path: ["traffic", "subsets"],
      message: "is only used with provider istio in subset mode (traffic.istio.mode: subset)",
    });
  }
  if (subsets && subsets.stable === subsets.canary) {
    ctx.addIssue({
      code: "custom",
      path: ["traffic", "subsets", "canary"],
      message: "must differ from subsets.stable",
    });
  }
  if (spec.traffic.stableService !== undefined && spec.traffic.stableService === spec.traffic.canaryService) {
    ctx.addIssue({
      code: "custom",
      path: ["traffic", "canaryService"],
      message: "must differ from traffic.stableService: the split needs one Service for each version",
    });
  }
  if (spec.strategy.blueGreen?.previewAnalysis && !MIRRORING_PROVIDERS.includes(provider)) {
    ctx.addIssue({
      code: "custom",
      path: ["strategy", "blueGreen", "previewAnalysis"],
      message: `provider ${provider} cannot mirror traffic, so the preview would get no requests to judge; set it to false (the new version is then judged after the switch) or use ${MIRRORING_PROVIDERS.join(" or ")}`,
    });
  }
  if (spec.strategy.abTest && !MATCHING_PROVIDERS.includes(provider)) {
    ctx.addIssue({
      code: "custom",
      path: ["strategy", "abTest"],
      message: `provider ${provider} cannot route by header or cookie; use ${MATCHING_PROVIDERS.join(" or ")}`,
    });
  }
  spec.strategy.canary?.steps.forEach((step, index) => {
    const at = ["strategy", "canary", "steps", index];
    if (provider === "istio" && step.setWeight !== undefined && !Number.isInteger(step.setWeight)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "setWeight"],
        message: "must be a whole percent with provider istio; gateway, smi and consul allow fractions",
      });
    }
    if (step.chaos?.fault.delay && !DELAY_FAULT_PROVIDERS.includes(provider)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "chaos", "fault", "delay"],
        message: `provider ${provider} has no fault filter for delays; only ${DELAY_FAULT_PROVIDERS.join(", ")} can inject them (abort faults work everywhere)`,
      });
    }
    if (step.chaos?.target === "dependency" && !DEPENDENCY_FAULT_PROVIDERS.includes(provider)) {
      ctx.addIssue({
        code: "custom",
        path: [...at, "chaos", "target"],
        message: `provider ${provider} cannot fault a dependency for the rollout's pods only; only ${DEPENDENCY_FAULT_PROVIDERS.join(", ")} can (sourceLabels), or use target: route`,
      });
    }
  });
}

export const PHASES = [
  "Idle",
  "Initializing",
  "Progressing",
  "Paused",
  "Promoting",
  "Succeeded",
  "RollingBack",
  "RolledBack",
  "Failed",
] as const;
export type Phase = (typeof PHASES)[number];

export const VERDICTS = ["Pass", "Fail", "Inconclusive", "NoData", "Error"] as const;

const Counts = z.strictObject({ bad: z.number().min(0), total: z.number().min(0) });
const Timestamp = z.iso.datetime({ offset: true });

/** What the controller records; it survives restarts, so nothing needed to resume lives only in memory. */
export const RolloutStatus = z.strictObject({
  phase: z.enum(PHASES).optional(),
  observedGeneration: z.number().int().min(0).optional(),
  revision: z.string().optional(),
  stableRevision: z.string().optional(),
  step: z.number().int().min(0).optional(),
  stepStartedAt: Timestamp.optional(),
  startedAt: Timestamp.optional(),
  canaryReadyAt: Timestamp.optional().describe(
    "When the canary first reported ready for this revision: the analysis' warm-up runs from here.",
  ),
  weights: z
    .strictObject({
      desired: z.number().min(0).max(100),
      applied: z.number().min(0).max(100).optional(),
      observed: z.number().min(0).max(100).optional(),
    })
    .optional(),
  pauseReason: z.string().optional(),
  message: z.string().optional(),
  analysis: z
    .array(
      z.strictObject({
        profile: z.string(),
        verdict: z.enum(VERDICTS),
        canary: Counts.optional(),
        baseline: Counts.optional(),
        evidence: z.string().optional(),
        invalidProfile: z
          .boolean()
          .optional()
          .describe("true when the verdict is an Error because the SLOProfile in the cluster is invalid"),
        critical: z
          .boolean()
          .optional()
          .describe("false when the profile's gate is not critical: reported, never deciding the rollout"),
      }),
    )
    .optional(),
  fault: z
    .strictObject({
      target: z.enum(["dependency", "route"]),
      host: z.string().optional(),
      expiresAt: Timestamp,
    })
    .optional(),
  lastCommand: z.strictObject({ id: z.string(), type: z.string(), appliedAt: Timestamp }).optional(),
  conditions: z
    .array(
      z.strictObject({
        type: z.string(),
        status: z.enum(["True", "False", "Unknown"]),
        reason: z.string().optional(),
        message: z.string().optional(),
        lastTransitionTime: Timestamp.optional(),
      }),
    )
    .optional(),
});

export const Rollout = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("Rollout"),
  metadata: objectMetadata(
    DnsLabel.max(MAX_ROLLOUT_NAME, {
      error: `must be at most ${MAX_ROLLOUT_NAME} characters, so that <name>-primary is a valid Service name`,
    }),
  ),
  spec: RolloutSpec,
  status: RolloutStatus.optional(),
});

/** A Rollout as the controller works with it: defaults filled in, durations in milliseconds. */
export type Rollout = z.output<typeof Rollout>;
export type RolloutSpec = z.output<typeof RolloutSpec>;
export type RolloutStatus = z.output<typeof RolloutStatus>;
export type Step = z.output<typeof Step>;

/**
 * The Services a rollout's traffic is addressed by: the apex `<name>` that callers use, the stable and
 * canary Services (as spec.traffic names them, else `<name>-primary` / `<name>-canary`), and the error
 * backend `<name>-fault`.
 */
export function serviceNames(rollout: Pick<Rollout, "metadata" | "spec">): {
  apex: string;
  stable: string;
  canary: string;
  fault: string;
} {
  const name = rollout.metadata.name;
  const { stableService, canaryService } = rollout.spec.traffic;
  return {
    apex: name,
    stable: stableService ?? `${name}${D.stableServiceSuffix}`,
    canary: canaryService ?? `${name}${D.canaryServiceSuffix}`,
    fault: `${name}${D.faultServiceSuffix}`,
  };
}

/** The Istio subset names of the stable and canary pods. */
export function subsetNames(spec: RolloutSpec): { stable: string; canary: string } {
  return spec.traffic.subsets ?? { ...D.istioSubsets };
}

/** The metric dialect a rollout's analysis reads: as set, or the traffic provider's mesh. */
export function metricsDialect(spec: RolloutSpec): MetricProvider {
  return spec.analysis.metrics ?? D.metricsByProvider[spec.traffic.provider];
}

export function parseRollout(document: unknown): ParseResult<Rollout> {
  return parseWith(Rollout, document);
}

/** The manifest form of a parsed Rollout (durations as text again). */
export function encodeRollout(rollout: Rollout): z.input<typeof Rollout> {
  return z.encode(Rollout, rollout);
}
