import { describe, expect, it } from "vitest";
import { run, settled, specOf, verdict } from "./world.ts";

const steps = (...list: Record<string, unknown>[]) => specOf({ strategy: { canary: { steps: list } } });

describe("engine: weights on routers that round", () => {
  it("moves on when the route shows the step's weight to within its rounding unit", () => {
    const spec = steps({ setWeight: 25 }, { setWeight: 60 });
    const { world, status } = settled(spec);
    world.weightUnit = 0.7; // an odd unit: 25% lands at 25.2%, 60% at 60.2%
    world.foreignShare = 10;
    const trace = run(spec, world, { status, until: (s) => s.phase === "Succeeded" });
    expect(trace.status.phase).toBe("Succeeded");
    expect(trace.history.map((s) => s.weights?.applied)).toContain(25.2);
    expect(world.events).not.toContain("TrafficDrift");
    expect(world.events).not.toContain("ProgressDeadlineExceeded");
  });

  it("holds with RouteReady=False, never rolls back, when the route cannot express the step", () => {
    const spec = specOf({
      strategy: { canary: { steps: [{ setWeight: 20 }, { setWeight: 60 }] } },
      progressDeadlineSeconds: 60,
    });
    const { world, status } = settled(spec);
    world.foreignShare = 50; // the user's own backend keeps half of the rule: 60% cannot be given
    const held = run(spec, world, { status, maxTicks: 60 });
    expect(held.status.phase).toBe("Progressing");
    expect(held.status.step).toBe(1);
    expect(world.weight).toBe(20);
    const routeReady = held.status.conditions?.find((c) => c.type === "RouteReady");
    expect(routeReady).toMatchObject({ status: "False", reason: "WeightNotExpressible" });
    expect(held.status.message).toContain("cannot give the canary 60%");
    expect(world.events).not.toContain("ProgressDeadlineExceeded");
    // the user makes room: the rollout goes on at once and RouteReady turns True
    world.foreignShare = 30;
    const done = run(spec, world, { status: held.status, until: (s) => s.phase === "Succeeded" });
    expect(done.status.phase).toBe("Succeeded");
    expect(done.status.conditions?.find((c) => c.type === "RouteReady")?.status).toBe("True");
  });

  it("does not report drift for a weight the route can only round (set-weight 12.5 on 1% units)", () => {
    const spec = steps({ setWeight: 10 }, { pause: {} });
    const { world, status } = settled(spec);
    world.weightUnit = 1;
    const paused = run(spec, world, { status, until: (s) => s.phase === "Paused" });
    world.command = { id: "c1", type: "set-weight", weight: 12.5 };
    const trace = run(spec, world, { status: paused.status, maxTicks: 20 });
    expect(world.weight).toBe(13);
    expect(world.events.filter((e) => e === "TrafficDrift")).toEqual([]);
    expect(trace.effects.flat().filter((e) => e.type === "setWeight")).toHaveLength(1);
  });
});

describe("engine: RolledBack means the stable version serves", () => {
  it("restores the primary when the target is set back to stable while the primary is being promoted", () => {
    const spec = steps({ setWeight: 50 });
    const { world, status } = settled(spec);
    world.primaryBecomesReady = false; // the new primary's pods take their time
    const promoting = run(spec, world, {
      status,
      until: (s) => s.phase === "Promoting" && world.primaryRevision === "rev-2",
    });
    expect(promoting.status.phase).toBe("Promoting");
    world.targetRevision = "rev-1"; // someone reverts the Deployment
    const early = run(spec, world, { status: promoting.status, start: promoting.now, maxTicks: 3 });
    expect(early.status.phase).toBe("RollingBack"); // not RolledBack while the primary is not ready
    expect(world.primaryRevision).toBe("rev-1");
    world.primaryBecomesReady = true;
    const done = run(spec, world, { status: early.status, until: (s) => s.phase === "RolledBack" });
    expect(done.status).toMatchObject({ phase: "RolledBack", stableRevision: "rev-1" });
    expect(world).toMatchObject({ primaryRevision: "rev-1", weight: 0 });
  });

  it("a newer revision during Promoting makes the promoted one stable: a later rollback restores it", () => {
    const spec = steps({ setWeight: 50 });
    const { world, status } = settled(spec);
    world.primaryBecomesReady = false;
    const promoting = run(spec, world, {
      status,
      until: (s) => s.phase === "Promoting" && world.primaryRevision === "rev-2",
    });
    world.primaryBecomesReady = true;
    world.targetRevision = "rev-3";
    world.verdicts = (w) => [verdict("http-availability", w.weight > 0 ? "Fail" : "Pass")];
    const trace = run(spec, world, { status: promoting.status, until: (s) => s.phase === "RolledBack" });
    expect(trace.status).toMatchObject({ phase: "RolledBack", stableRevision: "rev-2", revision: "rev-3" });
    expect(world).toMatchObject({ primaryRevision: "rev-2", weight: 0 });
  });
});

describe("engine: a new revision clears what the old one set", () => {
  it("removes the A/B match route before the new revision's pods get any request", () => {
    const spec = specOf({
      strategy: { abTest: { match: [{ headers: { "x-beta": { exact: "1" } } }], duration: "5m" } },
    });
    const { world, status } = settled(spec);
    const matching = run(spec, world, { status, until: () => world.match !== null });
    expect(world.match).not.toBeNull();
    world.targetRevision = "rev-3";
    world.canaryBecomesReady = false; // the canary's pods are being replaced by the new revision's
    const next = run(spec, world, { status: matching.status, start: matching.now, maxTicks: 3 });
    expect(next.status).toMatchObject({ phase: "Initializing", revision: "rev-3" });
    expect(world.match).toBeNull();
  });

  it("removes a chaos fault of the old revision", () => {
    const spec = steps(
      { setWeight: 20 },
      {
        chaos: {
          fault: { abort: { httpStatus: 503, percent: 10 } },
          target: "dependency",
          host: "payments",
          duration: "5m",
        },
      },
    );
    const { world, status } = settled(spec);
    const faulted = run(spec, world, { status, until: () => world.fault !== undefined });
    world.targetRevision = "rev-3";
    const next = run(spec, world, { status: faulted.status, start: faulted.now, maxTicks: 1 });
    expect(world.fault).toBeUndefined();
    expect(next.status.fault).toBeUndefined();
  });
});

describe("engine: gating webhooks answer one gate", () => {
  const spec = specOf({
    strategy: { canary: { steps: [{ setWeight: 10 }] } },
    webhooks: [{ type: "pre-rollout", url: "http://hooks/pre" }],
  });

  it("uses the first answer for the new revision (not filed under the previous one)", () => {
    const { world, status } = settled(spec);
    world.webhookServer = { "pre-rollout": "approved" };
    const trace = run(spec, world, { status, until: (s) => s.phase === "Succeeded" });
    expect(trace.status.phase).toBe("Succeeded");
    expect(world.calledWebhooks.filter((w) => w === "pre-rollout")).toHaveLength(1);
  });

  it("asks again after `retry` of a rejected revision", () => {
    const { world, status } = settled(spec);
    world.webhookServer = { "pre-rollout": "rejected" };
    const rejected = run(spec, world, { status, until: (s) => s.phase === "RolledBack" });
    expect(rejected.status.phase).toBe("RolledBack");
    world.webhookServer = { "pre-rollout": "approved" };
    world.command = { id: "r1", type: "retry" };
    const retried = run(spec, world, {
      status: rejected.status,
      start: rejected.now + 5_000,
      until: (s) => s.phase === "Succeeded",
    });
    expect(retried.status.phase).toBe("Succeeded");
    expect(world.calledWebhooks.filter((w) => w === "pre-rollout")).toHaveLength(2);
  });

  it("does not reuse an old approval when an old revision is deployed again", () => {
    const { world, status } = settled(spec);
    world.webhookServer = { "pre-rollout": "approved" };
    const first = run(spec, world, { status, until: (s) => s.phase === "Succeeded" });
    world.targetRevision = "rev-3";
    const third = run(spec, world, {
      status: first.status,
      start: first.now,
      until: (s) => s.phase === "Succeeded",
    });
    world.webhookServer = {}; // the hook is down now: no answer
    world.targetRevision = "rev-2";
    const again = run(spec, world, { status: third.status, start: third.now, maxTicks: 10 });
    expect(again.status).toMatchObject({
      phase: "Initializing",
      message: "waiting for the pre-rollout webhook",
    });
  });
});

describe("engine: guards", () => {
  it("resume during a timed pause runs the rest of the pause; promote skips it", () => {
    const spec = steps({ setWeight: 10 }, { pause: { duration: "2m" } }, { setWeight: 20 });
    const { world, status } = settled(spec);
    const pausing = run(spec, world, { status, until: (s) => s.step === 1 });
    world.command = { id: "p1", type: "pause" };
    const paused = run(spec, world, { status: pausing.status, start: pausing.now, maxTicks: 1 });
    expect(paused.status.phase).toBe("Paused");
    world.command = { id: "r1", type: "resume" };
    const resumed = run(spec, world, { status: paused.status, start: paused.now + 5_000, maxTicks: 3 });
    expect(resumed.status).toMatchObject({ phase: "Progressing", step: 1 });
    world.command = { id: "p2", type: "promote" };
    const promoted = run(spec, world, { status: resumed.status, start: resumed.now, maxTicks: 1 });
    expect(promoted.status.step).toBe(2);
  });
});

describe("engine: profiles that do not decide, and the canary's readiness", () => {
  const spec = specOf({
    strategy: { canary: { steps: [{ setWeight: 10 }, { analysis: {} }] } },
    analysis: { profiles: [{ name: "http-availability" }, { name: "http-latency" }] },
  });

  it("a profile whose gate is not critical is reported and never rolls back or blocks", () => {
    const { world, status } = settled(spec);
    world.verdicts = () => [
      verdict("http-availability", "Pass"),
      { profile: "http-latency", verdict: "Fail", critical: false },
    ];
    const trace = run(spec, world, {
      status,
      until: (s) => s.phase === "Succeeded" || s.phase === "RolledBack",
    });
    expect(trace.status.phase).toBe("Succeeded");
  });

  it("an invalid SLOProfile sets ProfilesValid=False with its reason", () => {
    const { world, status } = settled(spec);
    world.verdicts = () => [
      verdict("http-availability", "Pass"),
      {
        profile: "http-latency",
        verdict: "Error",
        evidence: "SLOProfile shop/http-latency is invalid",
        invalidProfile: true,
      },
    ];
    const trace = run(spec, world, { status, maxTicks: 10 });
    expect(trace.status.phase).toBe("Progressing");
    expect(trace.status.conditions?.find((c) => c.type === "ProfilesValid")).toMatchObject({
      status: "False",
      reason: "InvalidSLOProfile",
      message: "SLOProfile shop/http-latency is invalid",
    });
  });

  it("records when the canary became ready, and forgets it for the next revision", () => {
    const { world, status } = settled(spec);
    world.canaryBecomesReady = false;
    const waiting = run(spec, world, { status, maxTicks: 3 });
    expect(waiting.status.canaryReadyAt).toBeUndefined();
    world.canaryBecomesReady = true;
    const ready = run(spec, world, { status: waiting.status, start: waiting.now, maxTicks: 1 });
    expect(ready.status.canaryReadyAt).toBe(new Date(waiting.now).toISOString());
    world.targetRevision = "rev-3";
    world.canaryBecomesReady = false;
    const next = run(spec, world, { status: ready.status, start: ready.now + 5_000, maxTicks: 1 });
    expect(next.status.canaryReadyAt).toBeUndefined();
  });
});
