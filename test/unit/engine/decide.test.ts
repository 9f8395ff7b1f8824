import { describe, expect, it } from "vitest";
import { decide } from "../../../src/engine/decide.ts";
import { run, settled, specOf, verdict, World } from "./world.ts";

const canary = specOf({
  strategy: {
    canary: {
      steps: [{ setWeight: 10 }, { analysis: {} }, { setWeight: 50 }, { pause: { duration: "30s" } }],
    },
  },
});
const weightsOf = (history: { weights?: { desired: number } }[]) =>
  history.map((s) => s.weights?.desired ?? 0).filter((w, i, all) => i === 0 || w !== all[i - 1]);
const phasesOf = (history: { phase?: string }[]) =>
  history.map((s) => s.phase).filter((p, i, all) => i === 0 || p !== all[i - 1]);

describe("engine: bootstrap and the canary strategy", () => {
  it("makes the first revision the stable primary without analysis", () => {
    const world = new World();
    const trace = run(canary, world, { until: (s) => s.phase === "Idle" });
    expect(trace.status).toMatchObject({ phase: "Idle", stableRevision: "rev-1", revision: "rev-1" });
    expect(world.primaryRevision).toBe("rev-1");
    expect(world.canaryUp).toBe(false);
    // one tick to ask for the primary, one to see it ready with all traffic
    expect(trace.history.map((s) => s.phase)).toEqual(["Initializing", "Idle"]);
  });

  it("walks a healthy canary through its steps and promotes it", () => {
    const { world, status } = settled(canary);
    const trace = run(canary, world, { status, until: (s) => s.phase === "Succeeded" });
    expect(trace.status).toMatchObject({
      phase: "Succeeded",
      stableRevision: "rev-2",
      weights: { desired: 0 },
    });
    expect(phasesOf(trace.history)).toEqual(["Initializing", "Progressing", "Promoting", "Succeeded"]);
    expect(weightsOf(trace.history)).toEqual([0, 10, 50, 0]);
    expect(world).toMatchObject({ primaryRevision: "rev-2", weight: 0, canaryUp: false });
    // the 30 s pause holds for 30 s of ticks 5 s apart
    const paused = trace.history.filter((s) => s.step === 3 && s.phase === "Progressing");
    expect(paused.length).toBeGreaterThanOrEqual(6);
  });

  it("rolls a failing canary back with all traffic on the primary", () => {
    const { world, status } = settled(canary);
    world.verdicts = (w) => (w.weight > 0 ? [verdict("http-availability", "Fail")] : []);
    const trace = run(canary, world, { status, until: (s) => s.phase === "RolledBack" });
    expect(trace.status).toMatchObject({ phase: "RolledBack", stableRevision: "rev-1", revision: "rev-2" });
    expect(trace.status.message).toContain("analysis failed: http-availability");
    expect(world).toMatchObject({ weight: 0, canaryUp: false, primaryRevision: "rev-1" });
    expect(world.events).toContain("AnalysisFailed");
  });

  it("says in the Analysing condition what the current step's analysis shows, and when none runs", () => {
    const { world, status } = settled(canary);
    const analysing = (s: {
      conditions?: { type: string; status: string; reason?: string; message?: string }[];
    }) => s.conditions?.find((c) => c.type === "Analysing");
    world.verdicts = (w) =>
      w.weight > 0 ? [verdict("http-availability", "Inconclusive"), verdict("http-latency", "Pass")] : [];
    const trace = run(canary, world, { status, until: (s) => analysing(s)?.status === "True" });
    expect(analysing(trace.status)).toMatchObject({
      status: "True",
      reason: "Inconclusive",
      message: "http-availability: Inconclusive; http-latency: Pass",
    });
    world.verdicts = (w) => (w.weight > 0 ? [verdict("http-availability", "Fail")] : []);
    const rolledBack = run(canary, world, { status: trace.status, until: (s) => s.phase === "RolledBack" });
    expect(rolledBack.history.some((s) => analysing(s)?.reason === "Fail")).toBe(true);
    expect(analysing(rolledBack.status)).toMatchObject({ status: "False", reason: "NoAnalysis" });
  });

  it("stays rolled back until a new revision arrives", () => {
    const { world, status } = settled(canary);
    world.verdicts = () => [verdict("http-availability", "Fail")];
    const rolledBack = run(canary, world, { status, until: (s) => s.phase === "RolledBack" });
    world.verdicts = () => [verdict("http-availability", "Pass")];
    const idle = run(canary, world, { status: rolledBack.status, maxTicks: 20 });
    expect(idle.history.every((s) => s.phase === "RolledBack")).toBe(true);
    world.targetRevision = "rev-3";
    const next = run(canary, world, { status: rolledBack.status, until: (s) => s.phase === "Succeeded" });
    expect(next.status).toMatchObject({ phase: "Succeeded", stableRevision: "rev-3" });
  });

  it("restarts from the first step when a newer revision arrives mid-rollout", () => {
    const { world, status } = settled(canary);
    const trace = run(canary, world, {
      status,
      until: (s) => s.phase === "Succeeded",
      each: (tick) => {
        if (tick === 4) world.targetRevision = "rev-3";
      },
    });
    expect(trace.status.stableRevision).toBe("rev-3");
    expect(trace.history.some((s) => s.revision === "rev-2" && s.phase === "Progressing")).toBe(true);
  });
});

describe("engine: no data and provider outages", () => {
  for (const outcome of ["NoData", "Error", "Inconclusive"] as const) {
    it(`holds on ${outcome}: never promotes, never rolls back, and asks a person at the step deadline`, () => {
      const spec = specOf({
        strategy: { canary: { steps: [{ setWeight: 10 }, { analysis: { duration: "5m" } }] } },
      });
      const { world, status } = settled(spec);
      world.verdicts = () => [verdict("http-availability", outcome)];
      const trace = run(spec, world, { status, maxTicks: 200 });
      expect(
        trace.history.some((s) => ["Promoting", "Succeeded", "RollingBack", "RolledBack"].includes(s.phase!)),
      ).toBe(false);
      expect(trace.status).toMatchObject({ phase: "Paused", step: 1, weights: { desired: 10 } });
      expect(trace.status.pauseReason).toContain(`http-availability: ${outcome}`);
      // held at the step until the 5 minute deadline, not before
      const firstPaused = trace.history.findIndex((s) => s.phase === "Paused");
      expect(firstPaused * 5).toBeGreaterThanOrEqual(300);
    });
  }

  it("continues once data arrives after a gap", () => {
    const { world, status } = settled(canary);
    world.verdicts = (w) => [verdict("http-availability", w.weight > 0 ? "NoData" : "Pass")];
    const held = run(canary, world, { status, maxTicks: 20 });
    expect(held.status).toMatchObject({ phase: "Progressing", step: 1 });
    world.verdicts = () => [verdict("http-availability", "Pass")];
    expect(
      run(canary, world, { status: held.status, until: (s) => s.phase === "Succeeded" }).status.phase,
    ).toBe("Succeeded");
  });
});

describe("engine: deadlines come first", () => {
  it("rolls back when a weight cannot be applied within progressDeadlineSeconds", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 10 }] } },
      progressDeadlineSeconds: 60,
    });
    const { world, status } = settled(spec);
    world.routerWorks = false;
    const trace = run(spec, world, { status, until: (s) => s.phase === "RolledBack" });
    expect(trace.status.message).toMatch(
      /^rolled back: no progress within 60s: setting the canary weight to 10%/,
    );
    const stuck = trace.history.filter((s) => s.phase === "Progressing");
    expect(stuck.length * 5).toBeGreaterThanOrEqual(60);
    expect(world.events).toContain("ProgressDeadlineExceeded");
  });

  it("rolls back when the canary pods never become ready", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 10 }] } },
      progressDeadlineSeconds: 30,
    });
    const { world, status } = settled(spec);
    world.canaryBecomesReady = false;
    const trace = run(spec, world, { status, until: (s) => s.phase === "RolledBack" });
    expect(trace.history.filter((s) => s.phase === "Initializing").length).toBeGreaterThanOrEqual(6);
    expect(world.canaryUp).toBe(false);
  });

  it("fails the rollout, keeping traffic on the serving canary, when the primary never gets ready", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 50 }] } },
      progressDeadlineSeconds: 30,
    });
    const { world, status } = settled(spec);
    const trace = run(spec, world, {
      status,
      until: (s) => s.phase === "Failed",
      each: (_tick, s) => {
        if (s.phase === "Promoting") world.primaryBecomesReady = false;
      },
    });
    expect(trace.status.phase).toBe("Failed");
    expect(world.weight).toBe(50);
  });

  it("removes an expired fault before anything else, even with no other progress possible", () => {
    const { world } = settled(canary);
    const status = {
      phase: "Progressing" as const,
      revision: "rev-2",
      stableRevision: "rev-1",
      step: 1,
      stepStartedAt: "2026-11-22T09:00:00Z",
      weights: { desired: 10 },
      fault: { target: "dependency" as const, host: "payments", expiresAt: "2026-11-22T09:59:00Z" },
    };
    world.routerWorks = false;
    world.weight = 10;
    const decision = decide({
      spec: canary,
      status,
      observations: world.observe(),
      now: new Date("2026-11-22T10:00:00Z"),
    });
    expect(decision.effects[0]).toEqual({ type: "clearFault" });
    expect(decision.status.fault).toBeUndefined();
  });
});

describe("engine: manual commands", () => {
  const gated = specOf({
    strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }] } },
  });

  it("waits at a manual gate until promoted, and applies a command once", () => {
    const { world, status } = settled(gated);
    const atGate = run(gated, world, { status, maxTicks: 30 });
    expect(atGate.status).toMatchObject({
      phase: "Paused",
      step: 1,
      pauseReason: "manual gate",
      weights: { desired: 20 },
    });
    world.command = { id: "c1", type: "promote" };
    const promoted = run(gated, world, { status: atGate.status, maxTicks: 1 });
    expect(promoted.status).toMatchObject({
      phase: "Progressing",
      step: 2,
      lastCommand: { id: "c1", type: "promote" },
    });
    // the same annotation seen again on later ticks is not applied again
    const later = run(gated, world, { status: promoted.status, until: (s) => s.phase === "Succeeded" });
    expect(later.status.phase).toBe("Succeeded");
    expect(world.events.filter((e) => e === "CommandIgnored")).toEqual([]);
  });

  it("promote --full skips the remaining steps but not the primary's readiness", () => {
    const { world, status } = settled(gated);
    const trace = run(gated, world, {
      status,
      until: (s) => s.phase === "Succeeded",
      each: (tick) => {
        if (tick === 3) world.command = { id: "c2", type: "promote", full: true };
      },
    });
    expect(weightsOf(trace.history)).toEqual([0, 20, 0]);
    expect(trace.status.stableRevision).toBe("rev-2");
  });

  it("pause holds the weight, resume continues", () => {
    const { world, status } = settled(canary);
    const paused = run(canary, world, {
      status,
      maxTicks: 20,
      each: (tick) => {
        if (tick === 3) world.command = { id: "p", type: "pause" };
      },
    });
    expect(paused.status).toMatchObject({ phase: "Paused", pauseReason: "paused by user" });
    world.command = { id: "r", type: "resume" };
    expect(
      run(canary, world, { status: paused.status, until: (s) => s.phase === "Succeeded" }).status.phase,
    ).toBe("Succeeded");
  });

  it("abort rolls back; retry runs the same revision again", () => {
    const { world, status } = settled(canary);
    const aborted = run(canary, world, {
      status,
      until: (s) => s.phase === "RolledBack",
      each: (tick) => {
        if (tick === 3) world.command = { id: "a", type: "abort" };
      },
    });
    expect(aborted.status.message).toBe("rolled back: aborted by user");
    expect(world.weight).toBe(0);
    world.command = { id: "again", type: "retry" };
    const retried = run(canary, world, { status: aborted.status, until: (s) => s.phase === "Succeeded" });
    expect(retried.history[0]).toMatchObject({ phase: "Initializing", revision: "rev-2" });
    expect(retried.status.stableRevision).toBe("rev-2");
  });

  it("set-weight pauses at the chosen weight", () => {
    const { world, status } = settled(canary);
    const trace = run(canary, world, {
      status,
      maxTicks: 10,
      each: (tick) => {
        if (tick === 3) world.command = { id: "w", type: "set-weight", weight: 33 };
      },
    });
    expect(trace.status).toMatchObject({ phase: "Paused", weights: { desired: 33, applied: 33 } });
  });

  it("ignores, and acknowledges, a command that does not apply", () => {
    const { world, status } = settled(canary);
    world.command = { id: "x", type: "resume" };
    const trace = run(canary, world, { status, maxTicks: 2 });
    expect(trace.status.lastCommand?.id).toBe("x");
    expect(world.events).toContain("CommandIgnored");
  });
});

describe("engine: schedule window, webhooks and drift", () => {
  it("holds at its weight outside the schedule window and continues inside it", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 10 }, { setWeight: 40 }] } },
      schedule: { window: "* 9-17 * * *" },
    });
    const { world, status } = settled(spec);
    const trace = run(spec, world, {
      status,
      maxTicks: 12,
      each: (tick) => {
        world.scheduleOpen = tick < 2;
      },
    });
    expect(trace.status).toMatchObject({ phase: "Progressing", weights: { desired: 10 } });
    expect(trace.status.message).toContain("outside the schedule window");
    world.scheduleOpen = true;
    expect(
      run(spec, world, { status: trace.status, until: (s) => s.phase === "Succeeded" }).status.phase,
    ).toBe("Succeeded");
  });

  it("waits for pre-rollout approval and rolls back when it is rejected", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 10 }] } },
      webhooks: [{ type: "pre-rollout", url: "http://hooks/pre" }],
    });
    const { world, status } = settled(spec);
    const waiting = run(spec, world, { status, maxTicks: 5 });
    expect(waiting.status).toMatchObject({
      phase: "Initializing",
      message: "waiting for the pre-rollout webhook",
    });
    expect(world.calledWebhooks).toContain("pre-rollout");
    world.webhookServer = { "pre-rollout": "rejected" };
    expect(run(spec, world, { status: waiting.status, maxTicks: 2 }).status.phase).toBe("RolledBack");
  });

  it("promotes only once confirm-promotion approves", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 10 }] } },
      webhooks: [
        { type: "confirm-promotion", url: "http://hooks/ok" },
        { type: "post-rollout", url: "http://hooks/done" },
      ],
    });
    const { world, status } = settled(spec);
    const waiting = run(spec, world, { status, maxTicks: 10 });
    expect(waiting.status.message).toBe("waiting for the confirm-promotion webhook to approve");
    world.webhookServer = { "confirm-promotion": "approved" };
    const done = run(spec, world, { status: waiting.status, until: (s) => s.phase === "Succeeded" });
    expect(done.status.phase).toBe("Succeeded");
    expect(world.calledWebhooks.at(-1)).toBe("post-rollout");
  });

  it("notices weights changed behind its back and puts them back", () => {
    const spec = specOf({ strategy: { canary: { steps: [{ setWeight: 10 }, { pause: {} }] } } });
    const { world, status } = settled(spec);
    const paused = run(spec, world, { status, maxTicks: 6 });
    world.weight = 70; // a GitOps sync or a person edits the route
    const decision = decide({ spec, status: paused.status, observations: world.observe(), now: new Date() });
    expect(decision.effects).toContainEqual({ type: "setWeight", weight: 10 });
    expect(decision.effects.find((e) => e.type === "event")).toMatchObject({
      reason: "TrafficDrift",
      warning: true,
    });
    expect(decision.status.weights).toEqual({ desired: 10, applied: 70 });
  });
});

describe("engine: blue-green, A/B and chaos", () => {
  it("blue-green: previews on mirrored traffic, switches in one write, keeps the old version, promotes", () => {
    const spec = specOf({ strategy: { blueGreen: { scaleDownDelay: "1m" } } });
    const { world, status } = settled(spec);
    const trace = run(spec, world, { status, until: (s) => s.phase === "Succeeded" });
    const all = trace.effects.flat();
    expect(all.filter((e) => e.type === "setWeight").map((e) => (e as { weight: number }).weight)).toEqual([
      100, 0,
    ]);
    expect(all).toContainEqual({ type: "setMirror", percent: 100 });
    expect(world.mirror).toBeNull();
    const held = trace.history.filter((s) => s.weights?.desired === 100 && s.phase === "Progressing");
    expect(held.length * 5).toBeGreaterThanOrEqual(60);
    expect(world.primaryRevision).toBe("rev-2");
  });

  it("blue-green without autoPromote waits for a person before the switch", () => {
    const spec = specOf({ strategy: { blueGreen: { autoPromote: false, previewAnalysis: false } } });
    const { world, status } = settled(spec);
    const trace = run(spec, world, { status, maxTicks: 10 });
    expect(trace.status).toMatchObject({
      phase: "Paused",
      pauseReason: "waiting for promotion",
      weights: { desired: 0 },
    });
  });

  it("A/B: routes matching requests for the whole duration, then promotes and removes the match", () => {
    const spec = specOf({
      strategy: { abTest: { match: [{ headers: { "x-beta": { exact: "1" } } }], duration: "2m" } },
    });
    const { world, status } = settled(spec);
    const matchSeen: unknown[] = [];
    const trace = run(spec, world, {
      status,
      until: (s) => s.phase === "Succeeded",
      each: () => matchSeen.push(world.match),
    });
    expect(matchSeen).toContainEqual([{ headers: { "x-beta": { exact: "1" } } }]);
    expect(world.match).toBeNull();
    const analysing = trace.history.filter((s) => s.step === 1);
    expect(analysing.length * 5).toBeGreaterThanOrEqual(120);
    expect(trace.history.every((s) => (s.weights?.desired ?? 0) === 0)).toBe(true);
  });

  const chaos = specOf({
    strategy: {
      canary: {
        steps: [
          { setWeight: 20 },
          {
            chaos: {
              fault: { abort: { httpStatus: 503, percent: 10 } },
              target: "dependency",
              host: "payments",
              duration: "1m",
            },
          },
          { setWeight: 50 },
        ],
      },
    },
  });

  it("chaos: applies the fault with an expiry, clears it at the end of the step and continues", () => {
    const { world, status } = settled(chaos);
    let faultSeen = false;
    const trace = run(chaos, world, {
      status,
      until: (s) => s.phase === "Succeeded",
      each: () => {
        faultSeen ||= world.fault !== undefined;
      },
    });
    expect(faultSeen).toBe(true);
    expect(world.fault).toBeUndefined();
    const during = trace.history.find((s) => s.fault);
    expect(during?.fault).toMatchObject({ target: "dependency", host: "payments" });
    expect(Date.parse(during!.fault!.expiresAt) - Date.parse(during!.stepStartedAt!)).toBe(60_000);
  });

  it("chaos: a regression under the fault ends the gate early, removes the fault and rolls back", () => {
    const { world, status } = settled(chaos);
    world.verdicts = (w) => [verdict("http-availability", w.fault ? "Fail" : "Pass")];
    const trace = run(chaos, world, { status, until: (s) => s.phase === "RolledBack" });
    expect(world.fault).toBeUndefined();
    expect(trace.status.fault).toBeUndefined();
    expect(world.weight).toBe(0);
  });

  it("chaos: without a pass by the end the fault is removed and a person decides (paused, not rolled back)", () => {
    const { world, status } = settled(chaos);
    world.verdicts = () => [verdict("http-availability", "Inconclusive")];
    const trace = run(chaos, world, { status, until: (s) => s.phase === "Paused" });
    expect(world.fault).toBeUndefined();
    expect(trace.status.fault).toBeUndefined();
    expect(trace.status.step).toBe(1);
    expect(trace.status.pauseReason).toMatch(
      /chaos gate ended without a pass \(http-availability: Inconclusive\)/,
    );
    expect(world.weight).toBe(20);
  });

  it("chaos: a rollback removes a fault the status does not know of (its status write was lost)", () => {
    const { world, status } = settled(chaos);
    world.verdicts = (w) => [verdict("http-availability", w.fault ? "Fail" : "Pass")];
    const during = run(chaos, world, { status, until: (s) => s.fault !== undefined });
    const lost = { ...during.status };
    delete lost.fault;
    const trace = run(chaos, world, {
      status: lost,
      start: during.now,
      until: (s) => s.phase === "RolledBack",
    });
    expect(world.fault).toBeUndefined();
    expect(trace.status.fault).toBeUndefined();
  });
});
