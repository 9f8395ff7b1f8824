import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { callWebhook, type Webhook } from "../../../src/controller/webhooks.ts";
import { ControllerMetrics } from "../../../src/telemetry/metrics.ts";
import { startTelemetryServer } from "../../../src/telemetry/server.ts";

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A local HTTP server answering each request with the next status of `statuses`, recording bodies. */
async function hook(statuses: number[]): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  server = createServer((request: IncomingMessage, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on("end", () => {
      bodies.push(JSON.parse(text));
      response.writeHead(statuses.shift() ?? 500).end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook`, bodies };
}

const webhook = (url: string, retries = 2): Webhook => ({
  type: "confirm-promotion",
  url,
  timeout: 2_000,
  retries,
});
const noSleep = async () => {};

describe("callWebhook", () => {
  it("approves on 2xx and posts the payload as JSON", async () => {
    const { url, bodies } = await hook([200]);
    expect(await callWebhook(webhook(url), { phase: "Progressing" }, noSleep)).toEqual({
      approved: true,
      detail: "HTTP 200",
    });
    expect(bodies).toEqual([{ phase: "Progressing" }]);
  });

  it("retries 5xx and approves when a retry succeeds", async () => {
    const { url, bodies } = await hook([503, 500, 204]);
    expect((await callWebhook(webhook(url), {}, noSleep)).approved).toBe(true);
    expect(bodies).toHaveLength(3);
  });

  it("rejects on 4xx at once, and after the retries on lasting 5xx or no answer", async () => {
    const rejecting = await hook([403]);
    expect(await callWebhook(webhook(rejecting.url), {}, noSleep)).toEqual({
      approved: false,
      detail: "HTTP 403",
    });
    expect(rejecting.bodies).toHaveLength(1);
    const unreachable = await callWebhook(webhook("http://127.0.0.1:1/hook", 1), {}, noSleep);
    expect(unreachable.approved).toBe(false);
    expect(unreachable.detail).toMatch(/after 2 attempts$/);
  });
});

describe("telemetry server", () => {
  it("serves the controller's metrics, /healthz and /readyz as readiness says", async () => {
    const metrics = new ControllerMetrics();
    metrics.recordRollout("shop", "checkout", {
      phase: "Progressing",
      desired: 25,
      applied: 20,
      verdicts: [{ profile: "http-availability", verdict: "Pass" }],
    });
    metrics.apiRequests.inc({ verb: "PATCH", code: "409" });
    let ready = false;
    const telemetry = await startTelemetryServer("127.0.0.1:0", metrics.registry, () => ready);
    try {
      const text = await (await fetch(`${telemetry.url}/metrics`)).text();
      expect(text).toContain(
        'stepwise_rollout_phase{namespace="shop",rollout="checkout",phase="Progressing"} 1',
      );
      expect(text).toContain(
        'stepwise_rollout_phase{namespace="shop",rollout="checkout",phase="Succeeded"} 0',
      );
      expect(text).toContain(
        'stepwise_rollout_canary_weight_percent{namespace="shop",rollout="checkout",kind="applied"} 20',
      );
      expect(text).toContain(
        'stepwise_analysis_verdict{namespace="shop",rollout="checkout",profile="http-availability",verdict="Pass"} 1',
      );
      expect(text).toContain('stepwise_kube_api_requests_total{verb="PATCH",code="409"} 1');
      expect((await fetch(`${telemetry.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${telemetry.url}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${telemetry.url}/readyz`)).status).toBe(200);
      metrics.forgetRollout("shop", "checkout");
      expect(await (await fetch(`${telemetry.url}/metrics`)).text()).not.toContain('rollout="checkout"');
    } finally {
      await telemetry.close();
    }
  });

  it("drops every rollout's series when the replica lost the leadership, and keeps its own", async () => {
    const metrics = new ControllerMetrics();
    for (const rollout of ["checkout", "cart"])
      metrics.recordRollout("shop", rollout, {
        phase: "Paused",
        desired: 50,
        applied: 50,
        verdicts: [{ profile: "http-latency", verdict: "Inconclusive" }],
      });
    metrics.apiRequests.inc({ verb: "GET", code: "200" });
    metrics.forgetAllRollouts();
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/rollout="/);
    expect(text).toContain('stepwise_kube_api_requests_total{verb="GET",code="200"} 1');
  });
});
