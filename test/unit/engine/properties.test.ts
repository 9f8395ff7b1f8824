import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Command } from "../../../src/api/commands.ts";
import type { RolloutStatus } from "../../../src/api/rollout.ts";
import { decide, isTerminal } from "../../../src/engine/decide.ts";
import { planSteps, weightAt } from "../../../src/engine/plan.ts";
import { settle, specOf, verdict, World } from "./world.ts";

const durations = fc.constantFrom("10s", "30s", "1m");

/** A valid canary step list: starts with a weight, weights never go down. */
const canarySteps = fc
  .array(
    fc.oneof(
      fc.integer({ min: 1, max: 100 }).map((w) => ({ setWeight: w })),
      fc.option(durations, { nil: undefined }).map((d) => ({ pause: d ? { duration: d } : {} })),
      fc.option(durations, { nil: undefined }).map((d) => ({ analysis: d ? { duration: d } : {} })),
      durations.map((d) => ({
        chaos: {
          fault: { abort: { httpStatus: 503, percent: 10 } },
          target: "dependency",
          host: "dep",
          duration: d,
        },
      })),
    ),
    { minLength: 0, maxLength: 6 },
  )
  .chain((rest) =>
    fc.integer({ min: 1, max: 50 }).map((first) => {
      let weight = first;
      const steps: Record<string, unknown>[] = [{ setWeight: first }];
      for (const step of rest) {
        if ("setWeight" in step) {
          weight = Math.max(weight, step.setWeight);
          steps.push({ setWeight: weight });
        } else steps.push(step);
      }
      return steps;
    }),
  );

const strategy = fc.oneof(
  { weight: 4, arbitrary: canarySteps.map((steps) => ({ canary: { steps } })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ autoPromote: fc.boolean(), previewAnalysis: fc.boolean() })
      .map((blueGreen) => ({ blueGreen: { ...blueGreen, scaleDownDelay: "30s" } })),
  },
  {
    weight: 1,
    arbitrary: fc.constant({ abTest: { match: [{ headers: { "x-beta": { exact: "1" } } }], iterations: 2 } }),
  },
);

/** What the world does at one tick: verdicts, flaky pods and routers, schedule, a new revision, a command. */
const tickEvents = fc.record({
  verdict: fc.constantFrom("Pass", "Pass", "Pass", "Fail", "Inconclusive", "NoData", "Error"),
  canaryReady: fc.boolean(),
  routerWorks: fc.constantFrom(true, true, true, false),
  scheduleOpen: fc.constantFrom(true, true, true, false),
  newRevision: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
  command: fc.option(fc.constantFrom("pause", "resume", "abort", "retry", "promote", "promote-full"), {
    freq: 6,
    nil: undefined,
  }),
});

describe("engine properties over random specs and observation sequences", () => {
  it("keeps its promises whatever happens", () => {
    fc.assert(
      fc.property(strategy, fc.array(tickEvents, { minLength: 5, maxLength: 120 }), (strategySpec, ticks) => {
        const spec = specOf({ strategy: strategySpec, progressDeadlineSeconds: 120 });
        const plan = planSteps(spec);
        const maxPlanned = weightAt(plan, plan.length);
        const world = new World();
        let status = decide({
          spec,
          status: undefined,
          observations: world.observe(),
          now: new Date(0),
        }).status;
        world.primaryRevision = "rev-1";
        status = { phase: "Idle", revision: "rev-1", stableRevision: "rev-1" };
        let revision = 1;
        let now = Date.parse("2026-11-22T10:00:00Z");
        let commandId = 0;
        for (const tick of ticks) {
          world.canaryBecomesReady = tick.canaryReady;
          world.routerWorks = tick.routerWorks;
          world.scheduleOpen = tick.scheduleOpen;
          if (tick.newRevision || revision === 1) world.targetRevision = `rev-${++revision}`;
          world.verdicts = () => [verdict("http-availability", tick.verdict as "Pass")];
          let command: Command | undefined;
          if (tick.command) {
            const id = `c${++commandId}`;
            command =
              tick.command === "promote-full"
                ? { id, type: "promote", full: true }
                : ({ id, type: tick.command } as Command);
          }
          world.command = command;
          const observations = world.observe();
          const before = status;
          const decision = decide({ spec, status, observations, now: new Date(now) });
          world.apply(decision.effects);
          status = decision.status;
          const after = status;

          // weights never exceed the current step's (and so never the plan's)
          expect(world.weight).toBeLessThanOrEqual(maxPlanned);
          if (after.phase === "Progressing" || after.phase === "Paused") {
            expect(after.weights?.desired ?? 0).toBeLessThanOrEqual(weightAt(plan, after.step ?? 0));
          }
          // no promotion without a Pass for every required profile, unless a person promoted
          const personPromoted = command?.type === "promote" && after.lastCommand?.id === command.id;
          if (after.phase === "Promoting" && before.phase !== "Promoting" && !personPromoted) {
            expect(observations.verdicts.every((v) => v.verdict === "Pass")).toBe(true);
          }
          // a rollback always ends with all traffic on the primary, the fault gone, the canary down
          if (after.phase === "RolledBack" && before.phase !== "RolledBack") {
            expect(world.weight).toBe(0);
            expect(world.fault).toBeUndefined();
            expect(world.canaryUp).toBe(false);
          }
          // a terminal phase is left only for a new revision or a retry
          if (isTerminal(before.phase) && after.phase !== before.phase) {
            const retried = command?.type === "retry" && after.lastCommand?.id === command.id;
            expect(observations.targetRevision !== before.revision || retried).toBe(true);
          }
          // a fault lives only in a chaos step or until its expiry
          if (world.fault) expect(after.fault).toBeDefined();
          now += 5_000;
        }
      }),
      { numRuns: 400 },
    );
  });
});

/** What else happens at a tick in a rough world: routers that round, foreign backends, failures, restarts. */
const roughEvents = fc.record({
  verdict: fc.constantFrom("Pass", "Pass", "Pass", "Fail", "Inconclusive", "NoData"),
  canaryReady: fc.constantFrom(true, true, false),
  primaryReady: fc.constantFrom(true, true, true, false),
  revision: fc.constantFrom("same", "same", "same", "same", "same", "same", "same", "new", "revert"),
  /** An effect at this index (of the tick's effects) fails: the status is not written. */
  failAt: fc.option(fc.integer({ min: 0, max: 6 }), { freq: 5, nil: undefined }),
  /** The controller restarts: what it kept in memory (webhook answers) is gone. */
  restart: fc.constantFrom(false, false, false, false, false, false, false, false, true),
  command: fc.option(fc.constantFrom("pause", "resume", "abort", "retry", "promote"), {
    freq: 8,
    nil: undefined,
  }),
});

describe("engine properties in a rough world", () => {
  it("weights within one unit of the step, RolledBack means stable serves, a new revision starts clean", () => {
    fc.assert(
      fc.property(
        strategy,
        fc.constantFrom(0, 1, 0.7, 5),
        fc.constantFrom(0, 0, 10, 35),
        fc.boolean(),
        fc.array(roughEvents, { minLength: 5, maxLength: 150 }),
        (strategySpec, weightUnit, foreignShare, hooks, ticks) => {
          const spec = specOf({
            strategy: strategySpec,
            progressDeadlineSeconds: 120,
            ...(hooks
              ? {
                  webhooks: [
                    { type: "pre-rollout", url: "http://hooks/pre" },
                    { type: "confirm-promotion", url: "http://hooks/confirm" },
                  ],
                }
              : {}),
          });
          const plan = planSteps(spec);
          const world = new World();
          world.weightUnit = weightUnit;
          world.foreignShare = foreignShare;
          world.webhookServer = { "pre-rollout": "approved", "confirm-promotion": "approved" };
          world.primaryRevision = "rev-1";
          let status: RolloutStatus = { phase: "Idle", revision: "rev-1", stableRevision: "rev-1" };
          let revision = 1;
          let now = Date.parse("2026-11-22T10:00:00Z");
          let commandId = 0;
          for (const [index, tick] of ticks.entries()) {
            world.canaryBecomesReady = tick.canaryReady;
            world.primaryBecomesReady = tick.primaryReady;
            const newRevision = index === 0 || tick.revision === "new";
            if (newRevision) {
              world.targetRevision = `rev-${++revision}`;
              world.canaryBecomesReady = false; // its pods are being replaced
            } else if (tick.revision === "revert" && status.stableRevision)
              world.targetRevision = status.stableRevision;
            if (tick.restart) world.webhooks = {};
            world.verdicts = () => [verdict("http-availability", tick.verdict as "Pass")];
            world.command = tick.command
              ? ({ id: `c${++commandId}`, type: tick.command } as Command)
              : undefined;
            const before = status;
            const decision = decide({ spec, status, observations: world.observe(), now: new Date(now) });
            const effects =
              tick.failAt === undefined ? decision.effects : decision.effects.slice(0, tick.failAt);
            const outcome = world.apply(effects);
            if (tick.failAt !== undefined && tick.failAt < decision.effects.length) outcome.failed = true;
            status = settle(status, decision, outcome, new Date(now));
            const unit = weightUnit;

            if (!outcome.failed) {
              // the canary's share never exceeds the current step's weight by more than one unit
              if (status.phase === "Progressing" || status.phase === "Paused") {
                expect(world.weight).toBeLessThanOrEqual(weightAt(plan, status.step ?? 0) + unit + 1e-9);
              }
              // RolledBack: the primary runs exactly the stable revision, is ready and has all traffic
              if (status.phase === "RolledBack" && before.phase !== "RolledBack") {
                expect(world.primaryRevision).toBe(status.stableRevision);
                expect(world.primaryBecomesReady).toBe(true);
                expect(world.weight).toBe(0);
                expect(world.fault).toBeUndefined();
                expect(world.match).toBeNull();
              }
              // a new revision: nothing the old one set (match, mirror, fault) is left
              if (newRevision && before.revision !== world.targetRevision && index > 0) {
                expect(world.match).toBeNull();
                expect(world.mirror).toBeNull();
                expect(world.fault).toBeUndefined();
              }
            }
            now += 5_000;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
