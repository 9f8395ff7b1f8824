/**
 * What the manifests tests share: where the kustomizations are, rendering them with the real kubectl,
 * spawning the real `rollout` CLI, and reading RBAC rules out of rendered objects.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import type { KubeObject } from "../../../src/kube/client.ts";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const MANIFESTS = join(ROOT, "manifests");

/** The traffic APIs' overlays and the API groups of the route objects each one may edit. */
export const OVERLAYS = {
  istio: ["networking.istio.io"],
  linkerd: ["gateway.networking.k8s.io"],
  "linkerd-smi": ["split.smi-spec.io"],
  consul: ["consul.hashicorp.com"],
} as const;
export type Overlay = keyof typeof OVERLAYS;
export const MESH_GROUPS: readonly string[] = Object.values(OVERLAYS).flat();

/** The controller's identity in the manifests. */
export const CONTROLLER = { namespace: "stepwise-system", serviceAccount: "stepwise-controller" } as const;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`), without a shell. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** The real `rollout` CLI from the TypeScript sources (the development entry, cli/bin/rollout.js). */
export function rolloutCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return run(process.execPath, [join(options.cwd ?? ROOT, "cli/bin/rollout.js"), ...args], {
    ...options,
    timeoutMs: 90_000,
  });
}

function isKustomizationFile(name: string): boolean {
  return name === "kustomization.yaml" || name === "kustomization.yml" || name === "Kustomization";
}

function kustomizationFile(dir: string): string | undefined {
  const name = readdirSync(dir).find(isKustomizationFile);
  return name ? join(dir, name) : undefined;
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) out.push(...walkDirs(join(dir, entry.name)));
  return out;
}

interface KustomizationDoc {
  kind?: string;
  resources?: string[];
  components?: string[];
  patches?: { path?: string }[];
  patchesStrategicMerge?: string[];
  configMapGenerator?: { files?: string[]; envs?: string[] }[];
  secretGenerator?: { files?: string[]; envs?: string[] }[];
}

export function readKustomization(dir: string): KustomizationDoc {
  const file = kustomizationFile(dir);
  if (!file) throw new Error(`${dir} has no kustomization`);
  return parse(readFileSync(file, "utf8")) as KustomizationDoc;
}

const COMPONENTS = join(MANIFESTS, "components");

/**
 * Every directory under manifests/ that `kubectl kustomize` can build, relative to the repository
 * (`manifests`, `manifests/overlays/istio`, ...). Components, and the kustomizations inside them (a shard's
 * Deployment), are built as parts of the overlays.
 */
export function kustomizations(): string[] {
  return walkDirs(MANIFESTS)
    .filter((dir) => kustomizationFile(dir) && readKustomization(dir).kind !== "Component")
    .filter((dir) => !dir.startsWith(`${COMPONENTS}/`))
    .map((dir) => relative(ROOT, dir))
    .sort();
}

/**
 * The files a kustomization reads, through its resources, components, patches and generators, recursively.
 * `name=path` generator entries count by their path.
 */
export function filesOf(dir: string, seen = new Set<string>()): Set<string> {
  const absolute = resolve(ROOT, dir);
  if (seen.has(absolute)) return seen;
  seen.add(absolute);
  const file = kustomizationFile(absolute);
  if (file) seen.add(file);
  const k = readKustomization(absolute);
  const local = (path: string) => resolve(absolute, path.includes("=") ? path.split("=")[1]! : path);
  for (const entry of [...(k.resources ?? []), ...(k.components ?? [])]) {
    const target = local(entry);
    if (existsSync(target) && statSync(target).isDirectory()) filesOf(target, seen);
    else seen.add(target);
  }
  for (const patch of k.patches ?? []) if (patch.path) seen.add(local(patch.path));
  for (const path of k.patchesStrategicMerge ?? []) seen.add(local(path));
  for (const generator of [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])]) {
    for (const path of [...(generator.files ?? []), ...(generator.envs ?? [])]) seen.add(local(path));
  }
  return seen;
}

/** Every file under manifests/, absolute. */
export function manifestFiles(): string[] {
  return walkDirs(MANIFESTS).flatMap((dir) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(dir, entry.name)),
  );
}

/** Components no overlay includes: a person adds them to their own kustomization (docs/install.md). */
export const SERVICE_MONITOR_COMPONENT = "manifests/components/service-monitor";
export const SHARDS_COMPONENT = "manifests/components/shards";
export const OPT_IN_COMPONENTS = [SERVICE_MONITOR_COMPONENT, SHARDS_COMPONENT] as const;

/**
 * `kubectl kustomize` of a kustomization of one's own that takes `overlay` as its base and adds
 * `components`, written to a temporary directory as docs/install.md shows it.
 */
export async function kustomizeWith(overlay: string, components: readonly string[]): Promise<KubeObject[]> {
  const dir = await mkdtemp(join(tmpdir(), "stepwise-kustomization-"));
  try {
    const local = (path: string) => relative(dir, resolve(ROOT, path));
    await writeFile(
      join(dir, "kustomization.yaml"),
      `resources:\n  - ${local(overlay)}\ncomponents:\n${components.map((c) => `  - ${local(c)}\n`).join("")}`,
    );
    return await kustomize(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `kubectl kustomize DIR`, parsed; throws with kubectl's message when it does not build. */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  const result = await run("kubectl", ["kustomize", resolve(ROOT, dir)], { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

export const idOf = (o: KubeObject) =>
  `${o.apiVersion}/${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ""} among ${objects.map(idOf).join(", ")}`);
  return found;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** One (group, resource, verb) a rule grants, cluster-wide or in one namespace, maybe for some names. */
export interface Grant {
  group: string;
  resource: string;
  verb: string;
  /** undefined: every namespace (ClusterRoleBinding). */
  namespace?: string;
  resourceNames?: string[];
}

export const grantKey = (g: Grant) =>
  `${g.group || "core"} ${g.resource} ${g.verb}${g.namespace ? ` in ${g.namespace}` : ""}${
    g.resourceNames ? ` named ${g.resourceNames.join(",")}` : ""
  }`;

function expand(rule: PolicyRule, namespace: string | undefined): Grant[] {
  const grants: Grant[] = [];
  for (const group of rule.apiGroups ?? [])
    for (const resource of rule.resources ?? [])
      for (const verb of rule.verbs)
        grants.push({
          group,
          resource,
          verb,
          ...(namespace ? { namespace } : {}),
          ...(rule.resourceNames?.length ? { resourceNames: [...rule.resourceNames] } : {}),
        });
  return grants;
}

/**
 * Everything the rendered objects grant the controller's ServiceAccount: the rules of every role bound to
 * it, ClusterRoleBindings cluster-wide, RoleBindings in their namespace.
 */
export function controllerGrants(objects: KubeObject[]): { grants: Grant[]; roles: string[] } {
  const isController = (subject: { kind?: string; name?: string; namespace?: string }) =>
    subject.kind === "ServiceAccount" &&
    subject.name === CONTROLLER.serviceAccount &&
    subject.namespace === CONTROLLER.namespace;
  const grants: Grant[] = [];
  const roles: string[] = [];
  for (const binding of objects.filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding")) {
    const subjects = (binding.subjects ?? []) as { kind?: string; name?: string; namespace?: string }[];
    if (!subjects.some(isController)) continue;
    const ref = binding.roleRef as { kind: string; name: string };
    const namespace = binding.kind === "RoleBinding" ? binding.metadata.namespace : undefined;
    const role = objects.find(
      (o) =>
        o.kind === ref.kind &&
        o.metadata.name === ref.name &&
        (ref.kind === "ClusterRole" || o.metadata.namespace === namespace),
    );
    if (!role) throw new Error(`${idOf(binding)} refers to ${ref.kind} ${ref.name}, which is not rendered`);
    roles.push(idOf(role));
    for (const rule of (role.rules ?? []) as PolicyRule[]) grants.push(...expand(rule, namespace));
  }
  return { grants, roles };
}

/** The directory a file is in, relative to the repository. */
export const dirOf = (file: string) => relative(ROOT, dirname(file));

/**
 * Third-party CRDs a real cluster has once the software that owns them is installed, and the emulator does
 * not bundle: the test installs them as a cluster with that software would have them (schema left open).
 * The Prometheus operator's is needed only by the opt-in service-monitor component.
 */
export const THIRD_PARTY_CRDS = [
  { group: "monitoring.coreos.com", version: "v1", kind: "ServiceMonitor", plural: "servicemonitors" }, // Prometheus operator
  { group: "consul.hashicorp.com", version: "v1alpha1", kind: "ServiceDefaults", plural: "servicedefaults" }, // Consul
];

export function openCrd(crd: (typeof THIRD_PARTY_CRDS)[number]): KubeObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${crd.plural}.${crd.group}` },
    spec: {
      group: crd.group,
      scope: "Namespaced",
      names: {
        kind: crd.kind,
        plural: crd.plural,
        singular: crd.kind.toLowerCase(),
        listKind: `${crd.kind}List`,
      },
      versions: [
        {
          name: crd.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      ],
    },
  };
}
