import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KubeConflictError, KubeNotFoundError, type ObjectRef } from "../../../src/kube/client.ts";
import type { Clock } from "../../../src/kube/clock.ts";
import {
  DEFAULT_TIMING,
  invalidTiming,
  LeaderElector,
  type Lease,
  NotLeaderError,
} from "../../../src/kube/leader-election.ts";

const { leaseDurationMs: LEASE, renewDeadlineMs: DEADLINE, retryPeriodMs: RETRY } = DEFAULT_TIMING;

/** One Lease as the API server keeps it: resourceVersion preconditions, 404 and 409 as typed errors. */
class LeaseServer {
  lease: Lease | undefined;
  private rv = 0;
  /** When set, every request fails as if the API server could not be reached. */
  down = false;

  private check(): void {
    if (this.down) throw new Error("connect ECONNREFUSED");
  }

  async get<T>(_ref: ObjectRef): Promise<T> {
    this.check();
    if (!this.lease) throw new KubeNotFoundError("GET", "/lease", 404, "NotFound", "not found");
    return structuredClone(this.lease) as T;
  }

  async create<T>(object: T): Promise<T> {
    this.check();
    if (this.lease) throw new KubeConflictError("POST", "/lease", 409, "AlreadyExists", "exists");
    this.lease = structuredClone(object) as Lease;
    this.lease.metadata.resourceVersion = String(++this.rv);
    return structuredClone(this.lease) as T;
  }

  async mergePatch<T>(_ref: ObjectRef, patch: Record<string, unknown>): Promise<T> {
    this.check();
    const lease = this.lease!;
    const wanted = (patch.metadata as { resourceVersion?: string }).resourceVersion;
    if (wanted !== lease.metadata.resourceVersion)
      throw new KubeConflictError("PATCH", "/lease", 409, "Conflict", "the object has been modified");
    for (const [field, value] of Object.entries(patch.spec as Record<string, unknown>)) {
      if (value === null) delete (lease.spec as Record<string, unknown>)[field];
      else (lease.spec as Record<string, unknown>)[field] = value;
    }
    lease.metadata.resourceVersion = String(++this.rv);
    return structuredClone(lease) as T;
  }

  /** A write by a replica outside the test's control (as `kubectl` or another process would make). */
  write(spec: Lease["spec"]): void {
    this.lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "stepwise-controller", namespace: "shop", resourceVersion: String(++this.rv) },
      spec,
    };
  }
}

/** Monotonic time shared by every replica of a test (one machine); each replica's wall clock may be off. */
let monotonic = 0;
const EPOCH = Date.parse("2026-01-01T00:00:00Z");
const clockWithSkew = (skewMs: number): Clock => ({
  wallMs: () => EPOCH + monotonic + skewMs,
  monotonicMs: () => monotonic,
});

/** Lets `ms` pass for timers and for the fake clock together, in small steps. */
async function pass(ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 100) {
    monotonic += 100;
    await vi.advanceTimersByTimeAsync(100);
  }
}

function replica(server: LeaseServer, identity: string, skewMs = 0) {
  const log: string[] = [];
  const elector = new LeaderElector(server, {
    namespace: "shop",
    name: "stepwise-controller",
    identity,
    clock: clockWithSkew(skewMs),
    onStartedLeading: () => log.push("started"),
    onStoppedLeading: () => log.push("stopped"),
  });
  return { elector, log };
}

beforeEach(() => {
  monotonic = 0;
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("LeaderElector", () => {
  it("does not let a standby whose wall clock runs 30 s ahead take the lease of a live leader", async () => {
    const server = new LeaseServer();
    const leader = replica(server, "a");
    leader.elector.start();
    await pass(500);
    expect(leader.elector.isLeader).toBe(true);
    const standby = replica(server, "b", 30_000);
    standby.elector.start();
    await pass(60_000);
    expect(standby.log).toEqual([]);
    expect(leader.log).toEqual(["started"]);
    expect(server.lease?.spec.holderIdentity).toBe("a");
    // the situation the old rule got wrong: by the standby's wall clock the holder's renewTime is
    // more than a lease duration old
    const renewedAt = Date.parse(server.lease!.spec.renewTime!);
    expect(EPOCH + monotonic + 30_000 - renewedAt).toBeGreaterThan(LEASE);
    await leader.elector.stop();
    await standby.elector.stop();
  });

  it("takes a lease a whole lease duration after it last saw it change, whatever its renewTime says", async () => {
    const server = new LeaseServer();
    // a holder that renewed an hour ago by the wall clock: still valid until we have watched it for a lease
    server.write({
      holderIdentity: "gone",
      leaseDurationSeconds: LEASE / 1000,
      renewTime: new Date(EPOCH - 3_600_000).toISOString(),
      leaseTransitions: 3,
    });
    const standby = replica(server, "b");
    standby.elector.start();
    await pass(LEASE - 200);
    expect(standby.elector.isLeader).toBe(false);
    // each renew of the holder starts the wait again
    server.write({ ...server.lease!.spec, renewTime: new Date(EPOCH).toISOString() });
    const renewed = monotonic;
    await pass(LEASE - RETRY);
    expect(standby.elector.isLeader).toBe(false);
    await pass(2 * RETRY + 200);
    expect(standby.elector.isLeader).toBe(true);
    expect(server.lease?.spec.holderIdentity).toBe("b");
    expect(server.lease?.spec.leaseTransitions).toBe(4);
    // and no sooner than a lease after it saw the last renew, no later than one retry period after that
    const taken = monotonic;
    expect(taken - renewed).toBeGreaterThanOrEqual(LEASE);
    expect(taken - renewed).toBeLessThanOrEqual(LEASE + 2 * RETRY + 200);
    await standby.elector.stop();
  });

  it("stops leading, and fences its writes, when it cannot renew within the renew deadline", async () => {
    const server = new LeaseServer();
    const leader = replica(server, "a");
    leader.elector.start();
    await pass(500);
    expect(() => leader.elector.assertLeading()).not.toThrow();
    server.down = true;
    await pass(DEADLINE - RETRY - 500);
    expect(leader.log).toEqual(["started"]);
    expect(() => leader.elector.assertLeading()).not.toThrow();
    await pass(RETRY + 1_100); // the first renew attempt after the deadline gives up
    expect(leader.log).toEqual(["started", "stopped"]);
    expect(() => leader.elector.assertLeading()).toThrow(NotLeaderError);
    // once the API answers again, it campaigns like any standby and gets its own lease back
    server.down = false;
    await pass(RETRY + 100);
    expect(leader.log).toEqual(["started", "stopped", "started"]);
    await leader.elector.stop();
  });

  it("refuses a write of a leader whose timers did not run (a frozen process) past the renew deadline", async () => {
    const server = new LeaseServer();
    const leader = replica(server, "a");
    leader.elector.start();
    await pass(500);
    monotonic += DEADLINE; // frozen: the clock moved on, no renew ran
    expect(() => leader.elector.assertLeading()).toThrow(NotLeaderError);
    expect(leader.log).toEqual(["started", "stopped"]);
    expect(leader.elector.isLeader).toBe(false);
    await leader.elector.stop();
  });

  it("stops leading as soon as it sees another holder", async () => {
    const server = new LeaseServer();
    const leader = replica(server, "a");
    leader.elector.start();
    await pass(500);
    server.write({ ...server.lease!.spec, holderIdentity: "b" });
    await pass(RETRY + 100);
    expect(leader.log).toEqual(["started", "stopped"]);
    expect(() => leader.elector.assertLeading()).toThrow(NotLeaderError);
    await leader.elector.stop();
  });

  it("hands the lease over at once on stop", async () => {
    const server = new LeaseServer();
    const leader = replica(server, "a");
    leader.elector.start();
    await pass(500);
    const standby = replica(server, "b");
    standby.elector.start();
    await pass(500);
    await leader.elector.stop();
    await pass(RETRY + 100);
    expect(standby.elector.isLeader).toBe(true);
    await standby.elector.stop();
  });

  it("gives up a lease that an acquire under way at stop() wins", async () => {
    const server = new LeaseServer();
    let answer: () => void = () => {};
    const slow = server.get.bind(server);
    let first = true;
    server.get = async <T>(ref: ObjectRef) => {
      if (first) {
        first = false;
        await new Promise<void>((resolve) => {
          answer = resolve;
        });
      }
      return slow<T>(ref);
    };
    const candidate = replica(server, "a");
    candidate.elector.start();
    await pass(100);
    const stopping = candidate.elector.stop();
    answer();
    await stopping;
    expect(server.lease?.metadata.resourceVersion).toBe("2"); // created, then released
    expect(server.lease?.spec.holderIdentity).toBeUndefined();
    expect(candidate.log).toEqual([]);
  });

  it("orders the durations as client-go does: retryPeriod < renewDeadline < leaseDuration", () => {
    expect(invalidTiming(DEFAULT_TIMING)).toBeUndefined();
    expect(invalidTiming({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 })).toBe(
      "renewDeadlineMs",
    );
    expect(invalidTiming({ leaseDurationMs: 10_000, renewDeadlineMs: 5_000, retryPeriodMs: 5_000 })).toBe(
      "retryPeriodMs",
    );
    expect(() => replica(new LeaseServer(), "a").elector).not.toThrow();
  });
});
