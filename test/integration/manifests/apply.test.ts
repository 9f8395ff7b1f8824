/**
 * Every kustomization under manifests/ applies to a fresh API emulator with the real kubectl: first with
 * `--dry-run=server`, then for real, in the order a person installs (the base, the overlays, the dashboard,
 * then each example in its own namespace). Every kind in them must be one the emulator serves: the
 * built-in ones (RBAC and the PodDisruptionBudget included), ours, or a mesh's: the cluster has no
 * Prometheus operator. Then, once the operator's CRD is there, an overlay with the service-monitor component;
 * last, an overlay with the shards component, over the unsharded install as docs/install.md says.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { KubeObject } from "../../../src/kube/client.ts";
import { type Harness, startHarness } from "../emulator/harness.ts";
import {
  idOf,
  kustomizations,
  kustomize,
  kustomizeWith,
  openCrd,
  SERVICE_MONITOR_COMPONENT,
  SHARDS_COMPONENT,
  THIRD_PARTY_CRDS,
} from "./support.ts";

const PROMETHEUS_OPERATOR = (crd: (typeof THIRD_PARTY_CRDS)[number]) => crd.group === "monitoring.coreos.com";

// the order of an install: base (and its parts), overlays (the same controller with more rules), the
// dashboard, the examples
const rank = (dir: string) =>
  dir.startsWith("manifests/overlays/")
    ? 1
    : dir === "manifests/grafana"
      ? 2
      : dir.startsWith("manifests/examples/")
        ? 3
        : 0;
const DIRS = kustomizations().sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

let harness: Harness;

async function served(apiVersion: string): Promise<Set<string>> {
  const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const response = await fetch(`${harness.api.url}${path}`, {
    headers: { Authorization: `Bearer ${harness.api.token}` },
  });
  if (response.status === 404) return new Set();
  const list = (await response.json()) as { resources?: { name: string; kind: string }[] };
  return new Set((list.resources ?? []).filter((r) => !r.name.includes("/")).map((r) => r.kind));
}

const yamlOf = (objects: KubeObject[]) => objects.map((o) => stringify(o)).join("---\n");

/** `kubectl apply` of these objects, dry run on the server and then for real; returns kubectl's lines. */
async function apply(objects: KubeObject[]): Promise<void> {
  const input = yamlOf(objects);
  const dry = await harness.kubectl(["apply", "--dry-run=server", "-f", "-"], input);
  expect(dry.stderr.replace(/^Warning: .*\n/gm, ""), "kubectl apply --dry-run=server").toBe("");
  expect(dry.code).toBe(0);
  const dryLines = dry.stdout.trim().split("\n");
  expect(dryLines).toHaveLength(objects.length);
  for (const line of dryLines) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);

  const real = await harness.kubectl(["apply", "-f", "-"], input);
  expect(real.stderr.replace(/^Warning: .*\n/gm, ""), "kubectl apply").toBe("");
  expect(real.code).toBe(0);
  expect(real.stdout.trim().split("\n")).toHaveLength(objects.length);
  for (const line of real.stdout.trim().split("\n")) expect(line).toMatch(/ (created|configured|unchanged)$/);

  // an independent read: every object is there now
  const got = await harness.kubectl(["get", "-f", "-", "-o", "name"], input);
  expect(got.code).toBe(0);
  expect(got.stdout.trim().split("\n")).toHaveLength(objects.length);
}

beforeAll(async () => {
  harness = await startHarness({ controllers: { deployments: { delayMs: 30 } } });
  // the mesh's CRDs only (Consul's ServiceDefaults, for its example), not the Prometheus operator's
  const crds = THIRD_PARTY_CRDS.filter((crd) => !PROMETHEUS_OPERATOR(crd)).map(openCrd);
  const result = await harness.kubectl(["apply", "-f", "-"], yamlOf(crds));
  if (result.code !== 0) throw new Error(`installing the third-party CRDs failed: ${result.stderr}`);
  await harness.kubectlOk([
    "wait",
    "--for=condition=Established",
    "--timeout=20s",
    ...crds.map((crd) => `crd/${crd.metadata.name}`),
  ]);
});

afterAll(async () => {
  await harness?.close();
});

describe("kubectl apply to the API emulator", () => {
  it.for(DIRS)("%s: dry run on the server, then for real", { timeout: 60_000 }, async (dir) => {
    const objects = await kustomize(dir);
    const versions = [...new Set(objects.map((o) => o.apiVersion))];
    const kinds = new Map(await Promise.all(versions.map(async (v) => [v, await served(v)] as const)));
    const unserved = objects.filter((o) => !kinds.get(o.apiVersion)?.has(o.kind)).map(idOf);
    expect(unserved, "objects of kinds the emulator does not serve").toEqual([]);

    // Namespaces and CRDs first, as on a fresh cluster: a dry run cannot create into a namespace that
    // does not exist yet, nor validate objects of a CRD that is not established yet.
    const first = objects.filter((o) => o.kind === "Namespace" || o.kind === "CustomResourceDefinition");
    const rest = objects.filter((o) => !first.includes(o));
    if (first.length > 0) await apply(first);
    const crds = first
      .filter((o) => o.kind === "CustomResourceDefinition")
      .map((o) => `crd/${o.metadata.name}`);
    if (crds.length > 0)
      await harness.kubectlOk(["wait", "--for=condition=Established", "--timeout=20s", ...crds]);
    if (rest.length > 0) await apply(rest);
  });

  it("installed the controller and every example's app and Rollout", async () => {
    const deployments = await harness.kubectlOk(["get", "deployments", "-A", "-o", "name"]);
    expect(deployments).toContain("deployment.apps/stepwise-controller");
    const rollouts = (await harness.kubectlOk(["get", "rollouts.stepwise.dev", "-A", "-o", "name"]))
      .trim()
      .split("\n");
    expect(rollouts).toHaveLength(DIRS.filter((d) => d.startsWith("manifests/examples/")).length);
    const image = await harness.kubectlOk([
      "get",
      "deployment",
      "stepwise-controller",
      "-n",
      "stepwise-system",
      "-o",
      "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    expect(image).toMatch(/^ghcr\.io\/stepwise-dev\/stepwise:/);
  });

  it("an overlay with the service-monitor component applies once the Prometheus operator's CRD is installed", async () => {
    const objects = await kustomizeWith("manifests/overlays/istio", [SERVICE_MONITOR_COMPONENT]);
    const monitors = objects.filter((o) => o.kind === "ServiceMonitor");
    expect(monitors).toHaveLength(1);
    const crds = THIRD_PARTY_CRDS.filter(PROMETHEUS_OPERATOR).map(openCrd);
    await harness.kubectlOk(["apply", "-f", "-"], yamlOf(crds));
    await harness.kubectlOk([
      "wait",
      "--for=condition=Established",
      "--timeout=20s",
      ...crds.map((crd) => `crd/${crd.metadata.name}`),
    ]);
    await apply(objects);
    const got = await harness.kubectlOk(["get", "servicemonitors", "-n", "stepwise-system", "-o", "name"]);
    expect(got.trim()).toBe("servicemonitor.monitoring.coreos.com/stepwise-controller");
  });

  it("an overlay with the shards component applies over an install once its Deployment is deleted", async () => {
    const objects = await kustomizeWith("manifests/overlays/istio", [SHARDS_COMPONENT]);
    // the first shard's pod selector differs from the unsharded one, and a Deployment's selector is immutable
    const over = await harness.kubectl(["apply", "-f", "-"], yamlOf(objects));
    expect(over.code).not.toBe(0);
    expect(over.stderr).toMatch(
      /Deployment "stepwise-controller" is invalid: spec\.selector: .*field is immutable/,
    );
    await harness.kubectlOk(["delete", "deployment", "stepwise-controller", "-n", "stepwise-system"]);
    await apply(objects);
    const deployments = await harness.kubectlOk([
      "get",
      "deployments",
      "-n",
      "stepwise-system",
      "-o",
      "name",
    ]);
    expect(deployments.trim().split("\n").sort()).toEqual([
      "deployment.apps/stepwise-controller",
      "deployment.apps/stepwise-controller-b",
    ]);
  });
});
