/**
 * Property: for any sequence of split changes, A/B matches, mirrors and faults, on realistic objects,
 * - every patch applies to the object it was computed from (its tests hold);
 * - the parts the controller does not own are deep-equal to the original;
 * - weights add up as the API requires;
 * - each change is idempotent (planning it again changes nothing) and reads back as asked;
 * - finalize gives back the original object (all fixtures start stable-only).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ConsulModel } from "../../../src/routers/consul.ts";
import { GatewayModel } from "../../../src/routers/gateway.ts";
import { IstioModel } from "../../../src/routers/istio.ts";
import type { Change, RouteModel } from "../../../src/routers/model.ts";
import { asArray, asRecord } from "../../../src/routers/patch.ts";
import { RECORD_PREFIX } from "../../../src/routers/record.ts";
import { SmiModel } from "../../../src/routers/smi.ts";
import type { Fault, RequestMatch } from "../../../src/routers/types.ts";
import { parseQuantity } from "../../../src/routers/weights.ts";
import { applyPatch, context, fixture, istioContext, withoutVersion } from "./support.ts";

const OURS = new Set(["checkout-primary", "checkout-canary", "checkout-fault"]);

interface Case {
  name: string;
  fixture: string;
  model: RouteModel;
  /** The object with every part the controller may own taken out. */
  userView(object: KubeObject): unknown;
  /** Throws when the weights do not add up as the API requires. */
  checkWeights(object: KubeObject): void;
  wholePercents?: boolean;
  /** 1 / the share of the object the rollout's destinations have (the user's other destinations hold the rest). */
  ownShare?: number;
}

function stripRecord(object: KubeObject): KubeObject {
  const copy = withoutVersion(object);
  const annotations = Object.fromEntries(
    Object.entries(copy.metadata.annotations ?? {}).filter(([key]) => !key.startsWith(RECORD_PREFIX)),
  );
  if (Object.keys(annotations).length > 0) copy.metadata.annotations = annotations;
  else delete copy.metadata.annotations;
  return copy;
}

function istioView(managed: string) {
  return (object: KubeObject) => {
    const copy = stripRecord(object);
    const spec = asRecord(copy.spec);
    spec.http = asArray(spec.http)
      .filter((r) => !String(asRecord(r).name).startsWith("stepwise-"))
      .map((r) => {
        const route = { ...asRecord(r) };
        if (route.name === managed) {
          delete route.route;
          delete route.mirror;
          delete route.mirrorPercentage;
          delete route.fault;
        }
        return route;
      });
    return copy;
  };
}

function istioWeights(object: KubeObject): void {
  for (const r of asArray(asRecord(object.spec).http)) {
    const entries = asArray(asRecord(r).route);
    if (entries.length < 2) continue;
    const weights = entries.map((e) => asRecord(e).weight);
    if (!weights.every((w) => Number.isInteger(w))) throw new Error(`weights must be integers: ${weights}`);
    const sum = (weights as number[]).reduce((a, b) => a + b, 0);
    if (sum !== 100) throw new Error(`weights add up to ${sum}, not 100`);
  }
}

function gatewayView(object: KubeObject) {
  const copy = stripRecord(object);
  const spec = asRecord(copy.spec);
  spec.rules = asArray(spec.rules)
    .filter((r) => !String(asRecord(r).name).startsWith("stepwise-"))
    .map((r) => {
      const rule = { ...asRecord(r) };
      if (asArray(rule.backendRefs).some((b) => OURS.has(String(asRecord(b).name)))) {
        delete rule.backendRefs;
        const filters = asArray(rule.filters).filter(
          (f) => asRecord(asRecord(asRecord(f).requestMirror).backendRef).name !== "checkout-canary",
        );
        if (filters.length > 0) rule.filters = filters;
        else delete rule.filters;
      }
      return rule;
    });
  return copy;
}

function gatewayWeights(object: KubeObject): void {
  for (const r of asArray(asRecord(object.spec).rules)) {
    const refs = asArray(asRecord(r).backendRefs);
    const weights = refs.map((b) => asRecord(b).weight ?? 1);
    if (!weights.every((w) => Number.isInteger(w) && (w as number) >= 0 && (w as number) <= 1_000_000)) {
      throw new Error(`weights must be integers from 0 to 1000000: ${weights}`);
    }
    if (refs.length > 0 && (weights as number[]).reduce((a, b) => a + b, 0) === 0)
      throw new Error("all weights are 0");
  }
}

function listView(field: "backends" | "splits", key: "service") {
  return (object: KubeObject) => {
    const copy = stripRecord(object);
    const spec = asRecord(copy.spec);
    spec[field] = asArray(spec[field]).filter((entry) => {
      const e = asRecord(entry);
      return !(OURS.has(String(e[key])) && e.serviceSubset === undefined);
    });
    return copy;
  };
}

function smiWeights(quantity: boolean) {
  return (object: KubeObject) => {
    const weights = asArray(asRecord(object.spec).backends).map((b) => asRecord(b).weight);
    const values = weights.map((w) =>
      quantity ? parseQuantity(w) : Number.isInteger(w) ? (w as number) : undefined,
    );
    if (values.some((v) => v === undefined || v < 0)) throw new Error(`bad weights ${weights}`);
    if ((values as number[]).reduce((a, b) => a + b, 0) <= 0) throw new Error("all weights are 0");
  };
}

function consulWeights(object: KubeObject): void {
  const weights = asArray(asRecord(object.spec).splits).map((s) => asRecord(s).weight as number);
  for (const w of weights)
    if (Math.abs(w * 100 - Math.round(w * 100)) > 1e-6) throw new Error(`${w} has more than two decimals`);
  const sum = weights.reduce((a, b) => a + Math.round(b * 100), 0);
  if (sum !== 10_000) throw new Error(`splits add up to ${sum / 100}, not 100`);
}

const CASES: Case[] = [
  {
    name: "Istio host mode",
    fixture: "virtualservice-checkout",
    model: new IstioModel(istioContext("host"), "networking.istio.io/v1"),
    userView: istioView("primary"),
    checkWeights: istioWeights,
    wholePercents: true,
  },
  {
    name: "Istio subset mode",
    fixture: "virtualservice-subset",
    model: new IstioModel(istioContext("subset"), "networking.istio.io/v1"),
    userView: istioView("main"),
    checkWeights: istioWeights,
    wholePercents: true,
  },
  {
    name: "HTTPRoute",
    fixture: "httproute-checkout",
    model: new GatewayModel(context(), "HTTPRoute", "gateway.networking.k8s.io/v1"),
    userView: gatewayView,
    checkWeights: gatewayWeights,
  },
  {
    name: "GRPCRoute",
    fixture: "grpcroute-checkout",
    model: new GatewayModel(context(), "GRPCRoute", "gateway.networking.k8s.io/v1"),
    userView: gatewayView,
    checkWeights: gatewayWeights,
  },
  ...(["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"] as const).map(
    (version): Case => ({
      name: `TrafficSplit ${version}`,
      fixture: `trafficsplit-${version}`,
      model: new SmiModel(context(), `split.smi-spec.io/${version}`),
      userView: listView("backends", "service"),
      checkWeights: smiWeights(version === "v1alpha1"),
      ownShare: version === "v1alpha3" ? 1000 / 900 : 1,
    }),
  ),
  {
    name: "ServiceSplitter",
    fixture: "servicesplitter-checkout",
    model: new ConsulModel(context(), "consul.hashicorp.com/v1alpha1"),
    userView: listView("splits", "service"),
    checkWeights: consulWeights,
    ownShare: 100 / 85,
  },
];

const headerName = fc.stringMatching(/^x-[a-z][a-z0-9-]{0,8}[a-z0-9]$/);
const headerValue = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
const stringMatch = fc.oneof(
  headerValue.map((exact) => ({ exact })),
  headerValue.map((prefix) => ({ prefix })),
  headerValue.map((value) => ({ regex: `^${value}$` })),
);
const requestMatch: fc.Arbitrary<RequestMatch> = fc
  .record(
    {
      headers: fc.dictionary(headerName, stringMatch, { minKeys: 1, maxKeys: 2 }),
      cookie: headerValue.map((v) => `user=${v}`),
    },
    { requiredKeys: [] },
  )
  .filter((m) => m.headers !== undefined || m.cookie !== undefined);

function changes(c: Case): fc.Arbitrary<Change[]> {
  const caps = c.model.capabilities;
  const percent = c.wholePercents
    ? fc.integer({ min: 0, max: 100 })
    : fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);
  const abort: fc.Arbitrary<Fault> = fc.record({
    abort: fc.oneof(
      fc.record({ httpStatus: fc.constantFrom(500, 503, 429), percent: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ grpcStatus: fc.constantFrom(13, 14), percent: fc.integer({ min: 1, max: 50 }) }),
    ),
  });
  const delay: fc.Arbitrary<Fault> = fc.record({
    delay: fc.record({ fixed: fc.integer({ min: 1, max: 5000 }), percent: fc.integer({ min: 1, max: 100 }) }),
  });
  const options: fc.Arbitrary<Change>[] = [
    percent.map((canaryPercent) => ({ kind: "weight", canaryPercent })),
    fc
      .option(caps.delayFault ? fc.oneof(abort, delay) : abort, { nil: null })
      .map((fault) => ({ kind: "fault", fault })),
  ];
  if (caps.headerMatch) {
    const matches = caps.cookieMatch ? requestMatch : requestMatch.filter((m) => m.cookie === undefined);
    options.push(
      fc
        .option(fc.array(matches, { minLength: 1, maxLength: 2 }), { nil: null })
        .map((m) => ({ kind: "match", matches: m })),
    );
  }
  if (caps.mirror) {
    options.push(
      fc
        .option(
          fc.integer({ min: 1, max: 10_000 }).map((n) => n / 100),
          { nil: null },
        )
        .map((p) => ({ kind: "mirror", percent: p })),
    );
  }
  return fc.array(fc.oneof(...options), { minLength: 1, maxLength: 12 });
}

describe.each(CASES)("$name", (c) => {
  it("owns only its parts, keeps weights valid, is idempotent, and finalize restores the original", () => {
    const original = fixture(c.fixture);
    const view = c.userView(original);
    fc.assert(
      fc.property(changes(c), (sequence) => {
        let object = original;
        for (const change of sequence) {
          const builder = c.model.plan(object, change);
          const after = applyPatch(object, builder);
          expect(c.userView(after)).toEqual(view);
          c.checkWeights(after);
          expect(c.model.plan(after, change).changed).toBe(false);
          const state = c.model.parse(after);
          if (change.kind === "weight") {
            // Half a step of the API, in the rollout's share of the object, less what a fault backend holds.
            const tolerance =
              (c.model.capabilities.minStep / 2) * (c.ownShare ?? 1) * (100 / (100 - state.faultWeight)) +
              2e-6;
            expect(Math.abs(state.canaryWeight - change.canaryPercent)).toBeLessThanOrEqual(tolerance);
          }
          if (change.kind === "mirror") expect(state.mirror).toBe(change.percent);
          if (change.kind === "match") expect(state.match).toEqual(change.matches);
          if (change.kind === "fault") expect(state.fault?.fault ?? null).toEqual(change.fault);
          expect(state.drift).toBeUndefined();
          object = after;
        }
        const done = applyPatch(object, c.model.plan(object, { kind: "finalize" }));
        expect(withoutVersion(done)).toEqual(withoutVersion(original));
      }),
      { numRuns: 150 },
    );
  });
});
