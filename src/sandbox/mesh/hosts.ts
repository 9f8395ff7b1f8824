/** Kubernetes service host names: `podinfo`, `podinfo.shop`, `podinfo.shop.svc.cluster.local`. Pure. */

export interface ServiceName {
  name: string;
  namespace: string;
}

/**
 * The Service a host names, seen from `namespace` (the namespace of the object or client that wrote it), or
 * undefined for hosts that are not cluster services (wildcards, external names, IP addresses).
 * A port suffix is ignored.
 */
export function parseServiceHost(host: string, namespace: string): ServiceName | undefined {
  const bare = host.trim().toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  if (bare === "" || bare.includes("*") || /^[\d.]+$/.test(bare)) return undefined;
  const parts = bare.split(".");
  const [name, ns] = parts;
  if (name === undefined || name === "") return undefined;
  if (parts.length === 1) return { name, namespace };
  if (ns === undefined || ns === "") return undefined;
  if (parts.length === 2 || parts[2] === "svc") return { name, namespace: ns };
  return undefined;
}

/** True when `host` names the Service `service` in `namespace`, read from `from`. */
export function namesService(host: unknown, service: ServiceName, from: string): boolean {
  if (typeof host !== "string") return false;
  const parsed = parseServiceHost(host, from);
  return parsed !== undefined && parsed.name === service.name && parsed.namespace === service.namespace;
}

/** The cluster-local FQDN of a service. */
export function serviceFqdn(service: ServiceName): string {
  return `${service.name}.${service.namespace}.svc.cluster.local`;
}
