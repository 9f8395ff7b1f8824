/**
 * Property: for any sequence of split changes, A/B matches, mirrors and faults, on realistic objects
 * (the fixtures, and the fixtures with the user's own destinations in the managed rule, in every
 * provider, with weights from fine to as coarse as 1/1),
 * - every patch applies to the object it was computed from (its tests hold);
 * - the parts the controller does not own are deep-equal to the original;
 * - weights add up as the API requires;
 * - each change is idempotent (planning it again changes nothing);
 * - the weight contract (src/routers/traffic-router.ts), with shares computed here from the raw weights: the
 *   canary's share of the rule's traffic never exceeds the step asked for by more than one weight unit;
 *   a step is applied within one unit when it is expressible; the user's destinations keep their share;
 *   a step that is not expressible throws WeightNotExpressibleError, and only then;
 * - finalize gives back the original object (all start stable-only), rescaled weights included;
 * - a route fault, and when it expires, stays recorded through every other change.
 * And for Istio dependency faults on a user's VirtualService for the dependency, for any sequence of
 * faults and clears: every patch applies; the user's routes, hosts, annotations and everything else stay
 * as they were; the fault route is first and routes like the user's catch-all; each change is idempotent;
 * clearing gives back the original object.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ConsulModel } from "../../../src/routers/consul/service-splitter.ts";
import { WeightNotExpressibleError } from "../../../src/routers/errors.ts";
import { GatewayModel } from "../../../src/routers/gateway/route.ts";
import {
  createFaultVirtualService,
  IstioModel,
  planClearDependencyFault,
  planDependencyFault,
} from "../../../src/routers/istio/virtual-service.ts";
import type { Change, RouteModel } from "../../../src/routers/model.ts";
import { asArray, asRecord, type PatchBuilder } from "../../../src/routers/patch.ts";
import { RECORD_PREFIX, readRecord } from "../../../src/routers/record.ts";
import { SmiModel } from "../../../src/routers/smi/traffic-split.ts";
import type { Fault, RequestMatch } from "../../../src/routers/traffic-router.ts";
import { parseQuantity } from "../../../src/routers/weights.ts";
import { applyPatch, context, fixture, istioContext, withoutVersion } from "./support.ts";

const OURS = new Set(["checkout-primary", "checkout-canary", "checkout-fault"]);
const ROLE: Record<string, Role> = {
  "checkout-primary": "stable",
  "checkout-canary": "canary",
  "checkout-fault": "fault",
};

type Role = "stable" | "canary" | "fault" | "foreign";
/** The managed weighted list as read here, independently of the routers: each entry's role and units. */
type Entries = { role: Role; units: number }[];

interface Case {
  name: string;
  model: RouteModel;
  /** The objects to start from (all stable-only). */
  objects: fc.Arbitrary<KubeObject>;
  /** The object with every part the controller may own taken out, and the user's weights in the managed rule. */
  userView(object: KubeObject): unknown;
  /** Throws when the weights do not add up as the API requires. */
  checkWeights(object: KubeObject): void;
  /** The managed rule's entries. */
  entries(object: KubeObject): Entries;
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

/** The user's entries of a weighted list, without their weights (a rescale may multiply those). */
function othersWithoutWeight(list: unknown, ours: (entry: Record<string, unknown>) => boolean): unknown[] {
  return asArray(list)
    .map(asRecord)
    .filter((entry) => !ours(entry))
    .map(({ weight: _weight, ...rest }) => rest);
}

function istioRole(mode: "host" | "subset", entry: unknown): Role {
  const d = asRecord(asRecord(entry).destination);
  if (mode === "host") return ROLE[String(d.host)] ?? "foreign";
  if (d.host !== "checkout") return "foreign";
  return d.subset === "primary" ? "stable" : d.subset === "canary" ? "canary" : "foreign";
}

function istioView(managed: string, mode: "host" | "subset") {
  return (object: KubeObject) => {
    const copy = stripRecord(object);
    const spec = asRecord(copy.spec);
    spec.http = asArray(spec.http)
      .filter((r) => !String(asRecord(r).name).startsWith("stepwise-"))
      .map((r) => {
        const route = { ...asRecord(r) };
        if (route.name === managed) {
          route.route = othersWithoutWeight(route.route, (e) => istioRole(mode, e) !== "foreign");
          delete route.mirror;
          delete route.mirrorPercentage;
          delete route.fault;
        }
        return route;
      });
    return copy;
  };
}

function istioEntries(managed: string, mode: "host" | "subset") {
  return (object: KubeObject): Entries => {
    const route = asArray(asRecord(object.spec).http)
      .map(asRecord)
      .find((r) => r.name === managed);
    const list = asArray(route?.route);
    return list.map((e) => ({
      role: istioRole(mode, e),
      units: (asRecord(e).weight as number | undefined) ?? (list.length === 1 ? 100 : 0),
    }));
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

const oursByName = (entry: Record<string, unknown>) => OURS.has(String(entry.name));

function gatewayView(object: KubeObject) {
  const copy = stripRecord(object);
  const spec = asRecord(copy.spec);
  spec.rules = asArray(spec.rules)
    .filter((r) => !String(asRecord(r).name).startsWith("stepwise-"))
    .map((r) => {
      const rule = { ...asRecord(r) };
      if (asArray(rule.backendRefs).some((b) => oursByName(asRecord(b)))) {
        rule.backendRefs = othersWithoutWeight(rule.backendRefs, oursByName);
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

function gatewayEntries(object: KubeObject): Entries {
  const rule = asArray(asRecord(object.spec).rules)
    .map(asRecord)
    .find(
      (r) =>
        !String(r.name).startsWith("stepwise-") &&
        asArray(r.backendRefs).some((b) => asRecord(b).name === "checkout-primary"),
    );
  return asArray(rule?.backendRefs).map((b) => ({
    role: ROLE[String(asRecord(b).name)] ?? "foreign",
    units: (asRecord(b).weight as number | undefined) ?? 1,
  }));
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

const oursByService = (entry: Record<string, unknown>) =>
  OURS.has(String(entry.service)) && entry.serviceSubset === undefined;

function listView(field: "backends" | "splits") {
  return (object: KubeObject) => {
    const copy = stripRecord(object);
    const spec = asRecord(copy.spec);
    spec[field] = othersWithoutWeight(spec[field], oursByService);
    return copy;
  };
}

function listEntries(field: "backends" | "splits", units: (raw: unknown) => number) {
  return (object: KubeObject): Entries =>
    asArray(asRecord(object.spec)[field]).map((entry) => {
      const e = asRecord(entry);
      return {
        role: e.serviceSubset === undefined ? (ROLE[String(e.service)] ?? "foreign") : "foreign",
        units: units(e.weight),
      };
    });
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

/** Returns a copy of `object` with `edit` applied to it. */
function edited(object: KubeObject, edit: (spec: Record<string, unknown>) => void): KubeObject {
  const copy = structuredClone(object);
  edit(asRecord(copy.spec));
  return copy;
}

/** Two entries, in either order. */
function pair<T>(a: T, b: T, swap: boolean): T[] {
  return swap ? [b, a] : [a, b];
}

/** A weight field, or none (the API's default). */
function weightField(weight: number | undefined): Record<string, unknown> {
  return weight === undefined ? {} : { weight };
}

// The user's own destination next to the stable one in the managed rule, in each provider's form.
const istioForeign = (mode: "host" | "subset") =>
  fc.tuple(fc.integer({ min: 0, max: 60 }), fc.boolean()).map(([w, swap]) =>
    edited(fixture(mode === "host" ? "virtualservice-checkout" : "virtualservice-subset"), (spec) => {
      const route = asArray(spec.http)
        .map(asRecord)
        .find((r) => r.name === (mode === "host" ? "primary" : "main"))!;
      const stable = asRecord(asArray(route.route)[0]);
      const other =
        mode === "host"
          ? { host: "checkout-legacy", port: { number: 8080 } }
          : { host: "checkout", subset: "legacy", port: { number: 8080 } };
      route.route = pair({ ...stable, weight: 100 - w }, { destination: other, weight: w }, swap);
    }),
  );

const optionalWeight = (values: number[]) =>
  fc.option(fc.constantFrom(...values), { nil: undefined, freq: 4 });
const gatewayForeign = (name: string) =>
  fc
    .tuple(optionalWeight([1, 3, 90, 9000]), optionalWeight([0, 1, 10, 1000]), fc.boolean())
    .map(([stableWeight, otherWeight, swap]) =>
      edited(fixture(name), (spec) => {
        const rule = asArray(spec.rules)
          .map(asRecord)
          .find((r) => asArray(r.backendRefs).some((b) => asRecord(b).name === "checkout-primary"))!;
        rule.name = "main";
        const { weight: _weight, ...stable } = asRecord(asArray(rule.backendRefs)[0]);
        rule.backendRefs = pair(
          { ...stable, ...weightField(stableWeight) },
          { name: "checkout-legacy", port: 8080, ...weightField(otherWeight) },
          swap,
        );
      }),
    );

const smiForeign = (version: string) =>
  fc
    .tuple(fc.constantFrom(1, 9, 90, 900), fc.constantFrom(0, 1, 10, 100), fc.boolean())
    .map(([stable, other, swap]) =>
      edited(fixture(`trafficsplit-${version}`), (spec) => {
        const units = (n: number) => (version === "v1alpha1" ? String(n) : n);
        spec.backends = pair(
          { service: "checkout-primary", weight: units(stable) },
          { service: "checkout-legacy", weight: units(other) },
          swap,
        );
      }),
    );

const consulSplits = fc
  .tuple(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 20 }).map((n) => n / 4),
  )
  .map(([legacy, eu]) =>
    edited(fixture("servicesplitter-checkout"), (spec) => {
      const splits = asArray(spec.splits).map(asRecord);
      splits[0]!.weight = 100 - legacy - eu;
      splits[1]!.weight = legacy;
      splits[2]!.weight = eu;
    }),
  );

const smiUnits = (quantity: boolean) => (raw: unknown) =>
  quantity ? (parseQuantity(raw) ?? 0) : typeof raw === "number" ? raw : 0;

const SMI_VERSIONS = ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"] as const;

const CASES: Case[] = [
  ...(["host", "subset"] as const).flatMap((mode): Case[] => {
    const managed = mode === "host" ? "primary" : "main";
    const common = {
      userView: istioView(managed, mode),
      checkWeights: istioWeights,
      entries: istioEntries(managed, mode),
    };
    const fixtureName = mode === "host" ? "virtualservice-checkout" : "virtualservice-subset";
    return [
      {
        name: `Istio ${mode} mode`,
        model: new IstioModel(istioContext(mode), "networking.istio.io/v1"),
        objects: fc.constant(fixture(fixtureName)),
        ...common,
      },
      {
        name: `Istio ${mode} mode, a destination of the user's in the named route`,
        model: new IstioModel(istioContext(mode, { routeName: managed }), "networking.istio.io/v1"),
        objects: istioForeign(mode),
        ...common,
      },
    ];
  }),
  ...(["HTTPRoute", "GRPCRoute"] as const).flatMap((kind): Case[] => {
    const fixtureName = kind === "HTTPRoute" ? "httproute-checkout" : "grpcroute-checkout";
    const common = { userView: gatewayView, checkWeights: gatewayWeights, entries: gatewayEntries };
    return [
      {
        name: kind,
        model: new GatewayModel(context(), kind, "gateway.networking.k8s.io/v1"),
        objects: fc.constant(fixture(fixtureName)),
        ...common,
      },
      {
        name: `${kind}, a backend of the user's in the named rule`,
        model: new GatewayModel(context({ routeName: "main" }), kind, "gateway.networking.k8s.io/v1"),
        objects: gatewayForeign(fixtureName),
        ...common,
      },
    ];
  }),
  ...SMI_VERSIONS.flatMap((version): Case[] => {
    const model = new SmiModel(context(), `split.smi-spec.io/${version}`);
    const common = {
      model,
      userView: listView("backends"),
      checkWeights: smiWeights(version === "v1alpha1"),
      entries: listEntries("backends", smiUnits(version === "v1alpha1")),
    };
    return [
      {
        name: `TrafficSplit ${version}`,
        objects: fc.constant(fixture(`trafficsplit-${version}`)),
        ...common,
      },
      { name: `TrafficSplit ${version}, a backend of the user's`, objects: smiForeign(version), ...common },
    ];
  }),
  {
    name: "ServiceSplitter (the user's subset and namespace splits)",
    model: new ConsulModel(context(), "consul.hashicorp.com/v1alpha1"),
    objects: consulSplits,
    userView: listView("splits"),
    checkWeights: consulWeights,
    entries: listEntries("splits", (raw) => (typeof raw === "number" ? Math.round(raw * 100) : 0)),
  },
];

const headerName = fc.stringMatching(/^x-[a-z][a-z0-9-]{0,8}[a-z0-9]$/);
const headerValue = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
const stringMatch = fc.oneof(
  headerValue.map((exact) => ({ exact })),
  headerValue.map((prefix) => ({ prefix })),
  headerValue.map((value) => ({ regex: `^${value}$` })),
);
/** An expiry time (ISO 8601, as the controller writes it), or none. */
const expiry = fc.option(
  fc
    .date({
      min: new Date("2020-01-01T00:00:00Z"),
      max: new Date("2040-01-01T00:00:00Z"),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
  { nil: undefined },
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

const abort: fc.Arbitrary<Fault> = fc.record({
  abort: fc.oneof(
    fc.record({ httpStatus: fc.constantFrom(500, 503, 429), percent: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ grpcStatus: fc.constantFrom(13, 14), percent: fc.integer({ min: 1, max: 50 }) }),
  ),
});
const delay: fc.Arbitrary<Fault> = fc.record({
  delay: fc.record({ fixed: fc.integer({ min: 1, max: 5000 }), percent: fc.integer({ min: 1, max: 100 }) }),
});

function changes(c: Case): fc.Arbitrary<Change[]> {
  const caps = c.model.capabilities;
  // Any step to a hundredth of a percent, so that every API has to round; small steps more often.
  const percent = fc.oneof(
    fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100),
    fc.integer({ min: 0, max: 5000 }).map((n) => n / 100),
  );
  const options: fc.Arbitrary<Change>[] = [
    percent.map((canaryPercent) => ({ kind: "weight", canaryPercent })),
    fc
      .tuple(fc.option(caps.delayFault ? fc.oneof(abort, delay) : abort, { nil: null }), expiry)
      .map(
        ([fault, expiresAt]): Change =>
          expiresAt === undefined ? { kind: "fault", fault } : { kind: "fault", fault, expiresAt },
      ),
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

interface Split {
  /** The canary's share of the rule's traffic, in percent: what it really gets. */
  canaryTraffic: number;
  /** The canary's share as the contract counts it: the fault backend's traffic as stable's and canary's. */
  canaryShare: number;
  /** Each of the user's destinations' share of the rule's traffic, in percent. */
  foreign: number[];
}

function splitOf(entries: Entries): Split {
  const total = entries.reduce((sum, e) => sum + e.units, 0);
  const units = (role: Role) => entries.filter((e) => e.role === role).reduce((sum, e) => sum + e.units, 0);
  const [stable, canary, fault] = [units("stable"), units("canary"), units("fault")];
  return {
    canaryTraffic: total > 0 ? (canary * 100) / total : 0,
    canaryShare:
      stable + canary > 0 ? ((canary / (stable + canary)) * (stable + canary + fault) * 100) / total : 0,
    foreign: entries
      .filter((e) => e.role === "foreign")
      .map((e) => (total > 0 ? (e.units * 100) / total : 0)),
  };
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => {
    expect(Math.abs(value - expected[i]!)).toBeLessThan(1e-6);
  });
}

/** The plan for a change, or the WeightNotExpressibleError it throws. */
function planOrRefusal(model: RouteModel, object: KubeObject, change: Change): PatchBuilder | Error {
  try {
    return model.plan(object, change);
  } catch (error) {
    if (error instanceof WeightNotExpressibleError) return error;
    throw error;
  }
}

describe.each(CASES)("$name", (c) => {
  it("owns only its parts, keeps weights valid and the weight contract, is idempotent, and finalize restores the original", () => {
    const minStep = c.model.capabilities.minStep;
    fc.assert(
      fc.property(c.objects, changes(c), (original, sequence) => {
        const view = c.userView(original);
        const foreign = splitOf(c.entries(original)).foreign;
        const otherShare = foreign.reduce((a, b) => a + b, 0);
        let object = original;
        let fault: { fault: Fault; expiresAt: string | undefined } | null = null;
        let asked: number | undefined;
        for (const change of sequence) {
          const planned = planOrRefusal(c.model, object, change);
          if (planned instanceof Error) {
            // Refused only for a step above what the user's destinations leave, or below one unit.
            expect(change.kind).toBe("weight");
            const step = change.kind === "weight" ? change.canaryPercent : 0;
            expect(step > 100 - otherShare + 1e-9 || step < minStep).toBe(true);
            continue;
          }
          if (change.kind === "weight") {
            // Beyond what the user's destinations leave (by more than a unit), a step must be refused.
            expect(change.canaryPercent > 100 - otherShare + minStep).toBe(false);
            asked = change.canaryPercent;
          }
          const after = applyPatch(object, planned);
          expect(c.userView(after)).toEqual(view);
          c.checkWeights(after);
          expect(c.model.plan(after, change).changed).toBe(false);
          const state = c.model.parse(after);
          const split = splitOf(c.entries(after));
          expect(Math.abs(state.canaryWeight - split.canaryShare)).toBeLessThan(1e-5);
          expectClose(split.foreign, foreign);
          expect(state.foreignWeight).toBeCloseTo(otherShare, 5);
          if (asked !== undefined) {
            // The invariant, on the traffic the canary really gets, after every change.
            expect(split.canaryTraffic).toBeLessThanOrEqual(asked + state.weightUnit + 1e-6);
            expect(Math.abs(state.canaryWeight - asked)).toBeLessThan(state.weightUnit);
          }
          if (change.kind === "mirror") expect(state.mirror).toBe(change.percent);
          if (change.kind === "match") expect(state.match).toEqual(change.matches);
          if (change.kind === "fault") {
            fault = change.fault === null ? null : { fault: change.fault, expiresAt: change.expiresAt };
          }
          // The fault (and when it expires) stays as last set through every other change, and reads
          // back from the record.
          expect(state.fault?.fault ?? null).toEqual(fault?.fault ?? null);
          expect(state.fault?.expiresAt).toBe(fault?.expiresAt);
          expect(readRecord(after, "checkout")?.fault?.expiresAt).toBe(fault?.expiresAt);
          expect(state.drift).toBeUndefined();
          object = after;
        }
        const done = applyPatch(object, c.model.plan(object, { kind: "finalize" }));
        expect(withoutVersion(done)).toEqual(withoutVersion(original));
      }),
      { numRuns: 80 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Istio dependency faults on a user's VirtualService for the dependency

const FAULT_ROUTE = "stepwise-fault-checkout";
const FAULT_EXPIRY = "fault.stepwise.dev/checkout";
const GRPC_NAMES: Record<number, string> = { 13: "INTERNAL", 14: "UNAVAILABLE" };

/** The Istio HTTPFaultInjection a fault becomes. */
function istioFaultOf(fault: Fault): unknown {
  if (fault.delay) {
    return {
      delay: { fixedDelay: `${fault.delay.fixed / 1000}s`, percentage: { value: fault.delay.percent } },
    };
  }
  const { httpStatus, grpcStatus, percent } = fault.abort!;
  const code = grpcStatus !== undefined ? { grpcStatus: GRPC_NAMES[grpcStatus] } : { httpStatus };
  return { abort: { ...code, percentage: { value: percent } } };
}

function httpRoutes(object: KubeObject): Record<string, unknown>[] {
  return asArray(asRecord(object.spec).http).map(asRecord);
}

/** The object as its user wrote it: without the rollout's fault route and expiry, and its resourceVersion. */
function dependencyView(object: KubeObject): KubeObject {
  const copy = withoutVersion(object);
  const spec = asRecord(copy.spec);
  if (Array.isArray(spec.http)) spec.http = httpRoutes(copy).filter((r) => r.name !== FAULT_ROUTE);
  const annotations = { ...copy.metadata.annotations };
  delete annotations[FAULT_EXPIRY];
  if (Object.keys(annotations).length > 0) copy.metadata.annotations = annotations;
  else delete copy.metadata.annotations;
  return copy;
}

/**
 * The settings of the user's catch-all route (the first without match blocks), if there is one: what
 * the fault route must copy (destinations, timeout, retries, header changes), without its name, match
 * and fault.
 */
function catchAllSettings(object: KubeObject): Record<string, unknown> | undefined {
  const route = httpRoutes(object).find((r) => r.name !== FAULT_ROUTE && asArray(r.match).length === 0);
  if (!route) return undefined;
  const { name: _name, match: _match, fault: _fault, ...settings } = route;
  return settings;
}

type DependencyOp =
  | { op: "apply"; fault: Fault; sourceLabels: Record<string, string>[]; expiresAt: string | undefined }
  | { op: "clear" };

const labelKey = fc.constantFrom("app", "version", "pod-template-hash", "stepwise.dev/role", "tier");
const labelValue = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const labelSet = fc.dictionary(labelKey, labelValue, { minKeys: 1, maxKeys: 3 });
const sourceLabelSets = fc.array(labelSet, { minLength: 1, maxLength: 3 });

const dependencyOps: fc.Arbitrary<DependencyOp[]> = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("apply" as const),
        fault: fc.oneof(abort, delay),
        sourceLabels: sourceLabelSets,
        expiresAt: expiry,
      }),
    },
    { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) },
  ),
  { minLength: 1, maxLength: 8 },
);

// A user's VirtualService for the dependency "ledger", in the shapes teams write them.
const LEDGER_HOSTS = ["ledger", "ledger.shop.svc.cluster.local", "ledger.shop"];
const destination = fc.record(
  {
    host: fc.constantFrom("ledger", "ledger.shop.svc.cluster.local", "ledger-v2"),
    subset: fc.constantFrom("stable", "next", "v1"),
    port: fc.constantFrom(8080, 9090).map((number) => ({ number })),
  },
  { requiredKeys: ["host"] },
);
const destinations = fc.oneof(
  destination.map((d) => [{ destination: d }]),
  fc.tuple(destination, destination, fc.integer({ min: 0, max: 100 })).map(([a, b, w]) => [
    { destination: a, weight: w },
    { destination: b, weight: 100 - w },
  ]),
);
const userRouteSettings = fc.record(
  {
    timeout: fc.constantFrom("1s", "3s", "30s"),
    retries: fc.record(
      {
        attempts: fc.integer({ min: 0, max: 5 }),
        perTryTimeout: fc.constantFrom("500ms", "2s"),
        retryOn: fc.constantFrom("5xx", "connect-failure,refused-stream", "gateway-error,reset"),
      },
      { requiredKeys: ["attempts"] },
    ),
    headers: fc.record({
      request: fc.record({ set: fc.dictionary(headerName, headerValue, { maxKeys: 2 }) }),
    }),
    rewrite: fc.constantFrom("/", "/api/").map((uri) => ({ uri })),
    // The user's own fault on this route.
    fault: fc.oneof(
      fc.record({
        abort: fc.record({
          httpStatus: fc.constantFrom(500, 503),
          percentage: fc.record({ value: fc.integer({ min: 1, max: 100 }) }),
        }),
      }),
      fc.record({
        delay: fc.record({
          fixedDelay: fc.constantFrom("250ms", "1s", "5s"),
          percentage: fc.record({ value: fc.integer({ min: 1, max: 100 }) }),
        }),
      }),
    ),
  },
  { requiredKeys: [] },
);
const httpMatch = fc.oneof(
  fc.tuple(headerName, stringMatch).map(([name, value]) => ({ headers: { [name]: value } })),
  headerValue.map((v) => ({ uri: { prefix: `/${v}` } })),
  fc.record({
    uri: headerValue.map((v) => ({ exact: `/${v}` })),
    method: fc.constantFrom("GET", "POST").map((exact) => ({ exact })),
  }),
  // A route of the user's own for some callers.
  labelSet.map((sourceLabels) => ({ sourceLabels })),
);
const matchedRoute = fc
  .tuple(fc.array(httpMatch, { minLength: 1, maxLength: 3 }), userRouteSettings, destinations)
  .map(([match, settings, route]) => ({ match, ...settings, route }));
// No match blocks, or an empty list of them.
const unmatchedRoute = fc
  .tuple(fc.boolean(), userRouteSettings, destinations)
  .map(([empty, settings, route]) => ({ ...(empty ? { match: [] } : {}), ...settings, route }));
// Route names, some close to the controller's (another rollout's fault route, an A/B route).
const routeName = fc.option(
  fc.constantFrom(
    "default",
    "fault",
    "stepwise-fault-checkout-canary",
    "stepwise-fault-orders",
    "stepwise-match-checkout",
  ),
  { nil: undefined },
);
const annotationKey = fc.constantFrom(
  "argocd.argoproj.io/tracking-id",
  "team.example.com/owner",
  "fault.stepwise.dev/orders",
  "fault.stepwise.dev/checkout-canary",
  "traffic.stepwise.dev/ledger",
);

const userVirtualService: fc.Arbitrary<{ vs: KubeObject; host: string }> = fc
  .record({
    matched: fc.array(matchedRoute, { maxLength: 4 }),
    catchAll: fc.option(unmatchedRoute, { nil: undefined }),
    catchAllAt: fc.nat(),
    fallback: fc.option(unmatchedRoute, { nil: undefined }),
    names: fc.array(routeName, { minLength: 6, maxLength: 6 }),
    hosts: fc.subarray(LEDGER_HOSTS, { minLength: 1 }),
    hostAt: fc.nat(),
    gateways: fc.option(fc.constantFrom(["mesh"], ["mesh", "shop/edge"]), { nil: undefined }),
    labels: fc.option(fc.dictionary(labelKey, labelValue, { minKeys: 1, maxKeys: 2 }), { nil: undefined }),
    annotations: fc.option(fc.dictionary(annotationKey, headerValue, { minKeys: 1, maxKeys: 3 }), {
      nil: undefined,
    }),
    tcp: fc.boolean(),
  })
  .filter((v) => v.matched.length > 0 || v.catchAll !== undefined || v.fallback !== undefined)
  .map((v) => {
    const http: Record<string, unknown>[] = [...v.matched];
    if (v.catchAll) http.splice(v.catchAllAt % (http.length + 1), 0, v.catchAll);
    if (v.fallback) http.push(v.fallback);
    // Names are unique within the object: each taken name gets the route's position.
    const named = http.map((route, i) => {
      const name = v.names[i];
      return name === undefined ? route : { name: `${name}-${i}`, ...route };
    });
    const spec: Record<string, unknown> = { hosts: v.hosts };
    if (v.gateways) spec.gateways = v.gateways;
    spec.http = named;
    if (v.tcp) spec.tcp = [{ match: [{ port: 9090 }], route: [{ destination: { host: "ledger-admin" } }] }];
    const metadata: KubeObject["metadata"] = { name: "ledger", namespace: "shop", resourceVersion: "1" };
    if (v.labels) metadata.labels = v.labels;
    if (v.annotations) metadata.annotations = v.annotations;
    const vs: KubeObject = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata, spec };
    return { vs, host: v.hosts[v.hostAt % v.hosts.length]! };
  });

describe("Istio dependency faults", () => {
  const ctx = istioContext();

  function plan(object: KubeObject, host: string, op: DependencyOp) {
    return op.op === "apply"
      ? planDependencyFault(ctx, object, op.fault, { host, sourceLabels: op.sourceLabels }, op.expiresAt)
      : planClearDependencyFault(ctx, object);
  }

  function checkSequence(original: KubeObject, host: string, ops: readonly DependencyOp[]): void {
    const view = dependencyView(original);
    const routedLike = catchAllSettings(original) ?? { route: [{ destination: { host } }] };
    let object = original;
    for (const op of ops) {
      const after = applyPatch(object, plan(object, host, op));
      expect(dependencyView(after)).toEqual(view);
      expect(plan(after, host, op).changed).toBe(false);
      if (op.op === "apply") {
        const routes = httpRoutes(after);
        expect(routes[0]).toEqual({
          name: FAULT_ROUTE,
          match: op.sourceLabels.map((labels) => ({ sourceLabels: labels })),
          ...routedLike,
          fault: istioFaultOf(op.fault),
        });
        expect(routes.filter((r) => r.name === FAULT_ROUTE)).toHaveLength(1);
        expect(after.metadata.annotations?.[FAULT_EXPIRY]).toBe(op.expiresAt);
      } else {
        expect(withoutVersion(after)).toEqual(withoutVersion(original));
      }
      object = after;
    }
    const cleared = applyPatch(object, planClearDependencyFault(ctx, object));
    expect(withoutVersion(cleared)).toEqual(withoutVersion(original));
  }

  it.each(["virtualservice-payments", "virtualservice-ledger"])(
    "%s: owns only its fault route and expiry, is idempotent, and clearing restores the original",
    (name) => {
      const original = fixture(name);
      const host = String(asArray(asRecord(original.spec).hosts)[0]);
      fc.assert(
        fc.property(dependencyOps, (ops) => checkSequence(original, host, ops)),
        { numRuns: 60 },
      );
    },
  );

  it("on any user's VirtualService for the host: owns only its fault route and expiry, is idempotent, and clearing restores the original", () => {
    fc.assert(
      fc.property(userVirtualService, dependencyOps, ({ vs, host }, ops) => checkSequence(vs, host, ops)),
      { numRuns: 150 },
    );
  });

  it("updates the VirtualService it created in place to what it would create for the new fault", () => {
    const target = fc.record({ host: fc.constantFrom("inventory", "inventory.shop.svc.cluster.local") });
    const request = fc.record({
      fault: fc.oneof(abort, delay),
      sourceLabels: sourceLabelSets,
      expiresAt: expiry,
    });
    fc.assert(
      fc.property(target, request, request, ({ host }, first, second) => {
        const create = (r: typeof first) =>
          createFaultVirtualService(
            ctx,
            "networking.istio.io/v1",
            r.fault,
            { host, sourceLabels: r.sourceLabels },
            r.expiresAt,
          );
        const created = { ...create(first) };
        created.metadata = { ...created.metadata, resourceVersion: "1" };
        expect(created.metadata.annotations?.[FAULT_EXPIRY]).toBe(first.expiresAt);
        expect(plan(created, host, { op: "apply", ...first }).changed).toBe(false);
        const updated = applyPatch(created, plan(created, host, { op: "apply", ...second }));
        expect(withoutVersion(updated)).toEqual(create(second));
      }),
      { numRuns: 60 },
    );
  });
});
