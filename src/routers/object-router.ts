/**
 * The I/O half of every adapter: read the object, let the pure model decide, write at most once with a
 * conditional JSON patch, read the object back. On a conflict (the object changed between the read and
 * the write) it reads again and decides again; it never re-sends a patch computed from an old read.
 */
import {
  isStaleWrite,
  type KubeClient,
  KubeConflictError,
  type KubeObject,
  type ObjectRef,
} from "../kube/client.ts";
import { LiveReader, type ObjectReader } from "../kube/object-cache.ts";
import { ApiNotServedError, ConflictError, RouteNotFoundError, UnsupportedOperationError } from "./errors.ts";
import { type Change, expired, type RouteModel } from "./model.ts";
import type {
  ApplyResult,
  EnsureOptions,
  Fault,
  FaultResult,
  FaultTarget,
  RequestMatch,
  RouterCapabilities,
  RouterContext,
  TrafficRouter,
  TrafficState,
  WeightResult,
} from "./traffic-router.ts";

/** How many times an operation re-reads and re-decides after a conflict before it gives up. */
export const MAX_ATTEMPTS = 5;

export interface ChangeOutcome {
  before: TrafficState;
  after: TrafficState;
  wrote: boolean;
}

/**
 * Picks the version of an API group to use: the one named, else the server's preferred version when
 * supported, else the highest supported version the server serves.
 */
export async function resolveApiVersion(
  client: KubeClient,
  group: string,
  supported: readonly string[],
  what: string,
  explicit?: string,
): Promise<string> {
  if (explicit) return explicit;
  const info = await client.apiGroup(group);
  if (!info || info.versions.length === 0) {
    throw new ApiNotServedError(
      `the cluster does not serve the ${group} API group; install the CRDs for ${what}`,
    );
  }
  if (info.preferredVersion && supported.includes(info.preferredVersion))
    return `${group}/${info.preferredVersion}`;
  const version = supported.find((v) => info.versions.includes(v));
  if (!version) {
    throw new ApiNotServedError(
      `the cluster serves ${group} in versions ${info.versions.join(", ")}, none of which Stepwise supports for ${what} (${supported.join(", ")})`,
    );
  }
  return `${group}/${version}`;
}

export class ObjectRouter implements TrafficRouter {
  private resolved?: Promise<RouteModel>;

  constructor(
    protected readonly client: KubeClient,
    protected readonly ctx: RouterContext,
    /** Builds the pure model once the apiVersion is known. */
    private readonly makeModel: () => Promise<RouteModel>,
    /** Static facts, available before the first request. */
    readonly api: string,
    readonly capabilities: RouterCapabilities,
    /** Where route objects are read from: the controller's informers, or the API server. */
    protected readonly reads: ObjectReader = new LiveReader(client),
  ) {}

  protected model(): Promise<RouteModel> {
    if (!this.resolved) {
      this.resolved = this.makeModel();
      this.resolved.catch(() => {
        this.resolved = undefined;
      });
    }
    return this.resolved;
  }

  /** The controller creates (and may recreate) the route object when no routeRef names a user's object. */
  protected get ownsObject(): boolean {
    return this.ctx.routeRef === undefined;
  }

  protected async ref(): Promise<ObjectRef> {
    const model = await this.model();
    const name = this.ctx.routeRef?.name ?? model.create().metadata.name;
    return { apiVersion: model.apiVersion, kind: model.kind, namespace: this.ctx.namespace, name };
  }

  /**
   * The route object, undefined when missing; `live` skips the cache (after a write refused as stale). A
   * miss in the cache is confirmed with the API server: the object may have been created a moment ago.
   */
  protected async getObject(live = false): Promise<KubeObject | undefined> {
    const ref = await this.ref();
    return (live ? undefined : await this.reads.get(ref)) ?? this.reads.live.get(ref);
  }

  protected async missing(): Promise<RouteNotFoundError> {
    const ref = await this.ref();
    return new RouteNotFoundError(
      `${ref.kind} ${ref.namespace}/${ref.name}`,
      this.ownsObject
        ? "does not exist; call ensure() to create it"
        : "does not exist; create it, or fix spec.traffic.routeRef",
    );
  }

  async ensure(_options?: EnsureOptions): Promise<TrafficState> {
    const model = await this.model();
    let object = await this.getObject();
    if (!object) {
      if (!this.ownsObject) throw await this.missing();
      try {
        object = await this.client.create(model.create());
        this.reads.wrote(await this.ref(), object);
      } catch (error) {
        if (!(error instanceof KubeConflictError && error.alreadyExists)) throw error;
        object = await this.client.get(await this.ref());
      }
    }
    model.check(object);
    return model.parse(object);
  }

  async read(): Promise<TrafficState> {
    const model = await this.model();
    const object = await this.getObject();
    if (!object) throw await this.missing();
    return model.parse(object);
  }

  /**
   * Read, decide, write once; the write's response is the object as stored. On a conflict read again,
   * from the API server, and decide again.
   */
  protected async change(change: Change): Promise<ChangeOutcome> {
    const model = await this.model();
    const ref = await this.ref();
    let rejected: { resourceVersion?: string; error: unknown } | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      let object = await this.getObject(rejected !== undefined);
      // A patch that did not apply to an object that has not changed since is not a conflict.
      if (
        rejected &&
        object?.metadata.resourceVersion === rejected.resourceVersion &&
        !(rejected.error instanceof KubeConflictError)
      ) {
        throw rejected.error;
      }
      const creating = object === undefined;
      if (!object) {
        if (!this.ownsObject) throw await this.missing();
        object = model.create();
        // Nothing to take away from an object that is not there (and without it, callers reach the
        // apex Service, which selects the stable pods).
        if (removes(change)) {
          const state = model.parse(object);
          return { before: state, after: state, wrote: false };
        }
      }
      const builder = model.plan(object, change);
      const before = model.parse(object);
      if (!builder.changed && !creating) return { before, after: before, wrote: false };
      let written: KubeObject;
      try {
        written = creating
          ? await this.client.create(builder.document)
          : await this.client.jsonPatch(ref, builder.ops);
      } catch (error) {
        if (isStaleWrite(error) || (error instanceof KubeConflictError && error.alreadyExists)) {
          rejected = { resourceVersion: object.metadata.resourceVersion, error };
          continue;
        }
        throw error;
      }
      this.reads.wrote(ref, written);
      return { before, after: model.parse(written), wrote: true };
    }
    throw new ConflictError(`${ref.kind} ${ref.namespace}/${ref.name}`, MAX_ATTEMPTS);
  }

  async setWeight(canaryPercent: number): Promise<WeightResult> {
    checkPercent(canaryPercent, "canary weight");
    const outcome = await this.change({ kind: "weight", canaryPercent });
    return { ...result(outcome), desired: canaryPercent, applied: outcome.after.canaryWeight };
  }

  async setMatch(matches: readonly RequestMatch[] | null): Promise<ApplyResult> {
    if (matches && matches.length > 0 && !this.capabilities.headerMatch) {
      // Say so before any request: the API cannot do it whatever the object holds.
      const model = await this.model();
      model.plan(model.create(), { kind: "match", matches });
    }
    return result(await this.change({ kind: "match", matches }));
  }

  async setMirror(percent: number | null): Promise<ApplyResult> {
    if (percent !== null) checkPercent(percent, "mirror percentage");
    return result(await this.change({ kind: "mirror", percent }));
  }

  async applyFault(
    fault: Fault,
    target: FaultTarget = { target: "route" },
    expiresAt?: string,
  ): Promise<FaultResult> {
    if (target.target === "dependency") {
      throw new UnsupportedOperationError(
        this.api,
        "inject a fault on a dependency for the rollout's pods only (it cannot match requests by their source)",
        "use provider istio (VirtualService sourceLabels), or inject the fault on the rollout's route (target: route)",
      );
    }
    const outcome = await this.change({ kind: "fault", fault, ...(expiresAt ? { expiresAt } : {}) });
    const ref = await this.ref();
    return { ...result(outcome), carrier: { kind: ref.kind, namespace: this.ctx.namespace, name: ref.name } };
  }

  async clearFault(): Promise<ApplyResult> {
    return result(await this.change({ kind: "fault", fault: null }));
  }

  async clearExpiredFaults(now: Date): Promise<boolean> {
    const object = await this.getObject();
    if (!object || !expired((await this.model()).parse(object).fault?.expiresAt, now)) return false;
    await this.clearFault();
    return true;
  }

  async finalize(): Promise<WeightResult> {
    const outcome = await this.change({ kind: "finalize" });
    return { ...result(outcome), desired: 0, applied: outcome.after.canaryWeight };
  }
}

function removes(change: Change): boolean {
  switch (change.kind) {
    case "finalize":
      return true;
    case "match":
      return change.matches === null || change.matches.length === 0;
    case "mirror":
      return change.percent === null;
    case "fault":
      return change.fault === null;
    case "weight":
      return false;
  }
}

function result(outcome: ChangeOutcome): ApplyResult {
  const out: ApplyResult = { wrote: outcome.wrote, state: outcome.after };
  if (outcome.before.drift) out.drift = outcome.before.drift;
  return out;
}

function checkPercent(value: number, what: string): void {
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new RangeError(`${what} must be a percentage from 0 to 100, not ${value}`);
  }
}
