/**
 * What the simulated cluster runs: the Services the proxy can reach, the backend behind each, and the
 * workload (Deployment name, pod labels, a pod name) that serves it. The caller describes it; route objects
 * only name Services, and the topology turns those names into backend URLs and workload identities.
 */
import { createHash } from "node:crypto";
import { labelsInclude } from "./match.ts";
import type { BackendRef, Workload } from "./types.ts";

export interface EndpointSpec {
  /** Where the backend listens, e.g. http://127.0.0.1:41234. */
  url: string;
  /** The Deployment serving the Service (the workload in metrics); default: the Service's name. */
  workload?: string;
  /** Pod labels (for Istio sourceLabels and DestinationRule subsets); default `{app: <workload>}`. */
  labels?: Record<string, string>;
}

/** A Service's backend as the proxy reaches it. */
export interface Endpoint {
  /** The Service the route addressed (the apex Service for an Istio subset). */
  service: string;
  namespace: string;
  /** The Service port the route named, or the topology's default port. */
  port: number;
  url: string;
  workload: Workload;
}

/** Kubernetes' alphabet for generated name parts (no vowels, no look-alikes). */
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function safeString(seed: string, length: number): string {
  const digest = createHash("sha256").update(seed).digest();
  return Array.from(digest.subarray(0, length), (byte) => SAFE_ALPHABET[byte % SAFE_ALPHABET.length]).join(
    "",
  );
}

/** A stable pod name for a workload: `<workload>-<pod-template-hash>-<suffix>`, as a Deployment's pods are named. */
export function podName(workload: string, namespace: string): string {
  const key = `${namespace}/${workload}`;
  return `${workload}-${safeString(`template:${key}`, 10)}-${safeString(`pod:${key}`, 5)}`;
}

export function workloadOf(name: string, namespace: string, labels?: Record<string, string>): Workload {
  return { name, namespace, labels: labels ?? { app: name }, pod: podName(name, namespace) };
}

export class Topology {
  private readonly endpoints = new Map<string, { url: string; workload: Workload }>();

  /**
   * @param services Service name -> backend URL, or the URL with the workload's name and pod labels.
   * @param port The Services' port where a route does not name one.
   */
  constructor(
    readonly namespace: string,
    services: Readonly<Record<string, string | EndpointSpec>>,
    readonly port: number,
  ) {
    for (const [service, entry] of Object.entries(services)) {
      const spec = typeof entry === "string" ? { url: entry } : entry;
      this.endpoints.set(service, {
        url: spec.url,
        workload: workloadOf(spec.workload ?? service, namespace, spec.labels),
      });
    }
  }

  /**
   * The backend a route's destination reaches; undefined when there is none (another namespace, an unknown
   * Service, a subset no DestinationRule defines or no pod matches).
   */
  resolve(ref: BackendRef): Endpoint | undefined {
    if (ref.namespace !== this.namespace) return undefined;
    let found = this.endpoints.get(ref.service);
    if (ref.subset) {
      const labels = ref.subset.labels;
      if (labels === undefined) return undefined;
      const matching = [...this.endpoints.entries()].filter(([, e]) =>
        labelsInclude(e.workload.labels, labels),
      );
      found = (matching.find(([name]) => name === ref.service) ?? matching[0])?.[1];
    }
    if (!found) return undefined;
    return { service: ref.service, namespace: ref.namespace, port: ref.port ?? this.port, ...found };
  }

  /** The calling workload named by a request; one not in the topology gets default labels. */
  source(name: string | undefined): Workload | undefined {
    if (name === undefined || name === "") return undefined;
    for (const endpoint of this.endpoints.values())
      if (endpoint.workload.name === name) return endpoint.workload;
    return workloadOf(name, this.namespace);
  }
}
