import { type KubeClient, KubeConflictError, KubeNotFoundError, type KubeObject } from "./client.ts";
import { type Clock, systemClock } from "./clock.ts";

export interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** The three durations of client-go's leader election, in ms. */
export interface LeaderElectionTiming {
  /** How long a standby waits, from when it saw the Lease last change, before it may take it. */
  leaseDurationMs: number;
  /** How long a leader keeps acting without a successful renew; then it stops writing. */
  renewDeadlineMs: number;
  /** How often a leader renews and a standby tries to acquire. */
  retryPeriodMs: number;
}

/**
 * Defaults chosen so a standby takes over within 15 s of the leader dying, in every timing. The leader
 * renews last at T. The standby reads the Lease every retry period, so it sees that change by T + retry;
 * the lease then runs a whole lease duration from that moment by the standby's own clock; the standby
 * notices on its next read, at most one retry period later. Worst case: T + 2 × retry + lease =
 * T + 14 s, plus a few requests' latency. (client-go's 15 s / 10 s / 2 s give up to 19 s.)
 * The renew deadline leaves the leader a 3 s margin before any standby can take over (see
 * {@link LeaderElector.assertLeading}).
 */
export const DEFAULT_TIMING: LeaderElectionTiming = {
  leaseDurationMs: 10_000,
  renewDeadlineMs: 7_000,
  retryPeriodMs: 2_000,
};

/** The field that breaks client-go's ordering retryPeriod < renewDeadline < leaseDuration, if any. */
export function invalidTiming(timing: LeaderElectionTiming): keyof LeaderElectionTiming | undefined {
  if (!(timing.retryPeriodMs > 0)) return "retryPeriodMs";
  if (!(timing.renewDeadlineMs < timing.leaseDurationMs)) return "renewDeadlineMs";
  if (!(timing.retryPeriodMs < timing.renewDeadlineMs)) return "retryPeriodMs";
  return undefined;
}

export interface LeaderElectionOptions extends Partial<LeaderElectionTiming> {
  namespace: string;
  name: string;
  identity: string;
  onStartedLeading: () => void;
  /** Leadership was lost (no renew within the renew deadline, or another holder took it): stop writing. */
  onStoppedLeading: () => void;
  clock?: Clock;
}

/** A write refused because this replica no longer holds a valid lease: another may be leading. */
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
}

/** The parts of a client the election uses. */
type LeaseClient = Pick<KubeClient, "get" | "create" | "mergePatch">;

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** The Lease fields whose change counts as "the holder is alive" (client-go compares the whole record). */
const recordOf = (lease: Lease) =>
  JSON.stringify([
    lease.spec.holderIdentity ?? "",
    lease.spec.leaseDurationSeconds ?? 0,
    lease.spec.acquireTime ?? "",
    lease.spec.renewTime ?? "",
    lease.spec.leaseTransitions ?? 0,
  ]);

/**
 * Lease-based leader election with client-go's semantics. Expiry is never judged from the holder's
 * `renewTime` (another machine's wall clock): a candidate notes, on its own monotonic clock, when it
 * last saw the Lease record change, and takes the Lease only a whole lease duration after that. The
 * leader renews every retry period; writes carry the resourceVersion read, so two candidates never
 * both win.
 */
export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  /** The acquire or renew under way, so that stop() can wait for it. */
  private inFlight: Promise<void> | undefined;
  private leading = false;
  private stopped = false;
  /** When this replica started its last successful renew (monotonic): the lease is valid from there. */
  private renewedAt = Number.NEGATIVE_INFINITY;
  /** The Lease record as last seen, its holder, and when (monotonic) it was seen to change. */
  private observed: { record: string; holder: string; at: number } | undefined;
  private readonly timing: LeaderElectionTiming;
  private readonly clock: Clock;

  constructor(
    private readonly client: LeaseClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.timing = {
      leaseDurationMs: options.leaseDurationMs ?? DEFAULT_TIMING.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? DEFAULT_TIMING.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? DEFAULT_TIMING.retryPeriodMs,
    };
    const bad = invalidTiming(this.timing);
    if (bad)
      throw new Error(
        `leader election: ${bad} is out of order (need retryPeriod < renewDeadline < leaseDuration)`,
      );
    this.clock = options.clock ?? systemClock;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * The fence every write of the controller passes: throws NotLeaderError unless this replica's last
   * successful renew started less than the renew deadline ago, by its monotonic clock. A standby can
   * take the Lease only a lease duration after it saw that renew, so the gap (lease duration − renew
   * deadline) is the margin for a write checked just in time to reach the API server, and for clock
   * rates that differ a little. Failing the check ends the leadership at once.
   */
  assertLeading(): void {
    if (this.leading && this.clock.monotonicMs() - this.renewedAt < this.timing.renewDeadlineMs) return;
    if (this.leading) this.stepDown();
    throw new NotLeaderError(`${this.options.identity} no longer holds the lease ${this.options.name}`);
  }

  start(): void {
    this.tick();
  }

  /**
   * Stops campaigning; a holder gives the lease up so another replica can take over at once. Waits for
   * an acquire under way first: one that lands after stop() must be given up too.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    this.leading = false;
    if (this.observed?.holder !== this.options.identity) return;
    try {
      const lease = await this.client.get<Lease>(this.ref());
      if (lease.spec.holderIdentity === this.options.identity) {
        await this.client.mergePatch(this.ref(), {
          metadata: { resourceVersion: lease.metadata.resourceVersion },
          spec: { holderIdentity: null, renewTime: null, leaseDurationSeconds: 1 },
        });
      }
    } catch {
      // the lease expires on its own
    }
  }

  private ref() {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      namespace: this.options.namespace,
      name: this.options.name,
    };
  }

  private stepDown(): void {
    this.leading = false;
    this.options.onStoppedLeading();
  }

  private tick(): void {
    this.inFlight = this.attempt();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const startedAt = this.clock.monotonicMs();
    let held: boolean;
    try {
      held = await this.tryAcquireOrRenew();
    } catch {
      held = false; // the API did not answer: the lease stays ours until the renew deadline
    }
    if (this.stopped) return;
    if (held) {
      this.renewedAt = startedAt;
      if (!this.leading) {
        this.leading = true;
        this.options.onStartedLeading();
      }
    } else if (this.leading) {
      const takenByOther = this.observed !== undefined && this.observed.holder !== this.options.identity;
      const pastDeadline = this.clock.monotonicMs() - this.renewedAt >= this.timing.renewDeadlineMs;
      if (takenByOther || pastDeadline) this.stepDown();
    }
    this.timer = setTimeout(() => this.tick(), this.timing.retryPeriodMs);
    this.timer.unref();
  }

  private see(lease: Lease): void {
    const record = recordOf(lease);
    if (record !== this.observed?.record)
      this.observed = { record, holder: lease.spec.holderIdentity ?? "", at: this.clock.monotonicMs() };
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const wallNow = this.clock.wallMs();
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.timing.leaseDurationMs / 1000),
      renewTime: microTime(wallNow),
    };
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.ref());
    } catch (error) {
      if (!(error instanceof KubeNotFoundError)) throw error;
      try {
        const created = await this.client.create<Lease>({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { ...spec, acquireTime: microTime(wallNow), leaseTransitions: 0 },
        });
        this.see(created);
        return true;
      } catch (createError) {
        if (createError instanceof KubeConflictError) return false; // another candidate created it first
        throw createError;
      }
    }
    this.see(lease);
    const holder = lease.spec.holderIdentity ?? "";
    const mine = holder === this.options.identity;
    const unexpired = this.observed!.at + this.timing.leaseDurationMs > this.clock.monotonicMs();
    if (holder !== "" && !mine && unexpired) return false;
    try {
      const written = await this.client.mergePatch<Lease>(this.ref(), {
        metadata: { resourceVersion: lease.metadata.resourceVersion },
        spec: mine
          ? spec
          : {
              ...spec,
              acquireTime: microTime(wallNow),
              leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1,
            },
      });
      this.see(written);
      return true;
    } catch (error) {
      if (error instanceof KubeConflictError) return false;
      throw error;
    }
  }
}
