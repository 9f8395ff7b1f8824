/**
 * Consul ServiceSplitter (consul.hashicorp.com/v1alpha1). Pure part.
 *
 * The splitter is named after the service it splits. The controller owns, in `spec.splits`, the splits
 * to `<svc>-primary`, `<svc>-canary` and (during an abort fault) `<svc>-fault`, and their weights; other
 * splits (other services, subsets, their headers) keep their place and weight. Weights are float
 * percentages with two decimals that add up to 100 across all splits: the rollout gets what the other
 * splits leave.
 */
import type { KubeObject } from "../../kube/client.ts";
import { BackendFaultModel } from "../backend.ts";
import { RouteNotFoundError } from "../errors.ts";
import { faultHeaders } from "../match.ts";
import { backendNames, describeObject, ownedMetadata } from "../model.ts";
import { asArray, asRecord } from "../patch.ts";
import { destinationRole } from "../roles.ts";
import type { SplitSite } from "../split.ts";
import type { Fault, RouterCapabilities, RouterContext } from "../traffic-router.ts";
import { CONSUL_WEIGHTS } from "../weights.ts";

export const CONSUL_GROUP = "consul.hashicorp.com";
export const CONSUL_VERSIONS = ["v1alpha1"] as const;

export const CONSUL_CAPABILITIES: RouterCapabilities = {
  minStep: CONSUL_WEIGHTS.minStep,
  headerMatch: false,
  cookieMatch: false,
  mirror: false,
  delayFault: false,
  abortFault: "backend",
  dependencyFault: false,
};

export class ConsulModel extends BackendFaultModel {
  readonly api = "Consul ServiceSplitter";
  readonly kind = "ServiceSplitter";
  readonly capabilities = CONSUL_CAPABILITIES;
  protected readonly alternatives = {
    match:
      "a Consul ServiceRouter can, but Stepwise does not drive ServiceRouters; use provider istio or gateway for A/B tests",
    mirror: "use provider istio, or gateway with an HTTPRoute (RequestMirror filter)",
    delay:
      "use provider istio for delay faults; abort faults work here as a weighted split to the error backend",
  };

  constructor(
    ctx: RouterContext,
    readonly apiVersion: string,
  ) {
    super(ctx);
  }

  protected site(object: KubeObject, fault: Fault | undefined): SplitSite {
    const { ctx } = this;
    const splits = asArray(asRecord(object.spec).splits);
    // A split to a subset is the user's: the rollout's splits name whole services. A split with no
    // service splits the splitter's own service.
    const names = backendNames(ctx, "");
    const role = (entry: unknown) => {
      const split = asRecord(entry);
      return destinationRole(names, {
        service: split.service ?? object.metadata.name,
        subset: split.serviceSubset,
      });
    };
    if (!splits.some((s) => role(s) === "stable")) {
      throw new RouteNotFoundError(
        describeObject(object),
        `has no split to service ${ctx.stableService}; add one (the stable service) to let Stepwise split traffic`,
      );
    }
    const headers = faultHeaders(fault);
    return {
      path: "/spec/splits",
      scheme: CONSUL_WEIGHTS,
      role,
      label: (entry) => {
        const split = asRecord(entry);
        const subset = split.serviceSubset ? ` subset ${String(split.serviceSubset)}` : "";
        const namespace = split.namespace ? ` in namespace ${String(split.namespace)}` : "";
        return `${String(split.service ?? object.metadata.name)}${subset}${namespace}`;
      },
      omittedUnits: () => 0,
      canaryEntry: (stable) => ({ service: ctx.canaryService, ...placement(stable) }),
      faultEntry: (stable) => ({
        service: ctx.faultService,
        ...placement(stable),
        ...(Object.keys(headers).length > 0 ? { requestHeaders: { set: headers } } : {}),
      }),
    };
  }

  create(): KubeObject {
    const { ctx } = this;
    return {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: ownedMetadata(ctx, ctx.routeRef?.name ?? ctx.service),
      spec: {
        splits: [
          { weight: 100, service: ctx.stableService },
          { weight: 0, service: ctx.canaryService },
        ],
      },
    };
  }
}

/** The Consul namespace and partition of the stable split, which the canary and fault splits share. */
function placement(stable: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (stable.namespace !== undefined) out.namespace = stable.namespace;
  if (stable.partition !== undefined) out.partition = stable.partition;
  return out;
}
