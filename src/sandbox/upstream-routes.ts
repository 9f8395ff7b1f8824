/**
 * `rollout sandbox --routes upstream`: the demo on route objects a user brings from Git, named the way
 * Argo Rollouts' examples name them (`<app>-stable` / `<app>-canary` Services, a route object with a
 * name of its own and a named route), instead of the objects the controller creates. The Rollout points
 * at them with spec.traffic.routeRef, routes, stableService and canaryService.
 */
import type { TrafficProvider } from "../api/rollout.ts";
import type { KubeObject } from "../kube/client.ts";

export const ROUTE_STYLES = ["stepwise", "upstream"] as const;
export type RouteStyle = (typeof ROUTE_STYLES)[number];

export interface UpstreamRoutes {
  /** The user's objects, created before the Rollout: the two Services and the route object. */
  objects: KubeObject[];
  /** The Rollout's spec.traffic that points at them. */
  traffic: Record<string, unknown>;
  /** The Services' names, for the sandbox mesh's endpoints. */
  stableService: string;
  canaryService: string;
}

export function upstreamRoutes(
  provider: TrafficProvider,
  app: string,
  namespace: string,
  port: number,
): UpstreamRoutes {
  const stableService = `${app}-stable`;
  const canaryService = `${app}-canary`;
  const service = (name: string): KubeObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: { selector: { app }, ports: [{ name: "http", port, targetPort: 9898 }] },
  });
  const meta = (name: string) => ({ name, namespace });
  const names = { stableService, canaryService };
  let route: KubeObject;
  let traffic: Record<string, unknown>;
  switch (provider) {
    case "istio":
      route = {
        apiVersion: "networking.istio.io/v1beta1",
        kind: "VirtualService",
        metadata: meta(`${app}-vsvc`),
        spec: {
          hosts: [app],
          http: [
            {
              name: "primary",
              route: [
                { destination: { host: stableService }, weight: 100 },
                { destination: { host: canaryService }, weight: 0 },
              ],
            },
          ],
        },
      };
      traffic = { routeRef: { kind: "VirtualService", name: `${app}-vsvc` }, routes: ["primary"] };
      break;
    case "gateway":
      route = {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: meta(`${app}-route`),
        spec: {
          parentRefs: [{ group: "", kind: "Service", name: app, port }],
          rules: [
            {
              backendRefs: [
                { name: stableService, port, weight: 100 },
                { name: canaryService, port, weight: 0 },
              ],
            },
          ],
        },
      };
      traffic = { routeRef: { kind: "HTTPRoute", name: `${app}-route` } };
      break;
    case "smi":
      route = {
        apiVersion: "split.smi-spec.io/v1alpha2",
        kind: "TrafficSplit",
        metadata: meta(`${app}-split`),
        spec: {
          service: app,
          backends: [
            { service: stableService, weight: 100 },
            { service: canaryService, weight: 0 },
          ],
        },
      };
      traffic = { routeRef: { kind: "TrafficSplit", name: `${app}-split` } };
      break;
    case "consul":
      // Consul names a splitter after the service whose traffic it splits.
      route = {
        apiVersion: "consul.hashicorp.com/v1alpha1",
        kind: "ServiceSplitter",
        metadata: meta(app),
        spec: {
          splits: [
            { weight: 100, service: stableService },
            { weight: 0, service: canaryService },
          ],
        },
      };
      traffic = { routeRef: { kind: "ServiceSplitter", name: app } };
      break;
  }
  return {
    objects: [service(stableService), service(canaryService), route],
    traffic: { provider, ...traffic, ...names },
    ...names,
  };
}
