import { spawn } from "node:child_process";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import YAML from "yaml";
import type { KubeObject } from "../../../src/sandbox/kube-api/types.ts";
import { eventually, type Harness } from "./harness.ts";

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const CANARIES: ResourceRef = {
  group: "fixtures.stepwise.dev",
  version: "v1alpha1",
  plural: "canaries",
  kind: "Canary",
};
export const DEPLOYMENTS: ResourceRef = {
  group: "apps",
  version: "v1",
  plural: "deployments",
  kind: "Deployment",
};
export const SERVICES: ResourceRef = { group: "", version: "v1", plural: "services", kind: "Service" };
export const NAMESPACES: ResourceRef = { group: "", version: "v1", plural: "namespaces", kind: "Namespace" };

export function apiVersion(ref: ResourceRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

/** An API error as either client reports it, reduced to the Status reason and message. */
export class DriverError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WatchEvent {
  type: string;
  object: KubeObject;
}

/** The operations the conformance scenarios need, implemented once per client. */
export interface Driver {
  readonly name: string;
  installCrd(crd: KubeObject): Promise<void>;
  /** Declarative apply: kubectl's client-side apply, client-node's server-side apply. */
  apply(obj: KubeObject): Promise<void>;
  /** Create with strict field validation. */
  create(obj: KubeObject): Promise<void>;
  get(ref: ResourceRef, namespace: string | undefined, name: string): Promise<KubeObject>;
  list(ref: ResourceRef, namespace: string | undefined, labelSelector?: string): Promise<KubeObject[]>;
  patch(
    ref: ResourceRef,
    namespace: string,
    name: string,
    type: "merge" | "json",
    body: unknown,
    subresource?: "status",
  ): Promise<void>;
  replace(obj: KubeObject): Promise<void>;
  serverSideApply(obj: KubeObject, manager: string, force: boolean): Promise<void>;
  delete(ref: ResourceRef, namespace: string, name: string): Promise<void>;
  /** Watches one object, runs `action` once the watch is established, and collects events until `until` holds. */
  watch(
    ref: ResourceRef,
    namespace: string,
    name: string,
    action: () => Promise<void>,
    until: (events: WatchEvent[]) => boolean,
  ): Promise<WatchEvent[]>;
  /** What `kubectl get` prints: column headers and cells. */
  table(ref: ResourceRef, namespace: string): Promise<{ headers: string[]; rows: string[][] }>;
}

function resourceArg(ref: ResourceRef): string {
  return ref.group ? `${ref.plural}.${ref.group}` : ref.plural;
}

function kubectlFailure(stderr: string): DriverError {
  const fromServer = /Error from server \((\w+)\)/.exec(stderr);
  if (fromServer) return new DriverError(fromServer[1]!, stderr);
  if (/Apply failed with \d+ conflict/.test(stderr)) return new DriverError("Conflict", stderr);
  if (/is invalid|The request is invalid/.test(stderr)) return new DriverError("Invalid", stderr);
  return new DriverError("Unknown", stderr);
}

/** Splits concatenated pretty-printed JSON documents, as `kubectl get -w -o json` writes them. */
function splitJsonStream(text: string): { docs: unknown[]; rest: string } {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "}") {
      depth--;
      if (depth === 0) {
        docs.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
        text = text.slice(i + 1);
        i = -1;
      }
    }
  }
  return { docs, rest: text };
}

export function kubectlDriver(h: Harness): Driver {
  const ok = async (args: string[], input?: string) => {
    const result = await h.kubectl(args, input);
    if (result.code !== 0) throw kubectlFailure(result.stderr);
    return result.stdout;
  };
  const nsArgs = (namespace: string | undefined) => (namespace ? ["-n", namespace] : []);
  return {
    name: "kubectl",
    async installCrd(crd) {
      await ok(["apply", "-f", "-"], YAML.stringify(crd));
      await ok(["wait", "--for", "condition=established", "--timeout=10s", `crd/${crd.metadata.name}`]);
    },
    async apply(obj) {
      await ok(["apply", "-f", "-"], YAML.stringify(obj));
    },
    async create(obj) {
      await ok(["create", "-f", "-"], YAML.stringify(obj));
    },
    async get(ref, namespace, name) {
      return YAML.parse(
        await ok(["get", resourceArg(ref), name, ...nsArgs(namespace), "-o", "yaml"]),
      ) as KubeObject;
    },
    async list(ref, namespace, labelSelector) {
      const selector = labelSelector === undefined ? [] : ["-l", labelSelector];
      const list = JSON.parse(
        await ok(["get", resourceArg(ref), ...nsArgs(namespace), ...selector, "-o", "json"]),
      ) as {
        items: KubeObject[];
      };
      return list.items;
    },
    async patch(ref, namespace, name, type, body, subresource) {
      const sub = subresource ? ["--subresource", subresource] : [];
      await ok([
        "patch",
        resourceArg(ref),
        name,
        "-n",
        namespace,
        "--type",
        type,
        "-p",
        JSON.stringify(body),
        ...sub,
      ]);
    },
    async replace(obj) {
      await ok(["replace", "-f", "-"], YAML.stringify(obj));
    },
    async serverSideApply(obj, manager, force) {
      const forceArgs = force ? ["--force-conflicts"] : [];
      await ok(
        ["apply", "--server-side", "--field-manager", manager, ...forceArgs, "-f", "-"],
        YAML.stringify(obj),
      );
    },
    async delete(ref, namespace, name) {
      await ok(["delete", resourceArg(ref), name, "-n", namespace, "--wait=false"]);
    },
    watch(ref, namespace, name, action, until) {
      return new Promise((resolve, reject) => {
        const args = ["--kubeconfig", h.kubeconfigPath, "--cache-dir", join(h.dir, "cache")];
        const child = spawn("kubectl", [
          ...args,
          "get",
          resourceArg(ref),
          name,
          "-n",
          namespace,
          "-w",
          "--output-watch-events",
          "-o",
          "json",
        ]);
        const events: WatchEvent[] = [];
        let buffer = "";
        let started = false;
        const timer = setTimeout(() => {
          child.kill();
          reject(
            new Error(`watch did not see the expected events: ${JSON.stringify(events.map((e) => e.type))}`),
          );
        }, 10_000);
        child.stdout.on("data", (chunk: Buffer) => {
          const split = splitJsonStream(buffer + chunk.toString());
          buffer = split.rest;
          events.push(...(split.docs as WatchEvent[]));
          if (!started && events.length > 0) {
            started = true;
            action().catch(reject);
          }
          if (until(events)) {
            clearTimeout(timer);
            child.kill();
            resolve(events);
          }
        });
      });
    },
    async table(ref, namespace) {
      // columns are fixed-width and an empty cell is blank, so cut rows at the header offsets
      const lines = (await ok(["get", resourceArg(ref), "-n", namespace])).trimEnd().split("\n");
      const header = lines[0]!;
      const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index);
      const cut = (line: string) => starts.map((at, i) => line.slice(at, starts[i + 1]).trim());
      return { headers: cut(header), rows: lines.slice(1).map(cut) };
    },
  };
}

async function clientFailure<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof k8s.ApiException) {
      const body = (typeof err.body === "string" ? JSON.parse(err.body || "{}") : err.body) as {
        reason?: string;
        message?: string;
      };
      throw new DriverError(body.reason ?? String(err.code), body.message ?? "");
    }
    throw err;
  }
}

const plain = <T>(value: T): KubeObject => JSON.parse(JSON.stringify(value)) as KubeObject;
/** client-node types timestamps as Date; the wire (and these tests) use strings. */
const asClientObject = (obj: KubeObject) => obj as unknown as k8s.KubernetesObject;

export function clientNodeDriver(h: Harness): Driver {
  const objects = k8s.KubernetesObjectApi.makeApiClient(h.kc);
  const custom = h.kc.makeApiClient(k8s.CustomObjectsApi);
  const core = h.kc.makeApiClient(k8s.CoreV1Api);
  const apps = h.kc.makeApiClient(k8s.AppsV1Api);
  const contentType = (type: "merge" | "json") =>
    k8s.setHeaderOptions(
      "Content-Type",
      type === "merge" ? k8s.PatchStrategy.MergePatch : k8s.PatchStrategy.JsonPatch,
    );
  const target = (ref: ResourceRef, namespace: string, name: string) => ({
    group: ref.group,
    version: ref.version,
    plural: ref.plural,
    namespace,
    name,
  });
  return {
    name: "client-node",
    async installCrd(crd) {
      await clientFailure(() => objects.create(asClientObject(crd)));
      await eventually(async () => {
        const current = plain(
          await objects.read({
            apiVersion: "apiextensions.k8s.io/v1",
            kind: "CustomResourceDefinition",
            metadata: { name: crd.metadata.name! },
          }),
        );
        const conditions =
          (current.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ??
          [];
        return conditions.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      });
    },
    async apply(obj) {
      await clientFailure(() =>
        objects.patch(
          asClientObject(obj),
          undefined,
          undefined,
          "conformance",
          true,
          k8s.PatchStrategy.ServerSideApply,
        ),
      );
    },
    async create(obj) {
      const ref = { ...CANARIES };
      await clientFailure(() =>
        custom.createNamespacedCustomObject({
          group: ref.group,
          version: ref.version,
          plural: ref.plural,
          namespace: obj.metadata.namespace ?? "default",
          body: obj,
          fieldValidation: "Strict",
        }),
      );
    },
    async get(ref, namespace, name) {
      // the typed clients for compiled-in kinds, the generic one for everything else
      if (ref.kind === "Deployment")
        return plain(
          await clientFailure(() => apps.readNamespacedDeployment({ name, namespace: namespace! })),
        );
      if (ref.kind === "Service")
        return plain(await clientFailure(() => core.readNamespacedService({ name, namespace: namespace! })));
      if (ref.kind === "Namespace") return plain(await clientFailure(() => core.readNamespace({ name })));
      return plain(
        await clientFailure(() =>
          objects.read({ apiVersion: apiVersion(ref), kind: ref.kind, metadata: { name, namespace } }),
        ),
      );
    },
    async list(ref, namespace, labelSelector) {
      const list = await clientFailure(() =>
        objects.list(
          apiVersion(ref),
          ref.kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector,
        ),
      );
      return list.items.map(plain);
    },
    async patch(ref, namespace, name, type, body, subresource) {
      const request = { ...target(ref, namespace, name), body };
      await clientFailure(() =>
        subresource
          ? custom.patchNamespacedCustomObjectStatus(request, contentType(type))
          : custom.patchNamespacedCustomObject(request, contentType(type)),
      );
    },
    async replace(obj) {
      const ref = { ...CANARIES };
      await clientFailure(() =>
        custom.replaceNamespacedCustomObject({
          ...target(ref, obj.metadata.namespace!, obj.metadata.name!),
          body: obj,
        }),
      );
    },
    async serverSideApply(obj, manager, force) {
      await clientFailure(() =>
        objects.patch(
          asClientObject(obj),
          undefined,
          undefined,
          manager,
          force,
          k8s.PatchStrategy.ServerSideApply,
        ),
      );
    },
    async delete(ref, namespace, name) {
      await clientFailure(() => custom.deleteNamespacedCustomObject(target(ref, namespace, name)));
    },
    async watch(ref, namespace, name, action, until) {
      const events: WatchEvent[] = [];
      const path = `/apis/${ref.group}/${ref.version}/namespaces/${namespace}/${ref.plural}`;
      let finish: (value: WatchEvent[]) => void = () => {};
      const done = new Promise<WatchEvent[]>((resolve) => {
        finish = resolve;
      });
      const controller = await new k8s.Watch(h.kc).watch(
        path,
        { fieldSelector: `metadata.name=${name}` },
        (type, object) => {
          events.push({ type, object: object as KubeObject });
          if (events.length === 1) void action();
          if (until(events)) finish(events);
        },
        () => finish(events),
      );
      const result = await Promise.race([
        done,
        new Promise<WatchEvent[]>((resolve) => setTimeout(() => resolve(events), 10_000)),
      ]);
      controller.abort();
      return result;
    },
    async table(ref, namespace) {
      const table = (await clientFailure(() =>
        custom.listNamespacedCustomObject(
          { group: ref.group, version: ref.version, plural: ref.plural, namespace },
          k8s.setHeaderOptions("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"),
        ),
      )) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
      return {
        headers: table.columnDefinitions.map((c) => c.name.toUpperCase()),
        rows: table.rows.map((r) => r.cells.map((c) => (c === null ? "" : String(c)))),
      };
    },
  };
}
