/**
 * What a route object offers a Rollout, read without a cluster: its named routes, those of them that send
 * traffic to the stable Service, and why the controller would refuse the object. `rollout lint` uses it to
 * check a Rollout against the route objects kept beside it in Git. It asks the routers' own models
 * (`RouteModel.check`), so lint and the controller agree on which route is managed and which destination
 * is the stable one.
 */
import { ROLLOUT_DEFAULTS } from "../api/defaults.ts";
import type { KubeObject } from "../kube/client.ts";
import { ConsulModel } from "./consul.ts";
import { RouteNotFoundError } from "./errors.ts";
import { GatewayModel } from "./gateway.ts";
import { IstioModel } from "./istio.ts";
import type { RouteModel } from "./model.ts";
import { asArray, asRecord } from "./patch.ts";
import { SmiModel } from "./smi.ts";
import type { RouterContext } from "./types.ts";

/** The names a Rollout's traffic goes by, as far as reading a route object needs them. */
export interface InspectContext {
  /** The Rollout's name. */
  rollout: string;
  namespace: string;
  /** The apex Service (the host in Istio subset mode). */
  service: string;
  stableService: string;
  canaryService: string;
  /** The error backend of abort faults (a destination of the controller's own, never foreign). */
  faultService: string;
  /** The route (Istio http route, Gateway API rule) the Rollout names in spec.traffic.routes. */
  routeName?: string;
  /** Istio: host mode (stable and canary Services) or subset mode (one host, the subsets named here). */
  istio?: { mode: "host" | "subset"; subsets: { stable: string; canary: string } };
}

export interface RouteProblem {
  /** RouteNotFound: the named route is not in the object; NoStableRoute: no route the controller can manage. */
  reason: "RouteNotFound" | "NoStableRoute";
  /** The object as the router names it (`VirtualService shop/podinfo`). */
  object: string;
  /** The router's own words: what is missing, and what to add. */
  detail: string;
}

export interface RouteInspection {
  /** The names of the object's http routes (Istio) or rules (Gateway API); none for a splitter. */
  routes: string[];
  /** Those of `routes` the controller could manage: they send traffic to the stable Service. */
  stableRoutes: string[];
  problems: RouteProblem[];
}

/** Per kind: the router model that reads it, and where its named routes are. */
const INSPECTORS: Record<
  string,
  { routeList?: string; model: (ctx: InspectContext, apiVersion: string) => RouteModel }
> = {
  VirtualService: {
    routeList: "http",
    model: (ctx, apiVersion) =>
      new IstioModel(
        {
          ...routerContext(ctx),
          mode: ctx.istio?.mode ?? "host",
          subsets: ctx.istio?.subsets ?? { ...ROLLOUT_DEFAULTS.istioSubsets },
        },
        apiVersion,
      ),
  },
  HTTPRoute: {
    routeList: "rules",
    model: (ctx, apiVersion) => new GatewayModel(routerContext(ctx), "HTTPRoute", apiVersion),
  },
  GRPCRoute: {
    routeList: "rules",
    model: (ctx, apiVersion) => new GatewayModel(routerContext(ctx), "GRPCRoute", apiVersion),
  },
  TrafficSplit: { model: (ctx, apiVersion) => new SmiModel(routerContext(ctx), apiVersion) },
  ServiceSplitter: { model: (ctx, apiVersion) => new ConsulModel(routerContext(ctx), apiVersion) },
};

function routerContext(ctx: InspectContext): RouterContext {
  const out: RouterContext = {
    rollout: ctx.rollout,
    namespace: ctx.namespace,
    service: ctx.service,
    port: 0, // only the objects the controller creates carry it
    stableService: ctx.stableService,
    canaryService: ctx.canaryService,
    faultService: ctx.faultService,
  };
  if (ctx.routeName !== undefined) out.routeName = ctx.routeName;
  return out;
}

/** The router's refusal of `object` for `ctx`, or undefined when it would manage a route in it. */
function refusal(model: RouteModel, object: KubeObject): RouteNotFoundError | undefined {
  try {
    model.check(object);
    return undefined;
  } catch (error) {
    if (error instanceof RouteNotFoundError) return error;
    throw error;
  }
}

/**
 * Reads a route object (VirtualService, HTTPRoute, GRPCRoute, TrafficSplit, ServiceSplitter) for the Rollout
 * `ctx` describes; undefined for another kind.
 */
export function inspectRouteObject(object: KubeObject, ctx: InspectContext): RouteInspection | undefined {
  const inspector = INSPECTORS[object.kind];
  if (!inspector) return undefined;
  const apiVersion = typeof object.apiVersion === "string" ? object.apiVersion : "";
  const routes = inspector.routeList
    ? asArray(asRecord(object.spec)[inspector.routeList])
        .map((route) => asRecord(route).name)
        .filter((name): name is string => typeof name === "string")
    : [];
  const stableRoutes = routes.filter(
    (routeName) => refusal(inspector.model({ ...ctx, routeName }, apiVersion), object) === undefined,
  );
  // a splitter has one list of backends: a route name does not apply to it
  const named = inspector.routeList ? ctx.routeName : undefined;
  const { routeName: _routeName, ...unnamed } = ctx;
  const refused = refusal(inspector.model(named === undefined ? unnamed : ctx, apiVersion), object);
  const problems: RouteProblem[] = [];
  if (refused) {
    const missing = named !== undefined && !routes.includes(named);
    problems.push({
      reason: missing ? "RouteNotFound" : "NoStableRoute",
      object: refused.object,
      detail: refused.detail,
    });
  }
  return { routes, stableRoutes, problems };
}

/**
 * The name of the route object of `kind` the controller drives for a Rollout without a routeRef: the one it
 * would create, which it also drives when it already exists.
 */
export function ownRouteObjectName(kind: string, ctx: InspectContext): string | undefined {
  return INSPECTORS[kind]?.model(ctx, "").create().metadata.name;
}
