// The simulated mesh data plane: route views per traffic API, the chooser, the proxy, metric dialects.
export { chance, type Decision, decide, pickWeighted } from "./choose.ts";
export { SERVICE_TIME_HEADER, SOURCE_HEADER } from "./headers.ts";
export { parseServiceHost, type ServiceName } from "./hosts.ts";
export { type HttpRequest, type HttpResponse, httpCall } from "./http.ts";
export { type Mesh, type MeshOptions, startMesh } from "./mesh.ts";
export { LATENCY_BUCKETS, type WorkloadCounters } from "./metrics/index.ts";
export { type Endpoint, type EndpointSpec, podName, Topology } from "./topology.ts";
export type * from "./types.ts";
export { type Protocol, ROUTE_KINDS, routingTable, serviceTable } from "./views/index.ts";
