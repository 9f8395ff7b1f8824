/**
 * manifests/components/shards on a mesh overlay, rendered with the real kubectl: two controller
 * Deployments with the two shard selectors, which between them cover every Rollout exactly once, pods
 * neither shares with the other (Deployments and PodDisruptionBudgets), one metrics Service over both, and
 * a leader-election Role that names exactly each shard's Lease as the controller computes it. The Lease
 * names the docs tell users to list come from `rollout controller --print-lease-name`, checked here too.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { controllerCommand } from "../../../cli/commands/controller.ts";
import { leaseName } from "../../../src/controller/controller.ts";
import type { KubeObject } from "../../../src/kube/client.ts";
import { labelMatcher } from "../../../src/kube/label-selector.ts";
import {
  find,
  idOf,
  kustomize,
  kustomizeWith,
  type PolicyRule,
  ROOT,
  rolloutCli,
  SHARDS_COMPONENT,
} from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: assertions walk Kubernetes objects, which a precise type would only obscure
type Json = Record<string, any>;

const OVERLAY = "manifests/overlays/istio";
const FIRST = "stepwise-controller";
const SECOND = "stepwise-controller-b";
const SHARD_FLAG = "--shard-selector=";

let overlay: KubeObject[];
let sharded: KubeObject[];

beforeAll(async () => {
  [overlay, sharded] = await Promise.all([kustomize(OVERLAY), kustomizeWith(OVERLAY, [SHARDS_COMPONENT])]);
});

const deployment = (name: string) => find(sharded, "Deployment", name) as Json;
const container = (name: string) => deployment(name).spec.template.spec.containers[0] as Json;
const podLabels = (name: string): Record<string, string> => deployment(name).spec.template.metadata.labels;

/** The one --shard-selector a Deployment's controller runs with. */
function shardSelector(name: string): string {
  const flags = (container(name).args as string[]).filter((arg) => arg.startsWith(SHARD_FLAG));
  expect(flags, `${name}'s --shard-selector`).toHaveLength(1);
  return flags[0]!.slice(SHARD_FLAG.length);
}

/** A LabelSelector object (matchLabels, matchExpressions) as selector text, for the controller's own matcher. */
function selectorText(selector: Json): string {
  const labels = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  const expressions = ((selector.matchExpressions ?? []) as Json[]).map((e) => {
    switch (e.operator) {
      case "In":
        return `${e.key} in (${e.values.join(",")})`;
      case "NotIn":
        return `${e.key} notin (${e.values.join(",")})`;
      case "Exists":
        return e.key;
      case "DoesNotExist":
        return `!${e.key}`;
      default:
        throw new Error(`unknown operator ${e.operator}`);
    }
  });
  return [...labels, ...expressions].join(",");
}
const selects = (selector: Json, labels: Record<string, string>) =>
  labelMatcher(selectorText(selector))(labels);

describe("the shards component (kubectl kustomize an overlay with manifests/components/shards)", () => {
  it("adds the second shard's Deployment and PodDisruptionBudget to the overlay, and nothing else", () => {
    const before = overlay.map(idOf);
    const after = sharded.map(idOf);
    expect(after.filter((id) => !before.includes(id)).sort()).toEqual([
      `apps/v1/Deployment stepwise-system/${SECOND}`,
      `policy/v1/PodDisruptionBudget stepwise-system/${SECOND}`,
    ]);
    expect(before.filter((id) => !after.includes(id))).toEqual([]);
  });

  it("runs the first shard on every Rollout not labelled b and the second on those labelled b", () => {
    expect(shardSelector(FIRST)).toBe("stepwise.dev/shard!=b");
    expect(shardSelector(SECOND)).toBe("stepwise.dev/shard=b");
    // every Rollout, labelled or not, falls to exactly one shard
    const first = labelMatcher(shardSelector(FIRST));
    const second = labelMatcher(shardSelector(SECOND));
    const rollouts: Record<string, string>[] = [
      {},
      { app: "shop" },
      { "stepwise.dev/shard": "a" },
      { "stepwise.dev/shard": "b" },
    ];
    for (const labels of rollouts)
      expect([first(labels), second(labels)].filter(Boolean), JSON.stringify(labels)).toHaveLength(1);
  });

  it("gives both shards the overlay's pod spec but for the shard selector, with only flags `rollout controller` has", () => {
    const known = new Set(controllerCommand().options.map((option) => option.long));
    const unsharded = (find(overlay, "Deployment", FIRST) as Json).spec.template.spec;
    for (const name of [FIRST, SECOND]) {
      const spec = structuredClone(deployment(name).spec.template.spec);
      const args: string[] = spec.containers[0].args;
      for (const arg of args.slice(1)) expect(known, arg).toContain(arg.split("=")[0]);
      spec.containers[0].args = args.filter((arg) => !arg.startsWith(SHARD_FLAG));
      // the spread constraints count this shard's pods (the second's carry its label)
      spec.topologySpreadConstraints = unsharded.topologySpreadConstraints;
      expect(spec, name).toEqual(unsharded);
    }
    expect(deployment(SECOND).spec.replicas).toBe(deployment(FIRST).spec.replicas);
  });

  it("keeps the shards' pods apart: each Deployment and PodDisruptionBudget selects its own pods only", () => {
    for (const [own, other] of [
      [FIRST, SECOND],
      [SECOND, FIRST],
    ] as const) {
      expect(selects(deployment(own).spec.selector, podLabels(own)), `${own} selects its pods`).toBe(true);
      expect(selects(deployment(own).spec.selector, podLabels(other)), `${own} selects ${other}'s pods`).toBe(
        false,
      );
      const pdb = find(sharded, "PodDisruptionBudget", own) as Json;
      expect(selects(pdb.spec.selector, podLabels(own)), `PodDisruptionBudget ${own}`).toBe(true);
      expect(selects(pdb.spec.selector, podLabels(other)), `PodDisruptionBudget ${own}`).toBe(false);
    }
  });

  it("scrapes both shards through the one metrics Service, and both read the one ConfigMap", () => {
    const service = find(sharded, "Service", "stepwise-controller-metrics") as Json;
    expect(sharded.filter((o) => o.kind === "Service")).toHaveLength(1);
    const configMaps = sharded.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name);
    expect(configMaps).toHaveLength(1);
    for (const name of [FIRST, SECOND]) {
      expect(selects({ matchLabels: service.spec.selector }, podLabels(name)), name).toBe(true);
      const refs = (container(name).env as Json[]).flatMap((e) => e.valueFrom?.configMapKeyRef?.name ?? []);
      expect(new Set(refs), name).toEqual(new Set(configMaps));
    }
  });

  it("lets the controller read and write exactly each shard's Lease, as leaseName() names it", () => {
    const role = find(sharded, "Role", "stepwise-leader-election") as Json;
    const named = (role.rules as PolicyRule[]).filter((rule) => rule.resourceNames);
    expect(named).toHaveLength(1);
    expect(named[0]!.verbs.sort()).toEqual(["get", "patch"]);
    expect(named[0]!.resourceNames!.sort()).toEqual(
      [leaseName(shardSelector(FIRST)), leaseName(shardSelector(SECOND))].sort(),
    );
  });

  it("`rollout controller --print-lease-name` prints the Lease of --shard-selector, as docs/install.md says", async () => {
    const selector = "stepwise.dev/shard notin (b,c)";
    const printed = await rolloutCli(["controller", "--shard-selector", selector, "--print-lease-name"]);
    expect(printed.stderr).toBe("");
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(`${leaseName(selector)}\n`);
    const docs = readFileSync(join(ROOT, "docs/install.md"), "utf8");
    expect(docs).toContain(
      `rollout controller --shard-selector '${selector}' --print-lease-name\n# ${printed.stdout}`,
    );
  });
});
