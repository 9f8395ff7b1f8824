import { describe, expect, it } from "vitest";
import { encodeRollout, parseRollout } from "../../../src/api/rollout.ts";

/** A complete, valid Rollout; each case below breaks one thing in a copy of it. */
function valid() {
  return {
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "checkout", namespace: "shop" },
    spec: {
      targetRef: { kind: "Deployment", name: "checkout" },
      service: { port: 8080 },
      traffic: { provider: "istio" },
      strategy: {
        canary: {
          steps: [
            { setWeight: 5 },
            { analysis: {} },
            { setWeight: 25 },
            {
              chaos: {
                fault: { abort: { httpStatus: 503, percent: 5 } },
                target: "dependency",
                host: "payments",
                duration: "2m",
              },
            },
            { setWeight: 50 },
            { pause: {} },
          ],
        },
      } as Record<string, unknown>,
      analysis: { interval: "15s", profiles: [{ name: "http-latency", args: { thresholdMs: 300 } }] },
      schedule: { window: "* 9-17 * * 1-5", timeZone: "Europe/Berlin" },
      progressDeadlineSeconds: 600,
      webhooks: [{ type: "confirm-promotion", url: "http://gate.ci/approve" }],
    } as Record<string, unknown>,
  };
}

type Doc = ReturnType<typeof valid>;
// biome-ignore lint/suspicious/noExplicitAny: the cases reach into the document to break it
type Any = any;

const invalid: [string, (doc: Any) => void, string, string][] = [
  [
    "wrong apiVersion",
    (d) => (d.apiVersion = "stepwise.dev/v1"),
    "apiVersion",
    'must be "stepwise.dev/v1alpha1"',
  ],
  ["missing name", (d) => delete d.metadata.name, "metadata.name", "is required"],
  [
    "an analysis interval under a second",
    (d) => (d.spec.analysis.interval = "0s"),
    "spec.analysis.interval",
    "must be at least 1s",
  ],
  [
    "name too long for Service names",
    (d) => (d.metadata.name = "a".repeat(56)),
    "metadata.name",
    "must be at most 55 characters, so that <name>-primary is a valid Service name",
  ],
  ["upper-case name", (d) => (d.metadata.name = "Checkout"), "metadata.name", "must be lower-case letters"],
  ["missing targetRef", (d) => delete d.spec.targetRef, "spec.targetRef", "is required"],
  [
    "targetRef not a Deployment",
    (d) => (d.spec.targetRef.kind = "StatefulSet"),
    "spec.targetRef.kind",
    'must be "Deployment"',
  ],
  [
    "port as text",
    (d) => (d.spec.service.port = "8080"),
    "spec.service.port",
    'must be a number, not the text "8080"',
  ],
  ["port out of range", (d) => (d.spec.service.port = 70000), "spec.service.port", "must be at most 65535"],
  [
    "linkerd as a provider",
    (d) => (d.spec.traffic.provider = "linkerd"),
    "spec.traffic.provider",
    'Linkerd splits traffic through "gateway" (HTTPRoute, current) or "smi" (TrafficSplit, legacy)',
  ],
  [
    "unknown provider",
    (d) => (d.spec.traffic.provider = "nginx"),
    "spec.traffic.provider",
    'must be one of "istio"',
  ],
  [
    "routeRef kind not of the provider",
    (d) => (d.spec.traffic.routeRef = { kind: "HTTPRoute", name: "checkout" }),
    "spec.traffic.routeRef.kind",
    "must be VirtualService for provider istio, not HTTPRoute",
  ],
  [
    "two strategies",
    (d) => (d.spec.strategy.blueGreen = {}),
    "spec.strategy",
    "a strategy needs exactly one of canary, blueGreen, abTest, not canary and blueGreen",
  ],
  [
    "no strategy",
    (d) => (d.spec.strategy = {}),
    "spec.strategy",
    "a strategy needs exactly one of canary, blueGreen, abTest",
  ],
  [
    "no steps",
    (d) => (d.spec.strategy.canary.steps = []),
    "spec.strategy.canary.steps",
    "must have at least 1 item",
  ],
  [
    "weight above 100",
    (d) => (d.spec.strategy.canary.steps[4].setWeight = 120),
    "spec.strategy.canary.steps[4].setWeight",
    "must be at most 100",
  ],
  [
    "weight of zero",
    (d) => (d.spec.strategy.canary.steps[0].setWeight = 0),
    "spec.strategy.canary.steps[0].setWeight",
    "must be greater than 0",
  ],
  [
    "weights going down",
    (d) => (d.spec.strategy.canary.steps[4].setWeight = 10),
    "spec.strategy.canary.steps[4].setWeight",
    "must not be lower than the weight of an earlier step (25)",
  ],
  [
    "fractional weight on Istio",
    (d) => (d.spec.strategy.canary.steps[0].setWeight = 0.5),
    "spec.strategy.canary.steps[0].setWeight",
    "must be a whole percent with provider istio",
  ],
  [
    "misspelt step field",
    (d) => (d.spec.strategy.canary.steps[3] = { setWieght: 30 }),
    "spec.strategy.canary.steps[3].setWieght",
    'unknown field (did you mean "setWeight"?)',
  ],
  [
    "two kinds in one step",
    (d) => (d.spec.strategy.canary.steps[2] = { setWeight: 25, pause: {} }),
    "spec.strategy.canary.steps[2]",
    "a step needs exactly one of setWeight, pause, analysis, chaos, not setWeight and pause",
  ],
  [
    "analysis before any traffic",
    (d) => d.spec.strategy.canary.steps.unshift({ analysis: {} }),
    "spec.strategy.canary.steps[0]",
    "needs a setWeight step before it",
  ],
  [
    "bad pause duration",
    (d) => (d.spec.strategy.canary.steps[5].pause = { duration: "10 minutes" }),
    "spec.strategy.canary.steps[5].pause.duration",
    "must be a duration such as 30s, 5m or 1h30m",
  ],
  [
    "dependency chaos without host",
    (d) => delete d.spec.strategy.canary.steps[3].chaos.host,
    "spec.strategy.canary.steps[3].chaos.host",
    "is required when target is dependency",
  ],
  [
    "fault with delay and abort",
    (d) => (d.spec.strategy.canary.steps[3].chaos.fault.delay = { fixed: "1s", percent: 10 }),
    "spec.strategy.canary.steps[3].chaos.fault",
    "a fault needs exactly one of delay, abort, not delay and abort",
  ],
  [
    "abort with an HTTP status out of range",
    (d) => (d.spec.strategy.canary.steps[3].chaos.fault.abort.httpStatus = 999),
    "spec.strategy.canary.steps[3].chaos.fault.abort.httpStatus",
    "must be at most 599",
  ],
  [
    "fault percent above 100",
    (d) => (d.spec.strategy.canary.steps[3].chaos.fault.abort.percent = 150),
    "spec.strategy.canary.steps[3].chaos.fault.abort.percent",
    "must be at most 100",
  ],
  [
    "delay fault on a provider without a fault filter",
    (d) => {
      d.spec.traffic.provider = "smi";
      d.spec.strategy.canary.steps[3].chaos.fault = { delay: { fixed: "2s", percent: 50 } };
    },
    "spec.strategy.canary.steps[3].chaos.fault.delay",
    "provider smi has no fault filter for delays; only istio can inject them",
  ],
  [
    "dependency fault on a provider that cannot single out the rollout's pods",
    (d) => {
      d.spec.traffic.provider = "gateway";
      d.spec.strategy.canary.steps[3].chaos = {
        fault: { abort: { httpStatus: 503, percent: 5 } },
        target: "dependency",
        host: "payments",
        duration: "1m",
      };
    },
    "spec.strategy.canary.steps[3].chaos.target",
    "provider gateway cannot fault a dependency for the rollout's pods only; only istio can (sourceLabels), or use target: route",
  ],
  [
    "chaos step judged by a profile the rollout does not list",
    (d) => (d.spec.strategy.canary.steps[3].chaos.profiles = ["http-latency", "http-caller-errors"]),
    "spec.strategy.canary.steps[3].chaos.profiles[1]",
    "http-caller-errors is not one of analysis.profiles (http-latency); list it there, with its args",
  ],
  [
    "analysis step judged by a profile the rollout does not list",
    (d) => (d.spec.strategy.canary.steps[1].analysis = { profiles: ["http-availability"] }),
    "spec.strategy.canary.steps[1].analysis.profiles[0]",
    "http-availability is not one of analysis.profiles (http-latency); list it there, with its args",
  ],
  [
    "blue-green preview on a provider that cannot mirror",
    (d) => {
      d.spec.traffic.provider = "consul";
      d.spec.strategy = { blueGreen: {} };
    },
    "spec.strategy.blueGreen.previewAnalysis",
    "provider consul cannot mirror traffic, so the preview would get no requests to judge; set it to false (the new version is then judged after the switch) or use istio or gateway",
  ],
  [
    "A/B test on SMI",
    (d) => {
      d.spec.traffic.provider = "smi";
      d.spec.strategy = { abTest: { match: [{ headers: { "x-beta": { exact: "1" } } }], duration: "10m" } };
    },
    "spec.strategy.abTest",
    "provider smi cannot route by header or cookie; use istio or gateway",
  ],
  [
    "A/B test with both duration and iterations",
    (d) => (d.spec.strategy = { abTest: { match: [{ cookie: "beta=1" }], duration: "10m", iterations: 3 } }),
    "spec.strategy.abTest",
    "an A/B test needs exactly one of duration, iterations, not duration and iterations",
  ],
  [
    "A/B match with a bad regex",
    (d) => (d.spec.strategy = { abTest: { match: [{ cookie: "beta=(" }], iterations: 3 } }),
    "spec.strategy.abTest.match[0].cookie",
    "must be a valid regular expression",
  ],
  [
    "bad analysis interval",
    (d) => (d.spec.analysis.interval = 15),
    "spec.analysis.interval",
    "must be a text value, not number 15",
  ],
  [
    "empty profile list",
    (d) => (d.spec.analysis.profiles = []),
    "spec.analysis.profiles",
    "must have at least 1 item",
  ],
  [
    "bad cron window",
    (d) => (d.spec.schedule.window = "every morning"),
    "spec.schedule.window",
    "must be a cron expression",
  ],
  [
    "unknown time zone",
    (d) => (d.spec.schedule.timeZone = "Mars/Olympus"),
    "spec.schedule.timeZone",
    "must be an IANA time zone",
  ],
  [
    "negative deadline",
    (d) => (d.spec.progressDeadlineSeconds = -5),
    "spec.progressDeadlineSeconds",
    "must be at least 1",
  ],
  [
    "unknown webhook type",
    (d) => (d.spec.webhooks[0].type = "pre-promotion"),
    "spec.webhooks[0].type",
    'must be one of "pre-rollout", "confirm-promotion", "post-rollout", "rollback", "event"',
  ],
  [
    "webhook URL not http",
    (d) => (d.spec.webhooks[0].url = "ftp://gate"),
    "spec.webhooks[0].url",
    "must be an http://",
  ],
  [
    "the same Service for stable and canary",
    (d) => Object.assign(d.spec.traffic, { stableService: "podinfo", canaryService: "podinfo" }),
    "spec.traffic.canaryService",
    "must differ from traffic.stableService",
  ],
  [
    "a Service name that is not a DNS label",
    (d) => (d.spec.traffic.stableService = "Podinfo.Stable"),
    "spec.traffic.stableService",
    "must be lower-case letters",
  ],
  [
    "subsets outside Istio subset mode",
    (d) => (d.spec.traffic.subsets = { stable: "v1", canary: "v2" }),
    "spec.traffic.subsets",
    "only used with provider istio in subset mode",
  ],
  [
    "one subset for both versions",
    (d) =>
      Object.assign(d.spec.traffic, { istio: { mode: "subset" }, subsets: { stable: "v1", canary: "v1" } }),
    "spec.traffic.subsets.canary",
    "must differ from subsets.stable",
  ],
  [
    "status with unknown phase",
    (d) => ((d as Any).status = { phase: "Done" }),
    "status.phase",
    'must be one of "Idle"',
  ],
];

describe("parseRollout", () => {
  it("accepts the design's example and fills in every default", () => {
    const doc = valid();
    delete (doc.spec as Any).analysis;
    delete (doc.spec as Any).progressDeadlineSeconds;
    const result = parseRollout(doc);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const spec = result.value.spec;
    expect(spec.targetRef.apiVersion).toBe("apps/v1");
    expect(spec.analysis).toEqual({
      interval: 15_000,
      profiles: [{ name: "http-availability", required: true }],
    });
    expect(spec.progressDeadlineSeconds).toBe(600);
    expect(spec.webhooks?.[0]).toMatchObject({ timeout: 10_000, retries: 2 });
    expect(spec.strategy.canary?.steps[3]?.chaos?.duration).toBe(120_000);
  });

  it.each(invalid)("reports %s at its field", (_name, breakIt, path, message) => {
    const doc: Doc = structuredClone(valid());
    breakIt(doc);
    const result = parseRollout(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message: expect.stringContaining(message) });
  });

  it("round-trips: encoding a parsed Rollout and parsing it again gives the same value", () => {
    const docs: Doc[] = [valid()];
    const blueGreen = valid();
    blueGreen.spec.strategy = { blueGreen: { scaleDownDelay: "1m30s" } };
    const ab = valid();
    ab.spec.traffic = { provider: "gateway", routeRef: { kind: "GRPCRoute", name: "checkout" } };
    ab.spec.strategy = { abTest: { match: [{ headers: { "x-beta": { regex: "^1$" } } }], iterations: 4 } };
    docs.push(blueGreen, ab);
    for (const doc of docs) {
      const first = parseRollout(doc);
      if (!first.ok) throw new Error(JSON.stringify(first.errors));
      const second = parseRollout(encodeRollout(first.value));
      expect(second).toEqual(first);
    }
  });

  it("fills blue-green defaults and keeps fractional weights on gateway", () => {
    const blueGreen = valid();
    blueGreen.spec.strategy = { blueGreen: {} };
    const bg = parseRollout(blueGreen);
    expect(bg.ok && bg.value.spec.strategy.blueGreen).toEqual({
      autoPromote: true,
      previewAnalysis: true,
      scaleDownDelay: 30_000,
    });
    const gateway = valid();
    gateway.spec.traffic = { provider: "gateway" };
    (gateway.spec.strategy as Any).canary.steps[0].setWeight = 0.5;
    // a dependency fault needs Istio; on the route, the gateway sends a share to the fault server
    (gateway.spec.strategy as Any).canary.steps[3].chaos = {
      fault: { abort: { httpStatus: 503, percent: 5 } },
      target: "route",
      duration: "1m",
    };
    expect(parseRollout(gateway)).toMatchObject({ ok: true });
  });
});
