import { type KubeClient, KubeConflictError, KubeNotFoundError, type KubeObject } from "./client.ts";

export interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewEveryMs?: number;
  retryEveryMs?: number;
  onStartedLeading: () => void;
  /** Leadership was lost (renewals failed for a whole lease, or another holder took it): stop writing. */
  onStoppedLeading: () => void;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/**
 * Lease-based leader election as client-go does it: 15 s lease, renewed every 10 s, candidates retry
 * every 2 s. Every write carries the resourceVersion it read, so two candidates can never both win.
 */
export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  /** When this replica last renewed the lease. */
  private lastRenew = 0;
  private stopped = false;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  /** A leader that could not renew for this long stops acting; shorter than the lease. */
  private readonly renewDeadlineMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {
    this.leaseMs = options.leaseDurationMs ?? 15_000;
    this.renewMs = options.renewEveryMs ?? 10_000;
    this.retryMs = options.retryEveryMs ?? 2_000;
    this.renewDeadlineMs = this.leaseMs - this.retryMs;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.attempt();
  }

  /** Stops campaigning; a leader gives the lease up so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
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

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    let outcome: "held" | "taken" | "unknown";
    try {
      outcome = (await this.tryAcquireOrRenew()) ? "held" : "taken";
    } catch {
      outcome = "unknown"; // the API did not answer: the lease may still be ours
    }
    if (this.stopped) return;
    const now = Date.now();
    if (outcome === "held") {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.options.onStartedLeading();
      }
    } else if (this.leading && (outcome === "taken" || now - this.lastRenew >= this.renewDeadlineMs)) {
      // Give up before the lease can expire for the others, so two leaders never overlap.
      this.leading = false;
      this.options.onStoppedLeading();
    }
    this.timer = setTimeout(() => void this.attempt(), outcome === "held" ? this.renewMs : this.retryMs);
    this.timer.unref();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.round(this.leaseMs / 1000),
      renewTime: microTime(now),
    };
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.ref());
    } catch (error) {
      if (!(error instanceof KubeNotFoundError)) throw error;
      try {
        await this.client.create<Lease>({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (createError) {
        if (createError instanceof KubeConflictError) return false; // another candidate created it first
        throw createError;
      }
    }
    const holder = lease.spec.holderIdentity;
    const renewedAt = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = !holder || renewedAt + (lease.spec.leaseDurationSeconds ?? 15) * 1000 < now;
    if (holder !== this.options.identity && !expired) return false;
    const takeover = holder !== this.options.identity;
    try {
      await this.client.mergePatch(this.ref(), {
        metadata: { resourceVersion: lease.metadata.resourceVersion },
        spec: takeover
          ? { ...spec, acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }
          : spec,
      });
      return true;
    } catch (error) {
      if (error instanceof KubeConflictError) return false;
      throw error;
    }
  }
}
