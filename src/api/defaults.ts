/**
 * Every default of the Rollout and SLOProfile APIs, in one place. Schemas read them from here, so the
 * docs, the CRDs and the parsed values cannot disagree.
 */
export const ROLLOUT_DEFAULTS = {
  targetApiVersion: "apps/v1",
  istioMode: "host",
  istioSubsets: { stable: "primary", canary: "canary" },
  stableServiceSuffix: "-primary",
  canaryServiceSuffix: "-canary",
  faultServiceSuffix: "-fault",
  gatewayRouteKind: "HTTPRoute",
  analysisInterval: "15s",
  profiles: [{ name: "http-availability" }],
  profileRequired: true,
  progressDeadlineSeconds: 600,
  blueGreen: { autoPromote: true, previewAnalysis: true, scaleDownDelay: "30s" },
  webhookTimeout: "10s",
  webhookRetries: 2,
  scheduleTimeZone: "UTC",
  /** Whose metric families the SLO queries read, by traffic provider (Linkerd reports for SMI and HTTPRoute). */
  metricsByProvider: { istio: "istio", smi: "linkerd", gateway: "linkerd", consul: "consul" },
} as const;

export const GATE_DEFAULTS = {
  compare: "baseline",
  tolerance: 0.01,
  alpha: 0.05,
  minRequests: 50,
  warmup: "30s",
  noData: { policy: "hold", deadline: "5m" },
  critical: true,
} as const;
