/**
 * SMI TrafficSplit (split.smi-spec.io v1alpha1..v1alpha4). Pure part.
 *
 * The controller owns, in `spec.backends`, the entries for `<svc>-primary`, `<svc>-canary` and (during
 * an abort fault) `<svc>-fault`, and their weights; other backends keep their place and weight, and the
 * split keeps their share. v1alpha1 weights are resource quantities (written as milli-units, "950m" and
 * "50m"); v1alpha2 and later, integers (written out of 1000). The TrafficSplit `matches` of v1alpha3+
 * (HTTPRouteGroup) are not used: Linkerd, the remaining implementation, never routed by them.
 */
import type { KubeObject } from "../../kube/client.ts";
import { BackendFaultModel } from "../backend.ts";
import { RouteNotFoundError } from "../errors.ts";
import { backendNames, describeObject, ownedMetadata } from "../model.ts";
import { asArray, asRecord } from "../patch.ts";
import { destinationRole } from "../roles.ts";
import type { SplitSite } from "../split.ts";
import type { Fault, RouterCapabilities, RouterContext } from "../traffic-router.ts";
import { SMI_INT_WEIGHTS, SMI_QUANTITY_WEIGHTS, type WeightScheme } from "../weights.ts";

export const SMI_GROUP = "split.smi-spec.io";
/** Highest first: the order in which a served version is preferred. */
export const SMI_VERSIONS = ["v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"] as const;

export function smiScheme(apiVersion: string): WeightScheme {
  return apiVersion.endsWith("/v1alpha1") ? SMI_QUANTITY_WEIGHTS : SMI_INT_WEIGHTS;
}

export class SmiModel extends BackendFaultModel {
  readonly api = "SMI TrafficSplit";
  readonly kind = "TrafficSplit";
  readonly capabilities: RouterCapabilities;
  private readonly scheme: WeightScheme;
  protected readonly alternatives = {
    match: "use provider gateway (a Gateway API HTTPRoute, which Linkerd supports) or istio for A/B tests",
    mirror: "use provider istio, or gateway with an HTTPRoute (RequestMirror filter)",
    delay:
      "use provider istio for delay faults; abort faults work here as a weighted share to the error backend",
  };

  constructor(
    ctx: RouterContext,
    readonly apiVersion: string,
  ) {
    super(ctx);
    this.scheme = smiScheme(apiVersion);
    this.capabilities = {
      minStep: this.scheme.minStep,
      headerMatch: false,
      cookieMatch: false,
      mirror: false,
      delayFault: false,
      abortFault: "backend",
      dependencyFault: false,
    };
  }

  protected site(object: KubeObject, _fault: Fault | undefined): SplitSite {
    const { ctx } = this;
    const backends = asArray(asRecord(object.spec).backends);
    const names = backendNames(ctx);
    const role = (entry: unknown) => destinationRole(names, { service: asRecord(entry).service });
    if (!backends.some((b) => role(b) === "stable")) {
      throw new RouteNotFoundError(
        describeObject(object),
        `has no backend ${ctx.stableService} in spec.backends; add it (the stable service) to let Stepwise split traffic`,
      );
    }
    return {
      path: "/spec/backends",
      scheme: this.scheme,
      role,
      label: (entry) => String(asRecord(entry).service),
      omittedUnits: () => 0,
      canaryEntry: () => ({ service: ctx.canaryService }),
      faultEntry: () => ({ service: ctx.faultService }),
    };
  }

  create(): KubeObject {
    const { ctx } = this;
    return {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: ownedMetadata(ctx, ctx.routeRef?.name ?? ctx.rollout),
      spec: {
        service: ctx.service,
        backends: [
          { service: ctx.stableService, weight: this.scheme.format(this.scheme.total) },
          { service: ctx.canaryService, weight: this.scheme.format(0) },
        ],
      },
    };
  }
}
