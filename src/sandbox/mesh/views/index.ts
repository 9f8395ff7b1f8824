/** The routing table of a service under one traffic API: the right view, or plain Service routing. Pure. */
import type { TrafficProvider } from "../../../api/rollout.ts";
import type { KubeObject } from "../../../kube/client.ts";
import type { ServiceName } from "../hosts.ts";
import { NO_HEADER_OPS, type RoutingTable } from "../types.ts";
import { consulTable } from "./consul.ts";
import { GatewayView } from "./gateway.ts";
import { IstioView } from "./istio.ts";
import { smiTable } from "./smi.ts";

export interface RouteKind {
  group: string;
  kind: string;
}

/** The route objects each data plane reads. */
export const ROUTE_KINDS: Record<TrafficProvider, readonly RouteKind[]> = {
  istio: [
    { group: "networking.istio.io", kind: "VirtualService" },
    { group: "networking.istio.io", kind: "DestinationRule" },
  ],
  smi: [{ group: "split.smi-spec.io", kind: "TrafficSplit" }],
  gateway: [
    { group: "gateway.networking.k8s.io", kind: "HTTPRoute" },
    { group: "gateway.networking.k8s.io", kind: "GRPCRoute" },
  ],
  consul: [{ group: "consul.hashicorp.com", kind: "ServiceSplitter" }],
};

export type Protocol = "http" | "grpc";

/** Current objects of a kind (in the mesh's namespace). */
export type ObjectsOf = (kind: string) => readonly KubeObject[];

/** No route object for the service: every request goes to the Service itself. */
export function serviceTable(service: ServiceName): RoutingTable {
  const origin = `Service ${service.namespace}/${service.name} (no route object)`;
  return {
    origin,
    rules: [
      {
        origin,
        when: [],
        backends: [
          {
            backend: { service: service.name, namespace: service.namespace },
            weight: 1,
            headers: NO_HEADER_OPS,
          },
        ],
        headers: NO_HEADER_OPS,
        mirrors: [],
      },
    ],
    noBackendStatus: 503,
  };
}

/** How `provider`'s data plane routes requests for `service`, given the current route objects. */
export function routingTable(
  provider: TrafficProvider,
  objects: ObjectsOf,
  service: ServiceName,
  protocol: Protocol,
): RoutingTable {
  let table: RoutingTable | undefined;
  switch (provider) {
    case "istio":
      table = new IstioView(objects("VirtualService"), objects("DestinationRule")).table(service);
      break;
    case "smi":
      table = smiTable(objects("TrafficSplit"), service);
      break;
    case "gateway": {
      const view = new GatewayView([...objects("HTTPRoute"), ...objects("GRPCRoute")]);
      // gRPC requests follow GRPCRoutes where any attach; everything else follows HTTPRoutes.
      table =
        (protocol === "grpc" ? view.table(service, "GRPCRoute") : undefined) ??
        view.table(service, "HTTPRoute");
      break;
    }
    case "consul":
      table = consulTable(objects("ServiceSplitter"), service);
      break;
  }
  return table ?? serviceTable(service);
}
