/**
 * Property: for any sequence of split changes, A/B matches, mirrors and faults, on realistic objects,
 * - every patch applies to the object it was computed from (its tests hold);
 * - the parts the controller does not own are deep-equal to the original;
 * - weights add up as the API requires;
 * - each change is idempotent (planning it again changes nothing) and reads back as asked;
 * - finalize gives back the original object (all fixtures start stable-only);
 * - a route fault, and when it expires, stays recorded through every other change.
 * And for Istio dependency faults on a user's VirtualService for the dependency, for any sequence of
 * faults and clears: every patch applies; the user's routes, hosts, annotations and everything else stay
 * as they were; the fault route is first and routes like the user's catch-all; each change is idempotent;
 * clearing gives back the original object.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { ConsulModel } from "../../../src/routers/consul.ts";
import { GatewayModel } from "../../../src/routers/gateway.ts";
import {
  createFaultVirtualService,
  IstioModel,
  planClearDependencyFault,
  planDependencyFault,
} from "../../../src/routers/istio.ts";
import type { Change, RouteModel } from "../../../src/routers/model.ts";
import { asArray, asRecord } from "../../../src/routers/patch.ts";
import { RECORD_PREFIX, readRecord } from "../../../src/routers/record.ts";
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
  const percent = c.wholePercents
    ? fc.integer({ min: 0, max: 100 })
    : fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);
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

describe.each(CASES)("$name", (c) => {
  it("owns only its parts, keeps weights valid, is idempotent, and finalize restores the original", () => {
    const original = fixture(c.fixture);
    const view = c.userView(original);
    fc.assert(
      fc.property(changes(c), (sequence) => {
        let object = original;
        let fault: { fault: Fault; expiresAt: string | undefined } | null = null;
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
      { numRuns: 150 },
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
