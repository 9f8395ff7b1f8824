/**
 * The I/O half of the Istio adapter: the VirtualService (through ObjectRouter), the DestinationRule
 * subsets in subset mode, and dependency faults on the dependency's VirtualService.
 */
import { isStaleWrite, type KubeClient, KubeConflictError, type KubeObject } from "../../kube/client.ts";
import type { ObjectReader } from "../../kube/object-cache.ts";
import { ConflictError, RouterError } from "../errors.ts";
import { expired, faultExpiryKey, faultRouteName } from "../model.ts";
import { MAX_ATTEMPTS, ObjectRouter, resolveApiVersion } from "../object-router.ts";
import { asArray, asRecord } from "../patch.ts";
import type {
  ApplyResult,
  EnsureOptions,
  Fault,
  FaultResult,
  FaultTarget,
  TrafficState,
  WeightResult,
} from "../traffic-router.ts";
import {
  createDestinationRule,
  createFaultVirtualService,
  declaresHost,
  ISTIO_CAPABILITIES,
  ISTIO_GROUP,
  ISTIO_VERSIONS,
  type IstioContext,
  IstioModel,
  isFaultVirtualService,
  planClearDependencyFault,
  planDependencyFault,
  planSubsets,
  sameHost,
} from "./virtual-service.ts";

export interface IstioRouterOptions {
  /** Subset mode: pod labels of the stable and canary pods (ensure() can pass newer ones). */
  subsetLabels?: { stable: Record<string, string>; canary: Record<string, string> };
  /** Where VirtualServices and DestinationRules are read from (ObjectRouter's `reads`). */
  reads?: ObjectReader;
}

export class IstioRouter extends ObjectRouter {
  private subsetLabels?: IstioRouterOptions["subsetLabels"];
  private apiVersion?: Promise<string>;

  constructor(
    client: KubeClient,
    private readonly istio: IstioContext,
    options: IstioRouterOptions = {},
  ) {
    const version = () =>
      resolveApiVersion(client, ISTIO_GROUP, ISTIO_VERSIONS, "Istio", istio.routeRef?.apiVersion).then(
        (apiVersion) => new IstioModel(istio, apiVersion),
      );
    super(client, istio, version, "Istio VirtualService", ISTIO_CAPABILITIES, options.reads);
    this.subsetLabels = options.subsetLabels;
  }

  /** Tells the reader about an object this router wrote, so that its next read is not older. */
  private written(object: KubeObject): void {
    this.reads.wrote(refOf(object), object);
  }

  /** The networking.istio.io version for objects other than the routeRef (DestinationRule, fault VS). */
  private groupVersion(): Promise<string> {
    if (!this.apiVersion) {
      this.apiVersion = resolveApiVersion(this.client, ISTIO_GROUP, ISTIO_VERSIONS, "Istio");
      this.apiVersion.catch(() => {
        this.apiVersion = undefined;
      });
    }
    return this.apiVersion;
  }

  override async ensure(options: EnsureOptions = {}): Promise<TrafficState> {
    if (options.subsetLabels) this.subsetLabels = options.subsetLabels;
    if (this.istio.mode === "subset") await this.ensureSubsets();
    return super.ensure(options);
  }

  /**
   * Keeps the stable and canary subsets in the DestinationRule for the service in step with the pods'
   * labels: the user's DestinationRule for the host when there is one (only those two subsets change),
   * or one the controller creates.
   */
  private async ensureSubsets(): Promise<void> {
    const apiVersion = await this.groupVersion();
    const labels = this.subsetLabels;
    const forHost = (rules: KubeObject[]) =>
      rules.find((r) => sameHost(asRecord(r.spec).host, this.istio.service, this.istio.namespace));
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // after a refused write, and to confirm a miss (it may be a moment old), from the API server
      const rule =
        (attempt === 1
          ? forHost(await this.reads.list(apiVersion, "DestinationRule", this.istio.namespace))
          : undefined) ??
        forHost(await this.reads.live.list(apiVersion, "DestinationRule", this.istio.namespace));
      if (!labels) {
        if (rule && hasSubsets(rule, this.istio)) return;
        throw new RouterError(
          `Istio subset mode needs the stable and canary pods' labels for the DestinationRule subsets of ${this.istio.service}; pass subsetLabels`,
        );
      }
      try {
        if (!rule) {
          this.written(
            await this.client.create(
              createDestinationRule(this.istio, apiVersion, this.istio.rollout, labels),
            ),
          );
          return;
        }
        const builder = planSubsets(this.istio, rule, labels);
        if (!builder.changed) return;
        this.written(await this.client.jsonPatch(refOf(rule), builder.ops));
        return;
      } catch (error) {
        if (isStaleWrite(error) || (error instanceof KubeConflictError && error.alreadyExists)) continue;
        throw error;
      }
    }
    throw new ConflictError(`DestinationRule for ${this.istio.service}`, MAX_ATTEMPTS);
  }

  override async applyFault(
    fault: Fault,
    target: FaultTarget = { target: "route" },
    expiresAt?: string,
  ): Promise<FaultResult> {
    if (target.target === "route") return super.applyFault(fault, target, expiresAt);
    const apiVersion = await this.groupVersion();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const services = await (attempt === 1 ? this.reads : this.reads.live).list(
        apiVersion,
        "VirtualService",
        this.istio.namespace,
      );
      const own = services.find(
        (vs) => isFaultVirtualService(this.istio, vs) && declaresHost(vs, target.host, this.istio.namespace),
      );
      const user = services.find(
        (vs) => !isFaultVirtualService(this.istio, vs) && declaresHost(vs, target.host, this.istio.namespace),
      );
      try {
        let carrier: KubeObject;
        let wrote = false;
        if (user) {
          const builder = planDependencyFault(this.istio, user, fault, target, expiresAt);
          if (builder.changed) {
            this.written(await this.client.jsonPatch(refOf(user), builder.ops));
            wrote = true;
          }
          carrier = user;
        } else if (own) {
          const builder = planDependencyFault(this.istio, own, fault, target, expiresAt);
          if (builder.changed) {
            this.written(await this.client.jsonPatch(refOf(own), builder.ops));
            wrote = true;
          }
          carrier = own;
        } else {
          carrier = await this.client.create(
            createFaultVirtualService(this.istio, apiVersion, fault, target, expiresAt),
          );
          this.written(carrier);
          wrote = true;
        }
        const state = await this.read();
        const result: FaultResult = {
          wrote,
          state,
          carrier: { kind: "VirtualService", namespace: this.istio.namespace, name: carrier.metadata.name },
        };
        if (state.drift) result.drift = state.drift;
        return result;
      } catch (error) {
        if (isStaleWrite(error) || (error instanceof KubeConflictError && error.alreadyExists)) continue;
        throw error;
      }
    }
    throw new ConflictError(`VirtualService for ${target.host}`, MAX_ATTEMPTS);
  }

  override async clearFault(): Promise<ApplyResult> {
    const dependency = await this.clearDependencyFaults();
    const route = await super.clearFault();
    return { ...route, wrote: route.wrote || dependency };
  }

  override async finalize(): Promise<WeightResult> {
    await this.clearDependencyFaults();
    return super.finalize();
  }

  override async clearExpiredFaults(now: Date): Promise<boolean> {
    const carriers = await this.dependencyCarriers();
    const key = faultExpiryKey(this.istio);
    if (!carriers.some((vs) => expired(vs.metadata.annotations?.[key], now))) {
      return super.clearExpiredFaults(now);
    }
    await this.clearFault();
    return true;
  }

  /** The VirtualServices that carry this rollout's dependency faults: its own, and users' with its fault route. */
  private async dependencyCarriers(live = false): Promise<KubeObject[]> {
    const apiVersion = await this.groupVersion();
    const services = await (live ? this.reads.live : this.reads).list(
      apiVersion,
      "VirtualService",
      this.istio.namespace,
    );
    const name = faultRouteName(this.istio);
    return services.filter(
      (vs) =>
        isFaultVirtualService(this.istio, vs) ||
        asArray(asRecord(vs.spec).http).some((r) => asRecord(r).name === name),
    );
  }

  /** Removes the fault routes the controller put into dependencies' VirtualServices; true if it wrote. */
  private async clearDependencyFaults(): Promise<boolean> {
    let wrote = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const carriers = await this.dependencyCarriers(attempt > 1);
      if (carriers.length === 0) return wrote;
      try {
        for (const vs of carriers) {
          if (isFaultVirtualService(this.istio, vs)) {
            await this.client.delete(refOf(vs), { resourceVersion: vs.metadata.resourceVersion });
            this.reads.wrote(refOf(vs), undefined);
          } else {
            this.written(
              await this.client.jsonPatch(refOf(vs), planClearDependencyFault(this.istio, vs).ops),
            );
          }
          wrote = true;
        }
        return wrote;
      } catch (error) {
        if (isStaleWrite(error)) continue;
        throw error;
      }
    }
    throw new ConflictError(
      `the fault VirtualServices of rollout ${this.istio.namespace}/${this.istio.rollout}`,
      MAX_ATTEMPTS,
    );
  }
}

/** The reference of an object as read or written. */
function refOf(object: KubeObject) {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace,
    name: object.metadata.name,
  };
}

function hasSubsets(rule: KubeObject, ctx: IstioContext): boolean {
  const names = asArray(asRecord(rule.spec).subsets).map((s) => asRecord(s).name);
  return names.includes(ctx.subsets.stable) && names.includes(ctx.subsets.canary);
}
