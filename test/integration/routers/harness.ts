/** An emulator per test file, a client for the controller and one for "the other writer" (GitOps, a person). */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { parseRollout, type Rollout } from "../../../src/api/rollout.ts";
import { KubeClient, type KubeObject, type ObjectRef } from "../../../src/kube/client.ts";
import { type KubeApi, startKubeApi } from "../../../src/sandbox/kube-api/index.ts";
import type { RequestLogEntry } from "../../../src/sandbox/kube-api/request-log.ts";
import { fixtureSource } from "../../unit/routers/support.ts";

const run = promisify(execFile);

export interface Harness {
  api: KubeApi;
  /** The controller's client (field manager "stepwise"). */
  client: KubeClient;
  /** Another writer: GitOps or a person with kubectl. */
  other: KubeClient;
  kubeconfig: string;
  /** Creates a fixture as the other writer and returns it as the server stored it. */
  createFixture(name: string): Promise<KubeObject>;
  /** Every write request (create, update, patch, delete) of the controller since the log was last cleared. */
  writes(): RequestLogEntry[];
  /** kubectl, as an independent client of the emulator; returns stdout. */
  kubectl(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

export async function startHarness(): Promise<Harness> {
  const api = await startKubeApi({ port: 0 });
  const dir = await mkdtemp(join(tmpdir(), "stepwise-routers-"));
  const kubeconfig = join(dir, "kubeconfig");
  await api.writeKubeconfig(kubeconfig);
  const client = KubeClient.fromKubeconfig(kubeconfig, { fieldManager: "stepwise" });
  const other = KubeClient.fromKubeconfig(kubeconfig, { fieldManager: "gitops" });
  await other.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } });
  return {
    api,
    client,
    other,
    kubeconfig,
    createFixture: (name) => other.create(fixtureSource(name)),
    writes: () => api.requestLog.all({ userAgent: "stepwise" }).filter((e) => WRITE_VERBS.has(e.verb)),
    kubectl: async (...args) => (await run("kubectl", ["--kubeconfig", kubeconfig, ...args])).stdout,
    async close() {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A parsed Rollout named checkout in namespace shop, with the given traffic block. */
export function rolloutWith(traffic: Record<string, unknown>): Rollout {
  const parsed = parseRollout({
    apiVersion: "stepwise.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "checkout", namespace: "shop", uid: "rollout-uid-1" },
    spec: {
      targetRef: { kind: "Deployment", name: "checkout" },
      service: { port: 8080 },
      traffic,
      strategy: { canary: { steps: [{ setWeight: 5 }] } },
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

/** The object without what the server keeps for itself (resourceVersion, generation, managedFields, ...). */
export function userContent(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  for (const key of ["resourceVersion", "generation", "managedFields", "uid", "creationTimestamp"]) {
    delete copy.metadata[key];
  }
  delete copy.status;
  return copy;
}

export function refOf(object: KubeObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace,
    name: object.metadata.name,
  };
}

/** A client whose next read is followed by another writer's change, so the write that follows is stale. */
export class RacingClient extends KubeClient {
  private race?: () => Promise<void>;

  /** Runs `edit` right after the next get() of the controller, before its write. */
  raceNextRead(edit: () => Promise<void>): void {
    this.race = edit;
  }

  override async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T> {
    const object = await super.get<T>(ref);
    const race = this.race;
    if (race) {
      this.race = undefined;
      await race();
    }
    return object;
  }
}

export function racingClient(kubeconfig: string): RacingClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return new RacingClient(kc, { fieldManager: "stepwise" });
}
