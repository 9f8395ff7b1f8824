/**
 * `rollout controller` and `rollout list` against a cluster without Stepwise's CRDs (the API emulator over
 * HTTP, with nothing applied): both end at once with exit 5 and one line that gives the command installing
 * the CRDs, instead of waiting forever (the controller) or "listing rollouts not found", exit 2 (list).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeApi, startKubeApi } from "../../src/sandbox/kube-api/index.ts";
import { run } from "../integration/manifests/support.ts";
import { ROOT } from "../support/cluster.ts";

let api: KubeApi;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  api = await startKubeApi({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), "stepwise-no-crds-"));
  kubeconfig = join(dir, "kubeconfig");
  await api.writeKubeconfig(kubeconfig);
});

afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

const rollout = (args: string[]) =>
  run(process.execPath, [join(ROOT, "cli/bin/rollout.js"), ...args, "--kubeconfig", kubeconfig], {
    timeoutMs: 60_000,
  });

const INSTALL = "install the CRDs with kubectl apply -f manifests/crds";

describe("without Stepwise's CRDs", () => {
  it("rollout controller exits 5 at once, saying how to install them", async () => {
    const result = await rollout([
      "controller",
      "--all-namespaces",
      "--prometheus",
      "http://127.0.0.1:9",
      "--metrics-addr",
      "127.0.0.1:0",
    ]);
    // killed by the timeout (a process that waits) would be code null
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr.trim().split("\n")).toEqual([
      `rollout: the cluster does not serve Stepwise's API (stepwise.dev/v1alpha1 Rollout): ${INSTALL}`,
    ]);
  });

  it("rollout list exits 5 with the same line", async () => {
    const result = await rollout(["list", "-n", "default"]);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr.trim().split("\n")).toEqual([
      `rollout: the cluster does not serve Stepwise's API (stepwise.dev/v1alpha1 Rollout): ${INSTALL}`,
    ]);
    expect(result.stdout).toBe("");
  });
});
