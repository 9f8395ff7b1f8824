/**
 * The mesh records latency in simulated time: the backend's planned service time, its dependency call's and
 * the fault delay, not the clock of the process. A stall of the machine (here: the test blocking the one
 * event loop the mesh and the backends share) must not read as latency of either version.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../../src/kube/client.ts";
import { httpCall, SERVICE_TIME_HEADER, SOURCE_HEADER } from "../../../src/sandbox/mesh/index.ts";
import { NS, scrape, startWorld, tableUpdated, total, type World } from "./support.ts";

const BACKEND_MS = 100;
const DEPENDENCY_MS = 60;
const FAULT_DELAY_MS = 200;
const STALL_MS = 1_500;

/** Blocks the event loop, as a loaded machine would stall it. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else in this process runs
  }
}

/** Sends one request through the mesh and stalls the event loop while the backend is sleeping on it. */
async function stalledRequest(world: World, host: string): Promise<{ status: number; reportedMs: number }> {
  const answer = httpCall(world.mesh.url, { path: "/", headers: { host, [SOURCE_HEADER]: "loadgenerator" } });
  await new Promise((resolve) => setTimeout(resolve, BACKEND_MS / 2));
  stall(STALL_MS);
  const { status, headers } = await answer;
  return { status, reportedMs: Number(headers[SERVICE_TIME_HEADER]) };
}

function histogramCount(world: World, le: string, labels: Record<string, string>) {
  return scrape(world.mesh).then((samples) =>
    total(samples, "istio_request_duration_milliseconds_bucket", { ...labels, le }),
  );
}

const fixed = (medianMs: number) => ({ medianMs, sigma: 0 });

describe("latency in simulated time", () => {
  let world: World;

  beforeAll(async () => {
    const slowPayments: KubeObject = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "payments", namespace: NS },
      spec: {
        hosts: ["payments"],
        http: [
          {
            fault: { delay: { fixedDelay: `${FAULT_DELAY_MS / 1000}s`, percentage: { value: 100 } } },
            route: [{ destination: { host: "payments" } }],
          },
        ],
      },
    };
    world = await startWorld({
      provider: "istio",
      objects: [slowPayments],
      backends: {
        app: {
          service: "podinfo",
          workload: "podinfo",
          labels: { app: "podinfo" },
          behaviour: { scenario: "healthy", latency: fixed(BACKEND_MS) },
        },
        caller: {
          service: "checkout",
          workload: "checkout",
          labels: { app: "checkout" },
          behaviour: { scenario: "flaky-dependency", fallback: false, latency: fixed(BACKEND_MS) },
        },
        payments: {
          service: "payments",
          workload: "payments",
          labels: { app: "payments" },
          behaviour: { scenario: "healthy", latency: fixed(DEPENDENCY_MS) },
        },
      },
    });
    world.backends.caller!.setDependency({ url: world.mesh.url, host: "payments", source: "checkout" });
    await tableUpdated(world.mesh, (t) => t.rules[0]?.fault !== undefined, "payments");
  });
  afterAll(() => world.close());

  it("records a backend's planned time, not a stall of the machine", async () => {
    const answer = await stalledRequest(world, "podinfo");
    expect(answer.status).toBe(200);
    expect(answer.reportedMs).toBeCloseTo(BACKEND_MS, 6);
    for (const reporter of ["source", "destination"]) {
      const labels = { reporter, destination_workload: "podinfo" };
      expect(await histogramCount(world, "250", labels), reporter).toBe(1);
      expect(await histogramCount(world, "50", labels), reporter).toBe(0);
    }
  });

  it("adds the dependency's time and the fault delay on its way, each side seeing its own part", async () => {
    const answer = await stalledRequest(world, "checkout");
    expect(answer.status).toBe(200);
    expect(answer.reportedMs).toBeCloseTo(BACKEND_MS + FAULT_DELAY_MS + DEPENDENCY_MS, 6);
    // checkout's callers see its own time and the dependency's, the fault delay included (360 ms)
    const checkout = { destination_workload: "checkout" };
    expect(await histogramCount(world, "500", { ...checkout, reporter: "destination" })).toBe(1);
    expect(await histogramCount(world, "250", { ...checkout, reporter: "destination" })).toBe(0);
    // the call to payments: the caller's sidecar sees the delay (260 ms), payments' own sidecar only 60 ms
    const payments = { destination_workload: "payments", source_workload: "checkout" };
    expect(await histogramCount(world, "500", { ...payments, reporter: "source" })).toBe(1);
    expect(await histogramCount(world, "250", { ...payments, reporter: "source" })).toBe(0);
    expect(await histogramCount(world, "100", { ...payments, reporter: "destination" })).toBe(1);
  });
});
