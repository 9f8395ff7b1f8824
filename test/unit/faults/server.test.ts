import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultServer, startFaultServer } from "../../../src/faults/server.ts";

let server: FaultServer;

beforeAll(async () => {
  server = await startFaultServer({ port: 0, host: "127.0.0.1", defaultStatus: 503 });
});

afterAll(() => server.close());

const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

describe("the fault server", () => {
  it("answers every method and path with the fault, as JSON", async () => {
    const answer = await get("/api/orders?id=1", { method: "POST", body: JSON.stringify({ id: 1 }) });
    expect(answer.status).toBe(503);
    expect(answer.headers.get("content-type")).toBe("application/json");
    expect(await answer.json()).toEqual({ error: "fault injected by Stepwise", status: 503 });
    expect((await get("/-/healthz", { method: "DELETE" })).status).toBe(503);
  });

  it("answers a gRPC status in grpc-status, without a body", async () => {
    const answer = await get("/shop.Orders/Get", {
      method: "POST",
      headers: { "x-stepwise-fault-grpc-status": "14" },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/grpc");
    expect(answer.headers.get("grpc-status")).toBe("14");
    expect(await answer.text()).toBe("");
  });

  it("serves its probes and metrics, and counts only the faults", async () => {
    for (const path of ["/-/healthz", "/-/readyz"]) {
      const probe = await get(path);
      expect(probe.status, path).toBe(200);
      expect(await probe.text()).toBe("ok\n");
    }
    await get("/", { headers: { "x-stepwise-fault-status": "502" } });
    await get("/", { headers: { "x-stepwise-fault-status": "502" } });
    await get("/", { headers: { "x-stepwise-fault-grpc-status": "4" } });
    const metrics = await get("/-/metrics");
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('stepwise_fault_responses_total{status="502"} 2\n');
    expect(text).toContain('stepwise_fault_responses_total{status="200",grpc_status="4"} 1\n');
    // the probes answered 200 without a gRPC status: not counted
    expect(text).not.toContain('stepwise_fault_responses_total{status="200"}');
  });
});
