/**
 * createRouter: the traffic router for a Rollout, chosen by spec.traffic.provider (and, for the Gateway
 * API, by routeRef.kind: HTTPRoute or GRPCRoute). The import surface of src/routers for the rest of the
 * code, but for three pure files that modules which must not load the Kubernetes client import directly:
 * weights.ts (the engine), inspect.ts (lint), traffic-router.ts's constants (the fault server).
 *
 * Layout: traffic-router.ts is the contract; object-router.ts the I/O every provider shares (read,
 * decide, write once, read back); roles.ts the one classifier of a destination (stable / canary / fault /
 * foreign); split.ts and weights.ts the weighted-list arithmetic; one folder per provider holds its pure
 * model (istio/, gateway/, smi/, consul/) and, for Istio, its extra I/O.
 */
import { type Rollout, serviceNames, subsetNames } from "../api/rollout.ts";
import type { KubeClient, OwnerReference } from "../kube/client.ts";
import type { ObjectReader } from "../kube/object-cache.ts";
import {
  CONSUL_CAPABILITIES,
  CONSUL_GROUP,
  CONSUL_VERSIONS,
  ConsulModel,
} from "./consul/service-splitter.ts";
import { GATEWAY_GROUP, GATEWAY_VERSIONS, type GatewayKind, GatewayModel } from "./gateway/route.ts";
import { IstioRouter } from "./istio/router.ts";
import type { IstioContext } from "./istio/virtual-service.ts";
import { ObjectRouter, resolveApiVersion } from "./object-router.ts";
import { SMI_GROUP, SMI_VERSIONS, SmiModel } from "./smi/traffic-split.ts";
import type { RouterContext, TrafficRouter } from "./traffic-router.ts";
import { SMI_INT_WEIGHTS } from "./weights.ts";

export * from "./errors.ts";
// What lint reads route objects with, so that it picks the managed route as the controller does.
export { type InspectContext, inspectRouteObject, ownRouteObjectName } from "./inspect.ts";
// What the sandbox mesh reads route objects with, so that it reads them as the routers write them.
export { escapeRegex, GRPC_STATUS_NAMES } from "./match.ts";
export { describeObject } from "./model.ts";
export { asArray, asRecord } from "./patch.ts";
export type * from "./traffic-router.ts";
export {
  FAULT_GRPC_STATUS_HEADER,
  FAULT_STATUS_HEADER,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  ROLLOUT_LABEL,
} from "./traffic-router.ts";
/** The weight contract's tolerance (traffic-router.ts): what the engine accepts as applied. */
export { parseQuantity, withinOneUnit } from "./weights.ts";

export interface RouterOptions {
  /** Owner of the objects the controller creates (the Rollout), so they go when it goes. */
  owner?: OwnerReference;
  /** The route (Istio http route name, Gateway API rule name) to manage in a routeRef object. */
  routeName?: string;
  /** Istio subset mode: labels of the stable and canary pods (for the DestinationRule subsets). */
  subsetLabels?: { stable: Record<string, string>; canary: Record<string, string> };
  /** Gateway API: parentRefs of a route the controller creates (default: the apex Service, GAMMA). */
  parentRefs?: Record<string, unknown>[];
  /** Where route objects are read from (the controller's informer cache); the API server when absent. */
  reads?: ObjectReader;
}

/** The names a rollout's traffic is addressed by (serviceNames), and the route it manages. */
export function routerContext(rollout: Rollout, options: RouterOptions = {}): RouterContext {
  const names = serviceNames(rollout);
  const ctx: RouterContext = {
    rollout: rollout.metadata.name,
    namespace: rollout.metadata.namespace ?? "default",
    service: names.apex,
    port: rollout.spec.service.port,
    stableService: names.stable,
    canaryService: names.canary,
    faultService: names.fault,
  };
  if (options.owner) ctx.owner = options.owner;
  if (rollout.spec.traffic.routeRef) ctx.routeRef = { ...rollout.spec.traffic.routeRef };
  const routeName = options.routeName ?? rollout.spec.traffic.routes?.[0];
  if (routeName) ctx.routeName = routeName;
  return ctx;
}

export function createRouter(
  rollout: Rollout,
  client: KubeClient,
  options: RouterOptions = {},
): TrafficRouter {
  const ctx = routerContext(rollout, options);
  const traffic = rollout.spec.traffic;
  const explicit = traffic.routeRef?.apiVersion;
  switch (traffic.provider) {
    case "istio": {
      const istio: IstioContext = {
        ...ctx,
        mode: traffic.istio?.mode ?? "host",
        subsets: subsetNames(rollout.spec),
      };
      return new IstioRouter(client, istio, {
        ...(options.subsetLabels ? { subsetLabels: options.subsetLabels } : {}),
        ...(options.reads ? { reads: options.reads } : {}),
      });
    }
    case "gateway": {
      const kind: GatewayKind = traffic.routeRef?.kind === "GRPCRoute" ? "GRPCRoute" : "HTTPRoute";
      const gatewayCtx = options.parentRefs ? { ...ctx, parentRefs: options.parentRefs } : ctx;
      const probe = new GatewayModel(gatewayCtx, kind, `${GATEWAY_GROUP}/v1`);
      return new ObjectRouter(
        client,
        ctx,
        async () =>
          new GatewayModel(
            gatewayCtx,
            kind,
            await resolveApiVersion(
              client,
              GATEWAY_GROUP,
              GATEWAY_VERSIONS[kind],
              `Gateway API ${kind}`,
              explicit,
            ),
          ),
        probe.api,
        probe.capabilities,
        options.reads,
      );
    }
    case "smi": {
      // The version (and with it the weight format) is the one the cluster serves; until it is known,
      // capabilities are those of v1alpha2+ (v1alpha1 has the same steps).
      const probe = new SmiModel(ctx, `${SMI_GROUP}/v1alpha4`);
      return new ObjectRouter(
        client,
        ctx,
        async () =>
          new SmiModel(
            ctx,
            await resolveApiVersion(client, SMI_GROUP, SMI_VERSIONS, "SMI TrafficSplit", explicit),
          ),
        probe.api,
        { ...probe.capabilities, minStep: SMI_INT_WEIGHTS.minStep },
        options.reads,
      );
    }
    case "consul":
      return new ObjectRouter(
        client,
        ctx,
        async () =>
          new ConsulModel(
            ctx,
            await resolveApiVersion(client, CONSUL_GROUP, CONSUL_VERSIONS, "Consul", explicit),
          ),
        "Consul ServiceSplitter",
        CONSUL_CAPABILITIES,
        options.reads,
      );
  }
}
