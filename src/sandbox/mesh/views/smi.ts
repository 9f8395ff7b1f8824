/**
 * SMI TrafficSplit (split.smi-spec.io v1alpha1..v1alpha4) as Linkerd's SMI extension applies it: requests
 * for the apex `spec.service` are split between `spec.backends` by relative weight. v1alpha1 weights are
 * resource quantities ("500m" is half of "1"); later versions are integers. Both forms are read in any
 * version, as the API server stores what was written. The v1alpha3+ `matches` are ignored, as Linkerd
 * ignores them. Of several splits for one service the oldest applies.
 */
import type { KubeObject } from "../../../kube/client.ts";
import { parseQuantity } from "../../../routers/index.ts";
import { namesService, type ServiceName } from "../hosts.ts";
import { NO_HEADER_OPS, type RoutingTable, type WeightedBackend } from "../types.ts";
import { asArray, asRecord, describeObject, oldestFirst, spec, str } from "./common.ts";

export function smiTable(splits: readonly KubeObject[], service: ServiceName): RoutingTable | undefined {
  const split = oldestFirst(splits).find((s) =>
    namesService(spec(s).service, service, s.metadata.namespace ?? service.namespace),
  );
  if (!split) return undefined;
  const namespace = split.metadata.namespace ?? service.namespace;
  const backends = asArray(spec(split).backends)
    .map(asRecord)
    .map(
      (b): WeightedBackend => ({
        backend: { service: str(b.service) ?? "", namespace },
        weight: Math.max(0, parseQuantity(b.weight) ?? 0),
        headers: NO_HEADER_OPS,
      }),
    );
  const origin = describeObject(split);
  return {
    origin,
    rules: [{ origin: `${origin} backends`, when: [], backends, headers: NO_HEADER_OPS, mirrors: [] }],
    noBackendStatus: 503,
  };
}
