import { describe, expect, it } from "vitest";
import { startBackend } from "../../../src/sandbox/backends/index.ts";
import { httpCall } from "../../../src/sandbox/mesh/index.ts";
import { startTraffic } from "../../../src/sandbox/traffic/index.ts";
import { eventually, startWorld } from "./support.ts";

/** Servers, sockets and timers alive in the process. */
function openHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => /TCP|Timeout|Pipe/.test(r)).length;
}

describe("traffic generator", () => {
  it("sends a bounded count, stops by itself when bounded by time, and on stop() otherwise; nothing stays open", async () => {
    const before = openHandles();
    const world = await startWorld({ provider: "istio", backends: { primary: {} } });
    const options = { url: world.mesh.url, host: "podinfo-primary", rps: 100 };

    const counted = await startTraffic({ ...options, count: 25 }).done;
    expect(counted).toMatchObject({
      sent: 25,
      answered: 25,
      failed: 0,
      byStatus: { "200": 25 },
      byVersion: { primary: 25 },
    });

    const timed = await startTraffic({ ...options, durationMs: 200 }).done;
    expect(timed.sent).toBeGreaterThan(0);
    expect(timed.answered).toBe(timed.sent);

    const open = startTraffic(options);
    await eventually(async () => (open.counts().answered >= 10 ? true : undefined));
    const stopped = await open.stop();
    expect(stopped.answered + stopped.failed).toBe(stopped.sent);
    expect(await open.done).toEqual(stopped);
    expect(await open.stop()).toEqual(stopped);

    expect(world.api.watchCount()).toBe(2); // VirtualServices and DestinationRules
    await world.mesh.close();
    await eventually(async () => (world.api.watchCount() === 0 ? true : undefined));
    await world.close();
    await eventually(async () => (openHandles() <= before ? true : undefined));
  });

  it("counts answers without a version and requests without an answer", async () => {
    const world = await startWorld({ provider: "istio", backends: { primary: {} } });
    const counts = await startTraffic({ url: world.mesh.url, host: "nothing-here", rps: 100, count: 5 }).done;
    expect(counts).toMatchObject({ answered: 5, byStatus: { "503": 5 }, byVersion: { none: 5 } });
    await world.close();
    const failed = await startTraffic({ url: world.mesh.url, host: "podinfo", rps: 100, count: 3 }).done;
    expect(failed).toMatchObject({ sent: 3, answered: 0, failed: 3 });
  });
});

describe("backend server", () => {
  it("names its version, errs only while warming up in slow-start, and restarts the warm-up on a new behaviour", async () => {
    let clock = 0;
    const backend = await startBackend({
      version: "2.0.0",
      seed: 3,
      behaviour: { scenario: "slow-start", warmupMs: 1000, errorRate: 1 },
      now: () => clock,
    });
    const status = async () => {
      const answer = await httpCall(backend.url, { path: "/" });
      expect(answer.headers["x-sandbox-version"]).toBe("2.0.0");
      return answer.status;
    };
    expect(await status()).toBe(503);
    clock = 1000;
    expect(await status()).toBe(200);
    backend.setBehaviour({ scenario: "slow-start", warmupMs: 1000, errorRate: 1 });
    expect(await status()).toBe(503);
    expect(backend.requests()).toBe(3);
    await backend.close();
  });
});
