/** The four traffic APIs (and both Gateway API metric dialects) as the integration tests drive them. */
import type { TrafficProvider } from "../../../src/api/rollout.ts";
import type { MetricProvider } from "../../../src/api/slo-profile.ts";
import type { JsonPatchOperation, KubeObject, ObjectRef } from "../../../src/kube/client.ts";
import type { BackendSpec } from "./support.ts";
import { NS } from "./support.ts";

export interface ApiCase {
  name: string;
  provider: TrafficProvider;
  metrics: MetricProvider;
  ref: ObjectRef;
  /** The route object at these weights (percent). */
  object(primary: number, canary: number): KubeObject;
  /** The JSON patch that sets these weights. */
  patch(primary: number, canary: number): JsonPatchOperation[];
}

const PORT = { number: 9898 };

export const API_CASES: ApiCase[] = [
  {
    name: "Istio VirtualService",
    provider: "istio",
    metrics: "istio",
    ref: { apiVersion: "networking.istio.io/v1", kind: "VirtualService", namespace: NS, name: "podinfo" },
    object: (p, c) => ({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "podinfo", namespace: NS },
      spec: {
        hosts: ["podinfo"],
        http: [
          {
            route: [
              { destination: { host: "podinfo-primary", port: PORT }, weight: p },
              { destination: { host: "podinfo-canary", port: PORT }, weight: c },
            ],
          },
        ],
      },
    }),
    patch: (p, c) => [
      { op: "replace", path: "/spec/http/0/route/0/weight", value: p },
      { op: "replace", path: "/spec/http/0/route/1/weight", value: c },
    ],
  },
  ...(["linkerd", "gateway"] as const).map(
    (metrics): ApiCase => ({
      name: `Gateway API HTTPRoute (${metrics} metrics)`,
      provider: "gateway",
      metrics,
      ref: { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: NS, name: "podinfo" },
      object: (p, c) => ({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "podinfo", namespace: NS },
        spec: {
          parentRefs: [{ group: "", kind: "Service", name: "podinfo", port: 9898 }],
          rules: [
            {
              backendRefs: [
                { name: "podinfo-primary", port: 9898, weight: p * 100 },
                { name: "podinfo-canary", port: 9898, weight: c * 100 },
              ],
            },
          ],
        },
      }),
      patch: (p, c) => [
        { op: "replace", path: "/spec/rules/0/backendRefs/0/weight", value: p * 100 },
        { op: "replace", path: "/spec/rules/0/backendRefs/1/weight", value: c * 100 },
      ],
    }),
  ),
  {
    name: "SMI TrafficSplit v1alpha1",
    provider: "smi",
    metrics: "linkerd",
    ref: { apiVersion: "split.smi-spec.io/v1alpha1", kind: "TrafficSplit", namespace: NS, name: "podinfo" },
    object: (p, c) => ({
      apiVersion: "split.smi-spec.io/v1alpha1",
      kind: "TrafficSplit",
      metadata: { name: "podinfo", namespace: NS },
      spec: {
        service: "podinfo",
        backends: [
          { service: "podinfo-primary", weight: `${p * 10}m` },
          { service: "podinfo-canary", weight: `${c * 10}m` },
        ],
      },
    }),
    patch: (p, c) => [
      { op: "replace", path: "/spec/backends/0/weight", value: `${p * 10}m` },
      { op: "replace", path: "/spec/backends/1/weight", value: `${c * 10}m` },
    ],
  },
  {
    name: "Consul ServiceSplitter",
    provider: "consul",
    metrics: "consul",
    ref: {
      apiVersion: "consul.hashicorp.com/v1alpha1",
      kind: "ServiceSplitter",
      namespace: NS,
      name: "podinfo",
    },
    object: (p, c) => ({
      apiVersion: "consul.hashicorp.com/v1alpha1",
      kind: "ServiceSplitter",
      metadata: { name: "podinfo", namespace: NS },
      spec: {
        splits: [
          { weight: p, service: "podinfo-primary" },
          { weight: c, service: "podinfo-canary" },
        ],
      },
    }),
    patch: (p, c) => [
      { op: "replace", path: "/spec/splits/0/weight", value: p },
      { op: "replace", path: "/spec/splits/1/weight", value: c },
    ],
  },
];

/** A stable version and a canary with 20% errors and a p50 of 40 ms, the workloads the profiles measure. */
export const CANARY_WORLD: Record<string, BackendSpec> = {
  primary: { workload: "podinfo-primary", labels: { app: "podinfo-primary" } },
  canary: {
    workload: "podinfo",
    labels: { app: "podinfo" },
    behaviour: { scenario: "errors", errorRate: 0.2, latency: { medianMs: 40, sigma: 0.4 } },
  },
};

/** The populations the profiles compare: [backend version, workload, Service]. */
export const POPULATIONS = [
  ["primary", "podinfo-primary", "podinfo-primary"],
  ["canary", "podinfo", "podinfo-canary"],
] as const;
