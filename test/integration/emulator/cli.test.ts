import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { run } from "./harness.ts";

const RUNNER = new URL("./run-sandbox-api.ts", import.meta.url).pathname;

describe("rollout sandbox api", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sandbox-api-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("prints one ready line, writes a working kubeconfig and stops cleanly on SIGTERM", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    const child = spawn(process.execPath, [
      "--import",
      "tsx",
      RUNNER,
      "sandbox",
      "api",
      "--port",
      "0",
      "--kubeconfig",
      kubeconfig,
    ]);
    let stdout = "";
    const ready = new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /^ready (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on("exit", (code) => reject(new Error(`exited early with ${code}`)));
    });
    const url = await ready;

    const config = YAML.parse(await readFile(kubeconfig, "utf8"));
    expect(config.clusters[0].cluster).toEqual({ server: url, "insecure-skip-tls-verify": true });
    expect(config.users[0].user.token).toMatch(/^[0-9a-f]{32}$/);
    const kubectl = await run("kubectl", [
      "--kubeconfig",
      kubeconfig,
      "--cache-dir",
      join(dir, "cache"),
      "get",
      "namespaces",
      "-o",
      "name",
    ]);
    expect(kubectl.stdout.trim().split("\n")).toEqual([
      "namespace/default",
      "namespace/kube-node-lease",
      "namespace/kube-public",
      "namespace/kube-system",
    ]);

    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout).toBe(`ready ${url}\n`);
    await expect(fetch(`${url}/version`)).rejects.toThrow();
  });
});
