/**
 * clearExpiredFaults(now) on the API emulator, for every API: a fault injected with an expiry stays until
 * `now` is past it; then one call takes it out (the user's VirtualService as it was, the created one
 * deleted, the record without the fault, no share for the error backend) and says so, and the next call
 * finds nothing to do and writes nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KubeNotFoundError, type KubeObject } from "../../../src/kube/client.ts";
import { createRouter } from "../../../src/routers/index.ts";
import type { Fault, FaultTarget, TrafficRouter } from "../../../src/routers/traffic-router.ts";
import { fixtureSource } from "../../unit/routers/support.ts";
import { type Harness, refOf, rolloutWith, startHarness, userContent } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.api.requestLog.clear();
});

/** When the faults expire, and instants just before and after (no clock involved: `now` is passed in). */
const EXPIRES_AT = "2031-03-01T12:00:00.000Z";
const BEFORE = new Date(Date.parse(EXPIRES_AT) - 1);
const AFTER = new Date(Date.parse(EXPIRES_AT) + 60_000);
const LATER = "2031-06-01T00:00:00.000Z";
const NEVER = new Date("2100-01-01T00:00:00.000Z");

const RECORD = "traffic.stepwise.dev/checkout";
const EXPIRY = "fault.stepwise.dev/checkout";
const FAULT_ROUTE = "stepwise-fault-checkout";
const ABORT: Fault = { abort: { httpStatus: 503, percent: 5 } };

const VS = { apiVersion: "networking.istio.io/v1", kind: "VirtualService" };

/** Places a fixture in its own namespace (created once) as the other writer; returns it as stored. */
async function place(namespace: string, fixture: string): Promise<KubeObject> {
  await h.other
    .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
    .catch(() => {});
  const source = fixtureSource(fixture);
  source.metadata.namespace = namespace;
  return h.other.create(source);
}

function routerIn(namespace: string, traffic: Record<string, unknown>): TrafficRouter {
  const rollout = rolloutWith(traffic);
  return createRouter({ ...rollout, metadata: { ...rollout.metadata, namespace } }, h.client);
}

function http(object: KubeObject): Record<string, unknown>[] {
  return (object.spec as { http: Record<string, unknown>[] }).http;
}

/** The controller's record in the route object, parsed. */
function record(object: KubeObject): { canary: number; fault?: { expiresAt?: string } } | undefined {
  const text = object.metadata.annotations?.[RECORD];
  return text === undefined ? undefined : JSON.parse(text);
}

function withoutRecord(object: KubeObject): KubeObject {
  const copy = userContent(object);
  const annotations = { ...copy.metadata.annotations };
  delete annotations[RECORD];
  if (Object.keys(annotations).length > 0) copy.metadata.annotations = annotations;
  else delete copy.metadata.annotations;
  return copy;
}

function writeLog(): string[] {
  return h.writes().map((w) => `${w.verb} ${w.resource}/${w.name ?? ""} ${w.status}`);
}

/** A call with `now` before the expiry: false, nothing written, the objects exactly as they were. */
async function expectKept(router: TrafficRouter, carriers: KubeObject[], now: Date): Promise<void> {
  h.api.requestLog.clear();
  expect(await router.clearExpiredFaults(now)).toBe(false);
  expect(writeLog()).toEqual([]);
  for (const carrier of carriers) expect(await h.other.get(refOf(carrier))).toEqual(carrier);
}

/** A second call after the expiry has been dealt with: false, nothing written. */
async function expectNothingLeft(router: TrafficRouter): Promise<void> {
  h.api.requestLog.clear();
  expect(await router.clearExpiredFaults(AFTER)).toBe(false);
  expect(writeLog()).toEqual([]);
}

/** The weights of the entries for the error backend `checkout-fault` in a route object. */
type FaultWeights = (object: KubeObject) => unknown[];

const backendApis: {
  name: string;
  namespace: string;
  fixture: string;
  resource: string;
  traffic: Record<string, unknown>;
  faultWeights: FaultWeights;
}[] = [
  {
    name: "Gateway API HTTPRoute",
    namespace: "expiry-gateway",
    fixture: "httproute-checkout",
    resource: "httproutes",
    traffic: { provider: "gateway", routeRef: { kind: "HTTPRoute", name: "checkout" } },
    faultWeights: (o) =>
      (o.spec as { rules: { backendRefs?: { name: string; weight?: number }[] }[] }).rules
        .flatMap((r) => r.backendRefs ?? [])
        .filter((b) => b.name === "checkout-fault")
        .map((b) => b.weight ?? 1),
  },
  {
    name: "SMI TrafficSplit v1alpha4",
    namespace: "expiry-smi",
    fixture: "trafficsplit-v1alpha4",
    resource: "trafficsplits",
    traffic: {
      provider: "smi",
      routeRef: { kind: "TrafficSplit", name: "checkout", apiVersion: "split.smi-spec.io/v1alpha4" },
    },
    faultWeights: (o) =>
      (o.spec as { backends: { service: string; weight: unknown }[] }).backends
        .filter((b) => b.service === "checkout-fault")
        .map((b) => b.weight),
  },
  {
    name: "Consul ServiceSplitter",
    namespace: "expiry-consul",
    fixture: "servicesplitter-checkout",
    resource: "servicesplitters",
    traffic: { provider: "consul", routeRef: { kind: "ServiceSplitter", name: "checkout" } },
    faultWeights: (o) =>
      (o.spec as { splits: { service?: string; weight: number }[] }).splits
        .filter((s) => s.service === "checkout-fault")
        .map((s) => s.weight),
  },
];

describe.each(backendApis)("$name: an abort fault on the route (error backend share)", (api) => {
  it("stays until its expiry, is taken out by one call after it, and the next call writes nothing", async () => {
    const original = await place(api.namespace, api.fixture);
    const router = routerIn(api.namespace, api.traffic);
    await router.setWeight(10);

    const applied = await router.applyFault(ABORT, { target: "route" }, EXPIRES_AT);
    expect(applied.state.fault).toEqual({ fault: ABORT, percent: 5, expiresAt: EXPIRES_AT });
    const faulted = await h.other.get(refOf(original));
    expect(record(faulted)?.fault?.expiresAt).toBe(EXPIRES_AT);
    expect(api.faultWeights(faulted)).toHaveLength(1);
    expect(Number(api.faultWeights(faulted)[0])).toBeGreaterThan(0);

    await expectKept(router, [faulted], BEFORE);
    expect((await router.read()).fault).toMatchObject({ expiresAt: EXPIRES_AT });

    h.api.requestLog.clear();
    expect(await router.clearExpiredFaults(AFTER)).toBe(true);
    expect(writeLog()).toEqual([`patch ${api.resource}/checkout 200`]);
    const cleared = await h.other.get(refOf(original));
    expect(api.faultWeights(cleared).every((w) => Number(w) === 0)).toBe(true);
    expect(record(cleared)).toBeDefined();
    expect(record(cleared)?.fault).toBeUndefined();
    const state = await router.read();
    expect(state).toMatchObject({ fault: null, faultWeight: 0 });
    // The canary keeps its share.
    expect(Math.abs(state.canaryWeight - 10)).toBeLessThan(0.1);

    await expectNothingLeft(router);

    // A fault without an expiry never expires.
    await router.applyFault(ABORT);
    await expectKept(router, [await h.other.get(refOf(original))], NEVER);
  });
});

describe("Istio", () => {
  const withRef = { provider: "istio", routeRef: { kind: "VirtualService", name: "checkout" } };
  const dependency = (host: string): FaultTarget => ({
    target: "dependency",
    host,
    sourceLabels: [{ app: "checkout" }, { app: "checkout-primary" }],
  });

  it("a fault on the route: stays until its expiry, one call after it removes it, the next writes nothing", async () => {
    const original = await place("expiry-istio-route", "virtualservice-checkout");
    const router = routerIn("expiry-istio-route", withRef);

    const applied = await router.applyFault(ABORT, { target: "route" }, EXPIRES_AT);
    expect(applied.state.fault).toEqual({ fault: ABORT, percent: 5, expiresAt: EXPIRES_AT });
    const faulted = await h.other.get(refOf(original));
    const primary = (o: KubeObject) => http(o).find((r) => r.name === "primary")!;
    expect(primary(faulted).fault).toEqual({ abort: { httpStatus: 503, percentage: { value: 5 } } });
    expect(record(faulted)?.fault?.expiresAt).toBe(EXPIRES_AT);

    await expectKept(router, [faulted], BEFORE);

    h.api.requestLog.clear();
    expect(await router.clearExpiredFaults(AFTER)).toBe(true);
    expect(writeLog()).toEqual(["patch virtualservices/checkout 200"]);
    const cleared = await h.other.get(refOf(original));
    expect(primary(cleared).fault).toBeUndefined();
    expect(record(cleared)?.fault).toBeUndefined();
    // Only the record is left of the controller's changes; the user's debug-route fault stays.
    expect(withoutRecord(cleared)).toEqual(withoutRecord(original));
    expect((await router.read()).fault).toBeNull();

    await expectNothingLeft(router);

    await router.applyFault(ABORT);
    await expectKept(router, [await h.other.get(refOf(original))], NEVER);
  });

  it("a fault on a dependency with a VirtualService of its own: the user's VirtualService back exactly as it was", async () => {
    const namespace = "expiry-istio-dependency";
    await place(namespace, "virtualservice-checkout");
    const payments = await place(namespace, "virtualservice-payments");
    const router = routerIn(namespace, withRef);

    h.api.requestLog.clear();
    const applied = await router.applyFault(
      { delay: { fixed: 2000, percent: 50 } },
      dependency("payments"),
      EXPIRES_AT,
    );
    expect(applied).toMatchObject({ wrote: true, carrier: { name: "payments" } });
    expect(writeLog()).toEqual(["patch virtualservices/payments 200"]);
    const faulted = await h.other.get(refOf(payments));
    expect(http(faulted)[0]!.name).toBe(FAULT_ROUTE);
    expect(faulted.metadata.annotations?.[EXPIRY]).toBe(EXPIRES_AT);

    await expectKept(router, [faulted], BEFORE);

    h.api.requestLog.clear();
    expect(await router.clearExpiredFaults(AFTER)).toBe(true);
    expect(writeLog()).toEqual(["patch virtualservices/payments 200"]);
    expect(userContent(await h.other.get(refOf(payments)))).toEqual(userContent(payments));

    await expectNothingLeft(router);

    await router.applyFault({ delay: { fixed: 2000, percent: 50 } }, dependency("payments"));
    const unexpiring = await h.other.get(refOf(payments));
    expect(unexpiring.metadata.annotations?.[EXPIRY]).toBeUndefined();
    await expectKept(router, [unexpiring], NEVER);
  });

  it("a fault on a dependency without a VirtualService: the one it created is deleted", async () => {
    const namespace = "expiry-istio-created";
    await place(namespace, "virtualservice-checkout");
    const router = routerIn(namespace, withRef);

    h.api.requestLog.clear();
    const applied = await router.applyFault(ABORT, dependency("inventory"), EXPIRES_AT);
    expect(applied.carrier.name).toBe("checkout-fault-inventory");
    // (a create names the object in its body, not in its path)
    expect(writeLog()).toEqual(["create virtualservices/ 201"]);
    const ref = { ...VS, namespace, name: "checkout-fault-inventory" };
    const created = await h.other.get(ref);
    expect(created.metadata.annotations?.[EXPIRY]).toBe(EXPIRES_AT);
    expect(http(created)[0]!.name).toBe(FAULT_ROUTE);

    await expectKept(router, [created], BEFORE);

    h.api.requestLog.clear();
    expect(await router.clearExpiredFaults(AFTER)).toBe(true);
    expect(writeLog()).toEqual(["delete virtualservices/checkout-fault-inventory 200"]);
    await expect(h.other.get(ref)).rejects.toThrow(KubeNotFoundError);

    await expectNothingLeft(router);
  });

  it.each([
    { expiring: "the dependency fault", route: LATER, dependency: EXPIRES_AT },
    { expiring: "the route fault", route: EXPIRES_AT, dependency: LATER },
  ])(
    "when $expiring expires, every fault of the rollout goes",
    async ({ expiring, route, dependency: dep }) => {
      const namespace = `expiry-istio-both-${expiring.includes("route") ? "route" : "dependency"}`;
      const checkout = await place(namespace, "virtualservice-checkout");
      const payments = await place(namespace, "virtualservice-payments");
      const router = routerIn(namespace, withRef);
      await router.applyFault(ABORT, { target: "route" }, route);
      await router.applyFault(ABORT, dependency("payments"), dep);
      const faultedPayments = await h.other.get(refOf(payments));
      expect(http(faultedPayments)[0]!.name).toBe(FAULT_ROUTE);

      await expectKept(router, [faultedPayments, await h.other.get(refOf(checkout))], BEFORE);
      expect((await router.read()).fault).toMatchObject({ expiresAt: route });

      h.api.requestLog.clear();
      expect(await router.clearExpiredFaults(AFTER)).toBe(true);
      expect(writeLog().sort()).toEqual(
        ["patch virtualservices/checkout 200", "patch virtualservices/payments 200"].sort(),
      );
      expect(userContent(await h.other.get(refOf(payments)))).toEqual(userContent(payments));
      const cleared = await h.other.get(refOf(checkout));
      expect(record(cleared)?.fault).toBeUndefined();
      expect(withoutRecord(cleared)).toEqual(withoutRecord(checkout));

      await expectNothingLeft(router);
    },
  );
});
