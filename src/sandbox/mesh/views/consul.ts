/**
 * Consul ServiceSplitter (consul.hashicorp.com/v1alpha1) as Consul's Envoy data plane applies it: the
 * splitter named after a service splits its requests between `spec.splits` by weight (float percentages).
 * A split's `service` defaults to the splitter's; its `namespace` is the Consul namespace (taken as the
 * Kubernetes one, as with namespace mirroring); `requestHeaders` set/add/remove apply to its requests.
 * A `serviceSubset` needs a ServiceResolver, which is not modelled: such a split answers 503.
 */
import type { KubeObject } from "../../../kube/client.ts";
import type { ServiceName } from "../hosts.ts";
import { NO_HEADER_OPS, type RoutingTable, type WeightedBackend } from "../types.ts";
import { asArray, asRecord, describeObject, headerOpsFromMaps, num, spec, str } from "./common.ts";

export function consulTable(
  splitters: readonly KubeObject[],
  service: ServiceName,
): RoutingTable | undefined {
  const splitter = splitters.find(
    (s) =>
      s.metadata.name === service.name && (s.metadata.namespace ?? service.namespace) === service.namespace,
  );
  if (!splitter) return undefined;
  const backends = asArray(spec(splitter).splits)
    .map(asRecord)
    .map((split): WeightedBackend => {
      const backend: WeightedBackend["backend"] = {
        service: str(split.service) || splitter.metadata.name,
        namespace: str(split.namespace) ?? service.namespace,
      };
      const subset = str(split.serviceSubset);
      if (subset) backend.subset = { name: subset, labels: undefined };
      return {
        backend,
        weight: Math.max(0, num(split.weight) ?? 0),
        headers: headerOpsFromMaps(split.requestHeaders),
      };
    });
  const origin = describeObject(splitter);
  return {
    origin,
    rules: [{ origin: `${origin} splits`, when: [], backends, headers: NO_HEADER_OPS, mirrors: [] }],
    noBackendStatus: 503,
  };
}
