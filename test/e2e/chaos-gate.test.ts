/**
 * The flaky-dependency sandbox scenarios end to end (issue #9): the demo rollout's chaos gate makes half
 * the calls to `payments` fail for the rollout's pods, stable and canary alike. A canary without a fallback
 * fails the gate and is rolled back; one with a fallback passes and is promoted. Either way the fault is
 * gone afterwards.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { parseExposition } from "../../src/metrics/exposition.ts";
import { APP, DEPENDENCY, NAMESPACE, type Sandbox, startSandbox } from "../../src/sandbox/sandbox.ts";
import { type Status, waitForStatus } from "../support/cluster.ts";

/** Calls to the dependency that the mesh's fault filter failed, per calling workload (source-reported). */
async function faultedCalls(sandbox: Sandbox): Promise<Record<string, number>> {
  const text = await (await fetch(`${sandbox.mesh.metricsUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const series of parseExposition(text)) {
    const { labels } = series;
    if (
      series.name === "istio_requests_total" &&
      labels.reporter === "source" &&
      labels.destination_service_name === DEPENDENCY &&
      labels.response_code === "503" &&
      labels.response_flags?.includes("FI")
    ) {
      out[labels.source_workload!] = (out[labels.source_workload!] ?? 0) + series.value;
    }
  }
  return out;
}

async function faultVirtualServices(sandbox: Sandbox): Promise<string[]> {
  const all = await sandbox.client.list("networking.istio.io/v1", "VirtualService", NAMESPACE);
  return all
    .filter((vs) => vs.metadata.labels?.["stepwise.dev/purpose"] === "fault")
    .map((vs) => vs.metadata.name);
}

describe.concurrent("chaos gate on a flaky dependency (sandbox, Istio)", () => {
  it.each([
    { scenario: "flaky-dependency", phase: "RolledBack" },
    { scenario: "flaky-dependency-fallback", phase: "Succeeded" },
  ] as const)("$scenario ends $phase", { timeout: 240_000 }, async ({ scenario, phase }) => {
    const sandbox = await startSandbox({ mesh: "istio", scenario, rps: 20, prometheus: false });
    onTestFinished(() => sandbox.stop());
    const during = await waitForStatus(
      sandbox.client,
      NAMESPACE,
      APP,
      (s) => s.fault !== undefined,
      "the chaos step",
      120_000,
    );
    expect(during.fault).toMatchObject({ target: "dependency", host: DEPENDENCY });
    expect(await faultVirtualServices(sandbox)).toEqual([`${APP}-fault-${DEPENDENCY}`]);
    if (phase === "Succeeded") {
      // at 50%, the share of the requests the analysis counted is about half (100+ requests: within 4 sd)
      const counted = (s: Status) =>
        Math.max(0, ...(s.analysis ?? []).map((v) => (v.canary?.total ?? 0) + (v.baseline?.total ?? 0)));
      const sampled = await waitForStatus(
        sandbox.client,
        NAMESPACE,
        APP,
        (s) => s.fault !== undefined && s.weights?.observed !== undefined && counted(s) >= 100,
        "100 requests counted under the fault",
        60_000,
      );
      expect(sampled.weights?.observed).toBeGreaterThan(30);
      expect(sampled.weights?.observed).toBeLessThan(70);
    }

    const end = await waitForStatus(
      sandbox.client,
      NAMESPACE,
      APP,
      (s: Status) => s.phase === phase || s.phase === (phase === "Succeeded" ? "RolledBack" : "Succeeded"),
      "the end of the rollout",
      180_000,
    );
    expect(end.phase, JSON.stringify(end)).toBe(phase);
    expect(end.fault).toBeUndefined();
    expect(await faultVirtualServices(sandbox)).toEqual([]);
    expect(sandbox.mesh.table(DEPENDENCY).rules.some((rule) => rule.fault)).toBe(false);

    // both versions met the fault: the baseline's calls failed too (and its fallback hid them)
    const faulted = await faultedCalls(sandbox);
    expect(faulted[`${APP}-primary`]).toBeGreaterThan(0);
    expect(faulted[APP]).toBeGreaterThan(0);
    // callers outside the rollout were spared: only the two versions' calls were failed
    expect(Object.keys(faulted).sort()).toEqual([APP, `${APP}-primary`]);
  });
});
